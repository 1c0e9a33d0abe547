// DuckLake data inlining on the write side: a flush of at most the lake's data_inlining_row_limit
// rows goes into the catalog's ducklake_inlined_data_<T>_<V> table (no Parquet file), laid out as
// the reference lays it out; updates and deletes end inlined rows; maintenance moves them to
// Parquet; a crash around the commit neither loses nor repeats an inlined flush.
#include "core/duck/duck_connection.hpp"
#include "core/duck/duck_database.hpp"
#include "harness/pipeline_fixture.hpp"

namespace duckpipe::test {

class InlinedWriteTest : public PipelineTest {
protected:
	std::string TableId(const std::string &lake_table) {
		return Scalar("SELECT table_id FROM ducklake.ducklake_table WHERE end_snapshot IS NULL AND table_name = '" +
		              lake_table + "'");
	}
	int64_t Count(const std::string &sql) { return std::stoll(Scalar(sql)); }
	int64_t LiveFiles(const std::string &id) {
		return Count("SELECT count(*) FROM ducklake.ducklake_data_file WHERE end_snapshot IS NULL AND table_id = " +
		             id);
	}
	// Live rows over every inlined table of the table.
	int64_t LiveInlined(const std::string &id) {
		auto tables = Sql("SELECT table_name FROM ducklake.ducklake_inlined_data_tables WHERE table_id = " + id);
		int64_t n = 0;
		for (const auto &row : tables) {
			n += Count("SELECT count(*) FROM ducklake." + row[0] + " WHERE end_snapshot IS NULL");
		}
		return n;
	}
	void SetLimit(int limit) {
		Sql("UPDATE ducklake.ducklake_metadata SET value = '" + std::to_string(limit) +
		    "' WHERE key = 'data_inlining_row_limit' AND scope IS NULL");
	}
	std::string LatestChanges() {
		return Scalar("SELECT changes_made FROM ducklake.ducklake_snapshot_changes ORDER BY snapshot_id DESC LIMIT 1");
	}
};

TEST_F(InlinedWriteTest, SmallFlushesAreInlinedUpdatedDeletedAndFlushedToParquet) {
	// (float8 and bytea are inlined too, but the harness's text comparison does not canonicalise them:
	// the unit test InlinedDataWriter.ReadsRowsAsPostgreSQLText covers their text.)
	Sql("CREATE TABLE public.t (id bigint PRIMARY KEY, name text, amount numeric(10,2), ts timestamptz, d date, "
	    "b boolean, u uuid)");
	Sql("INSERT INTO public.t SELECT g, 'n' || g, g * 1.5, '2024-01-01 00:00:00+00'::timestamptz + g * interval "
	    "'1 hour', '2024-01-01'::date + g, g % 2 = 0, NULL FROM generate_series(1, 5) g");
	DuckpipeOk({"add-table", "public.t"});
	DuckpipeOk({"set-config", "auto_compact", "0"});
	auto daemon = StartDaemon({}, {}, 100);
	ASSERT_TRUE(WaitTableState("public.t", "STREAMING")) << LogTail();
	const auto id = TableId("t_ducklake");
	ASSERT_EQ(LiveFiles(id), 1); // the copy's file
	SetLimit(10);

	// Three rows in one flush: inlined, no new file.
	Sql("INSERT INTO public.t VALUES (6, 'six ü', 6.25, '2024-02-01 10:30:00.123456+02', '2024-02-02', true, "
	    "'a0eebc99-9c0b-4ef8-bb6d-6bb9bd380a11'), (7, NULL, NULL, 'infinity', '-infinity', NULL, NULL), "
	    "(8, 'quote '' and \"', -0.01, NULL, NULL, false, NULL)");
	ASSERT_TRUE(WaitLakeEqualsSource("public.t")) << LogTail();
	EXPECT_EQ(LiveFiles(id), 1);
	EXPECT_EQ(LiveInlined(id), 3);
	EXPECT_EQ(LatestChanges(), "inlined_insert:" + id);
	// Registered once, at the table's own latest schema version (the reference reads the table with
	// the columns of that ducklake_schema_versions row), typed as the reference types them in a
	// PostgreSQL catalog (strings and BLOBs as BYTEA, dates and timestamps as text).
	auto registered = Sql("SELECT table_name, schema_version FROM ducklake.ducklake_inlined_data_tables");
	ASSERT_EQ(registered.size(), 1u);
	EXPECT_EQ(registered[0][0], "ducklake_inlined_data_" + id + "_" + registered[0][1]);
	EXPECT_EQ(Scalar("SELECT max(schema_version) FROM ducklake.ducklake_schema_versions WHERE table_id = " + id),
	          registered[0][1]);
	auto columns = Sql("SELECT attname || ' ' || format_type(atttypid, atttypmod) FROM pg_attribute WHERE attrelid = "
	                   "'ducklake." +
	                   registered[0][0] + "'::regclass AND attnum > 0 AND NOT attisdropped ORDER BY attnum");
	std::vector<std::string> types;
	for (const auto &c : columns) {
		types.push_back(c[0]);
	}
	EXPECT_EQ(types, (std::vector<std::string>{"row_id bigint", "begin_snapshot bigint", "end_snapshot bigint",
	                                           "id bigint", "name bytea", "amount numeric(10,2)",
	                                           "ts character varying", "d character varying", "b boolean", "u uuid"}));
	// Row ids follow the copy's; table stats count the rows (gross), with no file bytes.
	EXPECT_EQ(Scalar("SELECT string_agg(row_id::text, ',' ORDER BY row_id) FROM ducklake." + registered[0][0]),
	          "5,6,7");
	EXPECT_EQ(
	    Scalar("SELECT record_count || '/' || next_row_id FROM ducklake.ducklake_table_stats WHERE table_id = " + id),
	    "8/8");
	EXPECT_EQ(Scalar("SELECT max_value FROM ducklake.ducklake_table_column_stats WHERE table_id = " + id +
	                 " AND column_id = 1"),
	          "8");
	// `duckpipe query` reads them.
	auto q = Duckpipe(
	    {"query", "SELECT id, name, amount, b FROM public.t_ducklake WHERE id >= 5 ORDER BY id", "--format", "csv"});
	ASSERT_EQ(q.exit_code, 0) << q.output;
	EXPECT_EQ(q.output, "id,name,amount,b\n5,n5,7.50,false\n6,six ü,6.25,true\n7,,,\n8,\"quote ' and \"\"\",-0.01,"
	                    "false\n");

	// Update and delete inlined rows (and a row of the file): the old versions end, the new one is
	// inlined; the file row gets a delete file.
	Sql("BEGIN; UPDATE public.t SET name = 'seven' WHERE id = 7; DELETE FROM public.t WHERE id IN (6, 2); COMMIT");
	ASSERT_TRUE(WaitLakeEqualsSource("public.t")) << LogTail();
	EXPECT_EQ(LiveFiles(id), 1);
	EXPECT_EQ(LiveInlined(id), 2);
	EXPECT_EQ(Count("SELECT count(*) FROM ducklake." + registered[0][0] + " WHERE end_snapshot IS NOT NULL"), 2);
	auto changes = LatestChanges();
	EXPECT_NE(changes.find("inlined_delete:" + id), std::string::npos) << changes;
	EXPECT_NE(changes.find("inlined_insert:" + id), std::string::npos) << changes;
	EXPECT_NE(changes.find("deleted_from_table:" + id), std::string::npos) << changes;
	EXPECT_EQ(
	    Count("SELECT count(*) FROM ducklake.ducklake_delete_file WHERE end_snapshot IS NULL AND table_id = " + id), 1);

	// A flush above the limit is a Parquet file.
	Sql("INSERT INTO public.t SELECT g, 'big', 1, NULL, NULL, true, NULL FROM generate_series(100, 120) g");
	ASSERT_TRUE(WaitLakeEqualsSource("public.t")) << LogTail();
	EXPECT_EQ(LiveFiles(id), 2);
	EXPECT_EQ(LiveInlined(id), 2);
	EXPECT_EQ(LatestChanges(), "inserted_into_table:" + id);
	EXPECT_EQ(daemon->Terminate(), 0);

	// Maintenance moves the inlined rows into a file; the lake reads the same.
	auto flushed = Duckpipe({"flush-inlined", "public.t_ducklake"});
	ASSERT_EQ(flushed.exit_code, 0) << flushed.output;
	EXPECT_NE(flushed.output.find("moved 2 inlined rows"), std::string::npos) << flushed.output;
	EXPECT_EQ(LiveInlined(id), 0);
	EXPECT_EQ(LiveFiles(id), 3);
	EXPECT_TRUE(LakeEqualsSource("public.t"));
	// Expiring every older snapshot deletes the inlined rows no snapshot sees any more.
	auto expired = Duckpipe({"expire-snapshots", "--older-than", "0 seconds"});
	ASSERT_EQ(expired.exit_code, 0) << expired.output;
	EXPECT_EQ(Count("SELECT count(*) FROM ducklake." + registered[0][0]), 0);
	EXPECT_TRUE(LakeEqualsSource("public.t"));

	// The stream goes on: the new rows are inlined again and read with the files.
	auto again = StartDaemon({}, {}, 100);
	Sql("UPDATE public.t SET name = 'again' WHERE id IN (7, 100)");
	ASSERT_TRUE(WaitLakeEqualsSource("public.t")) << LogTail();
	EXPECT_EQ(LiveInlined(id), 2);
	EXPECT_EQ(again->Terminate(), 0);
}

// The background scheduler moves a table's inlined rows to Parquet every compact_interval_ms.
TEST_F(InlinedWriteTest, CompactionSchedulerMovesInlinedRowsToParquet) {
	Sql("CREATE TABLE public.s (id bigint PRIMARY KEY, v text)");
	DuckpipeOk({"add-table", "public.s"});
	DuckpipeOk({"set-config", "compact_interval_ms", "1000"});
	auto daemon = StartDaemon({}, {}, 100);
	ASSERT_TRUE(WaitTableState("public.s", "STREAMING")) << LogTail();
	SetLimit(10);
	const auto id = TableId("s_ducklake");
	for (int i = 0; i < 3; i++) {
		Sql("INSERT INTO public.s VALUES (" + std::to_string(i) + ", 'v')");
		ASSERT_TRUE(WaitLakeEqualsSource("public.s")) << LogTail();
	}
	ASSERT_TRUE(WaitFor([&] { return CountLog("event=table.inlined_rows_flushed table=public.s_ducklake") > 0; }, 30s))
	    << LogTail();
	EXPECT_TRUE(WaitFor([&] { return LiveInlined(id) == 0; }, 30s)) << LogTail();
	EXPECT_GE(LiveFiles(id), 1);
	EXPECT_TRUE(LakeEqualsSource("public.s"));
	Sql("DELETE FROM public.s WHERE id = 1");
	ASSERT_TRUE(WaitLakeEqualsSource("public.s")) << LogTail();
	EXPECT_EQ(daemon->Terminate(), 0);
}

// The daemon dies right after the COMMIT of an inlined flush was sent: the restart neither applies
// the flush again nor loses it.
TEST_F(InlinedWriteTest, CrashAfterInlinedCommitIsExactlyOnce) {
	Sql("CREATE TABLE public.c (id bigint PRIMARY KEY, v text)");
	Sql("INSERT INTO public.c VALUES (0, 'copied')");
	DuckpipeOk({"add-table", "public.c"});
	DuckpipeOk({"set-config", "auto_compact", "0"});
	auto daemon = StartDaemon({}, {{"DUCKPIPE_CRASH_POINT", "flush_commit_sent"}}, 100);
	ASSERT_TRUE(WaitTableState("public.c", "STREAMING")) << LogTail();
	SetLimit(10);
	const auto id = TableId("c_ducklake");
	Sql("INSERT INTO public.c VALUES (1, 'a'), (2, 'b')");
	EXPECT_EQ(daemon->Wait(60s), 137) << "the daemon did not die at flush_commit_sent\n" << LogTail();
	Sql("UPDATE public.c SET v = 'b2' WHERE id = 2");
	auto restarted = StartDaemon({}, {}, 100);
	Sql("INSERT INTO public.c VALUES (3, 'c')");
	ASSERT_TRUE(WaitLakeEqualsSource("public.c")) << LogTail();
	EXPECT_EQ(LiveInlined(id), 3);
	EXPECT_EQ(LiveFiles(id), 1);
	EXPECT_EQ(restarted->Terminate(), 0);
}

// A file position another writer deleted inline (ducklake_inlined_delete_<T>, as the reference
// writes it) is left out of the delete file when the pipeline deletes that row's key again: the
// metadata count subtracts both, so repeating it would count the row twice. With 5 rows the keys
// are looked for in the file; with 2000, through the writer's key index.
TEST_F(InlinedWriteTest, PositionsDeletedInlineAreNotDeletedAgain) {
	DuckpipeOk({"set-config", "auto_compact", "0"});
	auto daemon = StartDaemon({}, {}, 100);
	for (int rows : {5, 2000}) {
		SCOPED_TRACE("source rows: " + std::to_string(rows));
		auto table = "d" + std::to_string(rows);
		Sql("CREATE TABLE public." + table + " (id bigint PRIMARY KEY, v text)");
		Sql("INSERT INTO public." + table + " SELECT g, 'v' || g FROM generate_series(1, " + std::to_string(rows) +
		    ") g");
		DuckpipeOk({"add-table", "public." + table});
		ASSERT_TRUE(WaitTableState("public." + table, "STREAMING")) << LogTail();
		const auto id = TableId(table + "_ducklake");
		auto file =
		    Sql("SELECT f.data_file_id, m.value || s.path || t.path || f.path FROM ducklake.ducklake_data_file f "
		        "JOIN ducklake.ducklake_table t ON t.table_id = f.table_id AND t.end_snapshot IS NULL JOIN "
		        "ducklake.ducklake_schema s ON s.schema_id = t.schema_id AND s.end_snapshot IS NULL JOIN "
		        "ducklake.ducklake_metadata m ON m.key = 'data_path' WHERE f.end_snapshot IS NULL AND f.table_id = " +
		        id);
		ASSERT_EQ(file.size(), 1u);
		// The row at position 1 of the file, deleted inline by "the reference" at snapshot head+1.
		std::string victim;
		{
			DuckDatabase db;
			auto duck = db.Connect();
			victim = *duck->Query("SELECT CAST(id AS VARCHAR) FROM read_parquet(" +
			                      DuckConnection::QuoteLiteral(file[0][1]) +
			                      ", file_row_number = true) WHERE file_row_number = 1")
			              .GetString(0, 0);
		}
		Sql("BEGIN; LOCK ducklake.ducklake_snapshot IN EXCLUSIVE MODE; "
		    "CREATE TABLE ducklake.ducklake_inlined_delete_" +
		    id +
		    "(file_id BIGINT, row_id BIGINT, begin_snapshot BIGINT); "
		    "INSERT INTO ducklake.ducklake_snapshot SELECT snapshot_id + 1, now(), schema_version, next_catalog_id, "
		    "next_file_id + 1 FROM ducklake.ducklake_snapshot ORDER BY snapshot_id DESC LIMIT 1; "
		    "INSERT INTO ducklake.ducklake_snapshot_changes SELECT max(snapshot_id), 'inlined_delete:" +
		    id + "', NULL, NULL, NULL FROM ducklake.ducklake_snapshot; INSERT INTO ducklake.ducklake_inlined_delete_" +
		    id + " SELECT " + file[0][0] + ", 1, max(snapshot_id) FROM ducklake.ducklake_snapshot; COMMIT");
		// The source deletes that row and another one.
		std::string other = victim == "5" ? "4" : "5";
		Sql("DELETE FROM public." + table + " WHERE id IN (" + victim + ", " + other + ")");
		ASSERT_TRUE(WaitLakeEqualsSource("public." + table)) << LogTail();
		EXPECT_EQ(Scalar("SELECT delete_count FROM ducklake.ducklake_delete_file WHERE end_snapshot IS NULL AND "
		                 "data_file_id = " +
		                 file[0][0]),
		          "1");
	}
	EXPECT_EQ(daemon->Terminate(), 0);
}

// Source DDL with inlining on, the lake's schema version also moved by another table: each inlined
// table is read by the official reader with the table's columns at its (table, version)
// schema_versions row, so it must have exactly those; the highest one, which the reference's writer
// inserts into positionally, has the table's current columns.
TEST_F(InlinedWriteTest, SchemaChangesKeepInlinedTablesAsTheReferenceReadsThem) {
	Sql("CREATE TABLE public.e (id bigint PRIMARY KEY, a text, b int)");
	Sql("INSERT INTO public.e SELECT g, 'a' || g, g FROM generate_series(1, 5) g");
	Sql("CREATE TABLE public.other (id int PRIMARY KEY)");
	DuckpipeOk({"add-table", "public.e"});
	DuckpipeOk({"add-table", "public.other"});
	DuckpipeOk({"set-config", "auto_compact", "0"});
	auto daemon = StartDaemon({}, {}, 100);
	ASSERT_TRUE(WaitTableState("public.e", "STREAMING")) << LogTail();
	ASSERT_TRUE(WaitTableState("public.other", "STREAMING")) << LogTail();
	SetLimit(10);
	const auto id = TableId("e_ducklake");
	// The lake's schema version moves with another table's change, not e's.
	Sql("ALTER TABLE public.other ADD COLUMN x int");
	Sql("INSERT INTO public.other VALUES (1, 1)");
	ASSERT_TRUE(WaitLakeEqualsSource("public.other")) << LogTail();

	Sql("INSERT INTO public.e VALUES (6, 'six', 6), (7, 'seven', 7)");
	ASSERT_TRUE(WaitLakeEqualsSource("public.e")) << LogTail();
	Sql("ALTER TABLE public.e ADD COLUMN c text");
	Sql("ALTER TABLE public.e RENAME COLUMN a TO aa");
	Sql("INSERT INTO public.e VALUES (8, 'eight', 8, 'c8')");
	Sql("UPDATE public.e SET c = 'c6' WHERE id = 6");
	ASSERT_TRUE(WaitLakeEqualsSource("public.e")) << LogTail();
	Sql("ALTER TABLE public.e DROP COLUMN b");
	Sql("INSERT INTO public.e VALUES (9, 'nine', 'c9')");
	ASSERT_TRUE(WaitLakeEqualsSource("public.e")) << LogTail();
	EXPECT_EQ(LiveFiles(id), 1); // the copy's: every flush since was inlined
	EXPECT_EQ(LiveInlined(id), 4);

	// Per registered inlined table: its columns and those of the table at the begin_snapshot of the
	// (table, version) row (no row: the reference would take the table's creation).
	auto mismatches =
	    Sql("SELECT r.table_name, (SELECT string_agg(attname, ',' ORDER BY attnum) FROM pg_attribute WHERE attrelid = "
	        "('ducklake.' || quote_ident(r.table_name))::regclass AND attnum > 3 AND NOT attisdropped), (SELECT "
	        "string_agg(c.column_name, ',' ORDER BY c.column_order) FROM ducklake.ducklake_column c, (SELECT "
	        "begin_snapshot FROM ducklake.ducklake_schema_versions v WHERE v.table_id = r.table_id AND "
	        "v.schema_version = r.schema_version) b WHERE c.table_id = r.table_id AND c.parent_column IS NULL AND "
	        "c.begin_snapshot <= b.begin_snapshot AND (c.end_snapshot IS NULL OR c.end_snapshot > "
	        "b.begin_snapshot)) AS read_with FROM ducklake.ducklake_inlined_data_tables r WHERE r.table_id = " +
	        id + " ORDER BY r.schema_version");
	ASSERT_GE(mismatches.size(), 3u); // the first one, after ADD COLUMN/RENAME, after DROP COLUMN
	for (const auto &row : mismatches) {
		EXPECT_EQ(row[1], row[2]) << row[0];
	}
	EXPECT_EQ(mismatches.back()[1], "id,aa,c");
	EXPECT_EQ(daemon->Terminate(), 0);
}

// Keys of a table large enough for the writer's key index (a few keys against a file of many rows):
// the index finds the rows in files, and a key whose current row is inlined must end that row too,
// or an updated key shows twice.
TEST_F(InlinedWriteTest, KeysFoundThroughTheKeyIndexEndTheirInlinedRowsToo) {
	Sql("CREATE TABLE public.k (id bigint PRIMARY KEY, v text)");
	Sql("INSERT INTO public.k SELECT g, 'v' || g FROM generate_series(1, 2000) g");
	DuckpipeOk({"add-table", "public.k"});
	DuckpipeOk({"set-config", "auto_compact", "0"});
	auto daemon = StartDaemon({}, {}, 100);
	ASSERT_TRUE(WaitTableState("public.k", "STREAMING")) << LogTail();
	SetLimit(10);
	const auto id = TableId("k_ducklake");
	Sql("UPDATE public.k SET v = 'first' WHERE id IN (5, 1500)");
	ASSERT_TRUE(WaitLakeEqualsSource("public.k")) << LogTail();
	EXPECT_EQ(LiveInlined(id), 2);
	Sql("UPDATE public.k SET v = 'second' WHERE id = 5");
	ASSERT_TRUE(WaitLakeEqualsSource("public.k")) << LogTail();
	EXPECT_EQ(LakeQuery("SELECT count(*) FROM public.k_ducklake WHERE id = 5"), (Rows{{"1"}}));
	EXPECT_EQ(LiveInlined(id), 2);
	Sql("DELETE FROM public.k WHERE id IN (5, 1500)");
	ASSERT_TRUE(WaitLakeEqualsSource("public.k")) << LogTail();
	EXPECT_EQ(LiveInlined(id), 0);
	EXPECT_EQ(LiveFiles(id), 1); // every change stayed inlined
	EXPECT_EQ(daemon->Terminate(), 0);
}

} // namespace duckpipe::test
