#include "core/pipeline/copy_prefetcher.hpp"

#include "core/common/error.hpp"
#include "core/common/thread.hpp"
#include "core/pg/pg_connection.hpp"

#include <chrono>
#include <libpq-fe.h>

namespace duckpipe::pipeline {

namespace {
// Rows are small (one CopyData message each): packing them into blocks keeps the hand-over to one
// lock per block, not per row.
constexpr size_t kBlockBytes = 1 << 20;
} // namespace

CopyPrefetcher::CopyPrefetcher(PgConnection &connection, std::string sql, std::string table_name, size_t max_bytes,
                               const std::atomic<bool> &stop)
    : connection_(connection), sql_(std::move(sql)), table_name_(std::move(table_name)), max_bytes_(max_bytes),
      stop_(stop), cancel_(PQgetCancel(connection.Raw())) {}

CopyPrefetcher::~CopyPrefetcher() {
	bool running = false;
	{
		std::lock_guard lock(mutex_);
		closing_ = true;
		running = started_ && !ended_;
	}
	changed_.notify_all();
	if (running && cancel_) {
		// A reader inside libpq's wait for the server (a lock, a slow scan) returns with the error.
		char message[256];
		PQcancel(cancel_, message, sizeof message);
	}
	if (reader_.joinable()) {
		reader_.join();
	}
	if (cancel_) {
		PQfreeCancel(cancel_);
	}
}

size_t CopyPrefetcher::HeldBytes() {
	std::lock_guard lock(mutex_);
	return held_bytes_;
}

bool CopyPrefetcher::Push(Block &block) {
	std::unique_lock lock(mutex_);
	changed_.wait(lock, [&] { return held_bytes_ <= max_bytes_ || closing_; });
	if (closing_) {
		return false;
	}
	held_bytes_ += block.data.size();
	blocks_.push_back(std::move(block));
	lock.unlock();
	changed_.notify_all();
	return true;
}

void CopyPrefetcher::Read() {
	try {
		connection_.StartCopyOut(sql_);
		Block block;
		std::string_view m;
		while (connection_.NextCopyData(m)) {
			block.data.append(m);
			block.ends.push_back(static_cast<uint32_t>(block.data.size()));
			if (block.data.size() >= kBlockBytes) {
				if (!Push(block)) {
					return;
				}
				block = Block{};
				block.data.reserve(kBlockBytes + kBlockBytes / 8);
			}
		}
		if (!block.ends.empty() && !Push(block)) {
			return;
		}
	} catch (...) {
		std::lock_guard lock(mutex_);
		failure_ = std::current_exception();
	}
	{
		std::lock_guard lock(mutex_);
		ended_ = true;
	}
	changed_.notify_all();
}

bool CopyPrefetcher::Next(std::string_view &message) {
	if (!started_) {
		started_ = true;
		reader_ = StartThread("dp-copy-read", [this] { Read(); });
	}
	while (next_ >= current_.ends.size()) {
		std::unique_lock lock(mutex_);
		while (blocks_.empty() && !ended_) {
			// A stalled server must not hold a shutdown: look at the stop flag now and then.
			if (stop_.load()) {
				throw Error(ErrorKind::Internal, "copy of " + table_name_ + " interrupted by shutdown",
				            {.table = table_name_});
			}
			changed_.wait_for(lock, std::chrono::milliseconds(100));
		}
		if (blocks_.empty()) {
			auto failure = failure_;
			lock.unlock();
			if (reader_.joinable()) {
				reader_.join(); // it has left Read(): the connection is the owner's again
			}
			if (failure) {
				std::rethrow_exception(failure);
			}
			return false;
		}
		current_ = std::move(blocks_.front());
		blocks_.pop_front();
		held_bytes_ -= current_.data.size();
		next_ = 0;
		lock.unlock();
		changed_.notify_all();
	}
	size_t begin = next_ == 0 ? 0 : current_.ends[next_ - 1];
	message = std::string_view(current_.data).substr(begin, current_.ends[next_] - begin);
	next_++;
	return true;
}

} // namespace duckpipe::pipeline
