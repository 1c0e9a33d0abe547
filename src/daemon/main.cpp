#include "core/common/error.hpp"
#include "core/common/log.hpp"
#include "daemon/cli.hpp"

#include <cstdio>
#include <exception>

// The daemon's one error boundary: core exceptions become a message on stderr and an exit code.
int main(int argc, char **argv) {
	try {
		return duckpipe::daemon::RunCli(argc, argv);
	} catch (const duckpipe::Error &e) {
		duckpipe::log::Error("fatal", "kind", duckpipe::ErrorKindName(e.Kind()), "error", e.what());
		std::fprintf(stderr, "duckpipe: %s\n", e.what());
		return duckpipe::daemon::ExitCodeFor(e.Kind());
	} catch (const std::exception &e) {
		std::fprintf(stderr, "duckpipe: internal error: %s\n", e.what());
		return 70;
	}
}
