#include "extension/log_relay.hpp"

#include "core/common/error.hpp"

#include <cerrno>
#include <cstdint>
#include <cstring>
#include <sys/eventfd.h>
#include <unistd.h>

#include "extension/pg_includes.hpp"

namespace duckpipe::ext {

namespace {
// A core stuck logging faster than the main thread drains must not grow memory without bound.
constexpr size_t kMaxLines = 10000;
} // namespace

LogRelay::LogRelay() {
	fd_ = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
	if (fd_ < 0) {
		throw Error(ErrorKind::Io, std::string("eventfd failed: errno ") + std::to_string(errno));
	}
}

LogRelay::~LogRelay() {
	if (installed_) {
		log::SetSink(nullptr);
	}
	close(fd_);
}

void LogRelay::Install() {
	log::SetSink([this](log::Level level, const std::string &line) { Push(level, line); });
	installed_ = true;
}

void LogRelay::Notify() {
	uint64_t one = 1;
	// A full counter (never in practice) still leaves the fd readable: nothing to handle.
	[[maybe_unused]] auto written = write(fd_, &one, sizeof(one));
}

void LogRelay::Push(log::Level level, const std::string &line) {
	{
		std::lock_guard guard(mutex_);
		if (lines_.size() >= kMaxLines) {
			lines_.pop_front();
			dropped_++;
		}
		lines_.emplace_back(level, line);
	}
	Notify();
}

void LogRelay::Drain() {
	uint64_t count = 0;
	[[maybe_unused]] auto got = read(fd_, &count, sizeof(count));
	std::deque<std::pair<log::Level, std::string>> lines;
	size_t dropped = 0;
	{
		std::lock_guard guard(mutex_);
		lines.swap(lines_);
		std::swap(dropped, dropped_);
	}
	if (dropped > 0) {
		ereport(WARNING,
		        (errmsg("pg_duckpipe: %zu log lines dropped (the worker logged faster than it could write)", dropped)));
	}
	for (const auto &[level, line] : lines) {
		// The core filters by level already (duckpipe.debug_log): debug lines it lets through are
		// wanted in the server log, where DEBUG1 would be dropped by the default log_min_messages.
		int elevel = level == log::Level::Warn || level == log::Level::Error ? WARNING : LOG;
		ereport(elevel, (errmsg_internal("pg_duckpipe: %s", line.c_str())));
	}
}

} // namespace duckpipe::ext
