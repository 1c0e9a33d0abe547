#include "core/pipeline/catch_up_detector.hpp"

namespace duckpipe::pipeline {

bool CatchUpDetector::Update(Lsn server_end, Lsn read) {
	// The server's end is sampled before the stream's position is read: a stream that moved past it
	// in between is not behind.
	behind_ = server_end > read ? static_cast<int64_t>(server_end.value - read.value) : 0;
	bool next = catching_up_ ? behind_ > threshold_ / 4 : behind_ >= threshold_;
	bool changed = next != catching_up_;
	catching_up_ = next;
	return changed;
}

} // namespace duckpipe::pipeline
