#pragma once

#include <atomic>
#include <condition_variable>
#include <cstdint>
#include <deque>
#include <exception>
#include <mutex>
#include <string>
#include <string_view>
#include <thread>
#include <vector>

struct pg_cancel;

namespace duckpipe {
class PgConnection;
} // namespace duckpipe

namespace duckpipe::pipeline {

// Reads one `COPY ... TO STDOUT` on its own thread, a bounded distance ahead of the consumer.
//
// Why: the consumer is the DuckDB thread that also encodes and compresses the Parquet row groups.
// Reading the socket on that thread stalls PostgreSQL's COPY for the whole of each row group's
// encoding (the socket buffer holds a few hundred rows), so on two cores the server and the writer
// took turns instead of running at once. With the read on its own thread the server keeps sending
// while the writer works, up to `max_bytes` of COPY data held here.
//
// The connection belongs to the reader thread from the first Next() until Next() returns false (or
// the destructor); the owner must not use it in between. A destructor that finds the COPY still
// running cancels it on the server, so leaving never waits for a stalled or long COPY; the
// connection is then unusable until the owner drops it, which it does when a copy fails.
class CopyPrefetcher {
public:
	CopyPrefetcher(PgConnection &connection, std::string sql, std::string table_name, size_t max_bytes,
	               const std::atomic<bool> &stop);
	~CopyPrefetcher();
	CopyPrefetcher(const CopyPrefetcher &) = delete;
	CopyPrefetcher &operator=(const CopyPrefetcher &) = delete;

	// The next CopyData message, valid until the next call; false once the COPY has ended (its final
	// result read: the connection is idle again). Rethrows the reader's error (the COPY's, the
	// connection's) on the consumer's thread. Starts the reader on the first call.
	bool Next(std::string_view &message);
	// COPY data read and not yet taken by the consumer (at most the bound plus one block).
	size_t HeldBytes();

private:
	// Messages packed back to back; `ends[i]` is where message i ends in `data`.
	struct Block {
		std::string data;
		std::vector<uint32_t> ends;
	};

	void Read();
	// Hands `block` to the consumer; waits while the held bytes exceed the bound. False: stopping.
	bool Push(Block &block);

	PgConnection &connection_;
	std::string sql_;
	std::string table_name_; // named in errors
	size_t max_bytes_;
	const std::atomic<bool> &stop_;

	std::mutex mutex_;
	std::condition_variable changed_;
	std::deque<Block> blocks_; // guarded by mutex_
	size_t held_bytes_ = 0;    // guarded by mutex_
	bool ended_ = false;       // guarded by mutex_: the reader pushed its last block
	bool closing_ = false;     // guarded by mutex_: the destructor asks the reader to leave
	std::exception_ptr failure_;
	std::thread reader_;
	pg_cancel *cancel_ = nullptr;      // made on the owner's thread while the connection was idle
	std::atomic<bool> started_{false}; // set by the consumer, read by the destructor

	// Consumer side only.
	Block current_;
	size_t next_ = 0; // next message of current_
};

} // namespace duckpipe::pipeline
