#pragma once

#include <string>

namespace duckpipe {

// Creates a fresh directory `<base>/<prefix>XXXXXX` with mkdtemp: a name no one else holds (an
// existing file, directory or symlink of that name is never reused) and mode 0700, so other local
// users can neither read the rows spilled into it nor plant files in it. An empty base means the
// system temp directory; a missing base is created. Throws Error(Io) naming the base directory and
// the fix; `table` goes into the error's context.
std::string CreatePrivateDirectory(const std::string &base, const std::string &prefix, const std::string &table = {});

} // namespace duckpipe
