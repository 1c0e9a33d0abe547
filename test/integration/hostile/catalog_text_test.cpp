// Catalog text executed as SQL (a column's default expression) runs in a DuckDB that opens no file
// beyond its own temp directory and the lake's data path.
#include "harness/pipeline_fixture.hpp"

#include <fstream>

namespace duckpipe::test {

class CatalogTextTest : public PipelineTest {};

TEST_F(CatalogTextTest, DefaultExpressionCannotReadFilesOutsideTheLake) {
	allow_table_failures_ = true;
	const std::string secret_file = dir_->Path() + "/secret.txt";
	const std::string secret = "file-content-7c1e";
	std::ofstream(secret_file) << secret;

	Sql("CREATE TABLE public.t (id int PRIMARY KEY, v text)");
	Sql("INSERT INTO public.t VALUES (1, 'a')");
	DuckpipeOk({"add-table", "public.t"});
	auto daemon = StartDaemon();
	ASSERT_TRUE(WaitLakeCount("public.t_ducklake", 1)) << LogTail();

	// Someone who can write the catalog gives the lake table a column whose default reads a file.
	Sql("INSERT INTO ducklake.ducklake_column (column_id, begin_snapshot, end_snapshot, table_id, column_order, "
	    "column_name, column_type, initial_default, default_value, nulls_allowed, parent_column, default_value_type, "
	    "default_value_dialect) SELECT (SELECT max(column_id) + 1000 FROM ducklake.ducklake_column), (SELECT "
	    "max(snapshot_id) FROM ducklake.ducklake_snapshot), NULL, t.table_id, 99, 'leak', 'varchar', NULL, "
	    "'(SELECT content FROM read_text(''" +
	    secret_file +
	    "''))', true, NULL, 'expression', 'duckdb' FROM ducklake.ducklake_table t WHERE t.table_name = 't_ducklake' "
	    "AND t.end_snapshot IS NULL");
	Sql("INSERT INTO public.t VALUES (2, 'b')");
	// Either the flush fails (the sandbox) or the row lands, with the file in it (no sandbox).
	std::string error;
	ASSERT_TRUE(WaitFor(
	    [&] {
		    error = TableError("public.t");
		    return !error.empty() || LakeCount("public.t_ducklake") == 2;
	    },
	    60s))
	    << LogTail();
	EXPECT_EQ(LakeQuery("SELECT count(*) FROM public.t_ducklake WHERE leak IS NOT NULL"), (Rows{{"0"}}));
	EXPECT_NE(error.find(secret_file), std::string::npos) << error;
	EXPECT_NE(error.find("disabled by configuration"), std::string::npos) << error;
	EXPECT_EQ(daemon->Terminate(), 0);
	EXPECT_EQ(daemon->Log().find(secret), std::string::npos) << LogTail();
}

} // namespace duckpipe::test
