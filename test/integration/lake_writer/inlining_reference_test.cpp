// Inlined data as the official DuckLake reader (the DuckDB ducklake extension, PostgreSQL catalog)
// reads it, emulated from its source: DuckLakeMultiFileReader::TryCreateInlinedDataReader reads each
// registered ducklake_inlined_data_<T>_<V> with the table's columns at
// DuckLakeMetadataManager::GetBeginSnapshotForSchemaVersion(T, V) (the begin_snapshot of the
// (T, V) ducklake_schema_versions row, else the table's creation), by name, with a PostgreSQL cast
// to the type PostgresMetadataManager::GetColumnTypeInternal gives natively stored columns
// (CastColumnToTarget), and rows `S >= begin_snapshot AND (S < end_snapshot OR end_snapshot IS
// NULL)` (ReadInlinedData). Its writer inserts positionally into the table's inlined table of the
// highest registered schema version (WriteNewInlinedData), so that one must have the table's
// current columns.
#include "core/lake/lake_maintenance.hpp"
#include "core/lake/write/inlined_data_flusher.hpp"
#include "core/lake/write/parquet_file_writer.hpp"
#include "writer_fixture.hpp"

#include <gtest/gtest.h>

#include <map>

using namespace duckpipe;
using namespace duckpipe::test;

namespace {

// The column type of an inlined table as the reference creates it in a PostgreSQL catalog
// (DuckLakeMetadataManager::GetColumnType with PostgresMetadataManager's TypeIsNativelySupported
// and GetColumnTypeInternal), spelt as PostgreSQL's format_type spells it.
std::string ReferencePgType(const std::string &lake_type) {
	static const std::map<std::string, std::string> kTypes = {
	    {"boolean", "boolean"},
	    {"int8", "smallint"},
	    {"int16", "smallint"},
	    {"int32", "integer"},
	    {"int64", "bigint"},
	    {"uint8", "integer"},
	    {"uint16", "integer"},
	    {"uint32", "bigint"},
	    {"uint64", "character varying"},
	    {"int128", "character varying"},
	    {"uint128", "character varying"},
	    {"float32", "real"},
	    {"float64", "double precision"},
	    {"date", "character varying"},
	    {"time", "time without time zone"},
	    {"timetz", "time with time zone"},
	    {"timestamp", "character varying"},
	    {"timestamptz", "character varying"},
	    {"timestamp_s", "character varying"},
	    {"timestamp_ms", "character varying"},
	    {"timestamp_ns", "character varying"},
	    {"interval", "interval"},
	    {"uuid", "uuid"},
	    {"varchar", "bytea"},
	    {"json", "bytea"},
	    {"blob", "bytea"},
	    {"list", "character varying"},
	    {"struct", "character varying"},
	    {"map", "character varying"},
	};
	if (lake_type.starts_with("decimal(")) {
		return "numeric" + lake_type.substr(7);
	}
	auto it = kTypes.find(lake_type);
	return it == kTypes.end() ? "<not inlined: " + lake_type + ">" : it->second;
}

struct ColumnAt {
	std::string id, name, type;
};

// The table's top-level columns at snapshot `at`, in order.
std::vector<ColumnAt> ColumnsAt(PgConnection &conn, int64_t table_id, const std::string &at) {
	auto r = conn.Exec("SELECT column_id, column_name, column_type FROM ducklake.ducklake_column WHERE table_id = $1 "
	                   "AND parent_column IS NULL AND begin_snapshot <= $2::bigint AND (end_snapshot IS NULL OR "
	                   "end_snapshot > $2::bigint) ORDER BY column_order",
	                   {std::to_string(table_id), at});
	std::vector<ColumnAt> out;
	for (int i = 0; i < r.Rows(); i++) {
		out.push_back({std::string(r.Get(i, 0)), std::string(r.Get(i, 1)), std::string(r.Get(i, 2))});
	}
	return out;
}

// What the reference reads of the table's inlined rows at `snapshot`, as "row_id|c1|c2..." over
// the table's columns at `snapshot` (a column an inlined table lacks reads NULL). Every registered
// inlined table must have exactly the columns (names, order and types) the reference expects.
Rows ReferenceRead(const std::string &conninfo, int64_t table_id, int64_t snapshot) {
	PgConnection conn(conninfo);
	const auto T = std::to_string(table_id);
	const auto now = ColumnsAt(conn, table_id, std::to_string(snapshot));
	auto tables = conn.Exec("SELECT table_name, schema_version FROM ducklake.ducklake_inlined_data_tables WHERE "
	                        "table_id = $1 ORDER BY schema_version",
	                        {T});
	Rows out;
	for (int t = 0; t < tables.Rows(); t++) {
		const std::string name(tables.Get(t, 0));
		auto begin = conn.Exec("SELECT begin_snapshot FROM ducklake.ducklake_schema_versions WHERE table_id = $1 AND "
		                       "schema_version = $2 UNION ALL (SELECT begin_snapshot FROM ducklake.ducklake_table "
		                       "WHERE table_id = $1 ORDER BY begin_snapshot LIMIT 1) LIMIT 1",
		                       {T, std::string(tables.Get(t, 1))});
		const auto at = ColumnsAt(conn, table_id, std::string(begin.Get(0, 0)));
		// The physical table is what the reference would have created for those columns.
		auto attrs = conn.Exec("SELECT attname, format_type(atttypid, atttypmod) FROM pg_attribute WHERE attrelid = "
		                       "('ducklake.' || quote_ident($1))::regclass AND attnum > 0 AND NOT attisdropped "
		                       "ORDER BY attnum",
		                       {name});
		Rows physical, expected{"row_id bigint", "begin_snapshot bigint", "end_snapshot bigint"};
		for (int i = 0; i < attrs.Rows(); i++) {
			physical.push_back(std::string(attrs.Get(i, 0)) + " " + std::string(attrs.Get(i, 1)));
		}
		for (const auto &c : at) {
			expected.push_back(c.name + " " + ReferencePgType(c.type));
		}
		EXPECT_EQ(physical, expected) << name << " read with the columns at snapshot " << begin.Get(0, 0);
		// The reference's projection, by name, natively stored columns cast in PostgreSQL.
		std::string select = "row_id";
		for (const auto &c : now) {
			std::string expr = "NULL";
			for (const auto &a : at) {
				if (a.id != c.id) {
					continue;
				}
				auto q = conn.QuoteIdent(a.name);
				auto pg = ReferencePgType(a.type);
				if (a.type == "blob") {
					expr = "encode(" + q + ", 'hex')";
				} else if (pg == "bytea") {
					expr = "convert_from(" + q + ", 'UTF8')";
				} else if (pg == "character varying") {
					expr = q + "::text";
				} else {
					expr = "(" + q + "::" + pg + ")::text";
				}
			}
			select += ", " + expr;
		}
		auto rows = conn.Exec("SELECT " + select + " FROM ducklake." + conn.QuoteIdent(name) + " WHERE " +
		                      std::to_string(snapshot) + " >= begin_snapshot AND (" + std::to_string(snapshot) +
		                      " < end_snapshot OR end_snapshot IS NULL) ORDER BY row_id");
		for (int i = 0; i < rows.Rows(); i++) {
			std::string line;
			for (int c = 0; c < rows.Columns(); c++) {
				line += (c ? "|" : "") + (rows.IsNull(i, c) ? std::string("NULL") : std::string(rows.Get(i, c)));
			}
			out.push_back(line);
		}
	}
	return out;
}

// The columns of the table's inlined table with the highest registered schema version, the one
// the reference's writer inserts into (positionally).
Rows LatestInlinedColumns(const std::string &conninfo, int64_t table_id) {
	return PgRows(conninfo, "SELECT attname || ' ' || format_type(atttypid, atttypmod) FROM pg_attribute WHERE "
	                        "attrelid = ('ducklake.' || quote_ident((SELECT table_name FROM "
	                        "ducklake.ducklake_inlined_data_tables WHERE table_id = " +
	                            std::to_string(table_id) +
	                            " ORDER BY schema_version DESC LIMIT 1)))::regclass AND attnum > 0 AND NOT "
	                            "attisdropped ORDER BY attnum");
}

struct InlineLake {
	TestLake lake;
	lake::LakeWriter writer;
	Staging staging;

	explicit InlineLake(const std::string &prefix) : lake(prefix), writer(lake.config) {
		// Before the writer's first inlining decision, which reads the limit.
		Pg("UPDATE ducklake.ducklake_metadata SET value = '10' WHERE key = 'data_inlining_row_limit'");
	}
	int64_t Create(const std::string &name, std::vector<lake::LakeColumn> columns) {
		auto c = writer.Begin();
		auto h = c.CreateTable("main", name, std::move(columns));
		c.Commit();
		return c.ResolveId(h);
	}
	int64_t Inline(int64_t table, const std::string &sql) {
		auto c = writer.Begin();
		c.AllowInlining();
		c.Insert(table, *staging.duck, sql);
		return c.Commit();
	}
	Rows Pg(const std::string &sql) { return PgRows(lake.Conninfo(), sql); }
	Rows Registered(int64_t table) {
		return Pg("SELECT table_name FROM ducklake.ducklake_inlined_data_tables WHERE table_id = " +
		          std::to_string(table) + " ORDER BY schema_version");
	}
};

} // namespace

// The lake's schema version moves with every table's changes; a table's inlined rows go into the
// inlined table of its own latest version, which the reference reads with the right columns, and
// a column change of a table with inlined tables gets the new version's inlined table at once.
TEST(LakeWriterInlining, ReferenceReadsInlinedRowsAcrossSchemaChanges) {
	InlineLake f("w_inl_versions");
	const auto t = f.Create("t", {Col("id", "int64"), Col("v", "varchar")});
	const auto T = std::to_string(t);
	const auto s2 = f.Inline(t, "SELECT 1 AS id, 'one' AS v UNION ALL SELECT 2, 'two ü'");
	EXPECT_EQ(f.Pg("SELECT count(*) FROM ducklake.ducklake_data_file"), (Rows{"0"}));
	EXPECT_EQ(f.Registered(t), (Rows{"ducklake_inlined_data_" + T + "_1"}));

	// Another table's creation moves the lake's schema version, not t's: same inlined table.
	f.Create("u", {Col("x", "int32")});
	const auto s4 = f.Inline(t, "SELECT 3 AS id, NULL AS v");
	EXPECT_EQ(f.Registered(t), (Rows{"ducklake_inlined_data_" + T + "_1"}));
	EXPECT_EQ(ReferenceRead(f.lake.Conninfo(), t, s4), (Rows{"0|1|one", "1|2|two ü", "2|3|NULL"}));
	EXPECT_EQ(ReferenceRead(f.lake.Conninfo(), t, s2), (Rows{"0|1|one", "1|2|two ü"}));

	// t's columns change (version 3): the reference's writer would now insert into t's latest
	// inlined table, so it is created with the new columns in that commit.
	auto c = f.writer.Begin();
	c.RenameColumn(t, "v", "label");
	c.AddColumn(t, Col("extra", "int32"));
	const auto s5 = c.Commit();
	EXPECT_EQ(f.Registered(t), (Rows{"ducklake_inlined_data_" + T + "_1", "ducklake_inlined_data_" + T + "_3"}));
	EXPECT_EQ(LatestInlinedColumns(f.lake.Conninfo(), t),
	          (Rows{"row_id bigint", "begin_snapshot bigint", "end_snapshot bigint", "id bigint", "label bytea",
	                "extra integer"}));
	EXPECT_EQ(ReferenceRead(f.lake.Conninfo(), t, s5), (Rows{"0|1|one|NULL", "1|2|two ü|NULL", "2|3|NULL|NULL"}));

	f.Create("w", {Col("y", "int32")}); // version 4
	const auto s7 = f.Inline(t, "SELECT 4 AS id, 'four' AS label, 44 AS extra");
	EXPECT_EQ(f.Registered(t), (Rows{"ducklake_inlined_data_" + T + "_1", "ducklake_inlined_data_" + T + "_3"}));
	EXPECT_EQ(
	    f.Pg("SELECT row_id, id, convert_from(label, 'UTF8'), extra FROM ducklake.ducklake_inlined_data_" + T + "_3"),
	    (Rows{"3|4|four|44"}));
	EXPECT_EQ(ReferenceRead(f.lake.Conninfo(), t, s7),
	          (Rows{"0|1|one|NULL", "1|2|two ü|NULL", "2|3|NULL|NULL", "3|4|four|44"}));

	// A delete ends an inlined row in place (end_snapshot = S): read before and not after.
	auto d = f.writer.Begin();
	d.DeleteByKey(t, *f.staging.duck, {"id"}, "SELECT 2 AS id UNION ALL SELECT 4");
	const auto s8 = d.Commit();
	EXPECT_EQ(
	    f.Pg("SELECT changes_made FROM ducklake.ducklake_snapshot_changes WHERE snapshot_id = " + std::to_string(s8)),
	    (Rows{"inlined_delete:" + T}));
	EXPECT_EQ(ReferenceRead(f.lake.Conninfo(), t, s8), (Rows{"0|1|one|NULL", "2|3|NULL|NULL"}));
	EXPECT_EQ(ReferenceRead(f.lake.Conninfo(), t, s7),
	          (Rows{"0|1|one|NULL", "1|2|two ü|NULL", "2|3|NULL|NULL", "3|4|four|44"}));

	// Dropping a column: the new latest inlined table lacks it; old rows are read without it.
	auto g = f.writer.Begin();
	g.DropColumn(t, "extra");
	const auto s9 = g.Commit();
	EXPECT_EQ(LatestInlinedColumns(f.lake.Conninfo(), t),
	          (Rows{"row_id bigint", "begin_snapshot bigint", "end_snapshot bigint", "id bigint", "label bytea"}));
	EXPECT_EQ(ReferenceRead(f.lake.Conninfo(), t, s9), (Rows{"0|1|one", "2|3|NULL"}));
	// Our reader reads the same at every snapshot.
	EXPECT_EQ(LakeRowsAt(f.lake.Conninfo(), s9, "SELECT id, label FROM main.t ORDER BY id"), (Rows{"1|one", "3|NULL"}));
	EXPECT_EQ(LakeRowsAt(f.lake.Conninfo(), s7, "SELECT id, label, extra FROM main.t ORDER BY id"),
	          (Rows{"1|one|NULL", "2|two ü|NULL", "3|NULL|NULL", "4|four|44"}));
	// Every registered inlined table has a schema_versions row for its table and version, so the
	// reference never falls back to the table's creation columns.
	EXPECT_EQ(f.Pg("SELECT count(*) FROM ducklake.ducklake_inlined_data_tables r WHERE NOT EXISTS (SELECT 1 FROM "
	               "ducklake.ducklake_schema_versions v WHERE v.table_id = r.table_id AND v.schema_version = "
	               "r.schema_version)"),
	          (Rows{"0"}));
}

// A table written without any ducklake_schema_versions row (an older writer) gets one with its
// first inlined table, so the reference reads that table with the current columns.
TEST(LakeWriterInlining, TableWithoutSchemaVersionRowsGetsOne) {
	InlineLake f("w_inl_norow");
	const auto t = f.Create("t", {Col("id", "int64")});
	f.Pg("DELETE FROM ducklake.ducklake_schema_versions");
	f.Create("u", {Col("x", "int32")}); // the lake's version moves on (2)
	const auto s = f.Inline(t, "SELECT 5 AS id");
	EXPECT_EQ(f.Registered(t), (Rows{"ducklake_inlined_data_" + std::to_string(t) + "_2"}));
	EXPECT_EQ(f.Pg("SELECT begin_snapshot, schema_version FROM ducklake.ducklake_schema_versions WHERE table_id = " +
	               std::to_string(t)),
	          (Rows{std::to_string(s) + "|2"}));
	EXPECT_EQ(ReferenceRead(f.lake.Conninfo(), t, s), (Rows{"0|5"}));
}

// Every type we inline, stored as the reference stores it and read back by the reference's path:
// natively stored columns through the PostgreSQL cast it adds, strings and BLOBs as BYTEA bytes,
// the rest as text that DuckDB casts back to the lake type (TransformInlinedData).
TEST(LakeWriterInlining, EveryInlinedTypeReadsBackThroughTheReferencePath) {
	InlineLake f("w_inl_types");
	const std::vector<std::pair<std::string, std::string>> columns = {
	    {"boolean", "true"},
	    {"int8", "-8"},
	    {"int16", "-16"},
	    {"int32", "-32"},
	    {"int64", "-64"},
	    {"uint8", "255"},
	    {"uint16", "65535"},
	    {"uint32", "4294967295"},
	    {"uint64", "18446744073709551615"},
	    {"int128", "-1267650600228229401496703205376"}, // Parquet holds them as DOUBLE: 2^100 is exact
	    {"uint128", "1267650600228229401496703205376"},
	    {"float32", "1.5"},
	    {"float64", "-2.25"},
	    {"decimal(18,3)", "-123456789012345.678"},
	    {"date", "5877642-06-25 (BC)"},
	    {"time", "23:59:59.999999"},
	    {"timetz", "12:34:56+05:30"},
	    {"timestamp", "294247-01-10 04:00:54.775806"},
	    {"timestamptz", "2024-02-01 08:30:00.123456+00"},
	    {"timestamp_s", "2024-02-01 08:30:00"},
	    {"timestamp_ms", "2024-02-01 08:30:00.123"},
	    {"timestamp_ns", "2024-02-01 08:30:00.123456789"},
	    {"interval", "1 year 2 months 3 days 04:05:06.789"},
	    {"uuid", "a0eebc99-9c0b-4ef8-bb6d-6bb9bd380a11"},
	    {"varchar", "it''s ü"},
	    {"json", "{\"a\": [1, null]}"},
	    {"blob", "\\x00\\xFFab"},
	};
	std::vector<lake::LakeColumn> cols;
	std::string select;
	for (size_t i = 0; i < columns.size(); i++) {
		auto name = "c" + std::to_string(i);
		cols.push_back(Col(name, columns[i].first));
		auto type = lake::ParquetFileWriter::DuckType(cols.back());
		select += std::string(i ? ", " : "") + "CAST('" + columns[i].second + "' AS " + type + ") AS " + name;
	}
	const auto t = f.Create("types", cols);
	const auto s = f.Inline(
	    t, "SELECT " + select + " UNION ALL SELECT " + [&] {
		    std::string nulls;
		    for (size_t i = 0; i < columns.size(); i++) {
			    nulls += std::string(i ? ", " : "") + "NULL";
		    }
		    return nulls;
	    }());
	ASSERT_EQ(f.Pg("SELECT count(*) FROM ducklake.ducklake_data_file"), (Rows{"0"})) << "not inlined";
	const auto file = f.lake.dir->Path() + "/expected.parquet";
	f.staging.duck->Execute("COPY (SELECT " + select + ") TO " + DuckConnection::QuoteLiteral(file) +
	                        " (FORMAT parquet)");
	auto read = ReferenceRead(f.lake.Conninfo(), t, s); // also checks every column's stored type
	ASSERT_EQ(read.size(), 2u);
	// Text as PostgreSQL gives it (native types after the reference's cast, text as stored, BYTEA
	// decoded); the text-stored ones are what DuckDB casts back from (checked below).
	std::vector<std::string> values;
	size_t from = 0;
	for (size_t i = 0; i <= read[0].size(); i++) {
		if (i == read[0].size() || read[0][i] == '|') {
			values.push_back(read[0].substr(from, i - from));
			from = i + 1;
		}
	}
	ASSERT_EQ(values.size(), columns.size() + 1);
	for (size_t i = 0; i < columns.size(); i++) {
		const auto &[type, literal] = columns[i];
		auto duck_type = lake::ParquetFileWriter::DuckType(cols[i]);
		const auto &stored = values[i + 1];
		std::string back;
		if (type == "blob") {
			back = "from_hex('" + stored + "')";
		} else {
			std::string escaped;
			for (char ch : stored) {
				escaped += ch == '\'' ? std::string("''") : std::string(1, ch);
			}
			back = "CAST('" + escaped + "' AS " + duck_type + ")";
		}
		// What the Parquet file of the same rows gives (Parquet has no 128-bit integers and DuckDB
		// writes a timetz without its offset: the inlined row holds what the file would have).
		EXPECT_EQ(DuckRows(*f.staging.duck, "SELECT " + back + " = CAST(c" + std::to_string(i) + " AS " + duck_type +
		                                        "), CAST(c" + std::to_string(i) + " AS " + duck_type + ") = CAST('" +
		                                        literal + "' AS " + duck_type + ") FROM read_parquet(" +
		                                        DuckConnection::QuoteLiteral(file) + ") WHERE c0 IS NOT NULL"),
		          (Rows{type == "timetz" ? "true|false" : "true|true"}))
		    << type << ": stored " << stored;
	}
	std::string nulls = "1";
	for (size_t i = 0; i < columns.size(); i++) {
		nulls += "|NULL";
	}
	EXPECT_EQ(read[1], nulls);

	// Non-finite floats: DuckDB's text of them is PostgreSQL input too.
	const auto fl = f.Create("floats", {Col("f32", "float32"), Col("f64", "float64")});
	const auto s2 = f.Inline(fl, "SELECT 'nan'::FLOAT AS f32, 'inf'::DOUBLE AS f64 UNION ALL SELECT '-inf', 'nan'");
	EXPECT_EQ(ReferenceRead(f.lake.Conninfo(), fl, s2), (Rows{"0|NaN|Infinity", "1|-Infinity|NaN"}));
}

// Expiry keeps the table's and columns' rows an older inlined table that still holds rows is read
// with (the reference reads it by name with the columns at its version's begin_snapshot), and
// lets them go once the rows have moved to Parquet.
TEST(LakeWriterInlining, ExpiryKeepsTheColumnsOldInlinedTablesAreReadWith) {
	InlineLake f("w_inl_expire");
	const auto t = f.Create("t", {Col("id", "int64"), Col("v", "varchar")});
	f.Inline(t, "SELECT 1 AS id, 'one' AS v UNION ALL SELECT 2, 'two'");
	auto c = f.writer.Begin();
	c.RenameColumn(t, "v", "label");
	c.AddColumn(t, Col("extra", "int32"));
	c.Commit();
	f.Inline(t, "SELECT 3 AS id, 'three' AS label, 33 AS extra");
	auto d = f.writer.Begin();
	d.DeleteByKey(t, *f.staging.duck, {"id"}, "SELECT 2 AS id");
	const auto head = d.Commit();

	lake::LakeMaintenance maintenance(f.lake.config);
	EXPECT_GT(maintenance.ExpireSnapshots("0 seconds").snapshots_expired, 0);
	EXPECT_EQ(f.Pg("SELECT count(*) FROM ducklake.ducklake_snapshot"), (Rows{"1"}));
	EXPECT_EQ(f.Pg("SELECT count(*) FROM ducklake.ducklake_inlined_data_" + std::to_string(t) + "_1"),
	          (Rows{"1"})); // the deleted row no snapshot sees is gone
	EXPECT_EQ(ReferenceRead(f.lake.Conninfo(), t, head), (Rows{"0|1|one|NULL", "2|3|three|33"}));
	EXPECT_EQ(LakeRows(f.lake.Conninfo(), "SELECT id, label, extra FROM main.t ORDER BY id"),
	          (Rows{"1|one|NULL", "3|three|33"}));

	// Once the rows are in Parquet, the next expiry removes the old column rows.
	lake::FlushInlinedData(f.writer, t);
	EXPECT_GT(maintenance.ExpireSnapshots("0 seconds").snapshots_expired, 0);
	EXPECT_EQ(f.Pg("SELECT count(*) FROM ducklake.ducklake_column WHERE end_snapshot IS NOT NULL"), (Rows{"0"}));
	EXPECT_EQ(LakeRows(f.lake.Conninfo(), "SELECT id, label, extra FROM main.t ORDER BY id"),
	          (Rows{"1|one|NULL", "3|three|33"}));

	// A table gone for good: its inlined tables are dropped with their registration.
	ASSERT_EQ(f.Registered(t).size(), 2u);
	auto drop = f.writer.Begin();
	drop.DropTable(t);
	drop.Commit();
	EXPECT_GT(maintenance.ExpireSnapshots("0 seconds").snapshots_expired, 0);
	EXPECT_TRUE(f.Registered(t).empty());
	EXPECT_EQ(f.Pg("SELECT count(*) FROM pg_tables WHERE schemaname = 'ducklake' AND tablename LIKE "
	               "'ducklake_inlined_data_" +
	               std::to_string(t) + "_%'"),
	          (Rows{"0"}));
}
