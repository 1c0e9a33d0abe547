#include "core/duck/duck_connection.hpp"

#include "core/common/error.hpp"
#include "core/common/log.hpp"
#include "core/duck/duck_database.hpp"

#include <duckdb.h>

namespace duckpipe {

DuckConnection::DuckConnection(DuckDatabase &db) {
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
		ErrorKind kind = ErrorKind::Duck;
		if (type == DUCKDB_ERROR_IO || msg.find("No space left") != std::string::npos) {
			kind = ErrorKind::Io;
		}
		throw Error(kind, "DuckDB: " + msg, {.statement = sql.size() > 400 ? sql.substr(0, 400) + "..." : sql});
	}
	return DuckResult(res);
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
