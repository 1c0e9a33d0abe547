// What the SQL API needs from a group's source when it is another server (a group created with a
// conninfo): one statement over libpq, and the conninfo shown without its password. A local source is
// queried by the plpgsql itself, in the caller's transaction.
#include "extension/pg_args.hpp"
#include "extension/pg_boundary.hpp"

#include <optional>
#include <string>
#include <vector>

#include "core/pg/conninfo.hpp"
#include "core/pg/pg_connection.hpp"

#include "extension/pg_includes.hpp"

extern "C" {
PG_FUNCTION_INFO_V1(duckpipe_source_exec);
PG_FUNCTION_INFO_V1(duckpipe_redact_conninfo);
}

using duckpipe::ext::TextArg;
using duckpipe::ext::TextDatum;

// duckpipe._source_exec(conninfo, sql, arg): runs sql on the server conninfo names (arg is $1 when
// the statement has it) and returns the first column of its first row, NULL if there is none. Its
// own connection and transaction: the remote change does not roll back with the caller's.
Datum duckpipe_source_exec(PG_FUNCTION_ARGS) {
	if (PG_ARGISNULL(0) || PG_ARGISNULL(1)) {
		PG_RETURN_NULL();
	}
	return duckpipe::ext::PgBoundary([&] {
		auto conninfo = TextArg(fcinfo, 0);
		auto sql = TextArg(fcinfo, 1);
		std::vector<std::optional<std::string>> params;
		if (sql.find("$1") != std::string::npos) {
			params.push_back(PG_ARGISNULL(2) ? std::nullopt : std::optional<std::string>(TextArg(fcinfo, 2)));
		}
		duckpipe::PgConnection conn(conninfo, duckpipe::PgConnection::Options{.application_name = "pg_duckpipe api"});
		auto r = conn.Exec(sql, params);
		if (r.Rows() == 0 || r.Columns() == 0 || r.IsNull(0, 0)) {
			fcinfo->isnull = true;
			return static_cast<Datum>(0);
		}
		return TextDatum(std::string(r.Get(0, 0)));
	});
}

// duckpipe._redact_conninfo(conninfo): the conninfo with its password masked.
Datum duckpipe_redact_conninfo(PG_FUNCTION_ARGS) {
	return duckpipe::ext::PgBoundary([&] { return TextDatum(duckpipe::Conninfo::Redact(TextArg(fcinfo, 0))); });
}
