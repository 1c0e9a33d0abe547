#include "harness/golden_lake.hpp"
#include "harness/build_paths.hpp"

#include "harness/process.hpp"

#include <filesystem>
#include <fstream>
#include <sstream>
#include <stdexcept>

namespace fs = std::filesystem;

namespace duckpipe::test {

static std::string ReadFile(const std::string &path) {
	std::ifstream in(path);
	if (!in) {
		throw std::runtime_error("cannot read " + path);
	}
	std::stringstream ss;
	ss << in.rdbuf();
	return ss.str();
}

std::string GoldenLake::SourceDir() {
	return SharedDir() + "/ducklake-golden";
}

std::string GoldenLake::Expected(const std::string &name) {
	return ReadFile(SourceDir() + "/expected/" + name);
}

GoldenLake::GoldenLake(PgCluster &cluster) : cluster_(cluster) {
	db_ = cluster_.CreateDatabase("golden");
	data_dir_ = std::make_unique<TempDir>("duckpipe-golden");
	fs::copy(SourceDir() + "/data", data_dir_->Path(), fs::copy_options::recursive);

	std::string sql = ReadFile(SourceDir() + "/catalog.sql");
	const std::string placeholder = "@DATA_PATH@";
	for (size_t pos = sql.find(placeholder); pos != std::string::npos; pos = sql.find(placeholder, pos)) {
		sql.replace(pos, placeholder.size(), DataPath());
	}
	std::string sql_path = data_dir_->Path() + "/catalog.sql";
	std::ofstream(sql_path) << sql;
	auto res = RunCommand({"psql", "-X", "-q", "-v", "ON_ERROR_STOP=1", "-h", cluster_.SocketDir(), "-p",
	                       std::to_string(cluster_.Port()), "-U", "postgres", "-d", db_, "-f", sql_path});
	if (res.exit_code != 0) {
		throw std::runtime_error("loading the golden catalog failed: " + res.output);
	}
	fs::remove(sql_path);
}

} // namespace duckpipe::test
