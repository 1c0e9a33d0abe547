#include "core/common/private_dir.hpp"

#include "core/common/error.hpp"

#include <cerrno>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <sys/stat.h>

namespace duckpipe {

std::string CreatePrivateDirectory(const std::string &base, const std::string &prefix, const std::string &table) {
	namespace fs = std::filesystem;
	std::error_code ec;
	fs::path dir = base.empty() ? fs::temp_directory_path(ec) : fs::path(base);
	if (dir.empty()) {
		dir = "/tmp";
	}
	fs::create_directories(dir, ec);
	std::string templ = (dir / (prefix + "XXXXXX")).string();
	if (!mkdtemp(templ.data())) {
		throw Error(ErrorKind::Io,
		            "cannot create a temporary directory in '" + dir.string() + "': " + std::strerror(errno),
		            {.table = table,
		             .hint = "make the temp directory (--temp-dir) a writable directory or point it "
		                     "elsewhere"});
	}
	// mkdtemp already asks for 0700; a umask can only narrow that, but say it outright.
	chmod(templ.c_str(), S_IRWXU);
	return templ;
}

} // namespace duckpipe
