#pragma once

#include <algorithm>
#include <chrono>
#include <cstdint>

namespace duckpipe {

// For a thread that blocks until work arrives: decides when to nap a moment before blocking, so
// that work arriving in a quick succession of small pieces is taken in one wake-up instead of one
// each. Waking a thread costs both sides a system call and, across CPUs, an interrupt; on two cores
// shared with the source's backends that cost was a large part of the pipeline's CPU per change.
//
// A nap follows only a blocking wait that ended with work within `busy_within`: work then comes
// faster than one wake-up per `busy_within`, and the nap costs it at most the nap's length of
// latency. A thread whose work is sparse always blocks, so it never wakes more often than it has work.
//
// With a NapRange the nap's length follows what the naps gather: it doubles (up to `longest`) after
// a nap that gathered fewer than `few` pieces, and drops back to `shortest` after one that gathered
// more than `many`. The slot consumer needs both ends: a walsender streaming a backlog fills its
// socket (a few hundred messages) within a millisecond, so a long nap would make it wait, while
// one-row OLTP transactions trickle in and a 100 us nap gathers two or three of them.
class WakeBatcher {
public:
	using Duration = std::chrono::microseconds;
	struct NapRange {
		Duration shortest;
		Duration longest;
		int64_t few = 0;
		int64_t many = 0;
	};

	WakeBatcher(Duration nap, Duration busy_within) : WakeBatcher(NapRange{nap, nap}, busy_within) {}
	WakeBatcher(NapRange range, Duration busy_within)
	    : range_(range), nap_(range.shortest), busy_within_(busy_within) {}

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
	// After a nap, once its work is taken: how many pieces it gathered (sets the next nap's length).
	void Gathered(int64_t pieces) {
		if (pieces > range_.many) {
			nap_ = range_.shortest;
		} else if (pieces < range_.few) {
			nap_ = std::min(nap_ * 2, range_.longest);
		}
	}
	Duration Nap() const { return nap_; }

private:
	NapRange range_;
	Duration nap_;
	Duration busy_within_;
	bool busy_ = false;
};

} // namespace duckpipe
