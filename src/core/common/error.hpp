#pragma once

#include "core/common/lsn.hpp"

#include <optional>
#include <stdexcept>
#include <string>

namespace duckpipe {

// What failed, so a boundary (CLI exit code, REST status, ereport) can map it without parsing text.
enum class ErrorKind {
	Config,      // bad flag, setting or input: fix the call
	Connection,  // server unreachable, authentication failed
	Source,      // the source database refused (privilege, wal_level, missing object)
	Protocol,    // malformed replication stream or unexpected message
	Lake,        // DuckLake catalog or data file problem
	Conflict,    // a concurrent lake commit won; retryable
	Duck,        // the embedded DuckDB failed
	Io,          // file system (full disk, permissions)
	Unsupported, // a table or type we cannot sync faithfully
	Internal,
};

const char *ErrorKindName(ErrorKind kind);

// Where an error happened. Every field is optional; the message names the ones that are set.
struct ErrorContext {
	std::string table; // "schema.table"
	std::optional<Lsn> lsn;
	std::string sqlstate;  // PostgreSQL SQLSTATE when the server said no
	std::string statement; // the SQL that failed (never contains secrets)
	std::string hint;      // how to fix it
};

// The one exception type of the core. Boundaries catch it and convert once.
class Error : public std::runtime_error {
public:
	Error(ErrorKind kind, const std::string &message, ErrorContext context = {});

	ErrorKind Kind() const { return kind_; }
	const ErrorContext &Context() const { return context_; }
	// The bare message without the context suffix.
	const std::string &Message() const { return message_; }
	bool Retryable() const;

private:
	ErrorKind kind_;
	std::string message_;
	ErrorContext context_;
};

} // namespace duckpipe
