#include "core/pipeline/change_queue.hpp"

#include <algorithm>
#include <chrono>

namespace duckpipe::pipeline {

ChangeQueue::~ChangeQueue() {
	Discard();
}

void ChangeQueue::Push(QueueItem item) {
	if (item.bytes == 0) {
		item.bytes =
		    static_cast<int64_t>(sizeof(QueueItem)) + (item.batch ? static_cast<int64_t>(item.batch->Bytes()) : 0);
	}
	budget_.Add(item.bytes);
	{
		std::lock_guard guard(mutex_);
		bytes_ += item.bytes;
		rows_ += item.batch ? static_cast<int64_t>(item.batch->Rows()) : 0;
		items_.push_back(std::move(item));
	}
	ready_.notify_one();
}

std::optional<QueueItem> ChangeQueue::Pop(int64_t timeout_ms, bool keep_in_budget) {
	std::optional<QueueItem> out;
	{
		std::unique_lock lock(mutex_);
		if (!ready_.wait_for(lock, std::chrono::milliseconds(timeout_ms),
		                     [this] { return !items_.empty() || closed_; }) ||
		    items_.empty()) {
			return std::nullopt;
		}
		out = std::move(items_.front());
		items_.pop_front();
		bytes_ -= out->bytes;
		rows_ -= out->batch ? static_cast<int64_t>(out->batch->Rows()) : 0;
	}
	if (!keep_in_budget) {
		budget_.Release(out->bytes);
	}
	return out;
}

std::vector<QueueItem> ChangeQueue::PopWholeTransactions() {
	std::vector<QueueItem> out;
	int64_t released = 0;
	{
		std::lock_guard guard(mutex_);
		auto last_commit = std::find_if(items_.rbegin(), items_.rend(),
		                                [](const QueueItem &item) { return item.kind == QueueItem::Kind::Commit; });
		auto end = last_commit.base(); // one past the last Commit; begin() when there is none
		for (auto it = items_.begin(); it != end; ++it) {
			released += it->bytes;
			rows_ -= it->batch ? static_cast<int64_t>(it->batch->Rows()) : 0;
			out.push_back(std::move(*it));
		}
		items_.erase(items_.begin(), end);
		bytes_ -= released;
	}
	if (released) {
		budget_.Release(released);
	}
	return out;
}

void ChangeQueue::Discard() {
	int64_t released = 0;
	{
		std::lock_guard guard(mutex_);
		released = bytes_;
		items_.clear();
		bytes_ = 0;
		rows_ = 0;
	}
	if (released) {
		budget_.Release(released);
	}
}

void ChangeQueue::Close() {
	{
		std::lock_guard guard(mutex_);
		closed_ = true;
	}
	ready_.notify_all();
}

int64_t ChangeQueue::Bytes() const {
	std::lock_guard guard(mutex_);
	return bytes_;
}

int64_t ChangeQueue::Rows() const {
	std::lock_guard guard(mutex_);
	return rows_;
}

size_t ChangeQueue::Items() const {
	std::lock_guard guard(mutex_);
	return items_.size();
}

void PendingTransactions::Add(Lsn commit_lsn) {
	std::lock_guard guard(mutex_);
	if (pending_.empty() || pending_.back() < commit_lsn) {
		pending_.push_back(commit_lsn);
	}
}

void PendingTransactions::Flushed(Lsn up_to_commit_lsn) {
	std::lock_guard guard(mutex_);
	while (!pending_.empty() && pending_.front() <= up_to_commit_lsn) {
		pending_.pop_front();
	}
}

void PendingTransactions::Clear() {
	std::lock_guard guard(mutex_);
	pending_.clear();
}

std::optional<Lsn> PendingTransactions::Oldest() const {
	std::lock_guard guard(mutex_);
	if (pending_.empty()) {
		return std::nullopt;
	}
	return pending_.front();
}

} // namespace duckpipe::pipeline
