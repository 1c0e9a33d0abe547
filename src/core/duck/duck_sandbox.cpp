#include "core/duck/duck_sandbox.hpp"

#include "core/common/error.hpp"
#include "core/duck/duck_connection.hpp"

#include <duckdb.h>

namespace duckpipe {

namespace {

std::string List(const std::vector<std::string> &items) {
	std::string out = "[";
	for (size_t i = 0; i < items.size(); i++) {
		out += (i ? ", " : "") + DuckConnection::QuoteLiteral(items[i]);
	}
	return out + "]";
}

const char *StatementName(duckdb_statement_type type) {
	switch (type) {
	case DUCKDB_STATEMENT_TYPE_INSERT:
		return "INSERT";
	case DUCKDB_STATEMENT_TYPE_UPDATE:
		return "UPDATE";
	case DUCKDB_STATEMENT_TYPE_DELETE:
		return "DELETE";
	case DUCKDB_STATEMENT_TYPE_PREPARE:
		return "PREPARE";
	case DUCKDB_STATEMENT_TYPE_CREATE:
	case DUCKDB_STATEMENT_TYPE_CREATE_FUNC:
		return "CREATE";
	case DUCKDB_STATEMENT_TYPE_EXECUTE:
		return "EXECUTE";
	case DUCKDB_STATEMENT_TYPE_ALTER:
		return "ALTER";
	case DUCKDB_STATEMENT_TYPE_TRANSACTION:
		return "a transaction statement";
	case DUCKDB_STATEMENT_TYPE_COPY:
		return "COPY";
	case DUCKDB_STATEMENT_TYPE_DROP:
		return "DROP";
	case DUCKDB_STATEMENT_TYPE_EXPORT:
		return "EXPORT";
	case DUCKDB_STATEMENT_TYPE_PRAGMA:
		return "PRAGMA";
	case DUCKDB_STATEMENT_TYPE_SET:
	case DUCKDB_STATEMENT_TYPE_VARIABLE_SET:
		return "SET";
	case DUCKDB_STATEMENT_TYPE_LOAD:
		return "INSTALL/LOAD";
	case DUCKDB_STATEMENT_TYPE_ATTACH:
		return "ATTACH";
	case DUCKDB_STATEMENT_TYPE_DETACH:
		return "DETACH";
	default:
		return "this statement";
	}
}

bool Reads(duckdb_statement_type type) {
	return type == DUCKDB_STATEMENT_TYPE_SELECT || type == DUCKDB_STATEMENT_TYPE_EXPLAIN ||
	       type == DUCKDB_STATEMENT_TYPE_CALL;
}

const char *kReadOnlyHint = "queries only read the lake: use SELECT (or DESCRIBE, SHOW, SUMMARIZE, EXPLAIN)";

} // namespace

void DuckSandbox::Lock(DuckConnection &duck) const {
	// Order matters: every setting below is refused once lock_configuration is on.
	duck.Execute("SET autoinstall_known_extensions = false");
	duck.Execute("SET autoload_known_extensions = false");
	duck.Execute("SET allow_community_extensions = false");
	if (!paths.empty()) {
		duck.Execute("SET allowed_paths = " + List(paths));
	}
	if (!directories.empty()) {
		std::vector<std::string> dirs;
		for (const auto &d : directories) {
			// A prefix match: "/lake" would also admit "/lake-other/".
			dirs.push_back(d.empty() || d.back() == '/' ? d : d + "/");
		}
		duck.Execute("SET allowed_directories = " + List(dirs));
	}
	duck.Execute("SET enable_external_access = false");
	if (lock_configuration) {
		duck.Execute("SET lock_configuration = true");
	}
}

void DuckSandbox::CheckReadOnly(DuckConnection &duck, const std::string &sql) {
	duckdb_extracted_statements statements = nullptr;
	idx_t count = duckdb_extract_statements(duck.Raw(), sql.c_str(), &statements);
	struct Guard {
		duckdb_extracted_statements &s;
		~Guard() { duckdb_destroy_extracted(&s); }
	} guard{statements};
	if (count == 0) {
		const char *err = duckdb_extract_statements_error(statements);
		throw Error(ErrorKind::Duck, std::string("DuckDB: ") + (err ? err : "no statement in the query"));
	}
	for (idx_t i = 0; i < count; i++) {
		duckdb_prepared_statement prepared = nullptr;
		auto state = duckdb_prepare_extracted_statement(duck.Raw(), statements, i, &prepared);
		std::string error =
		    state == DuckDBError && duckdb_prepare_error(prepared) ? duckdb_prepare_error(prepared) : "";
		auto type = state == DuckDBError ? DUCKDB_STATEMENT_TYPE_INVALID : duckdb_prepared_statement_type(prepared);
		duckdb_destroy_prepare(&prepared);
		if (state == DuckDBError) {
			throw Error(ErrorKind::Duck, "DuckDB: " + error);
		}
		if (!Reads(type)) {
			throw Error(ErrorKind::Config,
			            std::string(StatementName(type)) + " is not allowed: queries have read-only access to the lake",
			            {.hint = kReadOnlyHint});
		}
	}
}

} // namespace duckpipe
