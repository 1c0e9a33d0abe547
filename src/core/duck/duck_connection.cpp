#include "core/duck/duck_connection.hpp"

#include "core/common/error.hpp"
#include "core/common/log.hpp"
#include "core/duck/duck_database.hpp"

#include <duckdb.h>

#include <chrono>
#include <thread>

namespace duckpipe {

namespace {

std::string Clip(const std::string &sql) {
	return sql.size() > 400 ? sql.substr(0, 400) + "..." : sql;
}

struct Prepared {
	duckdb_prepared_statement p = nullptr;
	~Prepared() { duckdb_destroy_prepare(&p); }
};

struct Pending {
	duckdb_pending_result p = nullptr;
	~Pending() { duckdb_destroy_pending(&p); }
};

} // namespace

DuckConnection::DuckConnection(DuckDatabase &db)
    : temp_directory_(db.TempDirectory()), keeps_insertion_order_(db.KeepsInsertionOrder()) {
	if (duckdb_connect(db.Raw(), &conn_) == DuckDBError) {
		throw Error(ErrorKind::Duck, "cannot connect to DuckDB");
	}
}

DuckConnection::~DuckConnection() {
	if (conn_) {
		duckdb_disconnect(&conn_);
	}
}

DuckResult DuckConnection::Query(const std::string &sql) {
	log::Debug("duck.query", "sql", Clip(sql));
	if (check_) {
		return QueryChecked(sql);
	}
	duckdb_result res;
	if (duckdb_query(conn_, sql.c_str(), &res) == DuckDBError) {
		// Read the message before the result is destroyed.
		std::string msg = duckdb_result_error(&res) ? duckdb_result_error(&res) : "unknown error";
		auto type = duckdb_result_error_type(&res);
		duckdb_destroy_result(&res);
		throw Failure("DuckDB", msg, type, {.statement = sql.size() > 400 ? sql.substr(0, 400) + "..." : sql});
	}
	return DuckResult(res);
}

// Query with the interrupt check: each statement of `sql` prepared and run through the pending API.
DuckResult DuckConnection::QueryChecked(const std::string &sql) {
	duckdb_extracted_statements statements = nullptr;
	idx_t count = duckdb_extract_statements(conn_, sql.c_str(), &statements);
	struct Guard {
		duckdb_extracted_statements &s;
		~Guard() { duckdb_destroy_extracted(&s); }
	} guard{statements};
	if (count == 0) {
		const char *err = duckdb_extract_statements_error(statements);
		throw Failure("DuckDB", err ? err : "no statement in the query", DUCKDB_ERROR_PARSER, {.statement = Clip(sql)});
	}
	std::optional<DuckResult> last;
	for (idx_t i = 0; i < count; i++) {
		Prepared prepared;
		if (duckdb_prepare_extracted_statement(conn_, statements, i, &prepared.p) == DuckDBError) {
			const char *err = duckdb_prepare_error(prepared.p);
			throw Failure("DuckDB", err ? err : "unknown error", DUCKDB_ERROR_INVALID, {.statement = Clip(sql)});
		}
		try {
			last.reset();
			last.emplace(ExecutePrepared(prepared.p, false, "DuckDB"));
		} catch (Error &e) {
			if (e.Context().statement.empty()) {
				auto context = e.Context();
				context.statement = Clip(sql);
				throw Error(e.Kind(), e.Message(), context);
			}
			throw;
		}
	}
	return std::move(*last);
}

duckdb_result DuckConnection::ExecutePrepared(duckdb_prepared_statement prepared, bool streaming,
                                              const std::string &context) {
	Pending pending;
	auto started = streaming ? duckdb_pending_prepared_streaming(prepared, &pending.p)
	                         : duckdb_pending_prepared(prepared, &pending.p);
	if (started == DuckDBError) {
		const char *err = pending.p ? duckdb_pending_error(pending.p) : nullptr;
		throw Failure(context, err ? err : "cannot start the query", DUCKDB_ERROR_INVALID);
	}
	for (bool done = false; !done;) {
		auto state = duckdb_pending_execute_task(pending.p);
		switch (state) {
		case DUCKDB_PENDING_RESULT_READY:
		case DUCKDB_PENDING_ERROR:
			done = true; // duckdb_execute_pending reports the error with its type
			break;
		case DUCKDB_PENDING_NO_TASKS_AVAILABLE:
			// The other threads hold every task: wait a little rather than spin.
			std::this_thread::sleep_for(std::chrono::microseconds(500));
			[[fallthrough]];
		default:
			if (check_) {
				try {
					check_();
				} catch (...) {
					duckdb_interrupt(conn_);
					throw; // the pending result is destroyed on the way out, which ends the query
				}
			}
		}
	}
	duckdb_result res;
	if (duckdb_execute_pending(pending.p, &res) == DuckDBError) {
		std::string msg = duckdb_result_error(&res) ? duckdb_result_error(&res) : "unknown error";
		auto type = duckdb_result_error_type(&res);
		duckdb_destroy_result(&res);
		// After a failed task, execute_pending only says the pending result failed: the pending
		// result has the query's own message, whose prefix names its type.
		const char *failed = duckdb_pending_error(pending.p);
		if (failed) {
			msg = failed;
			type = msg.starts_with("Out of Memory Error") ? DUCKDB_ERROR_OUT_OF_MEMORY
			       : msg.starts_with("IO Error")          ? DUCKDB_ERROR_IO
			       : msg.starts_with("Interrupt")         ? DUCKDB_ERROR_INTERRUPT
			                                              : DUCKDB_ERROR_INVALID;
		}
		throw Failure(context, msg, type);
	}
	return res;
}

Error DuckConnection::Failure(const std::string &context, const std::string &message, duckdb_error_type type,
                              ErrorContext error_context) {
	if (type == DUCKDB_ERROR_OUT_OF_MEMORY || message.find("No space left") != std::string::npos ||
	    message.find("max_temp_directory_size") != std::string::npos) {
		return SpaceError(message, std::move(error_context));
	}
	ErrorKind kind = type == DUCKDB_ERROR_IO ? ErrorKind::Io : ErrorKind::Duck;
	return Error(kind, context + ": " + message, std::move(error_context));
}

Error DuckConnection::SpaceError(const std::string &message, ErrorContext error_context) {
	std::string dir = temp_directory_;
	std::string limits, memory_limit = "?";
	duckdb_result res;
	if (duckdb_query(conn_,
	                 "SELECT current_setting('temp_directory'), current_setting('max_temp_directory_size'), "
	                 "current_setting('memory_limit')",
	                 &res) == DuckDBSuccess) {
		DuckResult settings(res);
		dir = settings.GetString(0, 0).value_or(dir);
		memory_limit = settings.GetString(2, 0).value_or("?");
		limits = " (temporary space limit " + settings.GetString(1, 0).value_or("?") + ", memory limit " +
		         settings.GetString(2, 0).value_or("?") + ")";
	} else {
		duckdb_destroy_result(&res);
	}
	// DuckDB's first line says what it could not do ("failed to offload data block ... used"); the
	// rest advises settings that are pg_duckpipe's to choose.
	std::string first = message.substr(0, message.find('\n'));
	bool disk = message.find("No space left") != std::string::npos;
	// Without a word of the temporary directory, DuckDB could not fit a step in memory although it
	// may spill (an aggregate's hash table of a large flush's keys is one such step).
	bool memory = !disk && message.find("max_temp_directory_size") == std::string::npos &&
	              message.find("offload") == std::string::npos;
	if (memory) {
		error_context.hint = "raise duckdb_flush_memory_mb (the limit while a table flushes or copies) or "
		                     "duckdb_buffer_memory_mb (while it buffers), whichever the limit named is, with "
		                     "`duckpipe set-config`, duckpipe.set_config or the daemon's flag of that name; the "
		                     "table retries with the new value";
		return Error(ErrorKind::Io,
		             "DuckDB needs more memory than its limit of " + memory_limit + " for this step: DuckDB: " + first,
		             std::move(error_context));
	}
	error_context.hint = "free space in '" + dir +
	                     "', point --temp-dir at a larger disk, or raise --temp-dir-max-mb (or the memory limits "
	                     "--duckdb-buffer-memory-mb / --duckdb-flush-memory-mb)";
	return Error(ErrorKind::Io,
	             "the temporary directory '" + dir + "' is full" + (disk ? " (no space left on its disk)" : limits) +
	                 ": DuckDB: " + first,
	             std::move(error_context));
}

void DuckConnection::Interrupt() {
	duckdb_interrupt(conn_);
}

std::string DuckConnection::QuoteIdent(std::string_view ident) {
	std::string out = "\"";
	for (char c : ident) {
		if (c == '"') {
			out += '"';
		}
		out += c;
	}
	return out + "\"";
}

std::string DuckConnection::QuoteLiteral(std::string_view literal) {
	std::string out = "'";
	for (char c : literal) {
		if (c == '\'') {
			out += '\'';
		}
		out += c;
	}
	return out + "'";
}

} // namespace duckpipe
