#pragma once

// Keeps the passwords of connection strings out of the server log. A conninfo given to the SQL API
// (duckpipe.create_group(conninfo => ...)) is part of the statement, which PostgreSQL writes into
// the log as the STATEMENT line of any error, and under log_statement or
// log_min_duration_statement as the statement itself. An emit_log_hook rewrites those, the
// message, its detail and context lines before they are written (Conninfo::RedactInText).
namespace duckpipe::ext {

void RegisterLogRedaction();

} // namespace duckpipe::ext
