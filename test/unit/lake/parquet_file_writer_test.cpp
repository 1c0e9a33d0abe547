// ParquetFileWriter caps a row group's bytes where DuckDB allows it: rows carrying large text would
// otherwise be held 122,880 at a time (over 100 MB per writing thread) before a row group is written.
#include "core/common/private_dir.hpp"
#include "core/duck/duck_connection.hpp"
#include "core/duck/duck_database.hpp"
#include "core/lake/write/parquet_file_writer.hpp"

#include <gtest/gtest.h>

namespace duckpipe::lake {

namespace {

struct RowGroups {
	int64_t count = 0;
	int64_t max_bytes = 0; // uncompressed
};

RowGroups RowGroupsOf(DuckConnection &duck, const std::string &path) {
	auto r = duck.Query("SELECT count(DISTINCT row_group_id), max(row_group_bytes) FROM parquet_metadata(" +
	                    DuckConnection::QuoteLiteral(path) + ")");
	return {r.GetInt(0, 0), r.GetInt(1, 0)};
}

} // namespace

TEST(ParquetFileWriter, RowGroupsOfLargeRowsStopAtTheByteCapWhereOrderNeedNotBeKept) {
	PrivateDirectory scratch("", "duckpipe-parquet-writer-", "test");
	const std::string &dir = scratch.Path();
	std::vector<LakeColumn> columns{{.column_id = 1, .column_order = 1, .name = "id", .type = "int64"},
	                                {.column_id = 2, .column_order = 2, .name = "big", .type = "varchar"}};
	// 60,000 rows of 1 KB: about 60 MB, half a default row group's rows.
	const std::string rows =
	    "SELECT CAST(i AS BIGINT) AS id, repeat(md5(CAST(i AS VARCHAR)), 32) AS big FROM range(60000) t(i)";
	for (bool keep_order : {false, true}) {
		SCOPED_TRACE(keep_order ? "insertion order kept" : "insertion order free");
		DuckDatabase db("", {{"threads", "2"}, {"preserve_insertion_order", keep_order ? "true" : "false"}});
		auto duck = db.Connect();
		auto path = dir + (keep_order ? "/kept.parquet" : "/free.parquet");
		auto file = ParquetFileWriter::Write(*duck, rows, path, columns);
		EXPECT_EQ(file.record_count, 60000);
		EXPECT_EQ(duck->Query("SELECT count(*), count(DISTINCT id) FROM read_parquet(" +
		                      DuckConnection::QuoteLiteral(path) + ") WHERE length(big) = 1024")
		              .GetInt(1, 0),
		          60000);
		auto groups = RowGroupsOf(*duck, path);
		if (keep_order) {
			EXPECT_EQ(groups.count, 1); // DuckDB refuses the cap there: the writer leaves it out
		} else {
			EXPECT_GE(groups.count, 3);
			EXPECT_LE(groups.max_bytes, 2 * ParquetFileWriter::kRowGroupBytes);
		}
	}
}

} // namespace duckpipe::lake
