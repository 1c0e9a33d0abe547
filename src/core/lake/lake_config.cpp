#include "core/lake/lake_config.hpp"

#include "core/common/error.hpp"

#include <cerrno>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <unistd.h>

namespace duckpipe::lake {

namespace fs = std::filesystem;

namespace {

// The first part of `path` that exists but is not a directory ("/a/file" for "/a/file/b/c/").
std::string BlockingFile(const fs::path &path) {
	fs::path prefix;
	for (const auto &part : path) {
		prefix /= part;
		std::error_code ec;
		auto status = fs::status(prefix, ec);
		if (ec || !fs::exists(status)) {
			return {};
		}
		if (!fs::is_directory(status)) {
			return prefix.string();
		}
	}
	return {};
}

} // namespace

std::string LakeConfig::NormalizedDataPath() const {
	if (data_path.empty() || data_path[0] != '/') {
		throw Error(ErrorKind::Config, "lake data path '" + data_path + "' is not an absolute path",
		            {.hint = "set the lake data path to an absolute directory such as /var/lib/duckpipe/lake/"});
	}
	std::string out;
	for (char c : data_path) {
		// Collapse "//": the reference compares paths as strings, so one spelling only.
		if (c == '/' && !out.empty() && out.back() == '/') {
			continue;
		}
		out += c;
	}
	if (out.back() != '/') {
		out += '/';
	}
	return out;
}

void LakeConfig::PrepareDirectory(const std::string &path) {
	const std::string hint = "set the lake data path (--data-path) to a directory pg_duckpipe can create and write "
	                         "(it is created if missing); nothing was written to the catalog";
	auto fail = [&](const std::string &why) {
		return Error(ErrorKind::Config, "the lake data path '" + path + "' cannot be used: " + why, {.hint = hint});
	};
	if (auto file = BlockingFile(path); !file.empty()) {
		throw fail("'" + file + "' is a file, not a directory");
	}
	std::error_code ec;
	fs::create_directories(path, ec);
	if (ec) {
		throw fail("cannot create it: " + ec.message());
	}
	if (!fs::is_directory(path, ec)) {
		throw fail("it is not a directory");
	}
	// Permissions, ACLs, read-only mounts, quotas: only creating a file tells.
	std::string probe = (fs::path(path) / ".duckpipe-probe-XXXXXX").string();
	int fd = mkstemp(probe.data());
	if (fd < 0) {
		throw fail(std::string("cannot create a file in it: ") + std::strerror(errno));
	}
	close(fd);
	unlink(probe.c_str());
}

std::string LakeConfig::PrepareDataPath() const {
	auto path = NormalizedDataPath();
	PrepareDirectory(path);
	return path;
}

} // namespace duckpipe::lake
