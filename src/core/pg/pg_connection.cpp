#include "core/pg/pg_connection.hpp"

#include "core/common/error.hpp"
#include "core/common/log.hpp"

#include <libpq-fe.h>
#include <poll.h>

#include <memory>

namespace duckpipe {

static std::string Trim(std::string s) {
	while (!s.empty() && (s.back() == '\n' || s.back() == ' ')) {
		s.pop_back();
	}
	return s;
}

// Server notices (e.g. "relation already exists, skipping") go to the debug log, not stderr.
static void NoticeToLog(void *, const char *message) {
	std::string text = message ? message : "";
	while (!text.empty() && text.back() == '\n') {
		text.pop_back();
	}
	log::Debug("pg.notice", "message", text);
}

static std::string StatementForError(const std::string &sql) {
	constexpr size_t kMax = 400;
	return sql.size() <= kMax ? sql : sql.substr(0, kMax) + "...";
}

PgConnection::PgConnection(const std::string &conninfo) : PgConnection(conninfo, Options{}) {}

PgConnection::PgConnection(const std::string &conninfo, const Options &options) {
	Conninfo parsed = Conninfo::Parse(conninfo);
	redacted_ = parsed.Redacted();
	if (parsed.Get("application_name").empty()) {
		parsed = parsed.With("application_name", options.application_name);
	}
	if (parsed.Get("connect_timeout").empty()) {
		parsed = parsed.With("connect_timeout", std::to_string(options.connect_timeout_s));
	}
	if (options.replication) {
		parsed = parsed.With("replication", "database");
	}
	// Deterministic text output whatever the server defaults are. Passed at startup so the
	// walsender formats pgoutput values the same way as COPY on a normal session does.
	std::string startup =
	    "-c DateStyle=ISO -c IntervalStyle=postgres -c extra_float_digits=3 -c TimeZone=UTC -c bytea_output=hex";
	std::string user_options = parsed.Get("options");
	parsed = parsed.With("options", user_options.empty() ? startup : user_options + " " + startup);
	parsed = parsed.With("client_encoding", "UTF8");
	conn_ = PQconnectdb(parsed.ToString().c_str());
	if (!conn_ || PQstatus(conn_) != CONNECTION_OK) {
		std::string msg = conn_ ? Trim(PQerrorMessage(conn_)) : "out of memory";
		if (conn_) {
			PQfinish(conn_);
			conn_ = nullptr;
		}
		std::string hint = "check that the server runs and accepts connections from this host, and the "
		                   "credentials in the connection string";
		if (msg.find("replication") != std::string::npos || msg.find("pg_hba") != std::string::npos) {
			hint = "grant the role REPLICATION (ALTER ROLE ... REPLICATION) and allow it in pg_hba.conf";
		}
		throw Error(ErrorKind::Connection, "cannot connect to PostgreSQL at " + redacted_ + ": " + msg, {.hint = hint});
	}
	PQsetNoticeProcessor(conn_, NoticeToLog, nullptr);
}

PgConnection::~PgConnection() {
	if (copy_data_) {
		PQfreemem(copy_data_);
	}
	if (conn_) {
		PQfinish(conn_);
	}
}

void PgConnection::ThrowResultError(pg_result *res, const std::string &statement) const {
	std::unique_ptr<pg_result, decltype(&PQclear)> guard(res, PQclear);
	ErrorContext ctx;
	ctx.statement = StatementForError(statement);
	std::string msg;
	if (res) {
		const char *state = PQresultErrorField(res, PG_DIAG_SQLSTATE);
		const char *primary = PQresultErrorField(res, PG_DIAG_MESSAGE_PRIMARY);
		const char *detail = PQresultErrorField(res, PG_DIAG_MESSAGE_DETAIL);
		const char *hint = PQresultErrorField(res, PG_DIAG_MESSAGE_HINT);
		ctx.sqlstate = state ? state : "";
		msg = primary ? primary : Trim(PQresultErrorMessage(res));
		if (detail) {
			msg += std::string(": ") + detail;
		}
		if (hint) {
			ctx.hint = hint;
		}
	}
	if (msg.empty()) {
		msg = Trim(PQerrorMessage(conn_));
	}
	ErrorKind kind = ErrorKind::Source;
	if (ctx.sqlstate.starts_with("08") || PQstatus(conn_) != CONNECTION_OK) {
		kind = ErrorKind::Connection;
	} else if (ctx.sqlstate == "40001" || ctx.sqlstate == "40P01") {
		kind = ErrorKind::Conflict;
	}
	throw Error(kind, msg, std::move(ctx));
}

void PgConnection::ThrowConnectionError(const std::string &what) const {
	throw Error(ErrorKind::Connection, what + ": " + Trim(PQerrorMessage(conn_)) + " (server " + redacted_ + ")");
}

PgResult PgConnection::Check(pg_result *res, const std::string &sql) const {
	auto status = res ? PQresultStatus(res) : PGRES_FATAL_ERROR;
	if (status == PGRES_COMMAND_OK || status == PGRES_TUPLES_OK || status == PGRES_EMPTY_QUERY) {
		return PgResult(res);
	}
	ThrowResultError(res, sql);
}

PgResult PgConnection::Exec(const std::string &sql) {
	log::Debug("pg.exec", "sql", StatementForError(sql));
	round_trips_++;
	return Check(PQexec(conn_, sql.c_str()), sql);
}

PgResult PgConnection::Exec(const std::string &sql, const std::vector<std::optional<std::string>> &params) {
	std::vector<const char *> values;
	values.reserve(params.size());
	for (const auto &p : params) {
		values.push_back(p ? p->c_str() : nullptr);
	}
	log::Debug("pg.exec", "sql", StatementForError(sql), "params", params.size());
	round_trips_++;
	return Check(
	    PQexecParams(conn_, sql.c_str(), static_cast<int>(values.size()), nullptr, values.data(), nullptr, nullptr, 0),
	    sql);
}

void PgConnection::CopyOut(const std::string &sql, const std::function<void(std::string_view)> &on_chunk) {
	round_trips_++;
	pg_result *res = PQexec(conn_, sql.c_str());
	if (PQresultStatus(res) != PGRES_COPY_OUT) {
		ThrowResultError(res, sql);
	}
	PQclear(res);
	while (true) {
		char *buf = nullptr;
		int n = PQgetCopyData(conn_, &buf, 0);
		if (n > 0) {
			std::unique_ptr<char, decltype(&PQfreemem)> guard(buf, PQfreemem);
			on_chunk(std::string_view(buf, static_cast<size_t>(n)));
			continue;
		}
		if (n == -1) {
			break;
		}
		ThrowConnectionError("COPY OUT failed");
	}
	Check(PQgetResult(conn_), sql);
	while (pg_result *extra = PQgetResult(conn_)) {
		PQclear(extra);
	}
}

void PgConnection::StartCopyOut(const std::string &sql) {
	round_trips_++;
	pg_result *res = PQexec(conn_, sql.c_str());
	if (PQresultStatus(res) != PGRES_COPY_OUT) {
		ThrowResultError(res, sql);
	}
	PQclear(res);
	copy_sql_ = sql;
}

bool PgConnection::NextCopyData(std::string_view &data) {
	if (copy_data_) {
		PQfreemem(copy_data_);
		copy_data_ = nullptr;
	}
	int n = PQgetCopyData(conn_, &copy_data_, 0);
	if (n > 0) {
		data = std::string_view(copy_data_, static_cast<size_t>(n));
		return true;
	}
	if (n != -1) {
		ThrowConnectionError("COPY OUT failed");
	}
	Check(PQgetResult(conn_), copy_sql_);
	while (pg_result *extra = PQgetResult(conn_)) {
		PQclear(extra);
	}
	return false;
}

void PgConnection::CopyIn(const std::string &sql, const std::function<bool(std::string &buffer)> &producer) {
	round_trips_++;
	pg_result *res = PQexec(conn_, sql.c_str());
	if (PQresultStatus(res) != PGRES_COPY_IN) {
		ThrowResultError(res, sql);
	}
	PQclear(res);
	std::string buffer;
	bool more = true;
	while (more) {
		buffer.clear();
		more = producer(buffer);
		if (!buffer.empty() && PQputCopyData(conn_, buffer.data(), static_cast<int>(buffer.size())) != 1) {
			ThrowConnectionError("COPY IN failed");
		}
	}
	if (PQputCopyEnd(conn_, nullptr) != 1) {
		ThrowConnectionError("COPY IN end failed");
	}
	Check(PQgetResult(conn_), sql);
	while (pg_result *extra = PQgetResult(conn_)) {
		PQclear(extra);
	}
}

std::string PgConnection::QuoteIdent(std::string_view ident) const {
	char *q = PQescapeIdentifier(conn_, ident.data(), ident.size());
	if (!q) {
		ThrowConnectionError("cannot quote identifier");
	}
	std::string out(q);
	PQfreemem(q);
	return out;
}

std::string PgConnection::QuoteLiteral(std::string_view literal) const {
	char *q = PQescapeLiteral(conn_, literal.data(), literal.size());
	if (!q) {
		ThrowConnectionError("cannot quote literal");
	}
	std::string out(q);
	PQfreemem(q);
	return out;
}

std::string PgConnection::QuoteQualified(std::string_view schema, std::string_view name) const {
	return QuoteIdent(schema) + "." + QuoteIdent(name);
}

std::vector<PgNotification> PgConnection::DrainNotifications() {
	std::vector<PgNotification> out;
	if (PQconsumeInput(conn_) != 1) {
		ThrowConnectionError("connection lost while waiting for notifications");
	}
	while (PGnotify *n = PQnotifies(conn_)) {
		out.push_back({n->relname, n->extra ? n->extra : ""});
		PQfreemem(n);
	}
	return out;
}

bool PgConnection::WaitReadable(int timeout_ms) const {
	pollfd pfd{.fd = PQsocket(conn_), .events = POLLIN, .revents = 0};
	return poll(&pfd, 1, timeout_ms) > 0;
}

int PgConnection::ServerVersion() const {
	return PQserverVersion(conn_);
}

bool PgConnection::IsHealthy() const {
	return conn_ && PQstatus(conn_) == CONNECTION_OK;
}

bool PgConnection::InFailedTransaction() const {
	return IsHealthy() && PQtransactionStatus(conn_) == PQTRANS_INERROR;
}

int PgConnection::Socket() const {
	return PQsocket(conn_);
}

int PgConnection::BackendPid() const {
	return PQbackendPID(conn_);
}

void PgConnection::Send(const std::string &sql) {
	round_trips_++;
	if (!PQsendQuery(conn_, sql.c_str())) {
		ThrowConnectionError("cannot send '" + StatementForError(sql) + "'");
	}
}

PgResult PgConnection::Receive(const std::string &sql) {
	pg_result *last = nullptr;
	while (pg_result *res = PQgetResult(conn_)) {
		if (last) {
			auto status = PQresultStatus(last);
			if (status != PGRES_COMMAND_OK && status != PGRES_TUPLES_OK && status != PGRES_EMPTY_QUERY) {
				PQclear(res);
				continue; // keep the first error
			}
			PQclear(last);
		}
		last = res;
	}
	if (!last) {
		ThrowConnectionError("no answer to '" + StatementForError(sql) + "'");
	}
	return Check(last, sql);
}

PgTransaction::PgTransaction(PgConnection &conn, std::string_view isolation) : conn_(conn) {
	std::string sql = "BEGIN";
	if (!isolation.empty()) {
		sql += " ISOLATION LEVEL ";
		sql += isolation;
	}
	conn_.Exec(sql);
}

PgTransaction::PgTransaction(PgConnection &conn, std::string_view isolation, const std::string &first,
                             PgResult &first_result)
    : conn_(conn) {
	std::string sql = "BEGIN";
	if (!isolation.empty()) {
		sql += " ISOLATION LEVEL ";
		sql += isolation;
	}
	try {
		first_result = conn_.Exec(sql + ";\n" + first);
	} catch (...) {
		// BEGIN ran and the query failed: no destructor runs for a constructor that throws.
		if (conn_.InFailedTransaction()) {
			try {
				conn_.Exec("ROLLBACK");
			} catch (...) {
				// the connection broke meanwhile: nothing left to roll back
			}
		}
		throw;
	}
}

PgTransaction::PgTransaction(PgConnection &conn, std::string_view isolation, DeferBegin)
    : conn_(conn), open_(false), begin_("BEGIN") {
	if (!isolation.empty()) {
		begin_ += " ISOLATION LEVEL ";
		begin_ += isolation;
	}
	begin_ += ";\n";
}

PgTransaction::~PgTransaction() {
	if (open_) {
		try {
			conn_.Exec("ROLLBACK");
		} catch (...) {
			// A broken connection has no transaction left to roll back.
		}
	}
}

void PgTransaction::Commit() {
	open_ = false;
	conn_.Exec(begin_ + "COMMIT");
	begin_.clear();
}

void PgTransaction::Commit(const std::function<void()> &after_send) {
	CommitWith("", after_send);
}

void PgTransaction::CommitWith(const std::string &sql, const std::function<void()> &after_send) {
	open_ = false;
	std::string all = begin_ + sql + "COMMIT";
	begin_.clear();
	conn_.Send(all);
	after_send();
	try {
		conn_.Receive(all);
	} catch (...) {
		open_ = conn_.InFailedTransaction();
		throw;
	}
}

void PgTransaction::Rollback() {
	if (!begin_.empty()) {
		begin_.clear(); // nothing was sent
		return;
	}
	open_ = false;
	conn_.Exec("ROLLBACK");
}

} // namespace duckpipe
