#include "core/pipeline/crash_point.hpp"

#include "core/common/log.hpp"

#include <cstdlib>
#include <cstring>
#include <string>
#include <unistd.h>

namespace duckpipe::pipeline {

#ifdef DUCKPIPE_FAULT_INJECTION

void CrashPoint(const char *name) {
	static const std::string armed = [] {
		const char *v = std::getenv("DUCKPIPE_CRASH_POINT");
		return std::string(v ? v : "");
	}();
	if (!armed.empty() && armed == name) {
		log::Error("crash_point", "name", name);
		_exit(137);
	}
}

#endif

} // namespace duckpipe::pipeline
