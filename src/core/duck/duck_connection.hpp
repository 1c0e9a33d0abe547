#pragma once

#include "core/common/error.hpp"
#include "core/duck/duck_result.hpp"

#include <string>
#include <string_view>

struct _duckdb_connection;

namespace duckpipe {

class DuckDatabase;

// One connection to an embedded DuckDB. Query failures throw Error(Duck) with the SQL.
class DuckConnection {
public:
	explicit DuckConnection(DuckDatabase &db);
	~DuckConnection();
	DuckConnection(const DuckConnection &) = delete;
	DuckConnection &operator=(const DuckConnection &) = delete;

	DuckResult Query(const std::string &sql);
	// Runs statements whose results are not needed.
	void Execute(const std::string &sql) { Query(sql); }
	// Interrupts a running query from another thread.
	void Interrupt();

	// The Error for a failure DuckDB reported on this connection (a query's, an appender's): a full
	// temp directory becomes Error(Io) naming the directory and the fix (DuckDB words it as running
	// out of memory, quoting settings pg_duckpipe users never set), another I/O error Error(Io),
	// anything else Error(Duck) with `context` before DuckDB's message.
	Error Failure(const std::string &context, const std::string &message, duckdb_error_type type,
	              ErrorContext error_context = {});

	static std::string QuoteIdent(std::string_view ident);
	static std::string QuoteLiteral(std::string_view literal);

	_duckdb_connection *Raw() const { return conn_; }

private:
	Error SpaceError(const std::string &message, ErrorContext error_context);

	_duckdb_connection *conn_ = nullptr;
	std::string temp_directory_;
};

} // namespace duckpipe
