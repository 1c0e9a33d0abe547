#pragma once

#include <condition_variable>
#include <cstdint>
#include <mutex>

namespace duckpipe::pipeline {

// Bytes queued between a group's slot consumer and its flush workers. The consumer waits for the
// budget before reading more WAL, so memory stays bounded whatever the write rate: the backlog
// stays in PostgreSQL's WAL instead.
class QueueBudget {
public:
	explicit QueueBudget(int64_t limit_bytes) : limit_(limit_bytes) {}

	void Add(int64_t bytes);
	void Release(int64_t bytes);
	// Waits until usage is below the limit or the timeout passes; true when below.
	bool WaitBelowLimit(int64_t timeout_ms);
	int64_t Used() const;
	int64_t Limit() const { return limit_; }
	// Wakes waiters (shutdown).
	void Interrupt();

private:
	mutable std::mutex mutex_;
	std::condition_variable below_;
	int64_t used_ = 0;
	int64_t limit_;
	bool interrupted_ = false;
};

} // namespace duckpipe::pipeline
