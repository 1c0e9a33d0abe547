#pragma once

#include <string>

namespace duckpipe::test {

// Where the build put things. Defined in one file only, so that the other test objects do not
// depend on the checkout's path (work trees then share compiled objects through ccache).
const std::string &DuckpipeBinary();
const std::string &SharedDir();
// The server binaries of the build's private PostgreSQL tree, which has pg_duckpipe installed
// (scripts/pg_private_tree.sh, run by the build).
const std::string &ExtensionPgBinDir();
// The checkout (for scripts and SQL sources).
const std::string &SourceDir();

} // namespace duckpipe::test
