// LakeCommit::DeleteMatchingRows: row-value deletes for tables without a key.
#include "core/common/error.hpp"
#include "core/lake/lake_writer.hpp"
#include "writer_fixture.hpp"

#include <gtest/gtest.h>

using namespace duckpipe;
using namespace duckpipe::test;

namespace {

// main.r with one column of each awkward kind; every row is written through `Insert(values)`.
struct MatchLake {
	TestLake lake;
	lake::LakeWriter writer;
	Staging staging;
	int64_t table = 0;
	std::vector<std::string> columns{"id", "v", "d", "iv", "l", "j", "b"};

	explicit MatchLake(const std::string &prefix) : lake(prefix), writer(lake.config) {
		auto c = writer.Begin();
		auto h = c.CreateTable("main", "r",
		                       {Col("id", "int64"), Col("v", "varchar"), Col("d", "float64"), Col("iv", "interval"),
		                        Col("l", "list", {Col("element", "varchar")}), Col("j", "json"), Col("b", "blob")});
		c.Commit();
		table = c.ResolveId(h);
	}
	// `rows`: a VALUES list of (id, v, d, iv, l, j, b) tuples; one data file per call.
	void Insert(const std::string &rows) {
		auto c = writer.Begin();
		c.Insert(table, *staging.duck, Select(rows, false));
		c.Commit();
	}
	std::string Select(const std::string &rows, bool with_count) const {
		return "SELECT id::BIGINT AS id, v::VARCHAR AS v, d::DOUBLE AS d, iv::INTERVAL AS iv, l::VARCHAR[] AS l, "
		       "j::JSON AS j, b::BLOB AS b" +
		       std::string(with_count ? ", n AS __dp_count" : "") + " FROM (VALUES " + rows +
		       ") t(id, v, d, iv, l, j, b" + (with_count ? ", n" : "") + ")";
	}
	// Rows with their counts: (id, v, d, iv, l, j, b, n).
	int64_t Delete(const std::string &rows_with_count) {
		auto c = writer.Begin();
		auto n = c.DeleteMatchingRows(table, *staging.duck, columns, Select(rows_with_count, true));
		c.Commit();
		return n;
	}
	Rows Read(const std::string &where = "true") {
		return LakeRows(lake.Conninfo(), "SELECT id, v, CAST(d AS VARCHAR), CAST(iv AS VARCHAR), CAST(l AS VARCHAR), "
		                                 "CAST(j AS VARCHAR), CAST(b AS VARCHAR) FROM main.r WHERE " +
		                                     where + " ORDER BY ALL");
	}
	int64_t Count() { return std::stoll(LakeRows(lake.Conninfo(), "SELECT count(*) FROM main.r")[0]); }
};

constexpr const char *kNulls = "NULL, NULL, NULL, NULL, NULL, NULL";

} // namespace

TEST(DeleteMatchingRows, DuplicatesLoseOneCopyPerDelete) {
	MatchLake m("dm_dup");
	m.Insert("(1, 'a', 1.5, '1 day', ['x'], '{\"k\": 1}', 'ab'), (1, 'a', 1.5, '1 day', ['x'], '{\"k\": 1}', 'ab'), "
	         "(1, 'a', 1.5, '1 day', ['x'], '{\"k\": 1}', 'ab'), (2, 'b', 1.5, '1 day', ['x'], '{\"k\": 1}', 'ab')");
	EXPECT_EQ(m.Delete("(1, 'a', 1.5, '1 day', ['x'], '{\"k\": 1}', 'ab', 1)"), 1);
	EXPECT_EQ(m.Read("id = 1").size(), 2u);
	EXPECT_EQ(m.Delete("(1, 'a', 1.5, '1 day', ['x'], '{\"k\": 1}', 'ab', 2)"), 2);
	EXPECT_EQ(m.Read(), (Rows{"2|b|1.5|1 day|[x]|{\"k\": 1}|ab"}));
}

TEST(DeleteMatchingRows, NullsMatchOnlyNulls) {
	MatchLake m("dm_null");
	m.Insert(std::string("(NULL, ") + kNulls + "), (NULL, " + kNulls +
	         "), (NULL, 'x', NULL, NULL, NULL, NULL, NULL), " +
	         "(7, NULL, NULL, NULL, [NULL], NULL, NULL), (7, NULL, NULL, NULL, [], NULL, NULL)");
	EXPECT_EQ(m.Delete(std::string("(NULL, ") + kNulls + ", 1)"), 1);
	EXPECT_EQ(m.Count(), 4);
	// A list holding NULL is neither NULL nor the empty list.
	EXPECT_EQ(m.Delete("(7, NULL, NULL, NULL, [NULL], NULL, NULL, 1)"), 1);
	EXPECT_EQ(m.Read("id = 7"), (Rows{"7|NULL|NULL|NULL|[]|NULL|NULL"}));
	EXPECT_EQ(m.Read("id IS NULL"), (Rows{"NULL|x|NULL|NULL|NULL|NULL|NULL", "NULL|NULL|NULL|NULL|NULL|NULL|NULL"}));
}

// Equality is DuckDB's IS NOT DISTINCT FROM: NaN matches NaN, nested values, JSON text and bytes
// compare exactly. -0.0/0.0 and '1 month'/'30 days' are equal to DuckDB, and its Parquet writer
// already stores them as one value, so the lake could not tell them apart anyway.
TEST(DeleteMatchingRows, ValueEquality) {
	MatchLake m("dm_equal");
	m.Insert("(2, NULL, 'nan', NULL, NULL, NULL, NULL), (2, NULL, 'nan', NULL, NULL, NULL, NULL), "
	         "(2, NULL, '1.0', NULL, NULL, NULL, NULL), "
	         "(4, NULL, NULL, NULL, ['a, b'], NULL, NULL), (4, NULL, NULL, NULL, ['a', 'b'], NULL, NULL), "
	         "(4, NULL, NULL, NULL, ['a', NULL], NULL, NULL), "
	         "(5, NULL, NULL, NULL, NULL, '{\"a\":1}', NULL), (5, NULL, NULL, NULL, NULL, '{\"a\": 1}', NULL), "
	         "(6, NULL, NULL, NULL, NULL, NULL, '\\x00'), (6, NULL, NULL, NULL, NULL, NULL, '\\x00\\x00'), "
	         "(8, NULL, '0.0', '30 days', NULL, NULL, NULL)");
	EXPECT_EQ(m.Delete("(2, NULL, 'nan', NULL, NULL, NULL, NULL, 1), (4, NULL, NULL, NULL, ['a', 'b'], NULL, "
	                   "NULL, 1), (4, NULL, NULL, NULL, ['a', NULL], NULL, NULL, 1), "
	                   "(5, NULL, NULL, NULL, NULL, '{\"a\": 1}', NULL, 1), "
	                   "(6, NULL, NULL, NULL, NULL, NULL, '\\x00\\x00', 1), (8, NULL, '-0.0', '1 month', NULL, "
	                   "NULL, NULL, 1)"),
	          6);
	EXPECT_EQ(m.Read(), (Rows{"2|NULL|1.0|NULL|NULL|NULL|NULL", "2|NULL|nan|NULL|NULL|NULL|NULL",
	                          "4|NULL|NULL|NULL|['a, b']|NULL|NULL", "5|NULL|NULL|NULL|NULL|{\"a\":1}|NULL",
	                          "6|NULL|NULL|NULL|NULL|NULL|\\x00"}));
}

TEST(DeleteMatchingRows, AcrossFilesAndNeverTwice) {
	MatchLake m("dm_files");
	std::string row = "(10, 'r', 2.5, '2 hours', ['q'], '[1]', 'zz')";
	m.Insert(row + ", " + row);                                        // file 1
	m.Insert("(500, 'other', NULL, NULL, NULL, NULL, NULL)");          // file 2 (pruned by id)
	m.Insert(row + ", (11, 'r', 2.5, '2 hours', ['q'], '[1]', 'zz')"); // file 3
	EXPECT_EQ(m.Read("id = 10").size(), 3u);
	// Two deletes of one copy each in the same commit take two different rows.
	{
		auto c = m.writer.Begin();
		auto sql = m.Select("(10, 'r', 2.5, '2 hours', ['q'], '[1]', 'zz', 1)", true);
		EXPECT_EQ(c.DeleteMatchingRows(m.table, *m.staging.duck, m.columns, sql), 1);
		EXPECT_EQ(c.DeleteMatchingRows(m.table, *m.staging.duck, m.columns, sql), 1);
		c.Commit();
	}
	EXPECT_EQ(m.Read("id = 10").size(), 1u);
	// A row already deleted in an earlier snapshot is not found again: only one copy is live.
	try {
		m.Delete("(10, 'r', 2.5, '2 hours', ['q'], '[1]', 'zz', 2)");
		FAIL() << "expected the divergence error";
	} catch (const Error &e) {
		EXPECT_EQ(e.Kind(), ErrorKind::Lake);
		EXPECT_NE(std::string(e.what()).find("main.r"), std::string::npos) << e.what();
		EXPECT_NE(std::string(e.what()).find("diverged"), std::string::npos) << e.what();
		EXPECT_NE(std::string(e.what()).find("resync-table"), std::string::npos) << e.what();
	}
	// The failed commit changed nothing.
	EXPECT_EQ(m.Count(), 3);
	EXPECT_EQ(m.Delete("(10, 'r', 2.5, '2 hours', ['q'], '[1]', 'zz', 1), (500, 'other', NULL, NULL, NULL, NULL, "
	                   "NULL, 1), (11, 'r', 2.5, '2 hours', ['q'], '[1]', 'zz', 1)"),
	          3);
	EXPECT_EQ(m.Count(), 0);
}

TEST(DeleteMatchingRows, MissingRowIsDivergence) {
	MatchLake m("dm_missing");
	EXPECT_EQ(m.Delete("(1, 'a', NULL, NULL, NULL, NULL, NULL, 0)"), 0); // nothing to do on an empty table
	// The divergence error, not any error (a SQL mistake would throw too).
	auto diverges = [&](const std::string &row) {
		try {
			m.Delete(row);
		} catch (const Error &e) {
			return e.Kind() == ErrorKind::Lake && std::string(e.what()).find("diverged") != std::string::npos;
		}
		return false;
	};
	EXPECT_TRUE(diverges("(1, 'a', NULL, NULL, NULL, NULL, NULL, 1)"));
	m.Insert("(1, 'a', NULL, NULL, NULL, NULL, NULL)");
	EXPECT_TRUE(diverges("(1, 'b', NULL, NULL, NULL, NULL, NULL, 1)"));
	EXPECT_EQ(m.Count(), 1);
}
