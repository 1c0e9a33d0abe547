#pragma once

#include "core/common/lsn.hpp"
#include "core/common/wake_batcher.hpp"
#include "core/pg/replication_connection.hpp"

#include <chrono>
#include <cstdint>
#include <string_view>
#include <variant>

namespace duckpipe {

// A 'w' message: one pgoutput message. payload points into a libpq buffer that stays valid until
// the next call to Next(), Stop() or the destructor.
struct XLogData {
	Lsn wal_start;        // WAL position of the data
	Lsn wal_end;          // current end of WAL on the server
	int64_t send_time_us; // server clock, Unix epoch microseconds
	std::string_view payload;
};

// A 'k' primary keepalive. A reply requested by the server has already been sent when this is
// returned. When nothing is in flight (every received transaction confirmed), confirming wal_end
// lets the slot advance past WAL that had nothing to publish.
struct Keepalive {
	Lsn wal_end;
	int64_t send_time_us; // Unix epoch microseconds
	bool reply_requested;
};

struct StreamTimeout {};
// The server ended the COPY normally (it does not for logical replication unless asked to stop).
struct EndOfStream {};

using ReplicationEvent = std::variant<XLogData, Keepalive, StreamTimeout, EndOfStream>;

// The CopyBoth loop of START_REPLICATION, modelled on pg_recvlogical: non-blocking reads, poll()
// with a timeout that also wakes for the standby status timer, and standby status updates ('r')
// on that timer and whenever the server asks for one. Borrows the connection, which runs no
// other command until Stop() (or the destructor) ends the stream.
class ReplicationStream {
public:
	// Sends START_REPLICATION; throws Error (with hints) if the server refuses.
	ReplicationStream(ReplicationConnection &conn, const StreamOptions &options);
	~ReplicationStream(); // Stop() without throwing
	ReplicationStream(const ReplicationStream &) = delete;
	ReplicationStream &operator=(const ReplicationStream &) = delete;

	// Waits up to timeout_ms (< 0: no limit, 0: only what is buffered) for the next message.
	// Throws Error(Source) when the server ends the stream with an error (e.g. a missing
	// publication, SQLSTATE 42704), Error(Connection) when the connection breaks, and
	// Error(Protocol) for a malformed CopyData message.
	ReplicationEvent Next(int timeout_ms);

	// Records that everything up to `flushed` is durable downstream (the end_lsn of the last
	// transaction committed to the lake). Reported as flush and apply with the next status update,
	// which moves the slot's confirmed_flush_lsn. Positions never go backwards.
	void Confirm(Lsn flushed);
	// Sends a standby status update now with the current positions.
	void SendStatus(bool reply_requested = false);
	// Sends explicit positions now (each kept monotonic: lower values are ignored).
	void SendStatus(Lsn write, Lsn flush, Lsn apply, bool reply_requested);

	// Ends the COPY (CopyDone), discards data still in flight and waits for the server to finish
	// the command, so the connection can run commands again. Idempotent. Throws Error(Connection)
	// when the server has not finished it within timeout_ms.
	void Stop(int timeout_ms = 10000);
	// Stop() for a connection that is closed next: a server still sending after timeout_ms (the
	// rest of a large transaction, which the next stream sends again from its start) is left to
	// notice the close. Returns whether the server finished the command.
	bool StopOrAbandon(int timeout_ms);

	bool Active() const { return active_; }
	Lsn WritePosition() const { return write_; }
	Lsn FlushPosition() const { return flush_; }
	Lsn LastServerWalEnd() const { return server_wal_end_; }
	const StreamOptions &Options() const { return options_; }

private:
	using Clock = std::chrono::steady_clock;

	void ReleaseBuffer();
	bool EndCopy(int timeout_ms);
	void MaybeSendStatus();
	ReplicationEvent Parse(int len);
	// The server ended the COPY: collect its final result; throws its error.
	ReplicationEvent FinishCopy();
	void DrainResults(bool throw_errors);

	ReplicationConnection &conn_;
	StreamOptions options_;
	bool active_ = false;
	char *buffer_ = nullptr;
	Lsn write_;
	Lsn flush_;
	Lsn apply_;
	Lsn server_wal_end_;
	Clock::time_point next_status_;
	// 100 us is about 40 messages at the walsender's full rate, and its socket buffer holds ~200 (the
	// kernel charges each message's buffer, ~1 KB, against the 208 KB default): a nap that gathers
	// more than 96 drops back to 100 us. Under one-row OLTP transactions a nap grows to 2 ms, which
	// halved this thread's CPU per transaction (sysbench oltp_insert, 4 tables).
	WakeBatcher wake_{
	    WakeBatcher::NapRange{
	        .shortest = std::chrono::microseconds(100), .longest = std::chrono::milliseconds(2), .few = 24, .many = 96},
	    std::chrono::microseconds(500)};
	int64_t gathered_ = -1; // messages taken since the last nap; -1: no nap since the last blocking wait
};

} // namespace duckpipe
