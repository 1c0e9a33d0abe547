#pragma once

#include "core/common/error.hpp"
#include "core/duck/duck_result.hpp"

#include <functional>
#include <string>
#include <string_view>
#include <utility>

struct _duckdb_connection;
struct _duckdb_prepared_statement;

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

	// Called on the calling thread between DuckDB's tasks while a statement of this connection runs
	// (Query, Execute, ExecutePrepared): an exception it throws interrupts the statement
	// (duckdb_interrupt) and reaches the caller unchanged. A host takes its own cancel requests this
	// way (PostgreSQL's CHECK_FOR_INTERRUPTS) with no thread of its own. Empty: statements run to the
	// end in one call, as duckdb_query does.
	using InterruptCheck = std::function<void()>;
	void SetInterruptCheck(InterruptCheck check) { check_ = std::move(check); }
	// Removes the check and returns it (a host running a statement on another thread checks itself).
	InterruptCheck TakeInterruptCheck() { return std::exchange(check_, {}); }
	// Executes `prepared` through the pending-result API (the interrupt check between tasks) and
	// returns its result, to destroy with duckdb_destroy_result; `streaming` gives a streaming result
	// (read it with duckdb_fetch_chunk). A failure throws Failure(context, ...).
	duckdb_result ExecutePrepared(_duckdb_prepared_statement *prepared, bool streaming, const std::string &context);

	// The Error for a failure DuckDB reported on this connection (a query's, an appender's): a full
	// temp directory becomes Error(Io) naming the directory and the fix (DuckDB words it as running
	// out of memory, quoting settings pg_duckpipe users never set), a step that does not fit the
	// memory limit Error(Io) naming the setting to raise, another I/O error Error(Io),
	// anything else Error(Duck) with `context` before DuckDB's message.
	Error Failure(const std::string &context, const std::string &message, duckdb_error_type type,
	              ErrorContext error_context = {});

	static std::string QuoteIdent(std::string_view ident);
	static std::string QuoteLiteral(std::string_view literal);

	_duckdb_connection *Raw() const { return conn_; }
	// Its database's preserve_insertion_order as opened (DuckDatabase::KeepsInsertionOrder).
	bool KeepsInsertionOrder() const { return keeps_insertion_order_; }

private:
	Error SpaceError(const std::string &message, ErrorContext error_context);
	DuckResult QueryChecked(const std::string &sql);

	_duckdb_connection *conn_ = nullptr;
	std::string temp_directory_;
	bool keeps_insertion_order_;
	InterruptCheck check_;
};

} // namespace duckpipe
