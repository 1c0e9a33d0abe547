#pragma once

#include "core/common/lsn.hpp"

#include <cstdint>

namespace duckpipe::pipeline {

// Tells whether a sync group is catching up a backlog: its stream trails the server's WAL by at
// least the threshold. While it does, the walsender has work queued and decoding is the bottleneck,
// so flush threads may step back (background_flush = 2); once the stream is within a quarter of the
// threshold the group is live again. The gap between the two keeps a group near the threshold from
// switching on every look.
class CatchUpDetector {
public:
	explicit CatchUpDetector(int64_t threshold_bytes) : threshold_(threshold_bytes) {}

	void SetThreshold(int64_t threshold_bytes) { threshold_ = threshold_bytes; }
	int64_t Threshold() const { return threshold_; }
	// `server_end`: the server's WAL end; `read`: how far the stream has read it. True when the state
	// changed.
	bool Update(Lsn server_end, Lsn read);
	bool CatchingUp() const { return catching_up_; }
	// The bytes the stream trailed by at the last update.
	int64_t Behind() const { return behind_; }

private:
	int64_t threshold_;
	int64_t behind_ = 0;
	bool catching_up_ = false;
};

} // namespace duckpipe::pipeline
