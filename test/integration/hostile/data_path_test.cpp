// A --data-path that cannot hold files fails before anything is written to the lake catalog, so
// the next run is not pointed back at it and no catalog schema is left behind.
#include "harness/pipeline_fixture.hpp"

#include <filesystem>
#include <fstream>

namespace duckpipe::test {

class DataPathTest : public PipelineTest {
protected:
	static std::string Trimmed(std::string s) {
		while (!s.empty() && (s.back() == '\n' || s.back() == ' ')) {
			s.pop_back();
		}
		return s;
	}

	// Schemas pg_duckpipe creates in a lake catalog database, and the data_path it recorded.
	std::string CatalogSchemas(const std::string &catalog_db) {
		return Trimmed(Cluster().Psql(catalog_db, "SELECT coalesce(string_agg(nspname, ',' ORDER BY nspname), '') FROM "
		                                          "pg_namespace WHERE nspname IN ('ducklake', 'duckpipe')"));
	}

	// Runs the daemon against a separate lake catalog until it gives up; returns its log.
	std::string RunUntilExit(const std::string &catalog, const std::string &data_path) {
		std::filesystem::remove(log_path_);
		DaemonProcess daemon({"--source", Source(), "--lake-catalog", catalog, "--data-path", data_path, "--temp-dir",
		                      temp_path_, "run", "--flush-interval", "300"},
		                     log_path_);
		int code = daemon.Wait(30s);
		EXPECT_EQ(code, 64) << "duckpipe run with --data-path " << data_path << ":\n" << daemon.Log();
		return daemon.Log();
	}
};

TEST_F(DataPathTest, UnusablePathFailsBeforeTheCatalogRecordsIt) {
	Sql("CREATE TABLE public.t (id int PRIMARY KEY, v text)");
	Sql("INSERT INTO public.t SELECT g, 'v' || g FROM generate_series(1, 50) g");
	DuckpipeOk({"add-table", "public.t"});
	std::string catalog_db = Cluster().CreateDatabase("catalog");
	std::string catalog = Cluster().Conninfo(catalog_db);

	const std::string file = dir_->Path() + "/not-a-dir";
	std::ofstream(file) << "x";
	struct Case {
		std::string data_path;
		std::string expected;
	};
	for (const auto &c : std::vector<Case>{{file, "'" + file + "' is a file, not a directory"},
	                                       {file + "/sub/lake/", "'" + file + "' is a file, not a directory"}}) {
		auto log = RunUntilExit(catalog, c.data_path);
		EXPECT_NE(log.find("the lake data path"), std::string::npos) << log;
		EXPECT_NE(log.find(c.expected), std::string::npos) << log;
		EXPECT_NE(log.find("--data-path"), std::string::npos) << log; // what to do
		EXPECT_EQ(CatalogSchemas(catalog_db), "") << "the catalog was written before the data path failed";
	}

	// A usable path then creates the lake, records that path and syncs.
	const std::string good = dir_->Path() + "/good-lake/";
	std::filesystem::remove(log_path_);
	DaemonProcess daemon({"--source", Source(), "--lake-catalog", catalog, "--data-path", good, "--temp-dir",
	                      temp_path_, "run", "--flush-interval", "300"},
	                     log_path_);
	ASSERT_TRUE(WaitFor(
	    [&] {
		    auto r = RunDuckpipe(
		        {"--lake-catalog", catalog, "query", "SELECT count(*) FROM public.t_ducklake", "--format", "csv"});
		    return r.exit_code == 0 && r.output == "count_star()\n50\n";
	    },
	    60s))
	    << daemon.Log();
	EXPECT_EQ(
	    Trimmed(Cluster().Psql(catalog_db, "SELECT value FROM ducklake.ducklake_metadata WHERE key = 'data_path'")),
	    good);
	EXPECT_EQ(daemon.Terminate(), 0) << daemon.Log();
}

} // namespace duckpipe::test
