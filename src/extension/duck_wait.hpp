#pragma once

#include <functional>

namespace duckpipe {
class DuckConnection;
}

namespace duckpipe::ext {

// Every wait of a backend on a DuckDB query (starting it, fetching a chunk of its result): the call
// runs on the backend's DuckDB waiter thread (created once, every signal blocked) while the main
// thread waits on a condition variable and checks PostgreSQL's interrupts every few milliseconds
// (QueryEngine::CheckInterrupts). DuckDB computes a streaming result's chunk inside the fetch (a
// sort, an aggregate or a join before the first row; a selective stretch of a join later), where
// no check between its tasks reaches: waited for this way, a cancel or statement_timeout is seen at
// once whatever DuckDB is doing.
class DuckWait {
public:
	// Runs `work` (DuckDB calls only: no PostgreSQL call, no interrupt check) on the waiter thread,
	// with `duck`'s own interrupt check taken off meanwhile (it calls PostgreSQL). An exception of
	// `work` is rethrown here. On an interrupt (a PgError or PgTerminate from the check) `duck`'s
	// query is interrupted, `work` is waited for, and the interrupt is rethrown: nothing of DuckDB
	// still runs for this connection when the error unwinds the caller. Main thread only.
	static void Run(DuckConnection &duck, const std::function<void()> &work);
};

} // namespace duckpipe::ext
