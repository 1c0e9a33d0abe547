// A compaction is a commit like any other (issue 9): its new files are registered as in flight before
// they are written, so an orphan sweep never takes them, and when the answer to its COMMIT is lost it
// asks the catalog whether it committed before it deletes its files.
#include "compaction_fixture.hpp"

#include "core/common/error.hpp"
#include "core/lake/catalog_loader.hpp"
#include "core/lake/lake_maintenance.hpp"
#include "core/lake/write/lake_compactor.hpp"
#include "core/pg/pg_connection.hpp"
#include "harness/daemon_process.hpp"
#include "harness/lake_files.hpp"

#include <gtest/gtest.h>

#include <atomic>
#include <filesystem>
#include <thread>

#include <sys/socket.h>

namespace fs = std::filesystem;
using namespace duckpipe;
using namespace duckpipe::test;
using namespace std::chrono_literals;

namespace {

std::vector<std::string> ReferencedFiles(const CompactionLake &lake) {
	return ReferencedLakeFiles(lake.Conninfo());
}

void ExpectReferencedFilesExist(const CompactionLake &lake) {
	ExpectReferencedLakeFilesExist(lake.Conninfo());
}

// `cleanup-files --orphans-older-than '0 seconds'` in a loop on its own thread.
class Sweeper {
public:
	explicit Sweeper(const lake::LakeConfig &config)
	    : thread_([this, config] {
		      try {
			      lake::LakeMaintenance maintenance(config);
			      while (!stop_) {
				      deleted_ += maintenance.DeleteOrphanedFiles("0 seconds").files_deleted;
				      passes_++;
			      }
		      } catch (const std::exception &e) {
			      error_ = e.what();
			      failed_ = true;
		      }
	      }) {}
	~Sweeper() {
		stop_ = true;
		thread_.join();
	}
	// Waits until n more passes have run completely.
	void WaitPasses(int n) {
		auto target = passes_.load() + n;
		EXPECT_TRUE(WaitFor(
		    [&] {
			    if (failed_) {
				    throw std::runtime_error("orphan sweep failed: " + error_);
			    }
			    return passes_ >= target;
		    },
		    60s, 5ms));
	}
	int64_t Deleted() const { return deleted_; }

private:
	std::atomic<bool> stop_{false};
	std::atomic<bool> failed_{false};
	std::atomic<int64_t> passes_{0};
	std::atomic<int64_t> deleted_{0};
	std::string error_;
	std::thread thread_;
};

// Holds back the server's answer to the compaction's COMMIT (a deferred trigger on the snapshot's
// changes row waits for an advisory lock the test holds) and shuts the client socket down right after
// COMMIT was sent, so the answer is lost for sure. `commits` false makes the server refuse the COMMIT;
// `also` runs while the server still waits.
class LostCommitAnswer {
public:
	LostCommitAnswer(const CompactionLake &lake, bool commits, std::function<void()> also = {}) {
		lake.Psql(std::string("CREATE FUNCTION public.gate() RETURNS trigger LANGUAGE plpgsql AS $$ BEGIN ") +
		          "PERFORM set_config('lock_timeout', '10s', true); PERFORM pg_advisory_xact_lock(4242); " +
		          (commits ? "" : "RAISE EXCEPTION 'the gate refuses this commit'; ") + "RETURN NULL; END $$");
		lake.Psql("CREATE CONSTRAINT TRIGGER gate AFTER INSERT ON ducklake.ducklake_snapshot_changes DEFERRABLE "
		          "INITIALLY DEFERRED FOR EACH ROW EXECUTE FUNCTION public.gate()");
		gate_ = std::make_shared<PgConnection>(lake.Conninfo());
		gate_->Exec("SELECT pg_advisory_lock(4242)");
		auto admin = PgCluster::Shared().Conninfo("postgres");
		lake::LakeWriter::SetConnectionHook(
		    [fired = fired_, gate = gate_, admin, also](const std::string &at, int backend_pid, int socket) {
			    if (at != "after_commit_sent" || *fired) {
				    return;
			    }
			    *fired = true;
			    shutdown(socket, SHUT_RDWR);
			    if (also) {
				    also();
			    }
			    gate->Exec("SELECT pg_advisory_unlock_all()");
			    // The old session has ended its transaction (and left) before the compaction asks.
			    PgConnection probe(admin);
			    EXPECT_TRUE(WaitFor(
			        [&] {
				        return probe
				                   .Exec("SELECT count(*) FROM pg_stat_activity WHERE pid = $1",
				                         {std::to_string(backend_pid)})
				                   .GetInt(0, 0) == 0;
			        },
			        30s, 10ms));
		    });
	}
	~LostCommitAnswer() { lake::LakeWriter::SetConnectionHook(nullptr); }
	bool Fired() const { return *fired_; }
	void Disarm(const CompactionLake &lake) {
		lake::LakeWriter::SetConnectionHook(nullptr);
		gate_->Exec("SELECT pg_advisory_unlock_all()");
		lake.Psql("DROP TRIGGER gate ON ducklake.ducklake_snapshot_changes");
	}

private:
	std::shared_ptr<PgConnection> gate_;
	std::shared_ptr<bool> fired_ = std::make_shared<bool>(false);
};

std::string InFlightRegistrations(const CompactionLake &lake) {
	return lake.Psql("SELECT count(*) FROM ducklake.duckpipe_pending_file WHERE committed_snapshot IS NULL");
}

} // namespace

TEST(CompactionInFlight, OrphanSweepInALoopSparesTheFilesOfCompactionsInFlight) {
	CompactionLake lake("compact_sweep");
	Sweeper sweeper(lake.config);
	// The sweep is live: a real orphan goes.
	auto orphan = fs::path(ReferencedFiles(lake).front()).parent_path() / "orphan.parquet";
	fs::copy_file(ReferencedFiles(lake).front(), orphan);
	sweeper.WaitPasses(2);
	EXPECT_FALSE(fs::exists(orphan));
	EXPECT_GE(sweeper.Deleted(), 1);

	for (int round = 0; round < 3; round++) {
		for (int i = 0; i < 3; i++) {
			int64_t from = 1000 + round * 100 + i * 20;
			lake.Insert(from, from + 20);
		}
		auto before = lake.Contents();
		lake::TableCompaction compaction(*lake.writer, lake.table_id);
		ASSERT_TRUE(compaction.Prepare());
		// Complete sweeps run while the compaction's files are written and not yet committed.
		sweeper.WaitPasses(2);
		auto result = compaction.Commit();
		ASSERT_TRUE(result.snapshot_id);
		EXPECT_GE(result.files_written, 1);
		ExpectReferencedFilesExist(lake);
		ASSERT_EQ(lake.Contents(), before) << "round " << round;
	}
	// Compactions racing the sweep freely, everything folded into one file at the end.
	auto before = lake.Contents();
	lake::CompactionOptions all;
	all.delete_ratio_threshold = 0.1;
	for (int i = 0; i < 3; i++) {
		lake.Insert(5000 + i * 20, 5020 + i * 20);
		before = lake.Contents();
		ASSERT_TRUE(lake::CompactTable(*lake.writer, lake.table_id, all).snapshot_id);
		ExpectReferencedFilesExist(lake);
		ASSERT_EQ(lake.Contents(), before);
	}
	sweeper.WaitPasses(2);
	ExpectReferencedFilesExist(lake);
	EXPECT_EQ(lake.Contents(), before);
	EXPECT_EQ(lake.LiveDataFiles(), 1);
	EXPECT_EQ(lake.MetadataCount(), static_cast<int64_t>(before.size()) - 1);
	EXPECT_EQ(InFlightRegistrations(lake), "0\n");
}

TEST(CompactionInFlight, LostCommitAnswerOfACommittedCompactionKeepsItsFiles) {
	CompactionLake lake("compact_lost_committed");
	auto before = lake.Contents();
	auto head = lake.Head();
	auto files_before = FilesUnder(lake.config.data_path);
	LostCommitAnswer lost(lake, true);
	lake::CompactionResult result;
	EXPECT_NO_THROW(result = lake::CompactTable(*lake.writer, lake.table_id));
	EXPECT_TRUE(lost.Fired()) << "the compaction never reached its COMMIT";
	lost.Disarm(lake);
	ASSERT_TRUE(result.snapshot_id);
	EXPECT_EQ(*result.snapshot_id, head + 1);
	EXPECT_EQ(lake.Head(), head + 1);
	EXPECT_EQ(lake.Psql("SELECT changes_made FROM ducklake.ducklake_snapshot_changes WHERE snapshot_id = " +
	                    std::to_string(head + 1)),
	          "rewrite_delete:" + std::to_string(lake.table_id) + "\n");
	// The new file is kept and referenced, the sources only end.
	auto files_after = FilesUnder(lake.config.data_path);
	EXPECT_EQ(files_after.size(), files_before.size() + 1);
	for (const auto &f : files_before) {
		EXPECT_TRUE(files_after.count(f)) << f;
	}
	ExpectReferencedFilesExist(lake);
	EXPECT_EQ(lake.LiveDataFiles(), 6);
	EXPECT_EQ(lake.Contents(), before);
	EXPECT_EQ(lake.MetadataCount(), static_cast<int64_t>(before.size()) - 1);
	EXPECT_EQ(InFlightRegistrations(lake), "0\n");
	// Nothing to do a second time: the compaction is not repeated.
	EXPECT_FALSE(lake::CompactTable(*lake.writer, lake.table_id).snapshot_id);
	EXPECT_EQ(lake.Contents(), before);
}

TEST(CompactionInFlight, LostCommitAnswerOfAFailedCompactionRemovesItsFiles) {
	CompactionLake lake("compact_lost_failed");
	auto before = lake.Contents();
	auto head = lake.Head();
	auto files_before = FilesUnder(lake.config.data_path);
	LostCommitAnswer lost(lake, false);
	EXPECT_THROW(lake::CompactTable(*lake.writer, lake.table_id), Error);
	EXPECT_TRUE(lost.Fired()) << "the compaction never reached its COMMIT";
	lost.Disarm(lake);
	EXPECT_EQ(lake.Head(), head);
	EXPECT_EQ(FilesUnder(lake.config.data_path), files_before);
	ExpectReferencedFilesExist(lake);
	EXPECT_EQ(lake.LiveDataFiles(), 10);
	EXPECT_EQ(lake.Contents(), before);
	EXPECT_EQ(InFlightRegistrations(lake), "0\n");
	// Run again, it compacts.
	auto result = lake::CompactTable(*lake.writer, lake.table_id);
	ASSERT_TRUE(result.snapshot_id);
	EXPECT_EQ(lake.LiveDataFiles(), 6);
	EXPECT_EQ(lake.Contents(), before);
	ExpectReferencedFilesExist(lake);
}

TEST(CompactionInFlight, LostCommitAnswerThatCannotBeCheckedKeepsTheFiles) {
	CompactionLake lake("compact_lost_unknown");
	auto before = lake.Contents();
	auto head = lake.Head();
	auto files_before = FilesUnder(lake.config.data_path);
	auto admin = PgCluster::Shared().Conninfo("postgres");
	auto allow = [&](bool on) {
		PgConnection conn(admin);
		conn.Exec("ALTER DATABASE " + conn.QuoteIdent(lake.db) + " ALLOW_CONNECTIONS " + (on ? "true" : "false"));
	};
	{
		// The catalog accepts no new connection when the compaction asks whether it committed.
		LostCommitAnswer lost(lake, true, [&] { allow(false); });
		try {
			lake::CompactTable(*lake.writer, lake.table_id);
			ADD_FAILURE() << "the compaction's outcome cannot be known here";
		} catch (const Error &e) {
			EXPECT_EQ(e.Kind(), ErrorKind::Connection) << e.what();
			EXPECT_NE(std::string(e.what()).find("cannot be checked"), std::string::npos) << e.what();
		}
		EXPECT_TRUE(lost.Fired()) << "the compaction never reached its COMMIT";
		allow(true);
		lost.Disarm(lake);
	}
	// It did commit: its file was kept and the lake reads the same rows from it.
	EXPECT_EQ(lake.Head(), head + 1);
	EXPECT_EQ(FilesUnder(lake.config.data_path).size(), files_before.size() + 1);
	ExpectReferencedFilesExist(lake);
	EXPECT_EQ(lake.LiveDataFiles(), 6);
	EXPECT_EQ(lake.Contents(), before);
	// A sweep right away leaves every file alone.
	lake::LakeMaintenance maintenance(lake.config);
	EXPECT_EQ(maintenance.DeleteOrphanedFiles("0 seconds").files_deleted, 0);
	ExpectReferencedFilesExist(lake);
	EXPECT_EQ(lake.Contents(), before);
}
