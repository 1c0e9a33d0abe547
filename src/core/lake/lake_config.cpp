#include "core/lake/lake_config.hpp"

#include "core/common/error.hpp"

namespace duckpipe::lake {

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

} // namespace duckpipe::lake
