// The lake table as a PostgreSQL relation, on a lake filled by the real daemon (lake catalog = the
// source database, data path = the one the server's settings name): every type read back equal to
// the source, time travel through duckpipe.query, DROP TABLE dropping the lake table, and a
// cancelled long scan.
#include "../types/type_columns.hpp"
#include "harness/daemon_lake_fixture.hpp"

#include <filesystem>
#include <fstream>
#include <future>

namespace duckpipe::test {

namespace {

// The module is preloaded in this binary's cluster (the private PostgreSQL tree).
[[maybe_unused]] const bool kExtensionCluster = [] {
	PgCluster::SharedOptions().extension = true;
	return true;
}();

std::string LastLines(const std::string &text, size_t lines) {
	size_t at = text.size();
	while (lines-- > 0 && at > 0) {
		at = text.rfind('\n', at - 1);
		if (at == std::string::npos) {
			return text;
		}
	}
	return text.substr(at);
}

int ThreadsOf(const std::string &pid) {
	std::ifstream status("/proc/" + pid + "/status");
	std::string line;
	while (std::getline(status, line)) {
		if (line.rfind("Threads:", 0) == 0) {
			return std::stoi(line.substr(8));
		}
	}
	return -1;
}

std::string Clip(const std::string &s) {
	return s.size() > 120 ? s.substr(0, 120) + "..." : s;
}

} // namespace

class LakeRelationTest : public DaemonLakeTest {
protected:
	// The daemon's add-table, into the daemon's group.
	void AddTable(std::vector<std::string> args) {
		args.insert(args.begin(), "add-table");
		args.insert(args.end(), {"--group", kGroup});
		DuckpipeOk(args);
	}

	// Rows of a query on the source side and on the relation side that differ (empty when none).
	std::string Differences(const std::string &source_sql, const std::string &relation_sql,
	                        const std::vector<TypeColumn> *columns = nullptr) {
		Rows source = Sql(source_sql);
		Rows relation = Sql(relation_sql);
		std::string out;
		if (source.size() != relation.size()) {
			out += "source has " + std::to_string(source.size()) + " rows, relation " +
			       std::to_string(relation.size()) + "\n";
		}
		for (size_t r = 0; r < std::min(source.size(), relation.size()); r++) {
			for (size_t c = 0; c < source[r].size(); c++) {
				auto want = source[r][c];
				auto got = relation[r][c];
				if (columns && c > 0) {
					want = Normalise((*columns)[c - 1], want);
					got = Normalise((*columns)[c - 1], got);
				}
				if (want != got) {
					// Show where they part.
					size_t at = 0;
					while (at < want.size() && at < got.size() && want[at] == got[at]) {
						at++;
					}
					at = at > 40 ? at - 40 : 0;
					want = want.substr(at);
					got = got.substr(at);
					out += "row " + source[r][0] + " column " +
					       (columns && c > 0 ? (*columns)[c - 1].name : std::to_string(c)) + ": source [" + Clip(want) +
					       "] relation [" + Clip(got) + "]\n";
				}
			}
		}
		return out;
	}

	std::string LatestSnapshot() { return Scalar("SELECT max(snapshot_id) FROM ducklake.ducklake_snapshot"); }
};

TEST_F(LakeRelationTest, EveryTypeReadsBackEqualToTheSource) {
	Sql(TypesDdl());
	// Output settings a user may have: the relation's values go through the input functions, which
	// must read them whatever these say.
	Sql("ALTER DATABASE \"" + Db() + "\" SET DateStyle = 'SQL, DMY'");
	Sql("ALTER DATABASE \"" + Db() + "\" SET TimeZone = 'Asia/Kolkata'");
	Sql("ALTER DATABASE \"" + Db() + "\" SET bytea_output = 'escape'");
	conn_ = Connect();
	for (const auto &row : TypeRows()) {
		Sql(InsertSql(row, 0));
	}
	// Before the pipeline created the lake, the relation is empty.
	Sql("SELECT duckpipe.create_target_relation('public.alltypes', 'public', 'alltypes_ducklake', 'upsert')");
	EXPECT_EQ(Scalar("SELECT count(*) FROM public.alltypes_ducklake"), "0");

	AddTable({"public.alltypes"});
	auto daemon = StartDaemon();
	ASSERT_TRUE(WaitTableState("public.alltypes", "STREAMING", 60s)) << TableError("public.alltypes") << LogTail();
	for (const auto &row : TypeRows()) {
		Sql(InsertSql(row, 1000)); // streamed rows too
	}
	std::string diff;
	bool equal = WaitFor(
	    [&] {
		    diff = Differences(SourceCanonicalSql("public.alltypes"), SourceCanonicalSql("public.alltypes_ducklake"),
		                       &TypeColumns());
		    return diff.empty();
	    },
	    60s, 300ms);
	EXPECT_TRUE(equal) << diff;
	// What SELECT * shows: every row's text equal, but for the documented changes (a numeric NaN in a
	// numeric(p,s) column is NULL in the lake, arrays start at 1 there).
	std::string row_text = "SELECT id::text, ROW(" + [] {
		std::string cols;
		for (const auto &c : TypeColumns()) {
			std::string col = "\"" + c.name + "\"";
			if (c.lake_type == "list") {
				std::string element = c.canon == Canon::Decimal ? "NULLIF(v, 'NaN')" : "v";
				col = "CASE WHEN cardinality(" + col + ") = 0 THEN " + col + " ELSE (SELECT array_agg(" + element +
				      " ORDER BY o) FROM unnest(" + col + ") WITH ORDINALITY u(v, o)) END";
			} else if (c.canon == Canon::Decimal) {
				col = "NULLIF(" + col + ", 'NaN')";
			}
			cols += (cols.empty() ? "" : ", ") + col;
		}
		return cols;
	}() + ")::text FROM ";
	EXPECT_EQ(Differences(row_text + "public.alltypes ORDER BY id", row_text + "public.alltypes_ducklake ORDER BY id"),
	          "");
	EXPECT_EQ(daemon->Terminate(), 0);
}

TEST_F(LakeRelationTest, QueryTravelsInTimeAndDropRemovesTheLakeTable) {
	Sql("CREATE TABLE public.orders (id int PRIMARY KEY, amount numeric(12,2), note text)");
	Sql("INSERT INTO public.orders SELECT g, g * 1.5, 'n' || g FROM generate_series(1, 10) g");
	Sql("SELECT duckpipe.create_target_relation('public.orders', 'public', 'orders_ducklake', 'upsert')");
	AddTable({"public.orders"});
	auto daemon = StartDaemon();
	ASSERT_TRUE(WaitFor([&] { return Scalar("SELECT count(*) FROM public.orders_ducklake") == "10"; }, 60s, 200ms))
	    << LogTail();
	std::string before = LatestSnapshot();
	std::string before_time =
	    Scalar("SELECT snapshot_time FROM ducklake.ducklake_snapshot WHERE snapshot_id = " + before);
	Sql("INSERT INTO public.orders SELECT g, g, NULL FROM generate_series(11, 15) g");
	Sql("UPDATE public.orders SET note = 'changed' WHERE id = 1");
	ASSERT_TRUE(WaitFor([&] { return Scalar("SELECT count(*) FROM public.orders_ducklake") == "15"; }, 60s, 200ms));
	ASSERT_TRUE(WaitFor([&] { return Scalar("SELECT note FROM public.orders_ducklake WHERE id = 1") == "changed"; },
	                    60s, 200ms));
	EXPECT_EQ(
	    Differences("SELECT * FROM public.orders ORDER BY id", "SELECT * FROM public.orders_ducklake ORDER BY id"), "");

	// query(): one JSON object per row, typed values; now, at the earlier snapshot, as of its time.
	EXPECT_EQ(Scalar("SELECT string_agg(q::text, ';') FROM duckpipe.query("
	                 "'SELECT id, amount, note FROM public.orders_ducklake WHERE id IN (1, 12) ORDER BY id') q"),
	          R"({"id": 1, "note": "changed", "amount": 1.5};{"id": 12, "note": null, "amount": 12.0})");
	EXPECT_EQ(Scalar("SELECT q->>'n' FROM duckpipe.query('SELECT count(*) AS n FROM public.orders_ducklake', "
	                 "snapshot => " +
	                 before + ") q"),
	          "10");
	EXPECT_EQ(Scalar("SELECT q->>'note' FROM duckpipe.query('SELECT note FROM public.orders_ducklake WHERE id = 1', "
	                 "as_of => '" +
	                 before_time + "') q"),
	          "n1");
	// Values JSON has no literal for, nested values, and statements that are not a SELECT.
	EXPECT_EQ(Scalar("SELECT string_agg(q::text, ';') FROM duckpipe.query('SELECT ''inf''::DOUBLE AS x, "
	                 "''nan''::FLOAT AS y, [1, NULL] AS l, {''a'': ''b''} AS s, ''\\xff''::BLOB AS b') q"),
	          R"({"b": "\\xFF", "l": [1, null], "s": {"a": "b"}, "x": "Infinity", "y": "NaN"})");
	EXPECT_EQ(Scalar("SELECT string_agg((q->>'column_name') || ' ' || (q->>'column_type'), ', ') "
	                 "FROM duckpipe.query('DESCRIBE public.orders_ducklake') q"),
	          "id INTEGER, amount DECIMAL(12,2), note VARCHAR");
	// Errors name the problem: a missing table lists those there are; writes and file access are refused.
	auto error = [&](const std::string &sql) {
		try {
			Sql(sql);
		} catch (const std::exception &e) {
			return std::string(e.what());
		}
		return std::string("no error");
	};
	EXPECT_NE(error("SELECT * FROM duckpipe.query('SELECT * FROM public.nope')").find("public.orders_ducklake"),
	          std::string::npos);
	EXPECT_NE(error("SELECT * FROM duckpipe.query('COPY (SELECT 1) TO ''/tmp/x.csv''')"), "no error");
	EXPECT_NE(error("SELECT * FROM duckpipe.query('SELECT * FROM read_csv(''/etc/passwd'')')").find("query failed"),
	          std::string::npos);
	EXPECT_NE(error("SELECT * FROM duckpipe.query('SELECT 1', snapshot => 999999)"), "no error");

	// DROP TABLE of the relation: the mapping goes in the DROP's transaction, the lake table at commit.
	Sql("DROP TABLE public.orders_ducklake");
	EXPECT_EQ(Scalar("SELECT count(*) FROM duckpipe.table_mappings WHERE source_table = 'orders'"), "0");
	EXPECT_EQ(Scalar("SELECT count(*) FROM ducklake.ducklake_table WHERE table_name = 'orders_ducklake' AND "
	                 "end_snapshot IS NULL"),
	          "0")
	    << LastLines(Cluster().ServerLog(), 5);
	// Earlier snapshots still hold it (time travel); the daemon keeps running without the table.
	EXPECT_EQ(Scalar("SELECT q->>'n' FROM duckpipe.query('SELECT count(*) AS n FROM public.orders_ducklake', "
	                 "snapshot => " +
	                 before + ") q"),
	          "10");
	EXPECT_TRUE(daemon->IsRunning()) << LogTail();
	EXPECT_EQ(daemon->Terminate(), 0);
}

TEST_F(LakeRelationTest, SourceDdlTheLakeFollowsIsFollowedByTheRelation) {
	Sql("CREATE TABLE public.items (id int PRIMARY KEY, qty int, old_name text, gone text)");
	Sql("INSERT INTO public.items VALUES (1, 10, 'a', 'x'), (2, 20, 'b', 'y')");
	Sql("SELECT duckpipe.create_target_relation('public.items', 'public', 'items_ducklake', 'upsert')");
	std::string relfilenode = Scalar("SELECT relfilenode FROM pg_class WHERE oid = 'public.items_ducklake'::regclass");
	AddTable({"public.items"});
	auto daemon = StartDaemon();
	ASSERT_TRUE(WaitFor([&] { return Scalar("SELECT count(*) FROM public.items_ducklake") == "2"; }, 60s, 200ms))
	    << LogTail();

	Sql("ALTER TABLE public.items ADD COLUMN price numeric(10,2), ALTER COLUMN qty TYPE bigint");
	Sql("ALTER TABLE public.items RENAME COLUMN old_name TO new_name");
	Sql("ALTER TABLE public.items DROP COLUMN gone");
	Sql("INSERT INTO public.items VALUES (3, 5000000000, 'c', 9.99)");
	Sql("UPDATE public.items SET price = 1.25 WHERE id = 1");
	auto columns = [&](const std::string &table) {
		return Scalar("SELECT string_agg(attname || ' ' || format_type(atttypid, atttypmod), ', ' ORDER BY attname) "
		              "FROM pg_attribute WHERE attrelid = '" +
		              table + "'::regclass AND attnum > 0 AND NOT attisdropped");
	};
	EXPECT_TRUE(WaitFor([&] { return columns("public.items_ducklake") == columns("public.items"); }, 60s, 200ms))
	    << columns("public.items_ducklake") << " vs " << columns("public.items") << "\n"
	    << LogTail();
	EXPECT_TRUE(WaitFor(
	    [&] {
		    return Differences("SELECT id, qty, new_name, price FROM public.items ORDER BY id",
		                       "SELECT id, qty, new_name, price FROM public.items_ducklake ORDER BY id") == "";
	    },
	    60s, 200ms))
	    << Differences("SELECT id, qty, new_name, price FROM public.items ORDER BY id",
	                   "SELECT id, qty, new_name, price FROM public.items_ducklake ORDER BY id");
	// Followed without a rewrite: the relation keeps its (empty) storage.
	EXPECT_EQ(Scalar("SELECT relfilenode FROM pg_class WHERE oid = 'public.items_ducklake'::regclass"), relfilenode);
	EXPECT_EQ(daemon->Terminate(), 0);
}

TEST_F(LakeRelationTest, ResyncAfterDdlTheLakeCannotFollowGivesTheRelationTheNewColumns) {
	allow_table_failures_ = true; // the type change stops the table until it is copied again
	Sql("CREATE TABLE public.codes (id int PRIMARY KEY, code text, note text)");
	Sql("INSERT INTO public.codes VALUES (1, '10', 'a'), (2, '20', 'b')");
	Sql("SELECT duckpipe.create_target_relation('public.codes', 'public', 'codes_ducklake', 'upsert')");
	AddTable({"public.codes"});
	auto daemon = StartDaemon();
	ASSERT_TRUE(WaitFor([&] { return Scalar("SELECT count(*) FROM public.codes_ducklake") == "2"; }, 60s, 200ms))
	    << LogTail();
	Sql("ALTER TABLE public.codes ALTER COLUMN code TYPE int USING code::int, DROP COLUMN note");
	Sql("INSERT INTO public.codes VALUES (3, 30)");
	ASSERT_FALSE(WaitTableError("public.codes").empty()) << LogTail();
	DuckpipeOk({"resync-table", "public.codes"});
	auto columns = [&](const std::string &table) {
		return Scalar("SELECT string_agg(attname || ' ' || format_type(atttypid, atttypmod), ', ' ORDER BY attnum) "
		              "FROM pg_attribute WHERE attrelid = '" +
		              table + "'::regclass AND attnum > 0 AND NOT attisdropped");
	};
	EXPECT_TRUE(WaitFor([&] { return columns("public.codes_ducklake") == "id integer, code integer"; }, 60s, 200ms))
	    << columns("public.codes_ducklake") << "\n"
	    << LogTail();
	EXPECT_TRUE(WaitFor(
	    [&] {
		    return Differences("SELECT * FROM public.codes ORDER BY id",
		                       "SELECT * FROM public.codes_ducklake ORDER BY id")
		        .empty();
	    },
	    60s, 200ms))
	    << Differences("SELECT * FROM public.codes ORDER BY id", "SELECT * FROM public.codes_ducklake ORDER BY id");
	EXPECT_EQ(daemon->Terminate(), 0);
}

TEST_F(LakeRelationTest, AppendModeRelationShowsTheChangelog) {
	Sql("CREATE TABLE public.events (id int PRIMARY KEY, v text)");
	Sql("SELECT duckpipe.create_target_relation('public.events', 'public', 'events_ducklake', 'append')");
	AddTable({"public.events", "--append"});
	auto daemon = StartDaemon();
	ASSERT_TRUE(WaitTableState("public.events", "STREAMING", 60s)) << LogTail();
	Sql("INSERT INTO public.events VALUES (1, 'a'), (2, 'b')");
	Sql("UPDATE public.events SET v = 'c' WHERE id = 1");
	Sql("DELETE FROM public.events WHERE id = 2");
	ASSERT_TRUE(WaitFor([&] { return Scalar("SELECT count(*) FROM public.events_ducklake") == "4"; }, 60s, 200ms))
	    << LogTail();
	EXPECT_EQ(
	    Sql("SELECT id::text, coalesce(v, '<null>'), duckpipe_op FROM public.events_ducklake "
	        "ORDER BY duckpipe_lsn, duckpipe_op DESC, id"),
	    (Rows{
	        {"1", "a", "I"}, {"2", "b", "I"}, {"1", "c", "U"}, {"2", "<null>", "D"}})); // a delete carries the key only
	EXPECT_EQ(Scalar("SELECT count(*) FROM public.events_ducklake WHERE duckpipe_lsn > 0 AND "
	                 "duckpipe_commit_time BETWEEN now() - interval '1 hour' AND now() + interval '1 hour'"),
	          "4");
	EXPECT_EQ(daemon->Terminate(), 0);
}

TEST_F(LakeRelationTest, DropExtensionKeepsTheLake) {
	Sql("CREATE TABLE public.kept (id int PRIMARY KEY)");
	Sql("INSERT INTO public.kept VALUES (1), (2)");
	Sql("SELECT duckpipe.create_target_relation('public.kept', 'public', 'kept_ducklake', 'upsert')");
	AddTable({"public.kept"});
	auto daemon = StartDaemon();
	ASSERT_TRUE(WaitFor([&] { return Scalar("SELECT count(*) FROM public.kept_ducklake") == "2"; }, 60s, 200ms))
	    << LogTail();
	EXPECT_EQ(daemon->Terminate(), 0);
	// The relations go with the extension (they use its access method); the lake tables stay.
	Sql("DROP EXTENSION pg_duckpipe CASCADE");
	EXPECT_EQ(Scalar("SELECT to_regclass('public.kept_ducklake') IS NULL"), "t");
	EXPECT_EQ(Scalar("SELECT count(*) FROM ducklake.ducklake_table WHERE table_name = 'kept_ducklake' AND "
	                 "end_snapshot IS NULL"),
	          "1");
	Sql("CREATE EXTENSION pg_duckpipe");
	// add_table of a target whose lake table exists already leaves that table as it is (its rows
	// read through the new relation), and rolling it back drops only the relation, not a lake table
	// it did not make.
	auto table_id = [&] {
		return Scalar("SELECT string_agg(table_id::text, ',') FROM ducklake.ducklake_table WHERE table_name = "
		              "'kept_ducklake' AND end_snapshot IS NULL");
	};
	std::string kept_id = table_id();
	{
		auto tx = Connect();
		tx->Exec("BEGIN");
		tx->Exec("SELECT duckpipe.add_table('public.kept')");
		EXPECT_EQ(tx->Exec("SELECT count(*) FROM public.kept_ducklake").Get(0, 0), "2");
		EXPECT_EQ(table_id(), kept_id);
		tx->Exec("ROLLBACK");
	}
	EXPECT_EQ(Scalar("SELECT to_regclass('public.kept_ducklake') IS NULL"), "t");
	EXPECT_EQ(table_id(), kept_id);
	Sql("SELECT duckpipe.create_target_relation('public.kept', 'public', 'kept_ducklake', 'upsert')");
	EXPECT_EQ(Scalar("SELECT count(*) FROM public.kept_ducklake"), "2");
}

TEST_F(LakeRelationTest, CancelledScanEndsPromptlyAndReleasesDuckDB) {
	Sql("CREATE TABLE public.big (id int PRIMARY KEY, payload text)");
	Sql("INSERT INTO public.big SELECT g, repeat('x', 100) || g FROM generate_series(1, 1000000) g");
	Sql("SELECT duckpipe.create_target_relation('public.big', 'public', 'big_ducklake', 'upsert')");
	AddTable({"public.big"});
	auto daemon = StartDaemon();
	ASSERT_TRUE(WaitTableState("public.big", "STREAMING", 120s)) << LogTail();
	EXPECT_EQ(daemon->Terminate(), 0);

	auto scanner = Connect();
	std::string pid(scanner->Exec("SELECT pg_backend_pid()").Get(0, 0));
	// The access method's own scan (DuckDB runs this query whole in well under 300 ms otherwise).
	scanner->Exec("SET duckpipe.duckdb_execution = off");
	scanner->Exec("SET duckpipe.lake_scan_pushdown = off");
	// A scan of a million rows that also sorts them all: seconds of work, cancelled 300 ms in.
	auto scan = std::async(std::launch::async, [&]() -> std::string {
		try {
			scanner->Exec("SELECT count(DISTINCT payload) FROM public.big_ducklake");
		} catch (const std::exception &e) {
			return e.what();
		}
		return "finished";
	});
	ASSERT_TRUE(WaitFor(
	    [&] {
		    return Scalar("SELECT count(*) FROM pg_stat_activity WHERE pid = " + pid +
		                  " AND state = 'active' AND query LIKE '%big_ducklake%' "
		                  "AND clock_timestamp() - query_start > interval '300 ms'") == "1";
	    },
	    30s, 10ms));
	auto cancelled_at = std::chrono::steady_clock::now();
	Sql("SELECT pg_cancel_backend(" + pid + ")");
	ASSERT_EQ(scan.wait_for(5s), std::future_status::ready) << "the scan did not end within 5 s of the cancel";
	auto ended_in = std::chrono::steady_clock::now() - cancelled_at;
	EXPECT_NE(scan.get().find("canceling statement due to user request"), std::string::npos);
	EXPECT_LT(ended_in, 2s);
	// The backend goes on: the same connection scans again, to the end.
	EXPECT_EQ(std::string(scanner->Exec("SELECT count(*) FROM public.big_ducklake").Get(0, 0)), "1000000");
	// No DuckDB thread left behind by the scan: the backend's own, the one its DuckDB calls run on while
	// it waits (DuckWait), and its query engine's one worker (duckpipe.query_threads = 2).
	EXPECT_EQ(ThreadsOf(pid), 3);
	// A query larger than its DuckDB's memory spills under $PGDATA/pg_duckpipe/tmp (the sandbox lets it).
	auto small = Connect();
	small->Exec("SET duckpipe.query_memory_mb = 128");
	small->Exec("SET duckpipe.query_threads = 1");
	auto spilled = std::string(small
	                               ->Exec("SELECT q->>'n' FROM duckpipe.query('SELECT count(*) AS n FROM (SELECT "
	                                      "payload || id FROM public.big_ducklake ORDER BY 1)') q")
	                               .Get(0, 0));
	EXPECT_EQ(spilled, "1000000");
}

} // namespace duckpipe::test
