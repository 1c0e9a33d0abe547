#include "core/pipeline/crash_point.hpp"

#include "core/common/log.hpp"

#include <csignal>
#include <cstdlib>
#include <cstring>
#include <string>

namespace duckpipe::pipeline {

#ifdef DUCKPIPE_FAULT_INJECTION

void CrashPoint(const char *name) {
	static const std::string armed = [] {
		const char *v = std::getenv("DUCKPIPE_CRASH_POINT");
		return std::string(v ? v : "");
	}();
	if (!armed.empty() && armed == name) {
		log::Error("crash_point", "name", name);
		// SIGKILL, as kill -9 would: no handler, no atexit, no flush (the exit status reads 137).
		raise(SIGKILL);
	}
}

#endif

} // namespace duckpipe::pipeline
