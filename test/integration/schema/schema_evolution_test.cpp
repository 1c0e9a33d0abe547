// Source DDL is applied to the lake table as DuckLake schema evolution, in order with the rows.
#include "harness/pipeline_fixture.hpp"

#include <memory>

namespace duckpipe::test {

class SchemaEvolutionTest : public PipelineTest {
protected:
	// The lake table's live columns "name:type" in column order, from the catalog.
	std::string LakeColumns(const std::string &lake_table) {
		auto r = Sql("SELECT string_agg(c.column_name || ':' || c.column_type, ',' ORDER BY c.column_order) FROM "
		             "ducklake.ducklake_column c JOIN ducklake.ducklake_table t ON t.table_id = c.table_id AND "
		             "t.end_snapshot IS NULL WHERE t.table_name = '" +
		             lake_table + "' AND c.end_snapshot IS NULL AND c.parent_column IS NULL");
		return r.at(0).at(0);
	}
	void StartSynced(const std::string &table) {
		DuckpipeOk({"add-table", table});
		daemon_ = StartDaemon();
		ASSERT_TRUE(WaitLakeEqualsSource(table)) << LogTail();
		ASSERT_TRUE(WaitTableState(table, "STREAMING"));
	}
	void TearDown() override {
		daemon_.reset(); // before the fixture drops the slot
		PipelineTest::TearDown();
	}
	std::unique_ptr<DaemonProcess> daemon_;
};

TEST_F(SchemaEvolutionTest, AddColumnWithAndWithoutDefault) {
	Sql("CREATE TABLE public.t (id int PRIMARY KEY, v text)");
	Sql("INSERT INTO public.t SELECT g, 'v' || g FROM generate_series(1, 100) g");
	StartSynced("public.t");

	Sql("ALTER TABLE public.t ADD COLUMN note text");
	Sql("INSERT INTO public.t VALUES (101, 'new', 'hello')");
	Sql("UPDATE public.t SET note = 'touched' WHERE id <= 3");
	ASSERT_TRUE(WaitLakeEqualsSource("public.t")) << LogTail();

	// A constant default: PostgreSQL does not rewrite; old rows read the default in both places.
	Sql("ALTER TABLE public.t ADD COLUMN qty int NOT NULL DEFAULT 7, ADD COLUMN price numeric(10,2) DEFAULT 1.50");
	Sql("INSERT INTO public.t (id, v, qty) VALUES (102, 'q', 9)");
	ASSERT_TRUE(WaitLakeEqualsSource("public.t")) << LogTail();
	EXPECT_EQ(LakeColumns("t_ducklake"), "id:int32,v:varchar,note:varchar,qty:int32,price:decimal(10,2)");
	EXPECT_EQ(LakeQuery("SELECT qty, price FROM public.t_ducklake WHERE id = 50"), (Rows{{"7", "1.50"}}));
	auto defaults = Sql("SELECT initial_default FROM ducklake.ducklake_column WHERE column_name = 'qty'");
	ASSERT_EQ(defaults.size(), 1U);
	EXPECT_EQ(defaults[0][0], "7");
	EXPECT_EQ(daemon_->Terminate(), 0);
}

TEST_F(SchemaEvolutionTest, DropAndRenameColumns) {
	Sql("CREATE TABLE public.t (id int PRIMARY KEY, a text, b int, c text)");
	Sql("INSERT INTO public.t SELECT g, 'a' || g, g, 'c' || g FROM generate_series(1, 200) g");
	StartSynced("public.t");

	Sql("ALTER TABLE public.t DROP COLUMN a");
	Sql("ALTER TABLE public.t RENAME COLUMN b TO bee");
	Sql("INSERT INTO public.t VALUES (201, 201, 'c201')");
	Sql("UPDATE public.t SET bee = bee * 10 WHERE id % 10 = 0");
	ASSERT_TRUE(WaitLakeEqualsSource("public.t")) << LogTail();
	EXPECT_EQ(LakeColumns("t_ducklake"), "id:int32,bee:int32,c:varchar");
	// The renamed column keeps its id: the rows copied before the rename still read their values.
	EXPECT_EQ(LakeQuery("SELECT bee, c FROM public.t_ducklake WHERE id = 7"), (Rows{{"7", "c7"}}));

	// Renaming the key column: later updates and deletes still find their rows.
	Sql("ALTER TABLE public.t RENAME COLUMN id TO ident");
	Sql("UPDATE public.t SET c = 'renamed key' WHERE ident <= 5");
	Sql("DELETE FROM public.t WHERE ident BETWEEN 6 AND 9");
	ASSERT_TRUE(WaitLakeEqualsSource("public.t")) << LogTail();
	// A dropped column's name may come back as a new column.
	Sql("ALTER TABLE public.t ADD COLUMN a text");
	Sql("UPDATE public.t SET a = 'again' WHERE ident = 10");
	ASSERT_TRUE(WaitLakeEqualsSource("public.t")) << LogTail();
	EXPECT_EQ(LakeQuery("SELECT count(a) FROM public.t_ducklake"), (Rows{{"1"}}));
	EXPECT_EQ(daemon_->Terminate(), 0);
}

TEST_F(SchemaEvolutionTest, SafeWideningIsApplied) {
	Sql("CREATE TABLE public.w (id int PRIMARY KEY, n int, s varchar(10), d numeric(8,2), f real)");
	Sql("INSERT INTO public.w SELECT g, g, 's' || g, g + 0.25, g + 0.5 FROM generate_series(1, 50) g");
	StartSynced("public.w");

	Sql("ALTER TABLE public.w ALTER COLUMN n TYPE bigint, ALTER COLUMN s TYPE text, ALTER COLUMN d TYPE numeric(14,2), "
	    "ALTER COLUMN f TYPE double precision");
	Sql("INSERT INTO public.w VALUES (51, 9000000000, repeat('long', 10), 123456789012.34, 0.25)");
	ASSERT_TRUE(WaitLakeEqualsSource("public.w")) << LogTail();
	EXPECT_EQ(LakeColumns("w_ducklake"), "id:int32,n:int64,s:varchar,d:decimal(14,2),f:float64");
	EXPECT_EQ(LakeQuery("SELECT n, d FROM public.w_ducklake WHERE id = 51"), (Rows{{"9000000000", "123456789012.34"}}));
	EXPECT_EQ(daemon_->Terminate(), 0);
}

TEST_F(SchemaEvolutionTest, IncompatibleTypeChangeErrorsOnlyThatTable) {
	allow_table_failures_ = true;
	Sql("CREATE TABLE public.bad (id int PRIMARY KEY, code text)");
	Sql("INSERT INTO public.bad SELECT g, g::text FROM generate_series(1, 20) g");
	Sql("CREATE TABLE public.good (id int PRIMARY KEY, v text)");
	DuckpipeOk({"add-table", "public.good"});
	StartSynced("public.bad");
	ASSERT_TRUE(WaitTableState("public.good", "STREAMING"));

	Sql("ALTER TABLE public.bad ALTER COLUMN code TYPE int USING code::int");
	Sql("INSERT INTO public.bad VALUES (21, 21)");
	auto error = WaitTableError("public.bad");
	ASSERT_FALSE(error.empty()) << TableState("public.bad") << LogTail();
	EXPECT_NE(error.find("\"code\""), std::string::npos) << error;
	EXPECT_NE(error.find("integer"), std::string::npos) << error;
	EXPECT_NE(error.find("resync-table public.bad"), std::string::npos) << error;

	Sql("INSERT INTO public.good VALUES (1, 'still streaming')");
	EXPECT_TRUE(WaitLakeEqualsSource("public.good")) << LogTail();
	// `resync-table` copies it again with its new type.
	DuckpipeOk({"resync-table", "public.bad"});
	EXPECT_TRUE(WaitLakeEqualsSource("public.bad")) << LogTail();
	EXPECT_EQ(LakeColumns("bad_ducklake"), "id:int32,code:int32");
	EXPECT_EQ(daemon_->Terminate(), 0);
}

TEST_F(SchemaEvolutionTest, VolatileDefaultAsksForResync) {
	allow_table_failures_ = true;
	Sql("CREATE TABLE public.v (id int PRIMARY KEY, x text)");
	Sql("INSERT INTO public.v SELECT g, 'x' FROM generate_series(1, 10) g");
	StartSynced("public.v");
	// PostgreSQL rewrites every row with its own random value and sends none of them.
	Sql("ALTER TABLE public.v ADD COLUMN r float8 DEFAULT random()");
	Sql("INSERT INTO public.v (id, x) VALUES (11, 'y')");
	auto error = WaitTableError("public.v");
	EXPECT_NE(error.find("volatile default"), std::string::npos) << error << LogTail();
	EXPECT_EQ(daemon_->Terminate(), 0);
}

// On a partitioned root a constant default lives in each partition's fast default (the root has
// no storage): the column is added, old rows read the default, nothing errors.
TEST_F(SchemaEvolutionTest, ConstantDefaultOnPartitionedRoot) {
	Sql("CREATE TABLE public.p (id int PRIMARY KEY, x text) PARTITION BY RANGE (id)");
	Sql("CREATE TABLE public.p1 PARTITION OF public.p FOR VALUES FROM (0) TO (100)");
	Sql("CREATE TABLE public.p2 PARTITION OF public.p FOR VALUES FROM (100) TO (200)");
	Sql("INSERT INTO public.p SELECT g, 'x' || g FROM generate_series(1, 150) g");
	StartSynced("public.p");
	Sql("ALTER TABLE public.p ADD COLUMN c int DEFAULT 5");
	Sql("INSERT INTO public.p (id, x, c) VALUES (160, 'new', 9)");
	Sql("INSERT INTO public.p (id, x) VALUES (161, 'dflt')");
	ASSERT_TRUE(WaitLakeEqualsSource("public.p")) << LogTail();
	EXPECT_EQ(TableState("public.p"), "STREAMING") << TableError("public.p");
	EXPECT_EQ(LakeColumns("p_ducklake"), "id:int32,x:varchar,c:int32");
	EXPECT_EQ(LakeQuery("SELECT count(*) FROM public.p_ducklake WHERE c = 5"), (Rows{{"151"}}));
	EXPECT_EQ(daemon_->Terminate(), 0);
}

// ADD COLUMN without a default, then SET DEFAULT: the old rows hold NULL (nothing was rewritten),
// later inserts the default; the schema evolves, the table does not error.
TEST_F(SchemaEvolutionTest, AddColumnThenSetDefault) {
	Sql("CREATE TABLE public.s (id int PRIMARY KEY, x text)");
	Sql("INSERT INTO public.s SELECT g, 'x' || g FROM generate_series(1, 20) g");
	StartSynced("public.s");
	Sql("ALTER TABLE public.s ADD COLUMN c int");
	Sql("ALTER TABLE public.s ALTER COLUMN c SET DEFAULT 5");
	Sql("INSERT INTO public.s (id, x) VALUES (21, 'dflt')");
	Sql("UPDATE public.s SET x = 'upd' WHERE id = 1");
	ASSERT_TRUE(WaitLakeEqualsSource("public.s")) << LogTail();
	EXPECT_EQ(TableState("public.s"), "STREAMING") << TableError("public.s");
	EXPECT_EQ(LakeQuery("SELECT count(*) FILTER (WHERE c IS NULL), count(*) FILTER (WHERE c = 5) "
	                    "FROM public.s_ducklake"),
	          (Rows{{"20", "1"}}));
	// Same with both statements in one transaction, so one Relation message carries both.
	Sql("BEGIN; ALTER TABLE public.s ADD COLUMN d text; ALTER TABLE public.s ALTER COLUMN d SET DEFAULT 'z'; "
	    "INSERT INTO public.s (id, x) VALUES (22, 'both'); COMMIT");
	ASSERT_TRUE(WaitLakeEqualsSource("public.s")) << LogTail();
	EXPECT_EQ(TableState("public.s"), "STREAMING") << TableError("public.s");
	EXPECT_EQ(daemon_->Terminate(), 0);
}

// The source refuses new connections while a schema change is being planned, and the outage
// takes the stream down too: the change is retried in place, never a fresh copy (same generation).
TEST_F(SchemaEvolutionTest, OutageDuringSchemaChangeRetriesInPlace) {
	Sql("CREATE TABLE public.o (id int PRIMARY KEY, x text)");
	Sql("INSERT INTO public.o SELECT g, 'x' || g FROM generate_series(1, 50) g");
	StartSynced("public.o");
	std::string generation = Scalar("SELECT generation FROM duckpipe.table_mappings WHERE source_table = 'o'");
	std::string db = conn_->QuoteIdent(Db());
	// From another database: PostgreSQL refuses to close the current one.
	PgConnection admin(Cluster().Conninfo("postgres"));
	std::shared_ptr<void> reopen(nullptr,
	                             [&](void *) { admin.Exec("ALTER DATABASE " + db + " ALLOW_CONNECTIONS true"); });
	// Connections already open stay (the test's, the stream's); new ones, such as the schema
	// lookup's, are refused.
	admin.Exec("ALTER DATABASE " + db + " ALLOW_CONNECTIONS false");
	Sql("ALTER TABLE public.o ADD COLUMN c int DEFAULT 3");
	Sql("INSERT INTO public.o VALUES (51, 'after', 4)");
	ASSERT_TRUE(WaitFor([&] { return CountLog("event=table.schema_lookup_retry") > 0; }, 30s)) << LogTail();
	Sql("SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE backend_type = 'walsender' "
	    "AND datname = current_database()");
	// The stream's reset has reached the table when the stream's reconnection fails in turn.
	ASSERT_TRUE(WaitFor([&] { return CountLog("event=slot.error") >= 2; }, 30s)) << LogTail();
	reopen.reset();
	Sql("UPDATE public.o SET x = 'later' WHERE id = 1");
	ASSERT_TRUE(WaitLakeEqualsSource("public.o")) << LogTail();
	EXPECT_EQ(TableState("public.o"), "STREAMING") << TableError("public.o");
	EXPECT_EQ(Scalar("SELECT generation FROM duckpipe.table_mappings WHERE source_table = 'o'"), generation);
	EXPECT_EQ(CountLog("event=table.failed"), 0) << LogTail();
	EXPECT_EQ(daemon_->Terminate(), 0);
}

TEST_F(SchemaEvolutionTest, DdlInsideATransactionWithRows) {
	Sql("CREATE TABLE public.m (id int PRIMARY KEY, a int, big text)");
	Sql("INSERT INTO public.m SELECT g, g, repeat(md5(g::text), 400) FROM generate_series(1, 30) g");
	StartSynced("public.m");
	// Rows before and after the DDL in one transaction; the TOASTed column stays unchanged
	// through a column drop that shifts the positions after it.
	Sql("BEGIN; UPDATE public.m SET a = a + 1 WHERE id <= 10; ALTER TABLE public.m ADD COLUMN b text; "
	    "INSERT INTO public.m VALUES (31, 31, 'small', 'b31'); UPDATE public.m SET b = 'bb' WHERE id <= 5; "
	    "ALTER TABLE public.m DROP COLUMN a; UPDATE public.m SET b = 'cc' WHERE id BETWEEN 6 AND 8; COMMIT");
	ASSERT_TRUE(WaitLakeEqualsSource("public.m")) << LogTail();
	EXPECT_EQ(LakeColumns("m_ducklake"), "id:int32,big:varchar,b:varchar");
	EXPECT_EQ(daemon_->Terminate(), 0);
}

TEST_F(SchemaEvolutionTest, BufferedRowsFollowTheChange) {
	Sql("CREATE TABLE public.b (id int PRIMARY KEY, a int, big text, c int)");
	Sql("INSERT INTO public.b SELECT g, g, repeat(md5(g::text), 400), g FROM generate_series(1, 30) g");
	DuckpipeOk({"add-table", "public.b"});
	// A long flush interval keeps the rows of several transactions in the buffer across the DDL.
	daemon_ = StartDaemon({}, {}, 4000);
	ASSERT_TRUE(WaitLakeEqualsSource("public.b")) << LogTail();
	ASSERT_TRUE(WaitTableState("public.b", "STREAMING"));
	Sql("UPDATE public.b SET c = c + 100 WHERE id <= 10"); // big unchanged: taken from the lake
	Sql("ALTER TABLE public.b DROP COLUMN a");
	Sql("UPDATE public.b SET c = c + 1 WHERE id <= 20");
	Sql("ALTER TABLE public.b RENAME COLUMN c TO cee");
	Sql("ALTER TABLE public.b ADD COLUMN d int DEFAULT 4");
	Sql("UPDATE public.b SET cee = cee + 1 WHERE id <= 25");
	ASSERT_TRUE(WaitLakeEqualsSource("public.b")) << LogTail();
	EXPECT_EQ(LakeColumns("b_ducklake"), "id:int32,big:varchar,cee:int32,d:int32");
	EXPECT_EQ(daemon_->Terminate(), 0);
}

TEST_F(SchemaEvolutionTest, DdlWhileStoppedIsReplayedInOrder) {
	Sql("CREATE TABLE public.s (id int PRIMARY KEY, a int, b text)");
	Sql("INSERT INTO public.s SELECT g, g, 'b' || g FROM generate_series(1, 40) g");
	StartSynced("public.s");
	ASSERT_EQ(daemon_->Terminate(), 0);

	// The stream replays the rows before the DDL with the old columns, then the new ones.
	Sql("INSERT INTO public.s VALUES (41, 41, 'before')");
	Sql("ALTER TABLE public.s RENAME COLUMN b TO bb");
	Sql("INSERT INTO public.s VALUES (42, 42, 'renamed')");
	Sql("ALTER TABLE public.s DROP COLUMN a");
	Sql("ALTER TABLE public.s ADD COLUMN z int");
	Sql("INSERT INTO public.s VALUES (43, 'last', 3)");
	daemon_ = StartDaemon();
	ASSERT_TRUE(WaitLakeEqualsSource("public.s")) << LogTail();
	EXPECT_EQ(LakeColumns("s_ducklake"), "id:int32,bb:varchar,z:int32");
	ASSERT_EQ(daemon_->Terminate(), 0);

	// And once more after a restart with nothing in between: the recorded layout matches.
	daemon_ = StartDaemon();
	Sql("UPDATE public.s SET z = id WHERE id < 10");
	ASSERT_TRUE(WaitLakeEqualsSource("public.s")) << LogTail();
	EXPECT_EQ(TableState("public.s"), "STREAMING");
	EXPECT_EQ(daemon_->Terminate(), 0);
}

} // namespace duckpipe::test
