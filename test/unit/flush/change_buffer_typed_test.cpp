#include "core/common/error.hpp"
#include "core/duck/duck_connection.hpp"
#include "core/flush/change_buffer.hpp"
#include "core/lake/pg_type_mapping.hpp"
#include "harness/pg_cluster.hpp"

#include <gtest/gtest.h>

#include <optional>
#include <string>
#include <vector>

namespace duckpipe::flush {
namespace {

using Cell = std::optional<std::string>;

// The columns as TableSchema builds them (from_text from the lake mapping), with or without forms.
std::vector<BufferColumn> Columns(bool typed) {
	struct Def {
		const char *name, *lake, *duck;
		TextForm form;
	};
	static const Def kDefs[] = {
	    {"id", "int64", "BIGINT", TextForm::Int64},
	    {"i", "int32", "INTEGER", TextForm::Int32},
	    {"s", "int16", "SMALLINT", TextForm::Int16},
	    {"b", "boolean", "BOOLEAN", TextForm::Boolean},
	    {"t", "varchar", "VARCHAR", TextForm::Text},
	    {"d", "date", "DATE", TextForm::Date},
	    {"ts", "timestamp", "TIMESTAMP", TextForm::Timestamp},
	    {"tz", "timestamptz", "TIMESTAMP WITH TIME ZONE", TextForm::TimestampTz},
	    {"n", "decimal(12,2)", "DECIMAL(12,2)", TextForm::Sql},
	};
	std::vector<BufferColumn> out;
	for (const auto &d : kDefs) {
		lake::LakeTypeMapping m{d.lake, d.duck, {}, false, {}};
		out.push_back(BufferColumn{d.name, d.duck, lake::TextToDuckExpression(m, "{}", d.name),
		                           std::string(d.name) == "id", typed ? d.form : TextForm::Sql});
	}
	return out;
}

void AddRow(ChangeBatch &batch, uint64_t seq, const std::vector<Cell> &cells) {
	batch.BeginRow(ChangeOp::Insert, seq, Lsn(0x100 + seq));
	for (const auto &c : cells) {
		if (c) {
			batch.AddText(*c);
		} else {
			batch.AddNull();
		}
	}
}

// Every buffered row, in id order, as DuckDB prints it.
std::vector<std::string> Contents(ChangeBuffer &buf) {
	std::vector<std::string> out;
	buf.Flush([&](DuckConnection &conn, const ChangeBuffer::Compacted &c) {
		auto res =
		    conn.Query("SELECT id, i, s, b, t, d, ts, epoch_us(tz), n, _seq, _op FROM " + c.relation + " ORDER BY id");
		for (uint64_t r = 0; r < res.Rows(); r++) {
			std::string line;
			for (uint64_t col = 0; col < res.Columns(); col++) {
				auto v = res.GetString(col, r);
				line += (col ? "|" : "") + (v ? *v : std::string("NULL"));
			}
			out.push_back(line);
		}
	});
	return out;
}

class ChangeBufferTypedTest : public ::testing::Test {
protected:
	ChangeBufferOptions Options() {
		ChangeBufferOptions o;
		o.temp_dir = dir_.Path();
		return o;
	}
	test::TempDir dir_{"duckpipe-typed"};
};

// Values converted in C++ are the values the SQL expressions give, and a batch holding a value in
// another spelling (infinity, BC, a 5-digit year) still converts through SQL.
TEST_F(ChangeBufferTypedTest, TypedAppendsEqualTheSqlConversion) {
	ChangeBatch canonical(9);
	AddRow(canonical, 1,
	       {"1", "-2147483648", "32767", "t", "caf\xc3\xa9 plain", "2000-02-29", "1999-12-31 23:59:59.999999",
	        "2026-12-01 02:55:49.98019+00", "12.50"});
	AddRow(canonical, 2,
	       {"2", std::nullopt, "-5", "f", "", "0001-01-01", "1970-01-01 00:00:00", "2000-06-01 10:00:00-03:30", "NaN"});
	AddRow(canonical, 3,
	       {"-9223372036854775808", "7", std::nullopt, std::nullopt, std::nullopt, std::nullopt, std::nullopt,
	        std::nullopt, std::nullopt});
	ChangeBatch other(9);
	AddRow(other, 4, {"4", "1", "1", "t", "x", "2000-01-01 BC", "infinity", "2000-01-01 00:00:00+00", "1"});
	AddRow(other, 5, {"5", "1", "1", "f", "y", "10000-01-01", "2000-01-01 00:00:00", "2000-01-01 00:00:00+00", "2"});

	ChangeBuffer typed("public.t", Columns(true), Options());
	ChangeBuffer sql("public.t", Columns(false), Options());
	typed.Append(canonical);
	EXPECT_EQ(typed.TypedAppends(), 1u);
	typed.Append(other);
	EXPECT_EQ(typed.TypedAppends(), 1u); // took the SQL path
	sql.Append(canonical);
	sql.Append(other);
	EXPECT_EQ(sql.TypedAppends(), 0u);
	auto expected = Contents(sql);
	ASSERT_EQ(expected.size(), 5u);
	EXPECT_EQ(Contents(typed), expected);
}

// Several batches appended as one keep their order and all-or-nothing checks.
TEST_F(ChangeBufferTypedTest, SeveralBatchesInOneAppend) {
	ChangeBuffer buf("public.t", Columns(true), Options());
	std::vector<ChangeBatch> batches;
	batches.reserve(3);
	uint64_t seq = 0;
	for (int b = 0; b < 3; b++) {
		batches.emplace_back(9);
		for (int r = 0; r < 1500; r++) { // more than one DuckDB vector in all
			seq++;
			AddRow(batches.back(), seq,
			       {std::to_string(seq), std::to_string(r), "1", "t", "row " + std::to_string(seq), "2020-01-01",
			        "2020-01-01 00:00:00", "2020-01-01 00:00:00+00", "1.5"});
		}
	}
	std::vector<const ChangeBatch *> ptrs{&batches[0], &batches[1], &batches[2]};
	buf.Append(ptrs);
	EXPECT_EQ(buf.BufferedRows(), 4500u);
	EXPECT_EQ(buf.TypedAppends(), 1u);
	EXPECT_EQ(buf.LastCommitLsn(), Lsn(0x100 + 4500));
	// A seq that does not increase across the batches is refused before anything is appended.
	ChangeBatch stale(9);
	AddRow(stale, 10, {"10", "1", "1", "t", "x", "2020-01-01", "2020-01-01 00:00:00", "2020-01-01 00:00:00+00", "1"});
	std::vector<const ChangeBatch *> bad{&stale};
	EXPECT_THROW(buf.Append(bad), Error);
	EXPECT_EQ(buf.BufferedRows(), 4500u);
	auto rows = Contents(buf);
	ASSERT_EQ(rows.size(), 4500u);
	EXPECT_EQ(rows.front(), "1|0|1|true|row 1|2020-01-01|2020-01-01 00:00:00|1577836800000000|1.50|1|I");
}

} // namespace
} // namespace duckpipe::flush
