// What the SQL API needs from a group's source when it is another server (a group created with a
// conninfo): one statement over libpq, and the conninfo shown without its password. A local source is
// queried by the plpgsql itself, in the caller's transaction.
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

namespace {

std::string TextArg(FunctionCallInfo fcinfo, int n) {
	text *t = PG_GETARG_TEXT_PP(n);
	return std::string(VARDATA_ANY(t), VARSIZE_ANY_EXHDR(t));
}

} // namespace

// duckpipe._source_exec(conninfo, sql, arg): runs sql on the server conninfo names (arg is $1 when
// the statement has it) and returns the first column of its first row, NULL if there is none. Its
// own connection and transaction: the remote change does not roll back with the caller's.
Datum duckpipe_source_exec(PG_FUNCTION_ARGS) {
	if (PG_ARGISNULL(0) || PG_ARGISNULL(1)) {
		PG_RETURN_NULL();
	}
	std::optional<std::string> result;
	duckpipe::ext::PgBoundary([&] {
		auto conninfo = TextArg(fcinfo, 0);
		auto sql = TextArg(fcinfo, 1);
		std::vector<std::optional<std::string>> params;
		if (sql.find("$1") != std::string::npos) {
			params.push_back(PG_ARGISNULL(2) ? std::nullopt : std::optional<std::string>(TextArg(fcinfo, 2)));
		}
		duckpipe::PgConnection conn(conninfo, duckpipe::PgConnection::Options{.application_name = "pg_duckpipe api"});
		auto r = conn.Exec(sql, params);
		if (r.Rows() > 0 && r.Columns() > 0 && !r.IsNull(0, 0)) {
			result = std::string(r.Get(0, 0));
		}
	});
	if (!result) {
		PG_RETURN_NULL();
	}
	PG_RETURN_TEXT_P(cstring_to_text_with_len(result->data(), static_cast<int>(result->size())));
}

// duckpipe._redact_conninfo(conninfo): the conninfo with its password masked.
Datum duckpipe_redact_conninfo(PG_FUNCTION_ARGS) {
	return duckpipe::ext::PgBoundary([&] {
		auto redacted = duckpipe::Conninfo::Redact(TextArg(fcinfo, 0));
		return PointerGetDatum(cstring_to_text_with_len(redacted.data(), static_cast<int>(redacted.size())));
	});
}
