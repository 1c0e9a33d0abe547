#pragma once

#include <atomic>
#include <condition_variable>
#include <cstdint>
#include <mutex>

namespace duckpipe::pipeline {

// Bytes queued between a group's slot consumer and its flush workers: the batches the consumer is
// building, the queues, and the rows a worker holds until its copy's snapshot LSN is known. The
// consumer waits for the budget before reading more WAL, so memory stays bounded whatever the
// write rate: the backlog stays in PostgreSQL's WAL instead.
class QueueBudget {
public:
	explicit QueueBudget(int64_t limit_bytes) : limit_(limit_bytes) {}

	void Add(int64_t bytes);
	void Release(int64_t bytes);
	// Waits until usage leaves room for one more batch (below the limit minus BatchBytes()), the
	// timeout passes or Interrupt() is called; true when there is room. A reader that cuts its
	// batches at BatchBytes() thus never takes usage past the limit by more than one message.
	bool WaitBelowLimit(int64_t timeout_ms);
	// The size at which a batch being built is handed on: an eighth of the limit.
	int64_t BatchBytes() const { return limit_.load() / 8; }
	int64_t Used() const;
	// The highest usage seen (for `group.queue_peak` log lines and tests).
	int64_t Peak() const;
	int64_t Limit() const { return limit_.load(); }
	bool Full() const { return Used() >= Limit() - BatchBytes(); }
	// A reloaded configuration: waiters re-check against the new limit.
	void SetLimit(int64_t limit_bytes);
	// Wakes the current waiters (shutdown, stream loss). Not sticky: a later wait waits again, so a
	// consumer that goes on after an interrupt does not spin.
	void Interrupt();

private:
	mutable std::mutex mutex_;
	std::condition_variable below_;
	int64_t used_ = 0;
	int64_t peak_ = 0;
	std::atomic<int64_t> limit_;
	uint64_t interrupts_ = 0;
};

} // namespace duckpipe::pipeline
