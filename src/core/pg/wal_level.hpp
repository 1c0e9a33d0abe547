#pragma once

#include <string>
#include <string_view>

namespace duckpipe {

class PgConnection;

// Logical decoding needs wal_level = logical, which only a restart changes. Every place that is
// about to rely on it (create-group, the pipeline's start, a group's start, a replication
// connection) asks through here, so the message and the fix read the same everywhere.
// `server` names the server in the message (e.g. "the source of group default").
void RequireLogicalWalLevel(std::string_view level, const std::string &server);
// Reads `SHOW wal_level` on `conn` first.
void RequireLogicalWalLevel(PgConnection &conn, const std::string &server);

} // namespace duckpipe
