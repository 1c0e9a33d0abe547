#pragma once

#include "core/common/log.hpp"

#include <deque>
#include <mutex>
#include <string>
#include <utility>

// Hands the core's log lines (written on any thread) to the worker's main thread, which alone may
// call ereport. A core thread only appends to a queue and writes an eventfd that the main thread
// waits on next to its latch: no PostgreSQL function (not even SetLatch) runs off the main thread.
namespace duckpipe::ext {

class LogRelay {
public:
	LogRelay();
	~LogRelay();
	LogRelay(const LogRelay &) = delete;
	LogRelay &operator=(const LogRelay &) = delete;

	// The fd the main thread waits on (readable: lines or a Notify() are waiting).
	int Fd() const { return fd_; }
	// Installs this relay as the core's log sink (until destroyed).
	void Install();
	// Any thread: wakes the main thread without a line (e.g. the pipeline has ended).
	void Notify();
	// Main thread: ereports every waiting line.
	void Drain();

private:
	void Push(log::Level level, const std::string &line);

	int fd_ = -1;
	std::mutex mutex_;
	std::deque<std::pair<log::Level, std::string>> lines_;
	size_t dropped_ = 0;
	bool installed_ = false;
};

} // namespace duckpipe::ext
