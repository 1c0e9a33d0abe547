// ParseTableDescription: the rows of DescribeTableSql (as libpq or SPI return them) into a
// PgTableDescription, and TableSchema::FromDescription on top of it. The query itself is covered
// against a real server by integration_lake_writer (TypeMapping) and the regress suite.
#include "core/common/error.hpp"
#include "core/pg/source_table.hpp"
#include "core/pipeline/table_schema.hpp"

#include <gtest/gtest.h>

namespace duckpipe {
namespace {

using Row = CatalogRow;

// oid, schema, name, replident, relkind, key, then the column fields (or all NULL).
Row Relation(std::optional<std::string> key, std::vector<std::optional<std::string>> column) {
	Row row{"16400", "public", "t", "d", "r", std::move(key)};
	if (column.empty()) {
		column.assign(19, std::nullopt);
	}
	row.insert(row.end(), column.begin(), column.end());
	return row;
}

// attname, attnum, declared oid, typmod, ndims, notnull, generated, format, declared typtype, base
// oid, name, typmod, typtype, category, elem oid, name, typtype, declared typtype, typmod.
std::vector<std::optional<std::string>> Int4(const std::string &name, const std::string &attnum,
                                             const std::string &generated = "f") {
	return {name,   attnum, "23", "-1", "0",          "t",          generated,    "integer",    "b",         "23",
	        "int4", "-1",   "b",  "N",  std::nullopt, std::nullopt, std::nullopt, std::nullopt, std::nullopt};
}

TEST(TableDescription, NoRowsIsAMissingTable) {
	try {
		ParseTableDescription({}, "public.gone");
		FAIL() << "no error";
	} catch (const Error &e) {
		EXPECT_EQ(e.Kind(), ErrorKind::Source);
		EXPECT_NE(std::string(e.what()).find("public.gone"), std::string::npos) << e.what();
	}
}

TEST(TableDescription, ARowWithoutColumnFieldsIsATableWithoutColumns) {
	auto d = ParseTableDescription({Relation(std::nullopt, {})}, "16400");
	EXPECT_EQ(d.oid, 16400u);
	EXPECT_EQ(d.name, "t");
	EXPECT_TRUE(d.columns.empty());
	EXPECT_THROW(pipeline::TableSchema::FromDescription(d, meta::SyncMode::Append), Error);
}

TEST(TableDescription, KeysDomainsArraysAndGeneratedColumns) {
	std::vector<std::optional<std::string>> amount{
	    "amount",  "2",      "16387", "-1", "0",          "f",          "f",          "price",      "d",         "1700",
	    "numeric", "655366", "b",     "N",  std::nullopt, std::nullopt, std::nullopt, std::nullopt, std::nullopt};
	std::vector<std::optional<std::string>> tags{"tags",   "3",       "16388", "-1",    "1",  "f", "f",
	                                             "code[]", "b",       "16388", "_code", "-1", "b", "A",
	                                             "1043",   "varchar", "b",     "d",     "9"};
	auto d = ParseTableDescription({Relation("4 1", Int4("id", "1")), Relation("4 1", amount), Relation("4 1", tags),
	                                Relation("4 1", Int4("k", "4")), Relation("4 1", Int4("twice", "5", "t"))},
	                               "public.t");
	ASSERT_EQ(d.columns.size(), 5u);
	EXPECT_EQ(d.KeyColumns(), (std::vector<std::string>{"k", "id"}));
	EXPECT_EQ(d.columns[1].type.typtype, 'd');
	EXPECT_EQ(d.columns[1].type.name, "numeric");
	EXPECT_EQ(d.columns[1].type.typmod, 655366);
	EXPECT_EQ(d.columns[1].declared_oid, 16387u);
	EXPECT_EQ(d.columns[2].type.elem_name, "varchar");
	EXPECT_EQ(d.columns[2].type.elem_typtype, 'd');
	EXPECT_EQ(d.columns[2].type.elem_typmod, 9);
	EXPECT_TRUE(d.columns[4].generated);

	auto s = pipeline::TableSchema::FromDescription(d, meta::SyncMode::Upsert);
	EXPECT_EQ(s.column_names, (std::vector<std::string>{"id", "amount", "tags", "k"})); // generated left out
	EXPECT_EQ(s.key_columns, (std::vector<std::string>{"id", "k"}));
	EXPECT_EQ(s.lake_columns[1].type, "decimal(10,2)");
	EXPECT_EQ(s.layout.columns[1].type_oid, 16387u); // the declared (domain) type, as pgoutput sends it
}

} // namespace
} // namespace duckpipe
