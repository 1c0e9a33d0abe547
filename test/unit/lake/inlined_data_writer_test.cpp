// The inlined data table's column types: what the reference's PostgreSQL catalog gives each lake
// type (digest section 7), and which tables we do not inline.
#include "core/duck/duck_connection.hpp"
#include "core/duck/duck_database.hpp"
#include "core/lake/write/inlined_data_writer.hpp"

#include <gtest/gtest.h>

#include <filesystem>

namespace duckpipe::lake {

TEST(InlinedDataWriter, ColumnTypesAreTheReferences) {
	const std::vector<std::pair<std::string, std::string>> expected = {{"boolean", "BOOLEAN"},
	                                                                   {"int8", "SMALLINT"},
	                                                                   {"int16", "SMALLINT"},
	                                                                   {"int32", "INTEGER"},
	                                                                   {"int64", "BIGINT"},
	                                                                   {"uint8", "INTEGER"},
	                                                                   {"uint16", "INTEGER"},
	                                                                   {"uint32", "BIGINT"},
	                                                                   {"uint64", "VARCHAR"},
	                                                                   {"int128", "VARCHAR"},
	                                                                   {"float32", "REAL"},
	                                                                   {"float64", "DOUBLE PRECISION"},
	                                                                   {"decimal(10,2)", "DECIMAL(10,2)"},
	                                                                   {"date", "VARCHAR"},
	                                                                   {"time", "TIME"},
	                                                                   {"timetz", "TIME WITH TIME ZONE"},
	                                                                   {"timestamp", "VARCHAR"},
	                                                                   {"timestamptz", "VARCHAR"},
	                                                                   {"timestamp_ns", "VARCHAR"},
	                                                                   {"interval", "INTERVAL"},
	                                                                   {"uuid", "UUID"},
	                                                                   {"varchar", "BYTEA"},
	                                                                   {"json", "BYTEA"},
	                                                                   {"blob", "BYTEA"}};
	for (const auto &[lake, pg] : expected) {
		EXPECT_EQ(InlinedDataWriter::PgType(lake).value_or("<none>"), pg) << lake;
	}
	for (const char *lake : {"list", "struct", "map", "variant", "geometry", "time_ns"}) {
		EXPECT_FALSE(InlinedDataWriter::PgType(lake).has_value()) << lake;
	}
	EXPECT_EQ(InlinedDataWriter::TableName(5, 12), "ducklake_inlined_data_5_12");
}

TEST(InlinedDataWriter, TablesWithNestedOrClashingColumnsAreNotInlined) {
	LakeColumn id{.column_id = 1, .name = "id", .type = "int64"};
	LakeColumn tags{.column_id = 2, .name = "tags", .type = "list"};
	tags.children.push_back(LakeColumn{.column_id = 3, .name = "element", .type = "int32"});
	LakeColumn row_id{.column_id = 2, .name = "Row_Id", .type = "int64"};
	EXPECT_TRUE(InlinedDataWriter::CanInline({id}));
	EXPECT_FALSE(InlinedDataWriter::CanInline({id, tags}));
	EXPECT_FALSE(InlinedDataWriter::CanInline({id, row_id}));
	EXPECT_FALSE(InlinedDataWriter::CanInline({}));
}

// The types of an inlined table created for the reference's writer at a column change: nested
// columns as VARCHAR text, no table when a variant or geometry is in it.
TEST(InlinedDataWriter, ReferenceTypesOfNestedColumns) {
	LakeColumn tags{.column_id = 2, .name = "tags", .type = "list"};
	tags.children.push_back(LakeColumn{.column_id = 3, .name = "element", .type = "int32"});
	EXPECT_EQ(InlinedDataWriter::ReferencePgType(tags).value_or("<none>"), "VARCHAR");
	EXPECT_EQ(InlinedDataWriter::ReferencePgType(LakeColumn{.column_id = 1, .name = "s", .type = "varchar"})
	              .value_or("<none>"),
	          "BYTEA");
	LakeColumn v{.column_id = 4, .name = "v", .type = "struct"};
	v.children.push_back(LakeColumn{.column_id = 5, .name = "x", .type = "variant"});
	EXPECT_FALSE(InlinedDataWriter::ReferencePgType(v).has_value());
	EXPECT_FALSE(
	    InlinedDataWriter::ReferencePgType(LakeColumn{.column_id = 6, .name = "g", .type = "geometry"}).has_value());
}

// Values read back from the written file as the text PostgreSQL takes for each column type.
TEST(InlinedDataWriter, ReadsRowsAsPostgreSQLText) {
	auto path = std::filesystem::temp_directory_path() / "duckpipe_inlined_rows_test.parquet";
	DuckDatabase db;
	auto duck = db.Connect();
	duck->Execute("COPY (SELECT * FROM (VALUES (1::BIGINT, 'a''b ü'::VARCHAR, '\\x00\\xFF'::BLOB, 1.5::DECIMAL(10,2), "
	              "DATE '2024-01-15', 'nan'::DOUBLE), (2, NULL, NULL, NULL, NULL, NULL)) t(id, s, b, d, dt, f)) TO " +
	              DuckConnection::QuoteLiteral(path.string()) + " (FORMAT parquet)");
	std::vector<LakeColumn> cols = {
	    {.column_id = 1, .name = "id", .type = "int64"}, {.column_id = 2, .name = "s", .type = "varchar"},
	    {.column_id = 3, .name = "b", .type = "blob"},   {.column_id = 4, .name = "d", .type = "decimal(10,2)"},
	    {.column_id = 5, .name = "dt", .type = "date"},  {.column_id = 6, .name = "f", .type = "float64"}};
	auto rows = InlinedDataWriter::ReadRows(*duck, cols, path.string());
	std::filesystem::remove(path);
	ASSERT_EQ(rows->rows.size(), 2u);
	using V = std::vector<std::optional<std::string>>;
	EXPECT_EQ(rows->rows[0], (V{"1", "61276220C3BC", "00FF", "1.50", "2024-01-15", "nan"}));
	EXPECT_EQ(rows->rows[1], (V{"2", std::nullopt, std::nullopt, std::nullopt, std::nullopt, std::nullopt}));
	EXPECT_EQ(rows->columns[1].pg_type, "BYTEA");
}

} // namespace duckpipe::lake
