#include "core/common/backoff.hpp"

#include <algorithm>
#include <thread>

namespace duckpipe {

std::chrono::milliseconds Backoff::Delay(int failures) const {
	if (failures <= 0) {
		return std::chrono::milliseconds(0);
	}
	// Doubling stops at 2^20 so the shift never overflows whatever the failure count.
	auto factor = int64_t(1) << std::min(failures - 1, 20);
	auto ms = base_.count() > max_.count() / factor ? max_.count() : base_.count() * factor;
	return std::chrono::milliseconds(std::min<int64_t>(ms, max_.count()));
}

std::chrono::milliseconds Backoff::Failed() {
	failures_++;
	return Delay(failures_);
}

bool Backoff::SleepUnless(std::chrono::milliseconds delay, const std::atomic<bool> &stop) {
	auto deadline = std::chrono::steady_clock::now() + delay;
	while (!stop.load()) {
		auto left = deadline - std::chrono::steady_clock::now();
		if (left <= std::chrono::steady_clock::duration::zero()) {
			return true;
		}
		std::this_thread::sleep_for(std::min<std::chrono::steady_clock::duration>(left, std::chrono::milliseconds(50)));
	}
	return false;
}

} // namespace duckpipe
