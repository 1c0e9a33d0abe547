#include "core/pipeline/wake_signal.hpp"

#include "core/common/error.hpp"

#include <cerrno>
#include <cstdint>
#include <cstring>
#include <poll.h>
#include <sys/eventfd.h>
#include <unistd.h>

namespace duckpipe::pipeline {

WakeSignal::WakeSignal() : fd_(eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK)) {
	if (fd_ < 0) {
		throw Error(ErrorKind::Internal, std::string("eventfd failed: ") + std::strerror(errno));
	}
}

WakeSignal::~WakeSignal() {
	close(fd_);
}

void WakeSignal::Notify() {
	uint64_t one = 1;
	// Only fails when the counter would overflow: it is then already readable.
	[[maybe_unused]] auto written = write(fd_, &one, sizeof(one));
}

bool WakeSignal::Wait(int fd, int timeout_ms) {
	pollfd fds[2] = {{.fd = fd_, .events = POLLIN, .revents = 0}, {.fd = fd, .events = POLLIN, .revents = 0}};
	int rc = poll(fds, fd >= 0 ? 2 : 1, timeout_ms);
	if (rc <= 0 || !(fds[0].revents & POLLIN)) {
		return false;
	}
	uint64_t count = 0;
	[[maybe_unused]] auto read_bytes = read(fd_, &count, sizeof(count));
	return true;
}

} // namespace duckpipe::pipeline
