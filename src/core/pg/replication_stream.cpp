#include "core/pg/replication_stream.hpp"

#include "core/cdc/pgoutput_messages.hpp"
#include "core/common/byte_reader.hpp"
#include "core/common/error.hpp"
#include "core/common/log.hpp"

#include <libpq-fe.h>
#include <poll.h>

#include <algorithm>
#include <cerrno>
#include <thread>

namespace duckpipe {

static int64_t NowPgMicros() {
	auto us = std::chrono::duration_cast<std::chrono::microseconds>(std::chrono::system_clock::now().time_since_epoch())
	              .count();
	return us - cdc::kPgEpochOffsetUs;
}

static void PutU64(char *out, uint64_t v) {
	for (int i = 7; i >= 0; i--) {
		out[i] = static_cast<char>(v & 0xff);
		v >>= 8;
	}
}

ReplicationStream::ReplicationStream(ReplicationConnection &conn, const StreamOptions &options)
    : conn_(conn), options_(options) {
	conn_.RequireIdle("START_REPLICATION");
	if (conn_.streamed_) {
		// walsender.c resets its CopyDone flags only for physical replication, so a second logical
		// START_REPLICATION on one connection returns at once with an empty COPY.
		throw Error(ErrorKind::Internal, "replication connection already streamed once",
		            {.hint = "open a new ReplicationConnection to stream again (after closing this one if the "
		                     "slot is temporary)"});
	}
	std::string cmd = conn_.StartReplicationCommand(options_);
	log::Info("replication.start", "slot", options_.slot_name, "lsn", options_.start_lsn.ToString(), "proto",
	          options_.proto_version, "streaming", options_.streaming);
	PGconn *pg = conn_.conn_.Raw();
	pg_result *res = PQexec(pg, cmd.c_str());
	if (!res || PQresultStatus(res) != PGRES_COPY_BOTH) {
		conn_.ThrowWithHint(res, cmd);
	}
	PQclear(res);
	active_ = true;
	conn_.streaming_ = true;
	conn_.streamed_ = true;
	next_status_ = Clock::now() + std::chrono::milliseconds(options_.status_interval_ms);
}

ReplicationStream::~ReplicationStream() {
	try {
		Stop();
	} catch (const std::exception &e) {
		log::Warn("replication.stop_failed", "slot", options_.slot_name, "error", e.what());
	}
	ReleaseBuffer();
}

void ReplicationStream::ReleaseBuffer() {
	if (buffer_) {
		PQfreemem(buffer_);
		buffer_ = nullptr;
	}
}

void ReplicationStream::Confirm(Lsn flushed) {
	flush_ = std::max(flush_, flushed);
	apply_ = std::max(apply_, flushed);
	write_ = std::max(write_, flushed);
}

void ReplicationStream::SendStatus(bool reply_requested) {
	if (!active_) {
		throw Error(ErrorKind::Internal, "standby status update on a stopped replication stream");
	}
	char msg[1 + 8 * 4 + 1];
	msg[0] = 'r';
	PutU64(msg + 1, write_.value);
	PutU64(msg + 9, flush_.value);
	PutU64(msg + 17, apply_.value);
	PutU64(msg + 25, static_cast<uint64_t>(NowPgMicros()));
	msg[33] = reply_requested ? 1 : 0;
	PGconn *pg = conn_.conn_.Raw();
	if (PQputCopyData(pg, msg, sizeof(msg)) <= 0 || PQflush(pg) != 0) {
		conn_.conn_.ThrowConnectionError("cannot send standby status update on slot " + options_.slot_name);
	}
	next_status_ = Clock::now() + std::chrono::milliseconds(options_.status_interval_ms);
	log::Debug("replication.status", "write", write_.ToString(), "flush", flush_.ToString());
}

void ReplicationStream::SendStatus(Lsn write, Lsn flush, Lsn apply, bool reply_requested) {
	write_ = std::max(write_, write);
	flush_ = std::max(flush_, flush);
	apply_ = std::max(apply_, apply);
	SendStatus(reply_requested);
}

void ReplicationStream::MaybeSendStatus() {
	if (options_.status_interval_ms > 0 && Clock::now() >= next_status_) {
		SendStatus(false);
	}
}

ReplicationEvent ReplicationStream::Parse(int len) {
	std::string_view data(buffer_, static_cast<size_t>(len));
	char type = data[0];
	if (type == 'w') {
		ByteReader r(data, "XLogData");
		r.ReadU8();
		XLogData x;
		x.wal_start = Lsn(r.ReadU64());
		x.wal_end = Lsn(r.ReadU64());
		x.send_time_us = r.ReadI64() + cdc::kPgEpochOffsetUs;
		x.payload = r.ReadBytes(r.Remaining());
		write_ = std::max(write_, x.wal_start);
		server_wal_end_ = std::max(server_wal_end_, x.wal_end);
		return x;
	}
	if (type == 'k') {
		ByteReader r(data, "primary keepalive");
		r.ReadU8();
		Keepalive k;
		k.wal_end = Lsn(r.ReadU64());
		k.send_time_us = r.ReadI64() + cdc::kPgEpochOffsetUs;
		k.reply_requested = r.ReadU8() != 0;
		r.ExpectEnd();
		server_wal_end_ = std::max(server_wal_end_, k.wal_end);
		if (k.reply_requested) {
			SendStatus(false);
		}
		return k;
	}
	ByteReader r(data, "CopyData");
	r.Fail("unknown replication message type byte " + std::to_string(static_cast<uint8_t>(type)));
}

ReplicationEvent ReplicationStream::Next(int timeout_ms) {
	ReleaseBuffer();
	if (!active_) {
		return EndOfStream{};
	}
	PGconn *pg = conn_.conn_.Raw();
	auto deadline = timeout_ms < 0 ? Clock::time_point::max() : Clock::now() + std::chrono::milliseconds(timeout_ms);
	while (true) {
		MaybeSendStatus();
		int len = PQgetCopyData(pg, &buffer_, 1);
		if (len > 0) {
			if (gathered_ >= 0) {
				gathered_++;
			}
			return Parse(len);
		}
		if (len == -1) {
			return FinishCopy();
		}
		if (len == -2) {
			active_ = false;
			conn_.streaming_ = false;
			conn_.conn_.ThrowConnectionError("replication stream on slot " + options_.slot_name + " broke");
		}
		// Nothing buffered: sleep until data, the status timer or the caller's deadline.
		auto now = Clock::now();
		if (now >= deadline) {
			return StreamTimeout{};
		}
		auto wake = deadline;
		if (options_.status_interval_ms > 0) {
			wake = std::min(wake, next_status_);
		}
		int wait_ms = -1;
		if (wake != Clock::time_point::max()) {
			auto ms = std::chrono::duration_cast<std::chrono::milliseconds>(wake - now).count() + 1;
			wait_ms = static_cast<int>(std::clamp<int64_t>(ms, 0, int64_t{3600} * 1000));
		}
		// The walsender sends each message on its own: while they come quickly, a nap lets a run of
		// them pile up for one read instead of a wake-up each (the reads were most of this thread's
		// CPU). The nap shortens as soon as one gathers a good part of what the walsender's socket
		// buffer holds, so it does not make the walsender wait.
		if (gathered_ >= 0) {
			wake_.Gathered(gathered_);
			gathered_ = -1;
		}
		if (auto nap = wake_.NapBeforeWait(); nap > WakeBatcher::Duration::zero()) {
			if (wake != Clock::time_point::max()) {
				nap = std::min(nap, std::chrono::duration_cast<WakeBatcher::Duration>(wake - now));
			}
			std::this_thread::sleep_for(nap);
			gathered_ = 0;
			if (PQconsumeInput(pg) != 1) {
				active_ = false;
				conn_.streaming_ = false;
				conn_.conn_.ThrowConnectionError("replication connection for slot " + options_.slot_name + " lost");
			}
			continue;
		}
		pollfd pfd{.fd = PQsocket(pg), .events = POLLIN, .revents = 0};
		auto polled = Clock::now();
		int rc = poll(&pfd, 1, wait_ms);
		wake_.Woke(rc > 0, std::chrono::duration_cast<WakeBatcher::Duration>(Clock::now() - polled));
		if (rc < 0 && errno != EINTR) {
			conn_.conn_.ThrowConnectionError("poll on replication socket failed");
		}
		if (rc > 0 && PQconsumeInput(pg) != 1) {
			active_ = false;
			conn_.streaming_ = false;
			conn_.conn_.ThrowConnectionError("replication connection for slot " + options_.slot_name + " lost");
		}
	}
}

ReplicationEvent ReplicationStream::FinishCopy() {
	active_ = false;
	conn_.streaming_ = false;
	DrainResults(true);
	log::Info("replication.end_of_stream", "slot", options_.slot_name);
	return EndOfStream{};
}

void ReplicationStream::DrainResults(bool throw_errors) {
	PGconn *pg = conn_.conn_.Raw();
	pg_result *failed = nullptr;
	while (pg_result *res = PQgetResult(pg)) {
		auto status = PQresultStatus(res);
		if ((status == PGRES_FATAL_ERROR || status == PGRES_BAD_RESPONSE) && !failed) {
			failed = res;
			continue;
		}
		PQclear(res);
		if (status == PGRES_COPY_BOTH || status == PGRES_COPY_OUT || status == PGRES_COPY_IN) {
			break; // still copying: cannot drain further
		}
	}
	if (failed) {
		if (throw_errors) {
			conn_.ThrowWithHint(failed, "START_REPLICATION SLOT " + options_.slot_name);
		}
		PQclear(failed);
	}
}

void ReplicationStream::Stop(int timeout_ms) {
	if (!EndCopy(timeout_ms)) {
		throw Error(ErrorKind::Connection,
		            "server did not end the replication stream on slot " + options_.slot_name + " in time",
		            {.hint = "close the connection; the server will notice and release the slot"});
	}
}

bool ReplicationStream::StopOrAbandon(int timeout_ms) {
	bool ended = EndCopy(timeout_ms);
	if (!ended) {
		log::Info("replication.stop_abandoned", "slot", options_.slot_name, "timeout_ms", timeout_ms, "flush",
		          flush_.ToString());
	}
	return ended;
}

bool ReplicationStream::EndCopy(int timeout_ms) {
	ReleaseBuffer();
	if (!active_) {
		return true;
	}
	active_ = false;
	conn_.streaming_ = false;
	PGconn *pg = conn_.conn_.Raw();
	if (PQputCopyEnd(pg, nullptr) <= 0 || PQflush(pg) != 0) {
		conn_.conn_.ThrowConnectionError("cannot end replication stream on slot " + options_.slot_name);
	}
	// The server may still send data before it acknowledges the CopyDone: discard it.
	auto deadline = Clock::now() + std::chrono::milliseconds(timeout_ms);
	while (true) {
		char *buf = nullptr;
		int len = PQgetCopyData(pg, &buf, 1);
		auto now = Clock::now();
		if (len > 0) {
			PQfreemem(buf);
			// A large transaction may still be on its way: discarding it is bounded by the deadline too.
			if (now < deadline) {
				continue;
			}
		}
		if (len == -1) {
			break;
		}
		if (len == -2) {
			conn_.conn_.ThrowConnectionError("replication stream on slot " + options_.slot_name + " broke on stop");
		}
		if (now >= deadline) {
			conn_.streaming_ = true; // still in the COPY: the connection runs nothing more, closing it ends it
			return false;
		}
		auto ms = std::chrono::duration_cast<std::chrono::milliseconds>(deadline - now).count() + 1;
		pollfd pfd{.fd = PQsocket(pg), .events = POLLIN, .revents = 0};
		if (poll(&pfd, 1, static_cast<int>(ms)) > 0 && PQconsumeInput(pg) != 1) {
			conn_.conn_.ThrowConnectionError("replication connection lost while stopping");
		}
	}
	DrainResults(false);
	log::Info("replication.stopped", "slot", options_.slot_name, "flush", flush_.ToString());
	return true;
}

} // namespace duckpipe
