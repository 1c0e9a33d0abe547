#include "harness/build_paths.hpp"

namespace duckpipe::test {

const std::string &DuckpipeBinary() {
	static const std::string path = DUCKPIPE_BINARY;
	return path;
}

const std::string &SharedDir() {
	static const std::string path = DUCKPIPE_SHARED_DIR;
	return path;
}

const std::string &ExtensionPgBinDir() {
	static const std::string path = DUCKPIPE_PG_TREE_BIN;
	return path;
}

const std::string &SourceDir() {
	static const std::string path = DUCKPIPE_SOURCE_DIR;
	return path;
}

} // namespace duckpipe::test
