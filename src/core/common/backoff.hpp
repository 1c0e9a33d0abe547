#pragma once

#include <atomic>
#include <chrono>

namespace duckpipe {

// Exponential backoff between retries of one failing thing: base, 2x base, 4x base ... capped at
// max. Delay() is the wait before the next attempt; Failed() and Succeeded() move the schedule.
class Backoff {
public:
	Backoff(std::chrono::milliseconds base, std::chrono::milliseconds max) : base_(base), max_(max) {}

	// Records a failure; returns the wait before the next attempt.
	std::chrono::milliseconds Failed();
	void Succeeded() { failures_ = 0; }
	int Failures() const { return failures_; }
	// The wait after `failures` consecutive failures (0 for none).
	std::chrono::milliseconds Delay(int failures) const;

	// Waits `delay` unless `stop` becomes true first (checked every 50 ms). -> false when stopped.
	static bool SleepUnless(std::chrono::milliseconds delay, const std::atomic<bool> &stop);

private:
	std::chrono::milliseconds base_;
	std::chrono::milliseconds max_;
	int failures_ = 0;
};

} // namespace duckpipe
