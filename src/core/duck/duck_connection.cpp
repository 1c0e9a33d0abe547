#include "core/duck/duck_connection.hpp"

#include "core/common/error.hpp"
#include "core/common/log.hpp"
#include "core/duck/duck_database.hpp"

#include <duckdb.h>

namespace duckpipe {

DuckConnection::DuckConnection(DuckDatabase &db) : temp_directory_(db.TempDirectory()) {
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
	log::Debug("duck.query", "sql", sql.size() > 400 ? sql.substr(0, 400) + "..." : sql);
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
	std::string limits;
	duckdb_result res;
	if (duckdb_query(conn_,
	                 "SELECT current_setting('temp_directory'), current_setting('max_temp_directory_size'), "
	                 "current_setting('memory_limit')",
	                 &res) == DuckDBSuccess) {
		DuckResult settings(res);
		dir = settings.GetString(0, 0).value_or(dir);
		limits = " (temporary space limit " + settings.GetString(1, 0).value_or("?") + ", memory limit " +
		         settings.GetString(2, 0).value_or("?") + ")";
	} else {
		duckdb_destroy_result(&res);
	}
	// DuckDB's first line says what it could not do ("failed to offload data block ... used"); the
	// rest advises settings that are pg_duckpipe's to choose.
	std::string first = message.substr(0, message.find('\n'));
	bool disk = message.find("No space left") != std::string::npos;
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
