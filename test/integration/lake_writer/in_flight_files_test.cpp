// Maintenance racing writers (issue 9): a file of a commit in flight is registered before it is
// written, so the orphan sweep never takes it, and expiry keeps the snapshots such a commit reads.
#include "core/common/error.hpp"
#include "core/lake/catalog_loader.hpp"
#include "core/lake/lake_maintenance.hpp"
#include "core/lake/lake_writer.hpp"
#include "core/lake/write/pending_files.hpp"
#include "harness/daemon_process.hpp"
#include "harness/lake_files.hpp"
#include "writer_fixture.hpp"

#include <gtest/gtest.h>

#include <atomic>
#include <filesystem>
#include <mutex>
#include <thread>

using namespace duckpipe;
using namespace duckpipe::test;
using namespace std::chrono_literals;

namespace {

struct InFlightFixture {
	TestLake lake;
	lake::LakeWriter writer;
	Staging staging;
	int64_t table = 0;

	explicit InFlightFixture(const std::string &prefix) : lake(prefix), writer(lake.config) {
		auto c = writer.Begin();
		auto h = c.CreateTable("main", "t", {Col("id", "int64"), Col("v", "varchar")});
		c.Commit();
		table = c.ResolveId(h);
		auto i = writer.Begin();
		i.Insert(table, *staging.duck, "SELECT i AS id, 'v0' AS v FROM range(100) r(i)");
		i.Commit();
	}
	Rows Read(const std::string &sql) { return LakeRows(lake.Conninfo(), sql); }
	std::vector<std::string> ReferencedFiles() { return ReferencedLakeFiles(lake.Conninfo()); }
	void ExpectReferencedFilesExist() { ExpectReferencedLakeFilesExist(lake.Conninfo()); }
};

} // namespace

TEST(InFlightFiles, OrphanSweepSparesFilesOfACommitInFlight) {
	InFlightFixture f("inflight_sweep");
	lake::LakeMaintenance maintenance(f.lake.config);
	auto c = f.writer.Begin();
	auto h = c.CreateTable("main", "copy", {Col("id", "int64")});
	c.Insert(h, *f.staging.duck, "SELECT i AS id FROM range(1000) r(i)");
	c.Insert(h, *f.staging.duck, "SELECT i AS id FROM range(1000, 2000) r(i)");
	// Older than any threshold would not help: the files are registered.
	EXPECT_EQ(maintenance.DeleteOrphanedFiles("0 seconds").files_deleted, 0);
	c.Commit();
	f.ExpectReferencedFilesExist();
	EXPECT_EQ(f.Read("SELECT count(*), count(DISTINCT id) FROM main.copy"), (Rows{"2000|2000"}));
	// A real orphan (written by no registered commit) still goes.
	auto orphan = f.lake.config.data_path + "main/t/orphan.parquet";
	std::filesystem::copy_file(f.ReferencedFiles().front(), orphan);
	EXPECT_EQ(maintenance.DeleteOrphanedFiles("0 seconds").files_deleted, 1);
	EXPECT_FALSE(std::filesystem::exists(orphan));
}

TEST(InFlightFiles, StaleRegistrationsGoOnlyWhenOldAndTheirOwnerIsGone) {
	InFlightFixture f("inflight_stale");
	lake::LakeMaintenance maintenance(f.lake.config);
	auto source = f.ReferencedFiles().front();
	auto dead = f.lake.config.data_path + "main/t/dead-writer.parquet";
	auto alive = f.lake.config.data_path + "main/t/live-writer.parquet";
	auto young = f.lake.config.data_path + "main/t/young-dead-writer.parquet";
	for (const auto &p : {dead, alive, young}) {
		std::filesystem::copy_file(source, p);
	}
	PgConnection owner(f.lake.Conninfo()); // a live session owning one registration
	auto register_file = [&](const std::string &path, const std::string &pid_sql, const std::string &age) {
		PgRows(f.lake.Conninfo(),
		       "INSERT INTO ducklake.duckpipe_pending_file(token, path, writer_id, owner_pid, owner_start, "
		       "registered_at) SELECT 't-' || md5('" +
		           path + "'), '" + path + "', 'w', pid, backend_start, now() - interval '" + age +
		           "' FROM pg_stat_activity WHERE pid = " + pid_sql);
	};
	register_file(alive, std::to_string(owner.BackendPid()), "3 days");
	register_file(dead, std::to_string(owner.BackendPid()), "3 days");
	register_file(young, std::to_string(owner.BackendPid()), "1 hour");
	// The owner of `dead` and `young` went away: another session's pid, long gone.
	PgRows(f.lake.Conninfo(),
	       "UPDATE ducklake.duckpipe_pending_file SET owner_pid = 0 WHERE path IN ('" + dead + "', '" + young + "')");
	EXPECT_EQ(maintenance.DeleteOrphanedFiles("0 seconds").files_deleted, 1);
	EXPECT_FALSE(std::filesystem::exists(dead));
	EXPECT_TRUE(std::filesystem::exists(alive));
	EXPECT_TRUE(std::filesystem::exists(young));
	EXPECT_EQ(PgRows(f.lake.Conninfo(), "SELECT count(*) FROM ducklake.duckpipe_pending_file WHERE path IS NOT NULL"),
	          (Rows{"2"}));
}

TEST(InFlightFiles, AggressiveMaintenanceLoopDuringASlowCopyAndFlushes) {
	InFlightFixture f("inflight_loop");
	std::atomic<bool> stop{false};
	std::atomic<int> rounds{0};
	std::mutex errors_mutex;
	std::vector<std::string> errors;
	std::thread maintainer([&] {
		lake::LakeMaintenance maintenance(f.lake.config);
		while (!stop.load()) {
			try {
				maintenance.DeleteOrphanedFiles("0 seconds");
				maintenance.ExpireSnapshots("0 seconds");
				maintenance.CleanupOldFiles();
			} catch (const Error &e) {
				// A serialization failure against a concurrent commit is fine; the next round retries.
				if (e.Context().sqlstate != "40001" && e.Context().sqlstate != "40P01") {
					std::lock_guard guard(errors_mutex);
					errors.push_back(e.what());
				}
			}
			rounds++;
		}
	});
	struct Join {
		std::atomic<bool> &stop;
		std::thread &thread;
		~Join() {
			stop.store(true);
			thread.join();
		}
	} join{stop, maintainer};
	auto await_rounds = [&](int n) {
		int target = rounds.load() + n;
		return WaitFor([&] { return rounds.load() >= target; }, 60s, 5ms);
	};
	// The copy: one commit staged over many maintenance rounds, with flushes of another table
	// committed meanwhile (each its own snapshot, expired right away by the loop).
	auto copy = f.writer.Begin();
	auto h = copy.CreateTable("main", "copy", {Col("id", "int64"), Col("chunk", "int32")});
	constexpr int kChunks = 8;
	for (int chunk = 0; chunk < kChunks; chunk++) {
		copy.Insert(h, *f.staging.duck,
		            "SELECT i AS id, " + std::to_string(chunk) + " AS chunk FROM range(" +
		                std::to_string(chunk * 1000) + ", " + std::to_string(chunk * 1000 + 1000) + ") r(i)");
		ASSERT_TRUE(await_rounds(2));
		// A flush of t: ids chunk*10 .. chunk*10+9 get v = 'c<chunk>'.
		auto flush = f.writer.Begin();
		auto ids = "SELECT i AS id FROM range(" + std::to_string(chunk * 10) + ", " + std::to_string(chunk * 10 + 10) +
		           ") r(i)";
		flush.DeleteByKey(f.table, *f.staging.duck, {"id"}, ids);
		flush.Insert(f.table, *f.staging.duck, "SELECT id, 'c" + std::to_string(chunk) + "' AS v FROM (" + ids + ")");
		flush.Commit();
		ASSERT_TRUE(await_rounds(1));
	}
	EXPECT_NO_THROW(copy.Commit());
	ASSERT_TRUE(await_rounds(3));
	std::lock_guard guard(errors_mutex);
	EXPECT_TRUE(errors.empty()) << errors.front();
	f.ExpectReferencedFilesExist();
	EXPECT_EQ(f.Read("SELECT count(*), count(DISTINCT id), min(id), max(id) FROM main.copy"),
	          (Rows{"8000|8000|0|7999"}));
	EXPECT_EQ(f.Read("SELECT v, count(*) FROM main.t GROUP BY v ORDER BY v"),
	          (Rows{"c0|10", "c1|10", "c2|10", "c3|10", "c4|10", "c5|10", "c6|10", "c7|10", "v0|20"}));
	EXPECT_EQ(f.Read("SELECT count(DISTINCT id) FROM main.t"), (Rows{"100"}));
}

TEST(InFlightFiles, RegistryCreatedByManyProcessesAtOnce) {
	// A backend's add_table and workers starting together each make sure the registry exists; the
	// losers of that race must neither fail nor see a half-made table.
	InFlightFixture f("inflight_create_race");
	std::string table = "ducklake.duckpipe_pending_file";
	for (int round = 0; round < 40; round++) {
		PgConnection(f.lake.Conninfo()).Exec("DROP TABLE " + table);
		constexpr int kCreators = 6;
		std::vector<std::unique_ptr<PgConnection>> conns;
		for (int i = 0; i < kCreators; i++) {
			conns.push_back(std::make_unique<PgConnection>(f.lake.Conninfo()));
		}
		std::atomic<int> ready{0};
		std::mutex failures_mutex;
		std::vector<std::string> failures;
		std::vector<std::thread> threads;
		for (int i = 0; i < kCreators; i++) {
			threads.emplace_back([&, i] {
				ready.fetch_add(1);
				while (ready.load() < kCreators) {
				}
				try {
					lake::PendingFiles(*conns[i], "ducklake").Ensure();
				} catch (const std::exception &e) {
					std::lock_guard guard(failures_mutex);
					failures.push_back(e.what());
				}
			});
		}
		for (auto &t : threads) {
			t.join();
		}
		ASSERT_TRUE(failures.empty()) << "round " << round << ": " << failures.front();
		EXPECT_EQ(PgRows(f.lake.Conninfo(), "SELECT count(*) FROM " + table), (Rows{"0"}));
	}
	// The writer registers its commits in the table the race left.
	auto c = f.writer.Begin();
	c.Insert(f.table, *f.staging.duck, "SELECT 100 AS id, 'v1' AS v");
	c.Commit();
	EXPECT_EQ(f.Read("SELECT count(*) FROM main.t"), (Rows{"101"}));
}
