#pragma once

#include <exception>
#include <string>
#include <utility>

// The two conversions between C++ exceptions and PostgreSQL errors, in one place. A PostgreSQL
// ERROR is a longjmp: it must never jump over a C++ frame (destructors would not run), and a C++
// exception must never unwind through a PostgreSQL frame. So:
// - every entry point PostgreSQL calls (SQL function, hook, table AM callback, bgworker main) runs
//   its C++ body in PgBoundary, which catches and re-raises as ereport once the C++ frames are gone;
// - C++ code that calls a PostgreSQL function that may raise wraps the call in PgCall, which turns
//   the ERROR into a PgError exception.
namespace duckpipe::ext {

// A PostgreSQL error caught by PgCall: rethrown by PgBoundary with the same SQLSTATE and texts.
class PgError : public std::exception {
public:
	PgError(int sqlerrcode, std::string message, std::string detail, std::string hint)
	    : sqlerrcode_(sqlerrcode), message_(std::move(message)), detail_(std::move(detail)), hint_(std::move(hint)) {}
	const char *what() const noexcept override { return message_.c_str(); }
	int SqlErrCode() const { return sqlerrcode_; }
	const std::string &Detail() const { return detail_; }
	const std::string &Hint() const { return hint_; }

private:
	int sqlerrcode_;
	std::string message_;
	std::string detail_;
	std::string hint_;
};

// A terminate request (pg_terminate_backend, shutdown) seen by C++ code where CHECK_FOR_INTERRUPTS
// would exit the process at once, with C++ frames and a running DuckDB query on the stack: thrown
// instead, it unwinds them (interrupting the query), and PgBoundary then lets PostgreSQL terminate.
class PgTerminate : public std::exception {
public:
	const char *what() const noexcept override { return "terminating connection"; }
};

// What an exception said, copied into the current memory context (plain C, no destructor to run).
struct CaughtError {
	int sqlerrcode = 0;
	char *message = nullptr;
	char *detail = nullptr;
	char *hint = nullptr;
	bool terminate = false; // a PgTerminate: CHECK_FOR_INTERRUPTS exits
};
CaughtError CaptureCurrentException() noexcept;
[[noreturn]] void RaiseCaught(const CaughtError &error);

template <class Body>
auto PgBoundary(Body &&body) -> decltype(body()) {
	CaughtError error;
	try {
		return body();
	} catch (...) {
		error = CaptureCurrentException();
	}
	RaiseCaught(error);
}

// Runs a PostgreSQL call from C++; an ERROR it raises becomes a PgError (its state is cleaned up:
// the caller may go on or rethrow). Interrupts (query cancel, terminate) are errors like any other.
void PgCallImpl(void (*fn)(void *), void *arg);
template <class Fn>
void PgCall(Fn &&fn) {
	PgCallImpl([](void *p) { (*static_cast<Fn *>(p))(); }, &fn);
}

// Runs `fn` where nothing may escape (an abort callback, a drop at commit): what went wrong, as text
// for a WARNING, or "" when nothing did.
std::string MessageOf(const std::exception &e);
template <class Fn>
std::string FailureOf(Fn &&fn) noexcept {
	try {
		fn();
		return "";
	} catch (const std::exception &e) {
		return MessageOf(e);
	} catch (...) {
		return "unknown error";
	}
}

} // namespace duckpipe::ext
