#pragma once

#include "core/pg/conninfo.hpp"
#include "core/pg/pg_result.hpp"

#include <cstdint>
#include <functional>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

struct pg_conn;

namespace duckpipe {

struct PgNotification {
	std::string channel;
	std::string payload;
};

// Owns one libpq connection. Every failure becomes Error carrying SQLSTATE and the statement; the
// connection string only ever appears redacted.
class PgConnection {
public:
	struct Options {
		std::string application_name = "pg_duckpipe";
		bool replication = false; // a walsender connection (replication=database)
		int connect_timeout_s = 10;
	};

	explicit PgConnection(const std::string &conninfo);
	PgConnection(const std::string &conninfo, const Options &options);
	~PgConnection();
	PgConnection(const PgConnection &) = delete;
	PgConnection &operator=(const PgConnection &) = delete;

	// Simple-query protocol; several statements allowed. Returns the last result.
	PgResult Exec(const std::string &sql);
	// Extended protocol with text parameters ($1, $2, ...); nullopt is SQL NULL.
	PgResult Exec(const std::string &sql, const std::vector<std::optional<std::string>> &params);
	// Exec in two steps, for a caller that must tell "not sent" from "sent, answer lost": Send
	// queues the statement on the server; Receive waits for its results and returns the last one.
	void Send(const std::string &sql);
	PgResult Receive(const std::string &sql);

	// Streams COPY ... TO STDOUT; the callback receives each row chunk as libpq returns it.
	void CopyOut(const std::string &sql, const std::function<void(std::string_view)> &on_chunk);
	// COPY ... TO STDOUT pulled by the caller: StartCopyOut, then NextCopyData until it returns false
	// (the COPY's result checked). `data` stays valid until the next call or the connection's end.
	void StartCopyOut(const std::string &sql);
	bool NextCopyData(std::string_view &data);
	// Runs COPY ... FROM STDIN, pulling data from the producer until it returns false.
	void CopyIn(const std::string &sql, const std::function<bool(std::string &buffer)> &producer);

	std::string QuoteIdent(std::string_view ident) const;
	std::string QuoteLiteral(std::string_view literal) const;
	// "schema"."name"
	std::string QuoteQualified(std::string_view schema, std::string_view name) const;

	// LISTEN support: reads pending input and returns queued notifications (non-blocking).
	std::vector<PgNotification> DrainNotifications();
	// Waits until the socket is readable or the timeout passes; true if readable.
	bool WaitReadable(int timeout_ms) const;

	int ServerVersion() const;
	std::string RedactedConninfo() const { return redacted_; }
	bool IsHealthy() const;
	// Inside a transaction block that a failed statement aborted (the server answered with an error;
	// the block awaits ROLLBACK): nothing of that transaction can commit.
	bool InFailedTransaction() const;
	int Socket() const;
	// The server process of this session (pg_backend_pid()).
	int BackendPid() const;
	// Messages sent that waited for the server's answer (Exec, Send, COPY): what latency costs.
	int64_t RoundTrips() const { return round_trips_; }
	pg_conn *Raw() const { return conn_; }

	// Throws the Error for a failed result (used by the replication connection too).
	[[noreturn]] void ThrowResultError(pg_result *res, const std::string &statement) const;
	[[noreturn]] void ThrowConnectionError(const std::string &what) const;

private:
	PgResult Check(pg_result *res, const std::string &sql) const;

	pg_conn *conn_ = nullptr;
	std::string redacted_;
	std::string copy_sql_;      // the COPY that NextCopyData reads
	char *copy_data_ = nullptr; // its last message (libpq's buffer)
	int64_t round_trips_ = 0;
};

// RAII transaction: ROLLBACK unless Commit() ran. Isolation may be "REPEATABLE READ" etc.
class PgTransaction {
public:
	explicit PgTransaction(PgConnection &conn, std::string_view isolation = {});
	// BEGIN and `first` (a query) in one round trip; `first_result` receives the query's result.
	PgTransaction(PgConnection &conn, std::string_view isolation, const std::string &first, PgResult &first_result);
	// BEGIN goes with CommitWith's statements: the whole transaction in one round trip.
	struct DeferBegin {};
	PgTransaction(PgConnection &conn, std::string_view isolation, DeferBegin);
	~PgTransaction();
	PgTransaction(const PgTransaction &) = delete;
	PgTransaction &operator=(const PgTransaction &) = delete;
	void Commit();
	// COMMIT with a callback run after it was sent and before its answer is read (a failure after
	// that point leaves the outcome unknown to this connection).
	void Commit(const std::function<void()> &after_send);
	// `sql` (statements ending in ';') and COMMIT in one round trip. When one of the statements
	// fails, the error is thrown, InFailedTransaction() is true and the destructor rolls back.
	void CommitWith(const std::string &sql, const std::function<void()> &after_send);
	void Rollback();

private:
	PgConnection &conn_;
	bool open_ = true;
	std::string begin_; // BEGIN not sent yet (DeferBegin)
};

} // namespace duckpipe
