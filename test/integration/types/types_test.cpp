// Every PostgreSQL type of docs/data-types.md through the real daemon: the initial copy (COPY csv ->
// read_csv -> conversion), streaming (pgoutput text -> change buffer), updates, deletes and a restart
// (conversions rebuilt from the lake's column types). Values are compared column by column in a
// canonical form per type, not as text that happens to print alike.
#include "harness/pipeline_fixture.hpp"
#include "type_columns.hpp"

namespace duckpipe::test {

namespace {

constexpr const char *kTable = "public.alltypes";
constexpr const char *kLakeTable = "public.alltypes_ducklake";

std::string Clip(const std::string &s) {
	std::string out = s.size() > 160 ? s.substr(0, 160) + "...(" + std::to_string(s.size()) + " bytes)" : s;
	for (auto &c : out) {
		if (c == '\x1f') {
			c = '|';
		}
	}
	return out;
}

} // namespace

class TypesTest : public PipelineTest {
protected:
	// Empty when the lake holds exactly the source's rows and values; else what differs.
	std::string ValueDifferences() {
		Rows source = Sql(SourceCanonicalSql(kTable));
		Rows lake;
		try {
			lake = LakeQuery(LakeCanonicalSql(kLakeTable));
		} catch (const std::exception &e) {
			return std::string("cannot read the lake: ") + e.what();
		}
		std::string out;
		std::map<std::string, const std::vector<std::string> *> lake_by_id;
		for (const auto &row : lake) {
			lake_by_id[row[0]] = &row;
		}
		if (lake.size() != source.size()) {
			out += "lake has " + std::to_string(lake.size()) + " rows, source " + std::to_string(source.size()) + "\n";
		}
		const auto &columns = TypeColumns();
		for (const auto &row : source) {
			auto it = lake_by_id.find(row[0]);
			if (it == lake_by_id.end()) {
				out += "row id=" + row[0] + " missing from the lake\n";
				continue;
			}
			for (size_t i = 0; i < columns.size(); i++) {
				auto want = Normalise(columns[i], row[i + 1]);
				auto got = Normalise(columns[i], (*it->second)[i + 1]);
				if (want != got) {
					out += "id=" + row[0] + " column " + columns[i].name + " (" + columns[i].pg_type + "): source [" +
					       Clip(want) + "] lake [" + Clip(got) + "]\n";
				}
			}
			lake_by_id.erase(it);
		}
		for (const auto &[id, row] : lake_by_id) {
			out += "row id=" + id + " in the lake but not in the source\n";
		}
		return out;
	}

	::testing::AssertionResult WaitValuesEqual(std::chrono::milliseconds timeout = 60s) {
		std::string diff;
		bool ok = WaitFor(
		    [&] {
			    diff = ValueDifferences();
			    return diff.empty();
		    },
		    timeout, 300ms);
		if (ok) {
			return ::testing::AssertionSuccess();
		}
		return ::testing::AssertionFailure() << "lake differs from source (table state " << TableState(kTable)
		                                     << ", error '" << TableError(kTable) << "'):\n"
		                                     << diff;
	}

	void InsertRows(int id_offset) {
		for (const auto &row : TypeRows()) {
			Sql(InsertSql(row, id_offset));
		}
	}

	// ducklake_column.column_type of each top-level column (lists: "list<element type>").
	std::map<std::string, std::string> LakeColumnTypes() {
		auto rows = Sql("SELECT c.column_name, c.column_type || coalesce('<' || (SELECT e.column_type FROM "
		                "ducklake.ducklake_column e WHERE e.table_id = c.table_id AND e.parent_column = c.column_id "
		                "AND e.end_snapshot IS NULL) || '>', '') FROM ducklake.ducklake_column c JOIN "
		                "ducklake.ducklake_table t ON t.table_id = c.table_id AND t.end_snapshot IS NULL "
		                "WHERE t.table_name = 'alltypes_ducklake' AND c.end_snapshot IS NULL AND c.parent_column IS "
		                "NULL");
		std::map<std::string, std::string> out;
		for (const auto &r : rows) {
			out[r[0]] = r[1];
		}
		return out;
	}
};

TEST_F(TypesTest, EveryTypeKeepsItsValueThroughCopyStreamUpdateDeleteAndRestart) {
	Sql(TypesDdl());
	// Server-side output settings a user may have: the daemon's sessions override them (the test's
	// own connection was opened before, with the same overrides).
	Sql("ALTER DATABASE \"" + Db() + "\" SET bytea_output = 'escape'");
	Sql("ALTER DATABASE \"" + Db() + "\" SET DateStyle = 'SQL, DMY'");
	Sql("ALTER DATABASE \"" + Db() + "\" SET IntervalStyle = 'sql_standard'");
	Sql("ALTER DATABASE \"" + Db() + "\" SET extra_float_digits = 0");
	Sql("ALTER DATABASE \"" + Db() + "\" SET TimeZone = 'Asia/Kolkata'");
	InsertRows(0); // snapshot path
	DuckpipeOk({"add-table", kTable});
	auto daemon = StartDaemon();
	ASSERT_TRUE(WaitTableState(kTable, "STREAMING", 60s)) << TableState(kTable) << " " << TableError(kTable);
	ASSERT_TRUE(WaitValuesEqual()) << "after the initial copy";

	// The lake column types are the ones docs/data-types.md lists.
	auto types = LakeColumnTypes();
	EXPECT_EQ(types["id"], "int32");
	for (const auto &c : TypeColumns()) {
		std::string want = c.lake_type == "list" ? "list<" + c.element_lake_type + ">" : c.lake_type;
		EXPECT_EQ(types[c.name], want) << "lake type of " << c.name << " (" << c.pg_type << ")";
	}

	InsertRows(1000); // streaming path: the same values again
	ASSERT_TRUE(WaitValuesEqual()) << "after streaming inserts";

	// Updates: whole rows replaced by other rows' values (snapshot and streamed rows alike), a row
	// set to NULL everywhere, an update leaving the TOASTed values unchanged, a key change; deletes.
	Sql(CopyRowSql(3, 1001));
	Sql(CopyRowSql(7, 2));
	Sql(CopyRowSql(2, 1003));
	Sql(CopyRowSql(1, 1004));
	Sql(CopyRowSql(6, 1002));
	Sql("UPDATE public.alltypes SET i2 = 8 WHERE id IN (8, 1008)");
	Sql("UPDATE public.alltypes SET id = 3000 WHERE id = 1007");
	Sql("DELETE FROM public.alltypes WHERE id IN (5, 1006, 1009)");
	ASSERT_TRUE(WaitValuesEqual()) << "after updates and deletes";
	EXPECT_EQ(LakeQuery("SELECT length(t) FROM public.alltypes_ducklake WHERE id = 1008")[0][0], "160000");

	// A restarted daemon rebuilds the conversions from the lake's column types.
	ASSERT_EQ(daemon->Terminate(), 0);
	InsertRows(2000);
	Sql(CopyRowSql(4, 1001));
	Sql("DELETE FROM public.alltypes WHERE id = 2001");
	daemon = StartDaemon();
	EXPECT_TRUE(WaitValuesEqual()) << "after a restart";
	EXPECT_EQ(TableState(kTable), "STREAMING");
	EXPECT_EQ(daemon->Terminate(), 0);
}

// A multi-dimensional value in a column declared one-dimensional cannot fit the lake's list: the
// table stops with a message naming the column and the fix, and the fix works.
TEST_F(TypesTest, MultiDimensionalValueInOneDimensionalColumn) {
	allow_table_failures_ = true;
	Sql("CREATE TABLE public.grid (id int PRIMARY KEY, cells int4[])");
	Sql("INSERT INTO public.grid VALUES (1, '{1,2}')");
	DuckpipeOk({"add-table", "public.grid"});
	auto daemon = StartDaemon();
	ASSERT_TRUE(WaitTableState("public.grid", "STREAMING", 60s)) << TableState("public.grid");
	Sql("INSERT INTO public.grid VALUES (2, '{{1,2},{3,4}}')");
	ASSERT_TRUE(WaitTableState("public.grid", "ERRORED", 60s)) << TableState("public.grid");
	auto error = TableError("public.grid");
	EXPECT_NE(error.find("\"cells\""), std::string::npos) << error;
	EXPECT_NE(error.find("[][]"), std::string::npos) << error;
	EXPECT_NE(error.find("resync-table"), std::string::npos) << error;

	// The fix the message gives: declare the dimensions and copy again; the column becomes the
	// array's text.
	Sql("ALTER TABLE public.grid ALTER COLUMN cells TYPE int4[][]");
	DuckpipeOk({"resync-table", "public.grid"});
	EXPECT_TRUE(WaitLakeEqualsSource("public.grid", 90s));
	EXPECT_EQ(LakeQuery("SELECT cells FROM public.grid_ducklake ORDER BY id"), (Rows{{"{1,2}"}, {"{{1,2},{3,4}}"}}));
	EXPECT_EQ(daemon->Terminate(), 0);
}

// DuckDB's TIMESTAMP ends in 294247 AD, PostgreSQL's in 294276 AD: such a value stops the table with
// a message naming the column rather than storing something else.
TEST_F(TypesTest, TimestampBeyondDuckDbRangeStopsTheTable) {
	allow_table_failures_ = true;
	Sql("CREATE TABLE public.far (id int PRIMARY KEY, ts timestamp)");
	Sql("INSERT INTO public.far VALUES (1, '294247-01-01 00:00:00')");
	DuckpipeOk({"add-table", "public.far"});
	auto daemon = StartDaemon();
	ASSERT_TRUE(WaitTableState("public.far", "STREAMING", 60s)) << TableState("public.far");
	Sql("INSERT INTO public.far VALUES (2, '294270-01-01 00:00:00')");
	ASSERT_TRUE(WaitTableState("public.far", "ERRORED", 60s)) << TableState("public.far");
	auto error = TableError("public.far");
	EXPECT_NE(error.find("column \"ts\""), std::string::npos) << error;

	// The same value met by the initial copy is named the same way.
	Sql("CREATE TABLE public.far_copy (id int PRIMARY KEY, ok text, ts timestamp)");
	Sql("INSERT INTO public.far_copy VALUES (1, 'a', '2020-01-01'), (2, 'b', '294270-01-01 00:00:00')");
	DuckpipeOk({"add-table", "public.far_copy"});
	ASSERT_TRUE(WaitTableState("public.far_copy", "ERRORED", 60s)) << TableState("public.far_copy");
	error = TableError("public.far_copy");
	EXPECT_NE(error.find("initial copy failed: cannot convert column \"ts\" of public.far_copy"), std::string::npos)
	    << error;
	EXPECT_EQ(daemon->Terminate(), 0);
}

} // namespace duckpipe::test
