#include "core/pipeline/queue_budget.hpp"

#include <chrono>

namespace duckpipe::pipeline {

void QueueBudget::Add(int64_t bytes) {
	std::lock_guard guard(mutex_);
	used_ += bytes;
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
	return below_.wait_for(lock, std::chrono::milliseconds(timeout_ms), [this] {
		return used_ < limit_ || interrupted_;
	}) && used_ < limit_;
}

int64_t QueueBudget::Used() const {
	std::lock_guard guard(mutex_);
	return used_;
}

void QueueBudget::Interrupt() {
	{
		std::lock_guard guard(mutex_);
		interrupted_ = true;
	}
	below_.notify_all();
}

} // namespace duckpipe::pipeline
