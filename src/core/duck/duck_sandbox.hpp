#pragma once

#include <string>
#include <vector>

namespace duckpipe {

class DuckConnection;

// Locks an embedded DuckDB down before it runs SQL that did not come from pg_duckpipe itself: a
// user's query, or catalog text such as a column default (executed as an expression). DuckDB then
// opens no file outside `paths` and `directories` (enable_external_access=false with DuckDB 1.4's
// allowed_paths / allowed_directories), installs and loads no extension, and its configuration is
// locked so the SQL cannot undo any of it. Views and tables created before Lock keep working; the
// files they read must be in the allow lists.
class DuckSandbox {
public:
	// Files DuckDB may open (a lake's live data and delete files).
	std::vector<std::string> paths;
	// Directories (and everything below them) DuckDB may open. DuckDB has no read-only mode for a
	// directory: list only what the instance must write (its spill directory, the lake data path).
	std::vector<std::string> directories;
	// Also lock the configuration. Instances of pg_duckpipe's own that change memory_limit or TimeZone
	// later leave it off: the file lockdown holds anyway (DuckDB refuses to re-enable external access or
	// widen the allow lists once external access is off), and an expression cannot run SET.
	bool lock_configuration = true;

	// Applies the lockdown to the connection's database (settings are database-wide). Once locked,
	// it cannot be applied again.
	void Lock(DuckConnection &duck) const;

	// Throws Error(Config) unless every statement of `sql` only reads: SELECT (and DESCRIBE, SHOW,
	// SUMMARIZE, FROM ...), EXPLAIN or CALL. COPY, EXPORT, ATTACH, INSTALL/LOAD, SET, CREATE and
	// PREPARE/EXECUTE are refused before anything runs; a statement DuckDB cannot even prepare is
	// reported with DuckDB's reason.
	static void CheckReadOnly(DuckConnection &duck, const std::string &sql);
};

} // namespace duckpipe
