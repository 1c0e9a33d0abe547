// The initial copy reads a large plain table as parallel block (ctid) ranges on several connections
// that import one exported snapshot, with binary COPY decoded straight into the Parquet writes: the
// lake must hold exactly the rows of that snapshot, whatever moves while it runs.
#include "harness/pipeline_fixture.hpp"

#include <atomic>
#include <thread>

namespace duckpipe::test {

class ParallelCopyTest : public PipelineTest {};

TEST_F(ParallelCopyTest, RangesHoldExactlyTheSnapshotWhileRowsMove) {
	Sql("CREATE TABLE public.big (id int PRIMARY KEY, v int, pad text)");
	Sql("ALTER TABLE public.big SET (autovacuum_enabled = off)");
	Sql("INSERT INTO public.big SELECT g, 0, repeat(md5(g::text), 3) FROM generate_series(1, 120000) g");
	// Holes: the first range starts with pages of dead rows, and some live rows are moved to the
	// table's end (new versions) before the copy's snapshot.
	Sql("DELETE FROM public.big WHERE id <= 30000");
	Sql("UPDATE public.big SET v = 1 WHERE id % 97 = 0");
	ASSERT_GE(std::stoll(Scalar("SELECT pg_relation_size('public.big') / 8192")), 1024) << "too small to split";

	// Updates, deletes and inserts run all through the copy: new row versions land in every range
	// and past the end of the table as its size was read.
	std::atomic<bool> stop{false};
	std::atomic<int64_t> changes{0};
	std::thread writer([&] {
		auto conn = Connect();
		int64_t next = 200000;
		while (!stop.load()) {
			int64_t k = 30001 + (next * 7919) % 90000;
			conn->Exec("UPDATE public.big SET v = v + 1, pad = pad || 'x' WHERE id = " + std::to_string(k));
			conn->Exec("DELETE FROM public.big WHERE id = " + std::to_string(k + 1));
			conn->Exec("INSERT INTO public.big VALUES (" + std::to_string(next++) + ", -1, 'new')");
			changes++;
		}
	});
	DuckpipeOk({"add-table", "public.big"});
	// Two ranges whatever the machine's cores (one stream below four cores).
	auto daemon = StartDaemon({}, {{"DUCKPIPE_COPY_STREAMS", "2"}});
	bool streaming = WaitTableState("public.big", "STREAMING", 180s);
	// Some changes after the copy too, so the stream's handover is exercised.
	int64_t at_streaming = changes.load();
	WaitFor([&] { return changes.load() > at_streaming + 50; }, 30s);
	stop = true;
	writer.join();
	ASSERT_TRUE(streaming) << TableState("public.big") << " " << TableError("public.big") << LogTail();
	EXPECT_GT(changes.load(), 50);
	EXPECT_EQ(CountLog("event=snapshot.copied table=public.big rows="), 1) << LogTail();
	EXPECT_GE(CountLog("streams=2"), 1) << LogTail();
	EXPECT_TRUE(WaitLakeEqualsSource("public.big", 120s));
	EXPECT_EQ(daemon->Terminate(), 0);
}

// Values at the edges of the types the copy decodes from PostgreSQL's binary form itself (and one
// it reads as text), compared with the source value for value.
TEST_F(ParallelCopyTest, BinaryDecodedTypesKeepEdgeValues) {
	Sql(R"(CREATE DOMAIN public.posint AS int CHECK (VALUE > 0))");
	Sql(R"(CREATE TABLE public.edges (
		id int PRIMARY KEY, b bool, s smallint, i int, l bigint, o oid, r real, d double precision,
		n0 numeric(5,0), n2 numeric(12,2), n4 numeric(18,4), n10 numeric(38,10), n3 numeric(9,3),
		t text, vc varchar(10), c char(6), nm name, by bytea, dt date, tm time, ts timestamp,
		tz timestamptz, u uuid, dom public.posint, iv interval))");
	Sql(R"(INSERT INTO public.edges VALUES
		(1, true, 32767, 2147483647, 9223372036854775807, 4294967295, 'NaN', 'Infinity',
		 99999, 9999999999.99, 99999999999999.9999, 9999999999999999999999999999.9999999999, 123456.789,
		 'héllo ☃ 😀', 'abc', 'ab', 'nm', '\x00ff10', 'infinity', '24:00:00', 'infinity',
		 'infinity', 'ffffffff-ffff-ffff-ffff-ffffffffffff', 1, '1 day 2 hours'),
		(2, false, -32768, -2147483648, -9223372036854775808, 0, '-0', '-Infinity',
		 -99999, -9999999999.99, -0.0001, -0.0000000001, -0.001,
		 '', '', '', '', '', '-infinity', '00:00:00', '-infinity',
		 '-infinity', '00000000-0000-0000-0000-000000000000', 2147483647, '-3 mons'),
		(3, NULL, NULL, NULL, NULL, NULL, 1.5e-38, 2.2250738585072014e-308,
		 0, 0.01, 10000.0001, 12345678901234567890.1234567890, 1000,
		 NULL, NULL, NULL, NULL, NULL, '0044-03-15 BC', '12:34:56.789012', '1970-01-01 00:00:00',
		 '2000-01-01 00:00:00.000001+00', '12345678-9abc-def0-1234-56789abcdef0', NULL, NULL),
		(4, NULL, NULL, NULL, NULL, NULL, 3.4028235e38, 1.7976931348623157e308,
		 10000, 100000000, 0.1, 0.0000000001, 0.5,
		 repeat('x', 5000), 'ten chars!', 'six ch', repeat('n', 63), repeat('ab', 3000)::bytea,
		 '4713-01-01 BC', '23:59:59.999999', '0001-01-01 00:00:00 BC', '1969-12-31 23:59:59.999999+00',
		 'a0eebc99-9c0b-4ef8-bb6d-6bb9bd380a11', 5, NULL),
		(5, NULL, NULL, NULL, NULL, NULL, NULL, NULL, 'NaN', 'NaN', NULL, NULL, NULL,
		 NULL, NULL, NULL, NULL, NULL, '5874897-12-31', NULL, '294246-12-31 23:59:59.999999', NULL, NULL,
		 NULL, NULL))");
	DuckpipeOk({"add-table", "public.edges"});
	auto daemon = StartDaemon();
	ASSERT_TRUE(WaitTableState("public.edges", "STREAMING"))
	    << TableState("public.edges") << " " << TableError("public.edges") << LogTail();
	// Predicates on the lake's values (not their printed forms), per row.
	auto check = [&](int id, const std::vector<std::string> &predicates) {
		std::string list;
		for (const auto &p : predicates) {
			list += (list.empty() ? "" : ", ") + ("coalesce(" + p + ", false)");
		}
		auto rows = LakeQuery("SELECT " + list + " FROM public.edges_ducklake WHERE id = " + std::to_string(id));
		ASSERT_EQ(rows.size(), 1u) << "row " << id;
		for (size_t i = 0; i < predicates.size(); i++) {
			EXPECT_EQ(rows[0][i], "true") << "row " << id << ": " << predicates[i];
		}
	};
	EXPECT_EQ(LakeCount("public.edges_ducklake"), 5);
	check(1, {"b = true",
	          "s = 32767",
	          "i = 2147483647",
	          "l = 9223372036854775807",
	          "o = 4294967295",
	          "isnan(r)",
	          "d = 'inf'::DOUBLE",
	          "CAST(n0 AS VARCHAR) = '99999'",
	          "CAST(n2 AS VARCHAR) = '9999999999.99'",
	          "CAST(n4 AS VARCHAR) = '99999999999999.9999'",
	          "CAST(n10 AS VARCHAR) = '9999999999999999999999999999.9999999999'",
	          "CAST(n3 AS VARCHAR) = '123456.789'",
	          "t = 'héllo ☃ 😀'",
	          "vc = 'abc'",
	          "c = 'ab    '",
	          "nm = 'nm'",
	          "\"by\" = '\\x00\\xFF\\x10'::BLOB",
	          "dt = 'infinity'::DATE",
	          "tm = '24:00:00'::TIME",
	          "ts = 'infinity'::TIMESTAMP",
	          "tz = 'infinity'::TIMESTAMPTZ",
	          "u = 'ffffffff-ffff-ffff-ffff-ffffffffffff'::UUID",
	          "dom = 1",
	          "iv = '1 day 02:00:00'"});
	check(2, {"b = false",
	          "s = -32768",
	          "i = -2147483648",
	          "l = -9223372036854775808",
	          "o = 0",
	          "r = 0 AND signbit(r)",
	          "d = '-inf'::DOUBLE",
	          "CAST(n0 AS VARCHAR) = '-99999'",
	          "CAST(n2 AS VARCHAR) = '-9999999999.99'",
	          "CAST(n4 AS VARCHAR) = '-0.0001'",
	          "CAST(n10 AS VARCHAR) = '-0.0000000001'",
	          "CAST(n3 AS VARCHAR) = '-0.001'",
	          "t = ''",
	          "vc = ''",
	          "c = '      '",
	          "nm = ''",
	          "octet_length(\"by\") = 0",
	          "dt = '-infinity'::DATE",
	          "tm = '00:00:00'::TIME",
	          "ts = '-infinity'::TIMESTAMP",
	          "tz = '-infinity'::TIMESTAMPTZ",
	          "u = '00000000-0000-0000-0000-000000000000'::UUID",
	          "dom = 2147483647",
	          "iv = '-3 mons'"});
	check(3, {"b IS NULL",
	          "s IS NULL",
	          "l IS NULL",
	          "o IS NULL",
	          "r = CAST('1.5e-38' AS FLOAT)",
	          "d = 2.2250738585072014e-308",
	          "CAST(n0 AS VARCHAR) = '0'",
	          "CAST(n2 AS VARCHAR) = '0.01'",
	          "CAST(n4 AS VARCHAR) = '10000.0001'",
	          "CAST(n10 AS VARCHAR) = '12345678901234567890.1234567890'",
	          "CAST(n3 AS VARCHAR) = '1000.000'",
	          "t IS NULL",
	          "\"by\" IS NULL",
	          "dt = DATE '0044-03-15 (BC)'",
	          "tm = TIME '12:34:56.789012'",
	          "ts = TIMESTAMP '1970-01-01 00:00:00'",
	          "epoch_us(tz) = 946684800000001",
	          "u = '12345678-9abc-def0-1234-56789abcdef0'::UUID",
	          "dom IS NULL",
	          "iv IS NULL"});
	check(4, {"r = CAST('3.4028235e38' AS FLOAT)", "d = 1.7976931348623157e308", "CAST(n0 AS VARCHAR) = '10000'",
	          "CAST(n2 AS VARCHAR) = '100000000.00'", "CAST(n4 AS VARCHAR) = '0.1000'",
	          "CAST(n10 AS VARCHAR) = '0.0000000001'", "CAST(n3 AS VARCHAR) = '0.500'", "t = repeat('x', 5000)",
	          "vc = 'ten chars!'", "c = 'six ch'", "nm = repeat('n', 63)", "octet_length(\"by\") = 6000",
	          "dt = DATE '4713-01-01 (BC)'", "tm = TIME '23:59:59.999999'", "ts = TIMESTAMP '0001-01-01 (BC) 00:00:00'",
	          "epoch_us(tz) = -1", "u = 'a0eebc99-9c0b-4ef8-bb6d-6bb9bd380a11'::UUID", "dom = 5"});
	// NaN numerics become NULL (docs/data-types.md).
	check(5,
	      {"n0 IS NULL", "n2 IS NULL", "dt = DATE '5874897-12-31'", "ts = TIMESTAMP '294246-12-31 23:59:59.999999'"});
	EXPECT_EQ(daemon->Terminate(), 0);
}

} // namespace duckpipe::test
