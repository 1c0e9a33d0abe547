#include "core/pipeline/flush_slots.hpp"

#include <algorithm>
#include <thread>

namespace duckpipe::pipeline {

FlushSlots &FlushSlots::Instance() {
	static FlushSlots slots;
	return slots;
}

FlushSlots::FlushSlots() : limit_(static_cast<int>(std::clamp(2 * std::thread::hardware_concurrency(), 2u, 8u))) {}

void FlushSlots::Acquire() {
	std::unique_lock lock(mutex_);
	free_.wait(lock, [this] { return used_ < limit_; });
	used_++;
}

void FlushSlots::Release() {
	{
		std::lock_guard guard(mutex_);
		used_--;
	}
	free_.notify_one();
}

} // namespace duckpipe::pipeline
