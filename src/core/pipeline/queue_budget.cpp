#include "core/pipeline/queue_budget.hpp"

#include <algorithm>
#include <chrono>

namespace duckpipe::pipeline {

void QueueBudget::Add(int64_t bytes) {
	std::lock_guard guard(mutex_);
	used_ += bytes;
	peak_ = std::max(peak_, used_);
}

void QueueBudget::Release(int64_t bytes) {
	{
		std::lock_guard guard(mutex_);
		used_ -= bytes;
	}
	below_.notify_all();
}

bool QueueBudget::WaitBelowLimit(int64_t timeout_ms) {
	std::unique_lock lock(mutex_);
	uint64_t interrupts = interrupts_;
	auto room = [this] { return used_ < limit_.load() - BatchBytes(); };
	below_.wait_for(lock, std::chrono::milliseconds(timeout_ms), [&] { return room() || interrupts_ != interrupts; });
	return room();
}

int64_t QueueBudget::Used() const {
	std::lock_guard guard(mutex_);
	return used_;
}

int64_t QueueBudget::Peak() const {
	std::lock_guard guard(mutex_);
	return peak_;
}

void QueueBudget::SetLimit(int64_t limit_bytes) {
	{
		std::lock_guard guard(mutex_);
		limit_.store(limit_bytes);
	}
	below_.notify_all();
}

void QueueBudget::Interrupt() {
	{
		std::lock_guard guard(mutex_);
		interrupts_++;
	}
	below_.notify_all();
}

} // namespace duckpipe::pipeline
