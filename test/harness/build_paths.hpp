#pragma once

#include <string>

namespace duckpipe::test {

// Where the build put things. Defined in one file only, so that the other test objects do not
// depend on the checkout's path (work trees then share compiled objects through ccache).
const std::string &DuckpipeBinary();
const std::string &SharedDir();

} // namespace duckpipe::test
