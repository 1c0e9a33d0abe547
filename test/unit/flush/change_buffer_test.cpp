#include "core/common/error.hpp"
#include "core/common/log.hpp"
#include "core/duck/duck_connection.hpp"
#include "core/flush/change_buffer.hpp"
#include "harness/pg_cluster.hpp"

#include <gtest/gtest.h>

#include <filesystem>
#include <optional>
#include <string>
#include <vector>

namespace duckpipe::flush {
namespace {

// A cell in a test row: a value, NULL (std::nullopt) or unchanged TOAST (kUnchanged).
const std::string kUnchanged = "\x01unchanged";
using Cell = std::optional<std::string>;

void AddRow(ChangeBatch &batch, ChangeOp op, uint64_t seq, const std::vector<Cell> &cells, Lsn lsn = Lsn(0x10)) {
	batch.BeginRow(op, seq, lsn);
	for (const auto &c : cells) {
		if (!c) {
			batch.AddNull();
		} else if (*c == kUnchanged) {
			batch.AddUnchanged();
		} else {
			batch.AddText(*c);
		}
	}
}

// Every row of a query as "v1|v2|...", NULL spelled NULL.
std::vector<std::string> Rows(DuckConnection &conn, const std::string &sql) {
	auto res = conn.Query(sql);
	std::vector<std::string> out;
	for (uint64_t r = 0; r < res.Rows(); r++) {
		std::string line;
		for (uint64_t c = 0; c < res.Columns(); c++) {
			auto v = res.GetString(c, r);
			line += (c ? "|" : "") + (v ? *v : std::string("NULL"));
		}
		out.push_back(line);
	}
	return out;
}

class ChangeBufferTest : public ::testing::Test {
protected:
	ChangeBufferOptions Options(bool append = false) {
		ChangeBufferOptions o;
		o.temp_dir = dir_.Path();
		o.append_mode = append;
		return o;
	}
	// id INTEGER key, name VARCHAR, big VARCHAR (the TOAST-able one), qty INTEGER
	std::vector<BufferColumn> SimpleColumns() {
		return {{"id", "INTEGER", "", true}, {"name", "VARCHAR"}, {"big", "VARCHAR"}, {"qty", "INTEGER"}};
	}
	// Flushes and returns the compacted relation's rows ordered by `order`, plus its description.
	std::vector<std::string> FlushRows(ChangeBuffer &buf, const std::string &columns, const std::string &order,
	                                   ChangeBuffer::Compacted *desc = nullptr) {
		std::vector<std::string> rows;
		bool called = false;
		buf.Flush([&](DuckConnection &conn, const ChangeBuffer::Compacted &c) {
			called = true;
			rows = Rows(conn, "SELECT " + columns + " FROM " + c.relation + " ORDER BY " + order);
			if (desc) {
				*desc = c;
			}
		});
		EXPECT_TRUE(called);
		return rows;
	}

	test::TempDir dir_{"duckpipe-flush"};
};

// Small batches wait outside DuckDB until the flush (no instance per idle table); past defer_bytes,
// or at a schema change, they go in; a value that does not convert then fails the flush.
TEST_F(ChangeBufferTest, DeferredBatchesOpenDuckDBOnlyToFlush) {
	auto o = Options();
	o.defer_bytes = 64 << 10;
	ChangeBuffer buf("public.t", SimpleColumns(), o);
	ChangeBatch b1(4);
	AddRow(b1, ChangeOp::Insert, 1, {"1", "one", "x", "10"});
	AddRow(b1, ChangeOp::Update, 2, {"1", "uno", kUnchanged, "11"});
	buf.Append(b1);
	ChangeBatch b2(4);
	AddRow(b2, ChangeOp::Insert, 3, {"2", "two", "y", "20"});
	buf.Append(b2);
	EXPECT_FALSE(buf.IsOpen());
	EXPECT_EQ(buf.BufferedRows(), 3u);
	EXPECT_TRUE(buf.HasNonInserts());
	EXPECT_GT(buf.MemoryBytes(), 0);
	EXPECT_EQ(FlushRows(buf, "id, name, big, qty, _op", "id"),
	          (std::vector<std::string>{"1|uno|x|11|U", "2|two|y|20|I"}));
	EXPECT_FALSE(buf.IsOpen());
	EXPECT_EQ(buf.MemoryBytes(), 0);

	// Past defer_bytes: into DuckDB, the deferred ones first.
	ChangeBatch small(4);
	AddRow(small, ChangeOp::Insert, 4, {"3", "three", "z", "30"});
	buf.Append(small);
	EXPECT_FALSE(buf.IsOpen());
	ChangeBatch big(4);
	for (uint64_t i = 0; i < 2000; i++) {
		AddRow(big, ChangeOp::Insert, 5 + i, {std::to_string(100 + i), std::string(40, 'n'), "b", "1"});
	}
	buf.Append(big);
	EXPECT_TRUE(buf.IsOpen());
	EXPECT_EQ(Rows(*buf.Connection(), "SELECT count(*), min(id) FROM duckpipe_buffer"),
	          (std::vector<std::string>{"2001|3"}));
	buf.Clear();

	// A bad value deferred fails the flush, naming the column; the buffer keeps it for the caller.
	ChangeBatch bad(4);
	AddRow(bad, ChangeOp::Insert, 3000, {"7", "seven", "x", "not a number"});
	buf.Append(bad);
	EXPECT_FALSE(buf.IsOpen());
	try {
		buf.Flush([](DuckConnection &, const ChangeBuffer::Compacted &) { FAIL() << "applied a bad batch"; });
		FAIL() << "no error";
	} catch (const Error &e) {
		EXPECT_EQ(e.Kind(), ErrorKind::Unsupported);
		EXPECT_NE(std::string(e.what()).find("qty"), std::string::npos) << e.what();
	}
	EXPECT_EQ(buf.BufferedRows(), 1u);
}

TEST_F(ChangeBufferTest, InsertsOnly) {
	ChangeBuffer buf("public.t", SimpleColumns(), Options());
	EXPECT_FALSE(buf.IsOpen()); // lazy
	ChangeBatch b(4);
	AddRow(b, ChangeOp::Insert, 1, {"1", "one", "x", "10"}, Lsn(0x100));
	AddRow(b, ChangeOp::Insert, 2, {"2", std::nullopt, "y", std::nullopt}, Lsn(0x200));
	buf.Append(b);
	EXPECT_TRUE(buf.IsOpen());
	EXPECT_EQ(buf.BufferedRows(), 2u);
	EXPECT_FALSE(buf.HasNonInserts());
	EXPECT_EQ(buf.LastCommitLsn(), Lsn(0x200));

	ChangeBuffer::Compacted desc;
	auto rows = FlushRows(buf, "id, name, big, qty, _op, CAST(_unchanged AS VARCHAR)", "id", &desc);
	EXPECT_EQ(rows, (std::vector<std::string>{"1|one|x|10|I|NULL", "2|NULL|y|NULL|I|NULL"}));
	EXPECT_TRUE(desc.only_inserts);
	EXPECT_EQ(desc.rows, 2u);
	EXPECT_EQ(desc.deletes, 0u);
	EXPECT_EQ(desc.unchanged_rows, 0u);
	EXPECT_EQ(desc.max_commit_lsn, Lsn(0x200));
	EXPECT_EQ(desc.value_columns, (std::vector<std::string>{"id", "name", "big", "qty"}));
	EXPECT_FALSE(buf.IsOpen());
	EXPECT_EQ(buf.BufferedRows(), 0u);
	EXPECT_EQ(buf.LastCommitLsn(), kInvalidLsn);
}

TEST_F(ChangeBufferTest, LastChangeWinsWithinOneBatch) {
	ChangeBuffer buf("public.t", SimpleColumns(), Options());
	ChangeBatch b(4);
	AddRow(b, ChangeOp::Insert, 1, {"1", "a", "x", "1"});
	AddRow(b, ChangeOp::Insert, 2, {"2", "b", "x", "2"});
	AddRow(b, ChangeOp::Update, 3, {"1", "a2", "x", "11"});
	AddRow(b, ChangeOp::Delete, 4, {"2", std::nullopt, std::nullopt, std::nullopt});
	AddRow(b, ChangeOp::Update, 5, {"1", "a3", "x", "111"});
	AddRow(b, ChangeOp::Update, 6, {"3", "c", "z", "3"}); // update of a row inserted before this buffer
	buf.Append(b);
	EXPECT_TRUE(buf.HasNonInserts());
	ChangeBuffer::Compacted desc;
	auto rows = FlushRows(buf, "id, name, qty, _op, _seq", "id", &desc);
	EXPECT_EQ(rows, (std::vector<std::string>{"1|a3|111|U|5", "2|NULL|NULL|D|4", "3|c|3|U|6"}));
	EXPECT_FALSE(desc.only_inserts);
	EXPECT_EQ(desc.rows, 3u);
	EXPECT_EQ(desc.deletes, 1u);
}

TEST_F(ChangeBufferTest, LastChangeWinsAcrossBatches) {
	ChangeBuffer buf("public.t", SimpleColumns(), Options());
	uint64_t seq = 0;
	for (int round = 0; round < 5; round++) {
		ChangeBatch b(4);
		for (int id = 0; id < 10; id++) {
			ChangeOp op = round == 0 ? ChangeOp::Insert : ChangeOp::Update;
			AddRow(b, op, ++seq, {std::to_string(id), "r" + std::to_string(round), "x", std::to_string(round * id)},
			       Lsn(100 + round));
		}
		if (round == 3) {
			AddRow(b, ChangeOp::Delete, ++seq, {"7", std::nullopt, std::nullopt, std::nullopt}, Lsn(100 + round));
		}
		buf.Append(b);
	}
	EXPECT_EQ(buf.BufferedRows(), 51u);
	ChangeBuffer::Compacted desc;
	auto rows = FlushRows(buf, "id, name, qty, _op", "id", &desc);
	ASSERT_EQ(rows.size(), 10u);
	EXPECT_EQ(rows[0], "0|r4|0|U");
	EXPECT_EQ(rows[7], "7|r4|28|U"); // deleted in round 3, updated again in round 4 (seq order decides)
	EXPECT_EQ(rows[9], "9|r4|36|U");
	EXPECT_EQ(desc.max_commit_lsn, Lsn(104));
}

TEST_F(ChangeBufferTest, CompositeKeys) {
	std::vector<BufferColumn> cols{{"tenant", "VARCHAR", "", true}, {"id", "BIGINT", "", true}, {"v", "VARCHAR"}};
	ChangeBuffer buf("public.comp", cols, Options());
	ChangeBatch b(3);
	AddRow(b, ChangeOp::Insert, 1, {"a", "1", "a1"});
	AddRow(b, ChangeOp::Insert, 2, {"b", "1", "b1"});
	AddRow(b, ChangeOp::Insert, 3, {"a", "2", "a2"});
	AddRow(b, ChangeOp::Update, 4, {"b", "1", "b1-new"});
	AddRow(b, ChangeOp::Delete, 5, {"a", "1", std::nullopt});
	AddRow(b, ChangeOp::Update, 6, {"a", "2", "a2-new"});
	buf.Append(b);
	auto rows = FlushRows(buf, "tenant, id, v, _op", "tenant, id");
	EXPECT_EQ(rows, (std::vector<std::string>{"a|1|NULL|D", "a|2|a2-new|U", "b|1|b1-new|U"}));
}

TEST_F(ChangeBufferTest, DeleteThenReinsert) {
	ChangeBuffer buf("public.t", SimpleColumns(), Options());
	ChangeBatch b(4);
	AddRow(b, ChangeOp::Delete, 1, {"1", std::nullopt, std::nullopt, std::nullopt});
	AddRow(b, ChangeOp::Insert, 2, {"1", "back", "x", "5"});
	buf.Append(b);
	ChangeBatch b2(4);
	AddRow(b2, ChangeOp::Insert, 3, {"2", "two", "y", "2"});
	AddRow(b2, ChangeOp::Delete, 4, {"2", std::nullopt, std::nullopt, std::nullopt});
	AddRow(b2, ChangeOp::Insert, 5, {"2", "two again", "y", "22"});
	buf.Append(b2);
	auto rows = FlushRows(buf, "id, name, qty, _op", "id");
	EXPECT_EQ(rows, (std::vector<std::string>{"1|back|5|I", "2|two again|22|I"}));
}

TEST_F(ChangeBufferTest, InsertUpdateDeleteIsDelete) {
	ChangeBuffer buf("public.t", SimpleColumns(), Options());
	ChangeBatch b(4);
	AddRow(b, ChangeOp::Insert, 1, {"9", "n", "x", "1"});
	AddRow(b, ChangeOp::Update, 2, {"9", "n2", "x", "2"});
	AddRow(b, ChangeOp::Delete, 3, {"9", std::nullopt, std::nullopt, std::nullopt});
	buf.Append(b);
	ChangeBuffer::Compacted desc;
	auto rows = FlushRows(buf, "id, name, big, qty, _op, _seq", "id", &desc);
	EXPECT_EQ(rows, (std::vector<std::string>{"9|NULL|NULL|NULL|D|3"}));
	EXPECT_EQ(desc.deletes, 1u);
	EXPECT_FALSE(desc.only_inserts);
}

TEST_F(ChangeBufferTest, UnchangedToastResolvedFromEarlierChange) {
	ChangeBuffer buf("public.t", SimpleColumns(), Options());
	ChangeBatch b(4);
	AddRow(b, ChangeOp::Insert, 1, {"1", "a", "BIG-1", "1"});
	AddRow(b, ChangeOp::Update, 2, {"1", "a2", kUnchanged, "2"});
	// Key 2: the value arrives in one batch, the unchanged update in the next.
	AddRow(b, ChangeOp::Update, 3, {"2", "b", "BIG-2", "1"});
	buf.Append(b);
	ChangeBatch b2(4);
	AddRow(b2, ChangeOp::Update, 4, {"2", "b2", kUnchanged, "2"});
	AddRow(b2, ChangeOp::Update, 5, {"1", "a3", kUnchanged, "3"});
	// Key 3: the latest carrier set NULL; that NULL is the value, not "missing".
	AddRow(b2, ChangeOp::Insert, 6, {"3", "c", "BIG-3", "1"});
	AddRow(b2, ChangeOp::Update, 7, {"3", "c", std::nullopt, "2"});
	AddRow(b2, ChangeOp::Update, 8, {"3", "c2", kUnchanged, "3"});
	// Key 4: deleted and re-inserted; the re-insert carries the value, not the first insert.
	AddRow(b2, ChangeOp::Insert, 9, {"4", "d", "OLD-4", "1"});
	AddRow(b2, ChangeOp::Delete, 10, {"4", std::nullopt, std::nullopt, std::nullopt});
	AddRow(b2, ChangeOp::Insert, 11, {"4", "d", "NEW-4", "2"});
	AddRow(b2, ChangeOp::Update, 12, {"4", "d2", kUnchanged, "3"});
	buf.Append(b2);
	ChangeBuffer::Compacted desc;
	auto rows = FlushRows(buf, "id, name, big, qty, _op, CAST(_unchanged AS VARCHAR)", "id", &desc);
	EXPECT_EQ(rows, (std::vector<std::string>{"1|a3|BIG-1|3|U|NULL", "2|b2|BIG-2|2|U|NULL", "3|c2|NULL|3|U|NULL",
	                                          "4|d2|NEW-4|3|U|NULL"}));
	EXPECT_EQ(desc.unchanged_rows, 0u);
}

TEST_F(ChangeBufferTest, UnchangedToastLeftForTheLake) {
	std::vector<BufferColumn> cols{
	    {"id", "INTEGER", "", true}, {"doc", "VARCHAR"}, {"n", "INTEGER"}, {"blob", "BLOB", "from_hex(substr({}, 3))"}};
	ChangeBuffer buf("public.docs", cols, Options());
	ChangeBatch b(4);
	// Key 1: nothing in the buffer carries doc or blob.
	AddRow(b, ChangeOp::Update, 1, {"1", kUnchanged, "1", kUnchanged});
	AddRow(b, ChangeOp::Update, 2, {"1", kUnchanged, "2", kUnchanged});
	// Key 2: blob is known from an earlier change, doc is not.
	AddRow(b, ChangeOp::Update, 3, {"2", kUnchanged, "1", "\\x0a0b"});
	AddRow(b, ChangeOp::Update, 4, {"2", kUnchanged, "2", kUnchanged});
	// Key 3: plain update, no unchanged cells.
	AddRow(b, ChangeOp::Update, 5, {"3", "d", "1", "\\x"});
	buf.Append(b);
	ChangeBuffer::Compacted desc;
	auto rows = FlushRows(buf, "id, doc, n, hex(blob), _op, CAST(_unchanged AS VARCHAR)", "id", &desc);
	EXPECT_EQ(rows, (std::vector<std::string>{"1|NULL|2|NULL|U|[1, 3]", "2|NULL|2|0A0B|U|[1]", "3|d|1||U|NULL"}));
	EXPECT_EQ(desc.unchanged_rows, 2u);
}

TEST_F(ChangeBufferTest, UnchangedInsertOnlyBufferStillCompacts) {
	// The first unchanged update makes the buffer non-insert-only; also check a later delete wins.
	ChangeBuffer buf("public.t", SimpleColumns(), Options());
	ChangeBatch b(4);
	AddRow(b, ChangeOp::Update, 1, {"1", "a", kUnchanged, "1"});
	AddRow(b, ChangeOp::Delete, 2, {"1", std::nullopt, std::nullopt, std::nullopt});
	buf.Append(b);
	ChangeBuffer::Compacted desc;
	auto rows = FlushRows(buf, "id, big, _op, CAST(_unchanged AS VARCHAR)", "id", &desc);
	EXPECT_EQ(rows, (std::vector<std::string>{"1|NULL|D|NULL"}));
	EXPECT_EQ(desc.unchanged_rows, 0u);
}

TEST_F(ChangeBufferTest, ConvertsTrickyTextValues) {
	std::vector<BufferColumn> cols{
	    {"id", "INTEGER", "", true},
	    {"amount", "DECIMAL(12,2)"},
	    {"flag", "BOOLEAN"},
	    {"at", "TIMESTAMP"},
	    {"at_tz", "TIMESTAMP WITH TIME ZONE"},
	    {"payload", "BLOB", "from_hex(substr({}, 3))"},
	    {"note", "VARCHAR"},
	    {"big", "BIGINT", "CAST({} AS BIGINT)"},
	    {"d", "DATE"},
	    {"tags", "VARCHAR[]", "CAST(translate({}, chr(123) || chr(125), '[]') AS VARCHAR[])"},
	};
	ChangeBuffer buf("public.types", cols, Options());
	ChangeBatch b(cols.size());
	AddRow(b, ChangeOp::Insert, 1,
	       {"-2147483648", "1234567890.12", "t", "2024-02-29 23:59:59.999999", "2024-01-01 12:00:00+02", "\\xdeadbeef",
	        "it's \"quoted\"\n\ttab \\ backslash, ünïcödé", "9223372036854775807", "2000-01-01", "{a,b}"});
	AddRow(b, ChangeOp::Insert, 2,
	       {"2", "-0.01", "f", "1970-01-01 00:00:00", "1999-12-31 23:00:00-01", "\\x", "", "-1", "infinity",
	        std::nullopt});
	AddRow(b, ChangeOp::Insert, 3,
	       {"3", std::nullopt, std::nullopt, std::nullopt, std::nullopt, std::nullopt, std::nullopt, std::nullopt,
	        std::nullopt, "{}"});
	buf.Append(b);
	auto rows =
	    FlushRows(buf,
	              "id, amount, flag, \"at\", CAST(at_tz AT TIME ZONE 'UTC' AS VARCHAR), hex(payload), note, big, "
	              "d, CAST(tags AS VARCHAR)",
	              "id");
	ASSERT_EQ(rows.size(), 3u);
	EXPECT_EQ(rows[0], "-2147483648|1234567890.12|true|2024-02-29 23:59:59.999999|2024-01-01 10:00:00|DEADBEEF|it's "
	                   "\"quoted\"\n\ttab \\ backslash, ünïcödé|9223372036854775807|2000-01-01|[a, b]");
	EXPECT_EQ(rows[1], "2|-0.01|false|1970-01-01 00:00:00|2000-01-01 00:00:00|||-1|infinity|NULL");
	EXPECT_EQ(rows[2], "3|NULL|NULL|NULL|NULL|NULL|NULL|NULL|NULL|[]");
}

// The message names the table and column; the value (a source value) only at log level debug.
TEST_F(ChangeBufferTest, ConversionErrorNamesTableColumnAndValueOnlyAtDebug) {
	std::vector<BufferColumn> cols{{"id", "INTEGER", "", true}, {"amount", "DECIMAL(5,2)"}, {"n", "INTEGER"}};
	ChangeBuffer buf("public.money", cols, Options());
	ChangeBatch good(3);
	AddRow(good, ChangeOp::Insert, 1, {"1", "1.50", "7"});
	buf.Append(good);

	ChangeBatch bad(3);
	AddRow(bad, ChangeOp::Insert, 2, {"2", "2.00", "8"});
	AddRow(bad, ChangeOp::Insert, 3, {"3", "3.00", "not-a-number"});
	auto level = log::GetLevel();
	for (auto at : {log::Level::Info, log::Level::Debug}) {
		log::SetLevel(at);
		try {
			buf.Append(bad);
			ADD_FAILURE() << "expected a conversion error";
		} catch (const Error &e) {
			EXPECT_EQ(e.Kind(), ErrorKind::Unsupported);
			std::string msg = e.what();
			EXPECT_NE(msg.find("public.money"), std::string::npos) << msg;
			EXPECT_NE(msg.find("\"n\""), std::string::npos) << msg;
			EXPECT_EQ(msg.find("not-a-number") != std::string::npos, at == log::Level::Debug) << msg;
			EXPECT_FALSE(e.Context().hint.empty());
		}
	}
	log::SetLevel(level);
	// The failed batch left nothing behind; the buffer keeps working.
	EXPECT_EQ(buf.BufferedRows(), 1u);
	ChangeBatch next(3);
	AddRow(next, ChangeOp::Insert, 4, {"4", "4.00", "9"});
	buf.Append(next);
	auto rows = FlushRows(buf, "id, amount, n", "id");
	EXPECT_EQ(rows, (std::vector<std::string>{"1|1.50|7", "4|4.00|9"}));
}

TEST_F(ChangeBufferTest, OverflowingNumericIsAConversionError) {
	std::vector<BufferColumn> cols{{"id", "INTEGER", "", true}, {"amount", "DECIMAL(5,2)"}};
	ChangeBuffer buf("public.money", cols, Options());
	ChangeBatch bad(2);
	AddRow(bad, ChangeOp::Insert, 1, {"1", "123456.78"});
	try {
		buf.Append(bad);
		FAIL() << "expected a conversion error";
	} catch (const Error &e) {
		EXPECT_EQ(e.Kind(), ErrorKind::Unsupported);
		EXPECT_NE(std::string(e.what()).find("\"amount\""), std::string::npos) << e.what();
	}
	EXPECT_EQ(buf.BufferedRows(), 0u);
}

TEST_F(ChangeBufferTest, ApplyThrowingKeepsTheBufferForARetry) {
	ChangeBuffer buf("public.t", SimpleColumns(), Options());
	ChangeBatch b(4);
	AddRow(b, ChangeOp::Insert, 1, {"1", "a", "x", "1"});
	AddRow(b, ChangeOp::Update, 2, {"1", "b", "x", "2"}, Lsn(0x20));
	buf.Append(b);
	std::string dir = buf.Directory();
	EXPECT_THROW(buf.Flush([](DuckConnection &conn, const ChangeBuffer::Compacted &c) {
		// A failing apply that was mid-transaction.
		conn.Execute("BEGIN TRANSACTION");
		conn.Execute("CREATE TABLE scratch AS SELECT * FROM " + c.relation);
		throw Error(ErrorKind::Conflict, "lake commit lost the race");
	}),
	             Error);
	EXPECT_TRUE(buf.IsOpen());
	EXPECT_EQ(buf.Directory(), dir);
	EXPECT_EQ(buf.BufferedRows(), 2u);
	EXPECT_TRUE(buf.HasNonInserts());
	EXPECT_EQ(buf.LastCommitLsn(), Lsn(0x20));
	EXPECT_EQ(Rows(*buf.Connection(), "SELECT current_setting('memory_limit')"),
	          (std::vector<std::string>{"16.0 MiB"}));
	// The apply's open transaction was rolled back and the compacted relation dropped.
	EXPECT_EQ(Rows(*buf.Connection(), "SELECT table_name FROM duckdb_tables() ORDER BY 1"),
	          (std::vector<std::string>{"duckpipe_buffer", "duckpipe_staging"}));

	// More changes may arrive before the retry; they join the same flush.
	ChangeBatch b2(4);
	AddRow(b2, ChangeOp::Insert, 3, {"2", "c", "y", "3"}, Lsn(0x30));
	buf.Append(b2);
	ChangeBuffer::Compacted desc;
	auto rows = FlushRows(buf, "id, name, qty, _op", "id", &desc);
	EXPECT_EQ(rows, (std::vector<std::string>{"1|b|2|U", "2|c|3|I"}));
	EXPECT_EQ(desc.max_commit_lsn, Lsn(0x30));
	EXPECT_FALSE(buf.IsOpen());
	EXPECT_FALSE(std::filesystem::exists(dir));
}

TEST_F(ChangeBufferTest, ClearDropsEverythingAndReopensLazily) {
	ChangeBuffer buf("public.t", SimpleColumns(), Options());
	ChangeBatch b(4);
	AddRow(b, ChangeOp::Update, 1, {"1", "a", "x", "1"});
	buf.Append(b);
	std::string dir = buf.Directory();
	ASSERT_TRUE(std::filesystem::exists(dir));
	buf.Clear();
	EXPECT_FALSE(buf.IsOpen());
	EXPECT_FALSE(std::filesystem::exists(dir));
	EXPECT_EQ(buf.BufferedRows(), 0u);
	EXPECT_FALSE(buf.HasNonInserts());
	EXPECT_EQ(buf.LastCommitLsn(), kInvalidLsn);
	bool called = false;
	buf.Flush([&](DuckConnection &, const ChangeBuffer::Compacted &) { called = true; });
	EXPECT_FALSE(called); // nothing buffered

	ChangeBatch b2(4);
	AddRow(b2, ChangeOp::Insert, 1, {"5", "e", "x", "5"}); // a resync may restart seq
	buf.Append(b2);
	EXPECT_TRUE(buf.IsOpen());
	auto rows = FlushRows(buf, "id, name, _op", "id");
	EXPECT_EQ(rows, (std::vector<std::string>{"5|e|I"}));
}

TEST_F(ChangeBufferTest, AppendModeKeepsEveryChange) {
	ChangeBuffer buf("public.log", SimpleColumns(), Options(true));
	ChangeBatch b(4);
	AddRow(b, ChangeOp::Insert, 1, {"1", "a", "x", "1"}, Lsn(0x1'0000'0010));
	AddRow(b, ChangeOp::Update, 2, {"1", "b", kUnchanged, "2"}, Lsn(0x1'0000'0020));
	AddRow(b, ChangeOp::Delete, 3, {"1", std::nullopt, std::nullopt, std::nullopt}, Lsn(0x1'0000'0020));
	buf.Append(b);
	ChangeBuffer::Compacted desc;
	auto rows =
	    FlushRows(buf, "id, name, big, qty, _op, _seq, _commit_lsn, CAST(_unchanged AS VARCHAR)", "_seq", &desc);
	EXPECT_EQ(rows, (std::vector<std::string>{"1|a|x|1|I|1|4294967312|NULL", "1|b|NULL|2|U|2|4294967328|[2]",
	                                          "1|NULL|NULL|NULL|D|3|4294967328|NULL"}));
	EXPECT_TRUE(desc.append_mode);
	EXPECT_EQ(desc.relation, ChangeBuffer::kChangesRelation);
	EXPECT_EQ(desc.rows, 3u);
	EXPECT_EQ(desc.deletes, 1u);
	EXPECT_EQ(desc.unchanged_rows, 1u);
	EXPECT_FALSE(desc.only_inserts);
}

TEST_F(ChangeBufferTest, AppendModeNeedsNoKey) {
	std::vector<BufferColumn> cols{{"v", "VARCHAR"}};
	EXPECT_THROW(ChangeBuffer("public.nokey", cols, Options()), Error);
	ChangeBuffer buf("public.nokey", cols, Options(true));
	ChangeBatch b(1);
	AddRow(b, ChangeOp::Insert, 1, {"same"});
	AddRow(b, ChangeOp::Insert, 2, {"same"});
	buf.Append(b);
	auto rows = FlushRows(buf, "v, _op", "_seq");
	EXPECT_EQ(rows, (std::vector<std::string>{"same|I", "same|I"}));
}

TEST_F(ChangeBufferTest, RejectsBadInput) {
	EXPECT_THROW(ChangeBuffer("t", {}, Options()), Error);
	EXPECT_THROW(ChangeBuffer("t", {{"id", "INTEGER", "", true}, {"_seq", "BIGINT"}}, Options()), Error);
	EXPECT_THROW(ChangeBuffer("t", {{"id", "INTEGER", "", true}, {"id", "BIGINT"}}, Options()), Error);
	EXPECT_THROW(ChangeBuffer("t", {{"id", "INTEGER", "", true}, {"ID", "BIGINT"}}, Options()), Error);
	EXPECT_THROW(ChangeBuffer("t", {{"id", "INTEGER", "", true}, {"_OP", "BIGINT"}}, Options()), Error);
	EXPECT_THROW(ChangeBuffer("t", {{"id", "INTEGER", "42", true}}, Options()), Error);

	ChangeBuffer buf("public.t", SimpleColumns(), Options());
	ChangeBatch wrong(3);
	AddRow(wrong, ChangeOp::Insert, 1, {"1", "a", "x"});
	EXPECT_THROW(buf.Append(wrong), Error);

	ChangeBatch b(4);
	AddRow(b, ChangeOp::Insert, 10, {"1", "a", "x", "1"});
	buf.Append(b);
	ChangeBatch stale(4);
	AddRow(stale, ChangeOp::Insert, 10, {"2", "a", "x", "1"});
	EXPECT_THROW(buf.Append(stale), Error);

	ChangeBatch toast_key(4);
	AddRow(toast_key, ChangeOp::Update, 11, {kUnchanged, "a", "x", "1"});
	try {
		buf.Append(toast_key);
		FAIL();
	} catch (const Error &e) {
		EXPECT_EQ(e.Kind(), ErrorKind::Unsupported);
	}
	EXPECT_EQ(buf.BufferedRows(), 1u);
}

TEST_F(ChangeBufferTest, QuotedIdentifiers) {
	std::vector<BufferColumn> cols{{"Order \"Id\"", "INTEGER", "", true}, {"select", "VARCHAR"}};
	ChangeBuffer buf("public.\"Weird\"", cols, Options());
	ChangeBatch b(2);
	AddRow(b, ChangeOp::Insert, 1, {"1", "x"});
	AddRow(b, ChangeOp::Update, 2, {"1", "y"});
	buf.Append(b);
	auto rows = FlushRows(buf, "\"Order \"\"Id\"\"\", \"select\", _op", "1");
	EXPECT_EQ(rows, (std::vector<std::string>{"1|y|U"}));
}

// A table's DuckDB settings changed at run time (its config): the flush limit applies from the next
// flush, the others when the instance next opens (it closes after every flush).
TEST_F(ChangeBufferTest, ResourcesChangedAtRunTimeApplyFromTheNextFlushOrOpen) {
	ChangeBuffer buf("public.t", SimpleColumns(), Options());
	ChangeBatch b(4);
	AddRow(b, ChangeOp::Insert, 1, {"1", "a", "x", "1"});
	buf.Append(b);
	buf.SetResources(32, 64, 2);
	// Still the instance opened with the old ones.
	EXPECT_EQ(Rows(*buf.Connection(), "SELECT current_setting('memory_limit')"),
	          (std::vector<std::string>{"16.0 MiB"}));
	std::vector<std::string> during;
	buf.Flush([&](DuckConnection &conn, const ChangeBuffer::Compacted &) {
		during = Rows(conn, "SELECT current_setting('memory_limit')");
	});
	EXPECT_EQ(during, (std::vector<std::string>{"64.0 MiB"}));
	ChangeBatch b2(4);
	AddRow(b2, ChangeOp::Insert, 2, {"2", "a", "x", "1"}, Lsn(0x20));
	buf.Append(b2);
	EXPECT_EQ(Rows(*buf.Connection(), "SELECT current_setting('memory_limit'), current_setting('threads')"),
	          (std::vector<std::string>{"32.0 MiB|2"}));
	// Values that are not positive are ignored (the registry never hands them out).
	buf.SetResources(0, 64, 2);
	buf.Clear();
	ChangeBatch b3(4);
	AddRow(b3, ChangeOp::Insert, 3, {"3", "a", "x", "1"}, Lsn(0x30));
	buf.Append(b3);
	EXPECT_EQ(Rows(*buf.Connection(), "SELECT current_setting('memory_limit')"),
	          (std::vector<std::string>{"32.0 MiB"}));
}

} // namespace
} // namespace duckpipe::flush
