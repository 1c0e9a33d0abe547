// Operational scenarios of the extension driven through its SQL API (add_table, create_group, ...):
// server restarts mid-stream (pg_ctl -m fast and -m immediate while a session keeps writing),
// several tables written at once by concurrent sessions, and a group whose source is another
// database reached over TCP. Each asserts the lake's rows against the source's, exactly.
#include "core/lake/catalog_loader.hpp"
#include "core/lake/lake_reader.hpp"
#include "core/pg/pg_connection.hpp"
#include "harness/daemon_process.hpp"
#include "harness/extension_fixture.hpp"
#include "harness/lake_text.hpp"
#include "harness/pg_cluster.hpp"

#include <gtest/gtest.h>

#include <algorithm>
#include <atomic>
#include <memory>
#include <string>
#include <sys/stat.h>
#include <thread>
#include <vector>

namespace duckpipe::test {
namespace {

using namespace std::chrono_literals;
using Rows = std::vector<std::vector<std::string>>;

class ExtensionOpsTest : public ExtensionTest {
protected:
	ExtensionOpsTest() : ExtensionTest("ext_ops") {}

	// Waits until the lake table <table>_ducklake holds exactly the rows (id, v) of the source table
	// in database source_db (this test's database by default), compared as sorted multisets.
	::testing::AssertionResult WaitLakeEqualsSource(const std::string &table, std::string source_db = "",
	                                                std::chrono::milliseconds timeout = 90s) {
		if (source_db.empty()) {
			source_db = db_;
		}
		Rows source;
		Rows lake;
		bool same = WaitFor(
		    [&] {
			    source = Query(Cluster().Conninfo(source_db),
			                   "SELECT id::text, coalesce(v, 'NULL') FROM " + table + " ORDER BY id");
			    lake = Lake("SELECT CAST(id AS VARCHAR), coalesce(v, 'NULL') FROM " + table + "_ducklake");
			    std::sort(source.begin(), source.end());
			    std::sort(lake.begin(), lake.end());
			    return !source.empty() && source == lake;
		    },
		    timeout);
		if (same) {
			return ::testing::AssertionSuccess();
		}
		size_t missing = 0;
		for (const auto &row : source) {
			missing += !std::binary_search(lake.begin(), lake.end(), row);
		}
		return ::testing::AssertionFailure() << table << ": source has " << source.size() << " rows, lake "
		                                     << lake.size() << ", " << missing << " source rows missing in the lake";
	}

	static std::string LogTail(size_t lines = 150) {
		auto log = Cluster().ServerLog();
		size_t at = log.size();
		for (size_t n = 0; n <= lines && at != std::string::npos && at > 0; n++) {
			at = log.rfind('\n', at - 1);
		}
		return at == std::string::npos ? log : log.substr(at);
	}
};

// A session that keeps writing small transactions (insert, update, delete) into a table until
// stopped, through server restarts: an error (server gone) only makes it reconnect. The source is
// the reference, so a transaction whose COMMIT was cut off needs no bookkeeping.
class Writer {
public:
	Writer(std::string conninfo, std::string table, int first_id)
	    : conninfo_(std::move(conninfo)), table_(std::move(table)), next_(first_id) {
		thread_ = std::thread([this] { Run(); });
	}
	~Writer() { Stop(); }

	void Stop() {
		stop_.store(true);
		if (thread_.joinable()) {
			thread_.join();
		}
	}
	// Transactions committed so far.
	int Committed() const { return committed_.load(); }

private:
	void Run() {
		std::unique_ptr<PgConnection> conn;
		while (!stop_.load()) {
			try {
				if (!conn) {
					conn = std::make_unique<PgConnection>(conninfo_);
				}
				int id = next_;
				conn->Exec("BEGIN");
				conn->Exec("INSERT INTO " + table_ + " SELECT g, 'w' || g FROM generate_series(" + std::to_string(id) +
				           ", " + std::to_string(id + 9) + ") g");
				conn->Exec("UPDATE " + table_ + " SET v = v || '+' WHERE id % 13 = " + std::to_string(id % 13));
				conn->Exec("DELETE FROM " + table_ + " WHERE id = " + std::to_string(id - 5));
				conn->Exec("COMMIT");
				next_ += 10;
				committed_++;
			} catch (const std::exception &) {
				conn.reset();
				next_ += 10; // the cut-off transaction's ids may exist or not: use new ones
				std::this_thread::sleep_for(50ms);
			}
		}
	}

	std::string conninfo_;
	std::string table_;
	int next_;
	std::atomic<bool> stop_{false};
	std::atomic<int> committed_{0};
	std::thread thread_;
};

// pg_ctl stop -m fast, then -m immediate, each while a session writes: the launcher brings the
// group's worker back (nobody calls start_worker), and the lake ends with every row exactly once.
TEST_F(ExtensionOpsTest, RestartMidStreamLosesAndDuplicatesNothing) {
	Sql("CREATE TABLE public.events (id int PRIMARY KEY, v text)");
	Sql("INSERT INTO public.events SELECT g, 'snap' FROM generate_series(1, 1000) g");
	Sql("SELECT duckpipe.add_table('public.events')");
	// A second group, idle during the restarts: its worker comes back too.
	Sql("CREATE TABLE public.quiet (id int PRIMARY KEY, v text)");
	Sql("INSERT INTO public.quiet SELECT g, 'q' FROM generate_series(1, 10) g");
	Sql("SELECT duckpipe.create_group('second')");
	Sql("SELECT duckpipe.add_table('public.quiet', sync_group => 'second')");
	ASSERT_TRUE(WaitLakeEqualsSource("public.events"));
	ASSERT_TRUE(WaitLakeEqualsSource("public.quiet"));
	int first_id = 100000;
	for (const char *mode : {"fast", "immediate"}) {
		SCOPED_TRACE(mode);
		auto started = Scalar("SELECT pg_postmaster_start_time()");
		{
			Writer writer(Cluster().Conninfo(db_), "public.events", first_id);
			ASSERT_TRUE(WaitFor([&] { return writer.Committed() >= 30; }, 30s));
			// The worker is flushing what the writer commits.
			auto synced = [&] {
				return Scalar("SELECT rows_synced FROM duckpipe.status() WHERE sync_group = 'default'");
			};
			auto rows = synced();
			ASSERT_TRUE(WaitFor([&] { return synced() != rows; }, 30s));
			Cluster().Stop(mode);
			Cluster().Start();
			int before = writer.Committed();
			ASSERT_TRUE(WaitFor([&] { return writer.Committed() >= before + 30; }, 60s));
			ASSERT_NE(Scalar("SELECT pg_postmaster_start_time()"), started);
			ASSERT_TRUE(WaitFor([&] { return Workers() == 2; }, 60s)) << LogTail();
			writer.Stop();
		}
		first_id += 1000000;
		ASSERT_TRUE(WaitLakeEqualsSource("public.events")) << LogTail();
		EXPECT_EQ(Lake("SELECT count(*) = count(DISTINCT id) FROM public.events_ducklake"), Rows({{"true"}}));
		// The relation reads the same rows.
		EXPECT_EQ(Scalar("SELECT count(*) FROM (SELECT * FROM public.events EXCEPT ALL "
		                 "SELECT * FROM public.events_ducklake) a"),
		          "0");
		EXPECT_EQ(Scalar("SELECT count(*) FROM (SELECT * FROM public.events_ducklake EXCEPT ALL "
		                 "SELECT * FROM public.events) a"),
		          "0");
		EXPECT_EQ(Scalar("SELECT state FROM duckpipe.status() WHERE source_table = 'public.events'"), "STREAMING");
		Sql("INSERT INTO public.quiet VALUES (" + std::to_string(first_id) + ", 'after')");
		EXPECT_TRUE(WaitLakeEqualsSource("public.quiet")) << LogTail();
	}
	EXPECT_EQ(Workers(), 2);
}

// pg_ctl stop -m immediate while the initial copy of a large table runs (and a session writes to
// it): after the restart the copy is taken again and the lake ends equal to the source.
TEST_F(ExtensionOpsTest, ImmediateStopDuringInitialCopy) {
	Sql("CREATE TABLE public.bulk (id int PRIMARY KEY, v text)");
	Sql("INSERT INTO public.bulk SELECT g, md5(g::text) FROM generate_series(1, 400000) g");
	Sql("SELECT duckpipe.add_table('public.bulk')");
	ASSERT_TRUE(WaitFor([&] { return Scalar("SELECT state FROM duckpipe.status()") == "SNAPSHOT"; }, 60s)) << LogTail();
	{
		Writer writer(Cluster().Conninfo(db_), "public.bulk", 1000000);
		ASSERT_TRUE(WaitFor([&] { return writer.Committed() >= 3; }, 30s));
		Cluster().Stop("immediate");
		Cluster().Start();
		int before = writer.Committed();
		ASSERT_TRUE(WaitFor([&] { return writer.Committed() >= before + 20; }, 60s));
		writer.Stop();
	}
	auto digest = "count(*) || '/' || md5(string_agg(id || ':' || v, ',' ORDER BY id))";
	auto source = Scalar(std::string("SELECT ") + digest + " FROM public.bulk");
	bool same = WaitFor(
	    [&] {
		    auto lake = Sql(std::string("SELECT r->>'d' FROM duckpipe.query($q$SELECT ") + digest +
		                    " AS d FROM public.bulk_ducklake$q$) r");
		    return lake.size() == 1 && lake[0][0] == source;
	    },
	    120s);
	EXPECT_TRUE(same) << LogTail();
	EXPECT_EQ(Scalar("SELECT state FROM duckpipe.status()"), "STREAMING");
	// No copy slot is left behind.
	EXPECT_EQ(Scalar("SELECT count(*) FROM pg_replication_slots WHERE slot_name LIKE 'duckpipe_copy%'"), "0");
}

// Four tables written at the same time by four sessions (and one session writing all of them in
// one transaction): every table ends equal to its source.
TEST_F(ExtensionOpsTest, ConcurrentSessionsOnSeveralTables) {
	const std::vector<std::string> tables = {"public.c1", "public.c2", "public.c3", "public.c4"};
	for (size_t i = 0; i < tables.size(); i++) {
		Sql("CREATE TABLE " + tables[i] + " (id int PRIMARY KEY, v text)");
		Sql("INSERT INTO " + tables[i] + " SELECT g, 't" + std::to_string(i) + "' FROM generate_series(1, 200) g");
		Sql("SELECT duckpipe.add_table('" + tables[i] + "')");
	}
	// Writers start while the copies may still run.
	std::vector<std::thread> sessions;
	std::atomic<int> failures{0};
	for (size_t i = 0; i < tables.size(); i++) {
		sessions.emplace_back([&, i] {
			try {
				PgConnection conn(Cluster().Conninfo(db_));
				for (int t = 0; t < 60; t++) {
					int id = 1000 + t * 10;
					conn.Exec("BEGIN");
					conn.Exec("INSERT INTO " + tables[i] + " SELECT g, 'c' || g FROM generate_series(" +
					          std::to_string(id) + ", " + std::to_string(id + 9) + ") g");
					conn.Exec("UPDATE " + tables[i] + " SET v = v || '.' WHERE id % 17 = " + std::to_string(t % 17));
					conn.Exec("DELETE FROM " + tables[i] + " WHERE id = " + std::to_string(t * 3 + 1));
					conn.Exec("COMMIT");
				}
			} catch (const std::exception &e) {
				ADD_FAILURE() << tables[i] << ": " << e.what();
				failures++;
			}
		});
	}
	sessions.emplace_back([&] {
		try {
			PgConnection conn(Cluster().Conninfo(db_));
			for (int t = 0; t < 30; t++) {
				conn.Exec("BEGIN");
				for (const auto &table : tables) {
					conn.Exec("INSERT INTO " + table + " VALUES (" + std::to_string(5000 + t) + ", 'all')");
					conn.Exec("UPDATE " + table + " SET v = 'all+' WHERE id = " + std::to_string(5000 + t - 1));
				}
				conn.Exec("COMMIT");
			}
		} catch (const std::exception &e) {
			ADD_FAILURE() << "cross-table session: " << e.what();
			failures++;
		}
	});
	for (auto &s : sessions) {
		s.join();
	}
	ASSERT_EQ(failures.load(), 0);
	for (const auto &table : tables) {
		EXPECT_TRUE(WaitLakeEqualsSource(table)) << LogTail();
	}
	EXPECT_EQ(Workers(), 1);
	for (const auto &table : tables) {
		EXPECT_EQ(Lake("SELECT count(*) FROM " + table + "_ducklake WHERE id BETWEEN 5000 AND 5029"), Rows({{"30"}}));
	}
}

// A group whose source is another database of the server, reached over TCP through the group's
// conninfo: its tables are streamed into this database's lake; drop_group releases the remote slot.
TEST_F(ExtensionOpsTest, RemoteSourceOverTcp) {
	auto other_db = Cluster().CreateDatabase("ext_ops_src");
	auto other = Cluster().Conninfo(other_db);
	Query(other, "CREATE TABLE public.remote_orders (id int PRIMARY KEY, v text)");
	Query(other, "INSERT INTO public.remote_orders SELECT g, 'r' || g FROM generate_series(1, 300) g");
	Query(other, "CREATE TABLE public.remote_items (id int PRIMARY KEY, v text)");
	Query(other, "INSERT INTO public.remote_items SELECT g, NULL FROM generate_series(1, 20) g");
	// A table of the same name here must not be confused with the remote one.
	Sql("CREATE TABLE public.remote_orders (id int PRIMARY KEY, v text)");
	Sql("INSERT INTO public.remote_orders VALUES (1, 'local')");

	auto tcp = "host=127.0.0.1 port=" + std::to_string(Cluster().Port()) + " dbname=" + other_db + " user=postgres";
	EXPECT_EQ(Scalar("SELECT duckpipe.create_group('far', conninfo => " +
	                 PgConnection(Cluster().Conninfo(db_)).QuoteLiteral(tcp) + ")"),
	          "far");
	Sql("SELECT duckpipe.add_table('public.remote_orders', 'far_lake.remote_orders_ducklake', 'far')");
	Sql("SELECT duckpipe.add_table('public.remote_items', 'far_lake.remote_items_ducklake', 'far')");
	auto equal = [&](const std::string &table) -> ::testing::AssertionResult {
		Rows source;
		Rows lake;
		bool same = WaitFor(
		    [&] {
			    source = Query(other, "SELECT id::text, coalesce(v, 'NULL') FROM public." + table + " ORDER BY id");
			    lake = Lake("SELECT CAST(id AS VARCHAR), coalesce(v, 'NULL') FROM far_lake." + table + "_ducklake");
			    std::sort(source.begin(), source.end());
			    std::sort(lake.begin(), lake.end());
			    return source == lake;
		    },
		    90s);
		if (same) {
			return ::testing::AssertionSuccess();
		}
		return ::testing::AssertionFailure() << table << ": source " << source.size() << " rows, lake " << lake.size();
	};
	ASSERT_TRUE(equal("remote_orders")) << LogTail();
	ASSERT_TRUE(equal("remote_items")) << LogTail();
	// The slot and publication are on the source database; the source label names the host.
	EXPECT_EQ(Sql("SELECT database, plugin FROM pg_replication_slots WHERE slot_name = 'duckpipe_slot_far'"),
	          Rows({{other_db, "pgoutput"}}));
	EXPECT_EQ(Query(other, "SELECT tablename FROM pg_publication_tables WHERE pubname = 'duckpipe_pub_far' ORDER BY 1"),
	          Rows({{"remote_items"}, {"remote_orders"}}));
	EXPECT_EQ(Sql("SELECT source_table, state, source_label FROM duckpipe.status() ORDER BY 1"),
	          Rows({{"public.remote_items", "STREAMING", "remote 127.0.0.1"},
	                {"public.remote_orders", "STREAMING", "remote 127.0.0.1"}}));
	// Changes on the remote source stream in.
	Query(other, "UPDATE public.remote_orders SET v = 'changed' WHERE id % 10 = 0");
	Query(other, "DELETE FROM public.remote_orders WHERE id > 290");
	Query(other, "INSERT INTO public.remote_orders SELECT g, 'new' FROM generate_series(1000, 1049) g");
	Query(other, "UPDATE public.remote_items SET v = 'set' WHERE id <= 5");
	EXPECT_TRUE(equal("remote_orders")) << LogTail();
	EXPECT_TRUE(equal("remote_items")) << LogTail();
	EXPECT_EQ(Lake("SELECT count(*) FROM far_lake.remote_orders_ducklake WHERE v = 'changed'"), Rows({{"29"}}));
	// The local table of the same name was never synced.
	EXPECT_EQ(Sql("SELECT count(*) FROM public.remote_orders"), Rows({{"1"}}));
	// The conninfo is shown (no password here) and the group's worker runs in this database.
	EXPECT_NE(Scalar("SELECT conninfo FROM duckpipe.groups() WHERE name = 'far'").find("127.0.0.1"), std::string::npos);
	EXPECT_EQ(Workers(), 1);

	// Removing both tables, then dropping the group, drops the remote slot and publication.
	Sql("SELECT duckpipe.remove_table('public.remote_orders', sync_group => 'far')");
	Sql("SELECT duckpipe.remove_table('public.remote_items', sync_group => 'far')");
	Sql("SELECT duckpipe.drop_group('far')");
	EXPECT_EQ(Scalar("SELECT count(*) FROM pg_replication_slots WHERE slot_name = 'duckpipe_slot_far'"), "0");
	EXPECT_EQ(Query(other, "SELECT count(*) FROM pg_publication WHERE pubname = 'duckpipe_pub_far'"), Rows({{"0"}}));
	EXPECT_TRUE(WaitFor([&] { return Workers() == 0; }, 30s));
}

// DISABLED: a known gap. add_table of a remote source's table makes no lake relation in this
// database (10_api.sql leaves it to "the group's pipeline", which never makes one), so the lake copy
// is readable only through duckpipe.query(). Enable once add_table (or the pipeline) creates it.
TEST_F(ExtensionOpsTest, RemoteSourceTableHasALakeRelation) {
	auto other_db = Cluster().CreateDatabase("ext_ops_src");
	auto other = Cluster().Conninfo(other_db);
	Query(other, "CREATE TABLE public.far_rows (id int PRIMARY KEY, v text)");
	Query(other, "INSERT INTO public.far_rows SELECT g, 'r' || g FROM generate_series(1, 30) g");
	auto tcp = "host=127.0.0.1 port=" + std::to_string(Cluster().Port()) + " dbname=" + other_db + " user=postgres";
	Sql("SELECT duckpipe.create_group('far_rel', conninfo => " +
	    PgConnection(Cluster().Conninfo(db_)).QuoteLiteral(tcp) + ")");
	Sql("SELECT duckpipe.add_table('public.far_rows', sync_group => 'far_rel')");
	// The issue: the target exists as a relation and in the lake when add_table returns, with the
	// remote table's columns (described on its server).
	ASSERT_EQ(Scalar("SELECT to_regclass('public.far_rows_ducklake') IS NOT NULL"), "t");
	EXPECT_EQ(Sql("SELECT c.column_name, c.column_type FROM ducklake.ducklake_column c JOIN ducklake.ducklake_table t "
	              "ON t.table_id = c.table_id WHERE t.table_name = 'far_rows_ducklake' AND t.end_snapshot IS NULL AND "
	              "c.end_snapshot IS NULL ORDER BY c.column_order"),
	          Rows({{"id", "int32"}, {"v", "varchar"}}));
	ASSERT_TRUE(WaitFor(
	    [&] {
		    return Sql("SELECT count(*), sum(id) FROM public.far_rows_ducklake") ==
		           Query(other, "SELECT count(*), sum(id) FROM public.far_rows");
	    },
	    60s))
	    << LogTail();
}

// A flush that keeps failing (the lake table's directory not writable) is retried in place with a
// growing delay, and shows in status() (error_message, consecutive_failures, retry_at) while it
// does; the other table of the group goes on; once the directory is writable again the buffered
// rows arrive, exactly once, and the error is cleared.
TEST_F(ExtensionOpsTest, FailingFlushShowsInStatusAndRecovers) {
	Sql("CREATE TABLE public.flaky (id int PRIMARY KEY, v text)");
	Sql("CREATE TABLE public.steady (id int PRIMARY KEY, v text)");
	Sql("INSERT INTO public.flaky SELECT g, 'f' FROM generate_series(1, 50) g");
	Sql("INSERT INTO public.steady SELECT g, 's' FROM generate_series(1, 50) g");
	Sql("SELECT duckpipe.add_table('public.flaky')");
	Sql("SELECT duckpipe.add_table('public.steady')");
	ASSERT_TRUE(WaitLakeEqualsSource("public.flaky"));
	ASSERT_TRUE(WaitLakeEqualsSource("public.steady"));
	auto dir = Cluster().DataDir() + "/pg_duckpipe/lake/" +
	           Scalar("SELECT oid FROM pg_database WHERE datname = current_database()") + "/public/flaky_ducklake";
	struct stat st {};
	ASSERT_EQ(::stat(dir.c_str(), &st), 0) << dir;
	ASSERT_EQ(::chmod(dir.c_str(), 0555), 0);
	struct Restore {
		std::string dir;
		mode_t mode;
		~Restore() { ::chmod(dir.c_str(), mode); }
	} restore{dir, st.st_mode & 07777};

	Sql("INSERT INTO public.flaky SELECT g, 'new' FROM generate_series(51, 80) g");
	Sql("UPDATE public.flaky SET v = 'changed' WHERE id <= 10");
	auto status = [&] {
		return Sql("SELECT state, error_message IS NOT NULL AND error_message LIKE '%Permission denied%', "
		           "consecutive_failures, retry_at > now() - interval '1 minute' FROM duckpipe.status() WHERE "
		           "source_table = 'public.flaky'")
		    .at(0);
	};
	ASSERT_TRUE(WaitFor([&] { return std::stoi(status()[2]) >= 2; }, 60s)) << LogTail();
	auto shown = status();
	EXPECT_EQ(shown[0], "STREAMING"); // retried in place: the buffer is kept, no new copy
	EXPECT_EQ(shown[1], "t");
	EXPECT_EQ(shown[3], "t");
	// The other table is not held up.
	Sql("INSERT INTO public.steady SELECT g, 'more' FROM generate_series(51, 70) g");
	EXPECT_TRUE(WaitLakeEqualsSource("public.steady")) << LogTail();

	ASSERT_EQ(::chmod(dir.c_str(), st.st_mode & 07777), 0);
	EXPECT_TRUE(WaitLakeEqualsSource("public.flaky")) << LogTail();
	EXPECT_EQ(Lake("SELECT count(*) = count(DISTINCT id) FROM public.flaky_ducklake"), Rows({{"true"}}));
	EXPECT_TRUE(WaitFor([&] { return status()[2] == "0"; }, 30s));
	EXPECT_EQ(Sql("SELECT state, error_message, consecutive_failures, retry_at FROM duckpipe.status() WHERE "
	              "source_table = 'public.flaky'"),
	          Rows({{"STREAMING", "<null>", "0", "<null>"}}));
}

} // namespace
} // namespace duckpipe::test
