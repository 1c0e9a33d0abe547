#include "core/pg/wal_level.hpp"

#include "core/common/error.hpp"
#include "core/pg/pg_connection.hpp"

namespace duckpipe {

void RequireLogicalWalLevel(std::string_view level, const std::string &server) {
	if (level == "logical") {
		return;
	}
	throw Error(ErrorKind::Source,
	            server + " runs with wal_level = " + std::string(level) +
	                ", logical decoding needs wal_level = logical",
	            {.statement = "SHOW wal_level",
	             .hint = "set wal_level = logical in postgresql.conf (ALTER SYSTEM SET wal_level = logical) and "
	                     "restart that server"});
}

void RequireLogicalWalLevel(PgConnection &conn, const std::string &server) {
	auto r = conn.Exec("SHOW wal_level");
	RequireLogicalWalLevel(r.Get(0, 0), server);
}

} // namespace duckpipe
