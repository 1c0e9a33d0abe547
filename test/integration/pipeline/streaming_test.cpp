// Streaming DML after the initial copy: the lake must end equal to the source, row by row.
#include "harness/pipeline_fixture.hpp"

namespace duckpipe::test {

class StreamingTest : public PipelineTest {};

TEST_F(StreamingTest, InsertUpdateDeleteAfterCopy) {
	Sql("CREATE TABLE public.items (id bigint PRIMARY KEY, name text, qty int, price numeric(12,2), active boolean)");
	Sql("INSERT INTO public.items SELECT g, 'item-' || g, g % 100, (g * 1.25)::numeric(12,2), g % 2 = 0 "
	    "FROM generate_series(1, 5000) g");
	DuckpipeOk({"add-table", "public.items"});
	auto daemon = StartDaemon();
	ASSERT_TRUE(WaitLakeEqualsSource("public.items"));
	ASSERT_TRUE(WaitTableState("public.items", "STREAMING")) << TableState("public.items");

	// One transaction per statement kind, then many small ones.
	Sql("INSERT INTO public.items SELECT g, 'new-' || g, 1, 9.99, true FROM generate_series(5001, 6000) g");
	Sql("UPDATE public.items SET qty = qty + 1, name = name || '-u' WHERE id % 3 = 0");
	Sql("DELETE FROM public.items WHERE id % 5 = 0");
	Sql("UPDATE public.items SET name = NULL, price = NULL WHERE id % 7 = 1");
	ASSERT_TRUE(WaitLakeEqualsSource("public.items"));

	for (int i = 0; i < 30; i++) {
		std::string id = std::to_string(10000 + i);
		Sql("INSERT INTO public.items VALUES (" + id + ", 'x', " + std::to_string(i) + ", 1.00, false)");
		Sql("UPDATE public.items SET qty = qty * 2, active = NOT active WHERE id = " + std::to_string(i * 11 + 1));
		Sql("DELETE FROM public.items WHERE id = " + std::to_string(i * 13 + 2));
	}
	ASSERT_TRUE(WaitLakeEqualsSource("public.items"));
	EXPECT_EQ(Scalar("SELECT count(*) FROM public.items"), std::to_string(LakeCount("public.items_ducklake")));
	EXPECT_EQ(daemon->Terminate(), 0);
}

TEST_F(StreamingTest, Truncate) {
	Sql("CREATE TABLE public.tr (id int PRIMARY KEY, v text)");
	Sql("INSERT INTO public.tr SELECT g, 'v' || g FROM generate_series(1, 300) g");
	DuckpipeOk({"add-table", "public.tr"});
	auto daemon = StartDaemon();
	ASSERT_TRUE(WaitTableState("public.tr", "STREAMING"));
	// Rows before the truncate in the same flush window vanish; rows after it stay.
	Sql("INSERT INTO public.tr VALUES (1000, 'before')");
	Sql("BEGIN; TRUNCATE public.tr; INSERT INTO public.tr VALUES (1, 'after'), (2, 'after'); COMMIT");
	Sql("INSERT INTO public.tr VALUES (3, 'later')");
	EXPECT_TRUE(WaitLakeEqualsSource("public.tr"));
	Sql("TRUNCATE public.tr");
	EXPECT_TRUE(WaitLakeCount("public.tr_ducklake", 0, 30s)) << LakeCount("public.tr_ducklake");
	EXPECT_EQ(daemon->Terminate(), 0);
}

TEST_F(StreamingTest, PrimaryKeyUpdatesAndCompositeKeys) {
	Sql("CREATE TABLE public.pk (id int PRIMARY KEY, v text)");
	Sql("INSERT INTO public.pk SELECT g, 'v' || g FROM generate_series(1, 100) g");
	Sql("CREATE TABLE public.comp (a int, b text, v text, n int, PRIMARY KEY (a, b))");
	Sql("INSERT INTO public.comp SELECT g % 10, 'b' || (g / 10), 'v' || g, g FROM generate_series(0, 99) g");
	// REPLICA IDENTITY FULL sends the whole old row: a key change is detected by comparing keys.
	Sql("CREATE TABLE public.full_ri (k int PRIMARY KEY, v text)");
	Sql("ALTER TABLE public.full_ri REPLICA IDENTITY FULL");
	Sql("INSERT INTO public.full_ri SELECT g, 'f' || g FROM generate_series(1, 50) g");
	for (auto t : {"public.pk", "public.comp", "public.full_ri"}) {
		DuckpipeOk({"add-table", t});
	}
	auto daemon = StartDaemon();
	for (auto t : {"public.pk", "public.comp", "public.full_ri"}) {
		ASSERT_TRUE(WaitTableState(t, "STREAMING")) << t << ": " << TableState(t);
	}

	// Key moves: to a fresh key, and a rotation 1 -> 2 -> 3 -> 1 inside one transaction.
	Sql("UPDATE public.pk SET id = id + 1000 WHERE id BETWEEN 10 AND 19");
	Sql("BEGIN; UPDATE public.pk SET id = -1 WHERE id = 1; UPDATE public.pk SET id = 1 WHERE id = 2; "
	    "UPDATE public.pk SET id = 2 WHERE id = 3; UPDATE public.pk SET id = 3 WHERE id = -1; COMMIT");
	Sql("UPDATE public.pk SET id = id + 100, v = v || '!' WHERE id BETWEEN 1010 AND 1018 AND id % 2 = 0");
	// Composite keys: change one part, the other, both, and non-key columns.
	Sql("UPDATE public.comp SET b = b || 'x' WHERE a = 1");
	Sql("UPDATE public.comp SET a = a + 100 WHERE a = 2");
	Sql("UPDATE public.comp SET a = a + 200, b = 'moved' || n WHERE a = 3");
	Sql("UPDATE public.comp SET v = NULL, n = -n WHERE a = 4");
	Sql("DELETE FROM public.comp WHERE a = 5 AND b IN ('b1', 'b2')");
	Sql("INSERT INTO public.comp VALUES (5, 'b1', 'again', 1)");
	Sql("UPDATE public.full_ri SET k = k + 100 WHERE k <= 5");
	Sql("UPDATE public.full_ri SET v = 'changed' WHERE k BETWEEN 6 AND 10");
	Sql("DELETE FROM public.full_ri WHERE k BETWEEN 11 AND 15");
	for (auto t : {"public.pk", "public.comp", "public.full_ri"}) {
		EXPECT_TRUE(WaitLakeEqualsSource(t));
	}
	EXPECT_EQ(daemon->Terminate(), 0);
}

// Several changes to the same keys inside one flush window, within one transaction and across
// transactions: compaction must keep exactly the last state of each key.
TEST_F(StreamingTest, MixedDmlOnSameKeysWithinOneFlush) {
	Sql("CREATE TABLE public.mix (id int PRIMARY KEY, v text, n int)");
	Sql("INSERT INTO public.mix SELECT g, 'copy' || g, g FROM generate_series(1, 100) g");
	DuckpipeOk({"add-table", "public.mix"});
	// A long flush interval so every transaction below lands in the same flush.
	auto daemon = StartDaemon({}, {}, 3000);
	ASSERT_TRUE(WaitTableState("public.mix", "STREAMING")) << TableState("public.mix");
	ASSERT_TRUE(WaitLakeEqualsSource("public.mix"));

	auto conn = Connect();
	// Inside one transaction: insert, update, delete, re-insert of a new key; the same on a copied key.
	conn->Exec("BEGIN");
	conn->Exec("INSERT INTO public.mix VALUES (500, 'a', 1)");
	conn->Exec("UPDATE public.mix SET v = 'b', n = 2 WHERE id = 500");
	conn->Exec("DELETE FROM public.mix WHERE id = 500");
	conn->Exec("INSERT INTO public.mix VALUES (500, 'c', 3)");
	conn->Exec("UPDATE public.mix SET v = 'u1' WHERE id = 7");
	conn->Exec("DELETE FROM public.mix WHERE id = 7");
	conn->Exec("INSERT INTO public.mix VALUES (7, 're7', 77)");
	conn->Exec("INSERT INTO public.mix VALUES (501, 'gone', 0)");
	conn->Exec("DELETE FROM public.mix WHERE id = 501");
	conn->Exec("COMMIT");
	// Across transactions in the same window.
	conn->Exec("INSERT INTO public.mix VALUES (600, 't1', 1)");
	conn->Exec("UPDATE public.mix SET v = 't2', n = 2 WHERE id = 600");
	conn->Exec("DELETE FROM public.mix WHERE id = 600");
	conn->Exec("INSERT INTO public.mix VALUES (600, 't4', 4)");
	conn->Exec("UPDATE public.mix SET v = 't5' WHERE id = 600");
	conn->Exec("DELETE FROM public.mix WHERE id = 8");
	conn->Exec("INSERT INTO public.mix VALUES (8, 'back8', 8)");
	conn->Exec("UPDATE public.mix SET n = n + 1 WHERE id = 9");
	conn->Exec("UPDATE public.mix SET n = n + 1 WHERE id = 9");
	conn->Exec("DELETE FROM public.mix WHERE id = 9");
	conn->Exec("INSERT INTO public.mix VALUES (601, 'x', 1)");
	conn->Exec("DELETE FROM public.mix WHERE id = 601");
	// A key moved away and another row moved onto it.
	conn->Exec("UPDATE public.mix SET id = 700 WHERE id = 10");
	conn->Exec("UPDATE public.mix SET id = 10 WHERE id = 11");
	EXPECT_TRUE(WaitLakeEqualsSource("public.mix", 30s));
	auto rows = LakeQuery("SELECT v, n FROM public.mix_ducklake WHERE id IN (500, 600, 7, 8, 9, 501, 601) ORDER BY id");
	ASSERT_EQ(rows.size(), 4u);
	EXPECT_EQ(rows[0], (std::vector<std::string>{"re7", "77"}));
	EXPECT_EQ(rows[1], (std::vector<std::string>{"back8", "8"}));
	EXPECT_EQ(rows[2], (std::vector<std::string>{"c", "3"}));
	EXPECT_EQ(rows[3], (std::vector<std::string>{"t5", "4"}));
	EXPECT_EQ(daemon->Terminate(), 0);
}

} // namespace duckpipe::test
