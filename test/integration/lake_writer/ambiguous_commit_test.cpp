// A catalog connection lost around COMMIT: the writer must find out whether the snapshot committed
// before it deletes files or retries (issue 9). The connection is dropped by a test hook that shuts
// the client socket down right before or right after COMMIT is sent, as a network failure would.
#include "core/common/error.hpp"
#include "core/lake/catalog_loader.hpp"
#include "core/lake/lake_maintenance.hpp"
#include "core/lake/lake_writer.hpp"
#include "writer_fixture.hpp"

#include <gtest/gtest.h>

#include <filesystem>

#include <sys/socket.h>

using namespace duckpipe;
using namespace duckpipe::test;

namespace {

struct AmbiguousFixture {
	TestLake lake;
	lake::LakeWriter writer;
	Staging staging;
	int64_t table = 0;

	explicit AmbiguousFixture(const std::string &prefix) : lake(prefix), writer(lake.config) {
		auto c = writer.Begin();
		auto h = c.CreateTable("main", "t", {Col("id", "int64"), Col("v", "varchar")});
		c.Commit();
		table = c.ResolveId(h);
		PgRows(lake.Conninfo(), "CREATE TABLE applied(batch text)");
	}
	~AmbiguousFixture() { lake::LakeWriter::SetConnectionHook(nullptr); }

	// Appends ids [from, to) as one commit that also records the batch, as the pipeline records its
	// applied LSN in the same catalog transaction.
	int64_t Append(int64_t from, int64_t to) {
		auto c = writer.Begin();
		c.Insert(table, *staging.duck,
		         "SELECT i AS id, 'v' || i AS v FROM range(" + std::to_string(from) + ", " + std::to_string(to) +
		             ") r(i)");
		auto batch = std::to_string(from);
		c.AddSql([batch](PgConnection &conn) { conn.Exec("INSERT INTO applied VALUES ($1)", {batch}); });
		return c.Commit();
	}
	// Drops the catalog connection (once) at `point`. After COMMIT was sent, the server's answer is
	// held back until the connection is down (a deferred trigger waits for a lock the test holds), so
	// the answer is lost for sure; `also` runs while the server still waits.
	void DropConnectionAt(const std::string &point, std::function<void()> also = {}) {
		PgRows(lake.Conninfo(), "CREATE OR REPLACE FUNCTION gate() RETURNS trigger LANGUAGE plpgsql AS "
		                        "$$ BEGIN PERFORM pg_advisory_xact_lock(4242); RETURN NULL; END $$");
		PgRows(lake.Conninfo(), "CREATE CONSTRAINT TRIGGER gate AFTER INSERT ON applied DEFERRABLE INITIALLY "
		                        "DEFERRED FOR EACH ROW EXECUTE FUNCTION gate()");
		gate = std::make_shared<PgConnection>(lake.Conninfo());
		gate->Exec("SELECT pg_advisory_lock(4242)");
		auto fired = std::make_shared<bool>(false);
		lake::LakeWriter::SetConnectionHook([point, fired, g = gate, also](const std::string &at, int, int socket) {
			if (at == point && !*fired) {
				*fired = true;
				shutdown(socket, SHUT_RDWR);
				if (also) {
					also();
				}
				g->Exec("SELECT pg_advisory_unlock_all()");
			}
		});
	}
	std::shared_ptr<PgConnection> gate;
	Rows Read(const std::string &sql) { return LakeRows(lake.Conninfo(), sql); }
	// Every data file the lake references exists.
	void ExpectReferencedFilesExist() {
		PgConnection conn(lake.Conninfo());
		auto state = lake::LoadCatalog(conn, "ducklake");
		for (const auto &t : state.tables) {
			for (const auto &f : t.files) {
				EXPECT_TRUE(std::filesystem::exists(f.full_path)) << "referenced file missing: " << f.full_path;
			}
		}
	}
};

} // namespace

TEST(AmbiguousCommit, ConnectionLostAfterCommitSentIsReportedOnceWithFilesIntact) {
	AmbiguousFixture f("amb_after");
	f.Append(0, 50);
	f.DropConnectionAt("after_commit_sent");
	int64_t snapshot = -1;
	EXPECT_NO_THROW(snapshot = f.Append(100, 150));
	EXPECT_EQ(PgRows(f.lake.Conninfo(), "SELECT max(snapshot_id) FROM ducklake.ducklake_snapshot"),
	          (Rows{std::to_string(snapshot)}));
	f.ExpectReferencedFilesExist();
	EXPECT_EQ(f.Read("SELECT count(*), count(DISTINCT id), min(id), max(id) FROM main.t"), (Rows{"100|100|0|149"}));
	EXPECT_EQ(PgRows(f.lake.Conninfo(), "SELECT batch FROM applied ORDER BY batch"), (Rows{"0", "100"}));
	// The writer reconnects for the next commit.
	f.Append(200, 210);
	EXPECT_EQ(f.Read("SELECT count(*), count(DISTINCT id) FROM main.t"), (Rows{"110|110"}));
	// Nothing stays registered as in flight.
	EXPECT_EQ(PgRows(f.lake.Conninfo(),
	                 "SELECT count(*) FROM ducklake.duckpipe_pending_file WHERE committed_snapshot IS NULL"),
	          (Rows{"0"}));
}

TEST(AmbiguousCommit, AppendRetriedAfterLostAnswerDoesNotDuplicate) {
	AmbiguousFixture f("amb_retry");
	f.DropConnectionAt("after_commit_sent");
	// An append-mode caller: retries a batch until Commit returns.
	int attempts = 0;
	for (; attempts < 3; attempts++) {
		try {
			f.Append(0, 500);
			break;
		} catch (const Error &) {
		}
	}
	EXPECT_EQ(attempts, 0) << "the commit was reported failed although it committed";
	EXPECT_EQ(f.Read("SELECT count(*), count(DISTINCT id) FROM main.t"), (Rows{"500|500"}));
	EXPECT_EQ(PgRows(f.lake.Conninfo(), "SELECT count(*) FROM applied"), (Rows{"1"}));
	f.ExpectReferencedFilesExist();
}

TEST(AmbiguousCommit, ConnectionLostBeforeCommitSentIsNotCommittedAndCleanedUp) {
	AmbiguousFixture f("amb_before");
	f.Append(0, 50);
	auto files_before = ListFiles(f.lake.config.data_path);
	f.DropConnectionAt("before_commit_sent");
	EXPECT_THROW(f.Append(100, 150), Error);
	EXPECT_EQ(files_before, ListFiles(f.lake.config.data_path));
	EXPECT_EQ(f.Read("SELECT count(*) FROM main.t"), (Rows{"50"}));
	// The caller's retry commits the batch once.
	f.Append(100, 150);
	EXPECT_EQ(f.Read("SELECT count(*), count(DISTINCT id) FROM main.t"), (Rows{"100|100"}));
	EXPECT_EQ(PgRows(f.lake.Conninfo(), "SELECT batch FROM applied ORDER BY batch"), (Rows{"0", "100"}));
	f.ExpectReferencedFilesExist();
}

TEST(AmbiguousCommit, FailPointAfterCommitSentResolvesAsCommitted) {
	AmbiguousFixture f("amb_failpoint");
	lake::LakeWriter::SetFailPoint("after_commit_sent");
	int64_t snapshot = -1;
	EXPECT_NO_THROW(snapshot = f.Append(0, 20));
	lake::LakeWriter::SetFailPoint("");
	EXPECT_EQ(PgRows(f.lake.Conninfo(), "SELECT max(snapshot_id) FROM ducklake.ducklake_snapshot"),
	          (Rows{std::to_string(snapshot)}));
	EXPECT_EQ(f.Read("SELECT count(*) FROM main.t"), (Rows{"20"}));
	f.ExpectReferencedFilesExist();
}

TEST(AmbiguousCommit, UnknownOutcomeKeepsFilesUntilTheCatalogAnswers) {
	AmbiguousFixture f("amb_unknown");
	auto admin = PgCluster::Shared().Conninfo("postgres");
	auto db = f.lake.db;
	// Drop the connection after COMMIT and keep the catalog from accepting a new one.
	f.DropConnectionAt("after_commit_sent",
	                   [admin, db] { PgRows(admin, "ALTER DATABASE \"" + db + "\" ALLOW_CONNECTIONS false"); });
	std::string token;
	try {
		auto c = f.writer.Begin();
		token = c.Token();
		c.Insert(f.table, *f.staging.duck, "SELECT i AS id, 'v' AS v FROM range(10) r(i)");
		c.AddSql([](PgConnection &conn) { conn.Exec("INSERT INTO applied VALUES ('unknown')"); });
		c.Commit();
		ADD_FAILURE() << "the commit's outcome cannot be known here";
	} catch (const Error &e) {
		EXPECT_NE(std::string(e.what()).find("cannot be checked"), std::string::npos) << e.what();
	}
	lake::LakeWriter::SetConnectionHook(nullptr);
	PgRows(admin, "ALTER DATABASE \"" + db + "\" ALLOW_CONNECTIONS true");
	// The files were kept: the commit did reach the catalog.
	f.ExpectReferencedFilesExist();
	EXPECT_EQ(f.writer.ResolveCommit(token), lake::PendingFiles::Outcome::Committed);
	EXPECT_EQ(f.Read("SELECT count(*), count(DISTINCT id) FROM main.t"), (Rows{"10|10"}));
}

TEST(AmbiguousCommit, CommitBasedOnAnExpiredSnapshotFailsWithConflict) {
	AmbiguousFixture f("amb_expired");
	f.Append(0, 10);
	auto c = f.writer.Begin();
	auto base = c.BaseSnapshot();
	c.Insert(f.table, *f.staging.duck, "SELECT 1000 AS id, 'late' AS v");
	{
		lake::LakeWriter other(f.lake.config);
		Staging staging;
		for (int i = 0; i < 2; i++) {
			auto o = other.Begin();
			o.Insert(f.table, *staging.duck, "SELECT " + std::to_string(500 + i) + " AS id, 'other' AS v");
			o.Commit();
		}
	}
	// Our own expiry keeps the base of a commit in flight...
	lake::LakeMaintenance maintenance(f.lake.config);
	maintenance.ExpireSnapshots("0 seconds");
	EXPECT_EQ(PgRows(f.lake.Conninfo(),
	                 "SELECT count(*) FROM ducklake.ducklake_snapshot WHERE snapshot_id >= " + std::to_string(base)),
	          (Rows{"3"}));
	// ...another tool's does not know about it.
	PgRows(f.lake.Conninfo(), "DELETE FROM ducklake.ducklake_snapshot WHERE snapshot_id = " + std::to_string(base + 1));
	try {
		c.Commit();
		ADD_FAILURE() << "committed on top of an expired base";
	} catch (const Error &e) {
		EXPECT_EQ(e.Kind(), ErrorKind::Conflict) << e.what();
	}
	EXPECT_EQ(f.Read("SELECT count(*) FROM main.t WHERE id = 1000"), (Rows{"0"}));
	f.ExpectReferencedFilesExist();
}
