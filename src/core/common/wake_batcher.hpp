#pragma once

#include <chrono>

namespace duckpipe {

// For a thread that blocks until work arrives: decides when to nap a moment before blocking, so
// that work arriving in a quick succession of small pieces is taken in one wake-up instead of one
// each. Waking a thread costs both sides a system call and, across CPUs, an interrupt; on two cores
// shared with the source's backends that cost was a large part of the pipeline's CPU per change.
//
// A nap follows only a blocking wait that ended with work within `busy_within`: work then comes
// faster than one wake-up per `busy_within`, and the nap costs it at most `nap` of latency. A thread
// whose work is sparse always blocks, so it never wakes more often than it has work.
class WakeBatcher {
public:
	using Duration = std::chrono::microseconds;

	WakeBatcher(Duration nap, Duration busy_within) : nap_(nap), busy_within_(busy_within) {}

	// Before blocking: how long to nap first and then take what came without blocking (zero: block
	// at once). A nap is given once per busy wake-up or per nap that found work.
	Duration NapBeforeWait() {
		bool busy = busy_;
		busy_ = false;
		return busy ? nap_ : Duration::zero();
	}
	// After a blocking wait: whether it ended with work, and how long it took.
	void Woke(bool work, Duration waited) { busy_ = work && waited < busy_within_; }
	// After a nap: whether work came meanwhile (then the next wait naps again).
	void Napped(bool work) { busy_ = work; }

private:
	Duration nap_;
	Duration busy_within_;
	bool busy_ = false;
};

} // namespace duckpipe
