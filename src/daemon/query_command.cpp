#include "daemon/query_command.hpp"

#include "core/common/error.hpp"
#include "core/common/private_dir.hpp"
#include "core/duck/duck_connection.hpp"
#include "core/duck/duck_database.hpp"
#include "core/duck/duck_sandbox.hpp"
#include "core/lake/catalog_loader.hpp"
#include "core/lake/lake_reader.hpp"
#include "core/pg/pg_connection.hpp"
#include "daemon/result_printer.hpp"

#include <CLI/CLI.hpp>
#include <duckdb.h>

#include <ostream>
#include <vector>

namespace duckpipe::daemon {

namespace {

bool IsNested(duckdb_type t) {
	return t == DUCKDB_TYPE_LIST || t == DUCKDB_TYPE_STRUCT || t == DUCKDB_TYPE_MAP || t == DUCKDB_TYPE_ARRAY ||
	       t == DUCKDB_TYPE_UNION;
}

bool IsNumeric(duckdb_type t) {
	switch (t) {
	case DUCKDB_TYPE_TINYINT:
	case DUCKDB_TYPE_SMALLINT:
	case DUCKDB_TYPE_INTEGER:
	case DUCKDB_TYPE_BIGINT:
	case DUCKDB_TYPE_UTINYINT:
	case DUCKDB_TYPE_USMALLINT:
	case DUCKDB_TYPE_UINTEGER:
	case DUCKDB_TYPE_UBIGINT:
	case DUCKDB_TYPE_HUGEINT:
	case DUCKDB_TYPE_UHUGEINT:
	case DUCKDB_TYPE_FLOAT:
	case DUCKDB_TYPE_DOUBLE:
	case DUCKDB_TYPE_DECIMAL:
		return true;
	default:
		return false;
	}
}

bool HasJsonAlias(DuckResult &result, uint64_t col) {
	auto type = duckdb_column_logical_type(result.Raw(), col);
	char *alias = duckdb_logical_type_get_alias(type);
	bool json = alias && std::string_view(alias) == "JSON";
	if (alias) {
		duckdb_free(alias);
	}
	duckdb_destroy_logical_type(&type);
	return json;
}

std::string StripTrailingSemicolons(std::string sql) {
	while (!sql.empty() && (std::isspace(static_cast<unsigned char>(sql.back())) || sql.back() == ';')) {
		sql.pop_back();
	}
	return sql;
}

// The cells of `result` as text; false when a non-NULL value has none: the C API renders no nested
// value, and neither uuid, enum, timestamptz, timetz nor timestamp_ns (DuckDB's cast does).
bool RenderRows(DuckResult &result, std::vector<std::vector<std::optional<std::string>>> &rows) {
	rows.clear();
	for (uint64_t r = 0; r < result.Rows(); r++) {
		std::vector<std::optional<std::string>> row;
		for (uint64_t c = 0; c < result.Columns(); c++) {
			row.push_back(result.GetString(c, r));
			if (!row.back() && !result.IsNull(c, r)) {
				return false;
			}
		}
		rows.push_back(std::move(row));
	}
	return true;
}

ResultTable RunQuery(DuckConnection &duck, const std::string &sql) {
	auto result = duck.Query(sql);
	ResultTable text;
	bool nested = false;
	for (uint64_t c = 0; c < result.Columns(); c++) {
		auto type = result.ColumnType(c);
		text.names.push_back(result.ColumnName(c));
		text.kinds.push_back(HasJsonAlias(result, c)       ? ResultTable::Kind::Json
		                     : IsNumeric(type)             ? ResultTable::Kind::Number
		                     : type == DUCKDB_TYPE_BOOLEAN ? ResultTable::Kind::Boolean
		                                                   : ResultTable::Kind::Text);
		nested = nested || IsNested(type);
	}
	if (!nested && RenderRows(result, text.rows)) {
		return text;
	}
	// Values the C API cannot render: re-run the SELECT through DuckDB's cast to VARCHAR. Anything
	// that cannot be wrapped (several statements, PRAGMA ...) keeps its first result.
	try {
		auto wrapped = duck.Query("SELECT COLUMNS(*)::VARCHAR FROM (" + StripTrailingSemicolons(sql) + "\n) AS __q");
		if (wrapped.Columns() == result.Columns() && RenderRows(wrapped, text.rows)) {
			return text;
		}
	} catch (const Error &) {
	}
	RenderRows(result, text.rows);
	if (text.rows.size() < result.Rows()) {
		throw Error(ErrorKind::Unsupported, "the query's result has a value that cannot be shown as text",
		            {.hint = "cast the column to VARCHAR in the query"});
	}
	return text;
}

std::string TableList(const lake::CatalogState &state) {
	std::string out;
	for (const auto &t : state.tables) {
		out += (out.empty() ? "" : ", ") + t.schema_name + "." + t.name;
	}
	return out.empty() ? "(none)" : out;
}

} // namespace

QueryCommand::QueryCommand(CLI::App &app, const GlobalOptions &global) : global_(global) {
	sub_ = app.add_subcommand("query", "Run DuckDB SQL over the lake's tables (as schema.table views)");
	sub_->add_option("sql", sql_, "The SQL, e.g. \"SELECT count(*) FROM public.orders\"")->required();
	sub_->add_option("--format", format_, "Output format")
	    ->check(CLI::IsMember({"table", "csv", "json"}))
	    ->capture_default_str();
	auto *snapshot = sub_->add_option("--snapshot", snapshot_, "Read the lake as of this snapshot id");
	auto *as_of = sub_->add_option("--as-of", as_of_,
	                               "Read the lake as of this time (the latest snapshot taken at or before it)");
	sub_->add_option("--query-memory-mb", query_memory_mb_,
	                 "Memory limit of the query's DuckDB (MB); above it DuckDB spills to a directory of its own "
	                 "under --temp-dir (default: the system's temporary directory)")
	    ->envname("DUCKPIPE_QUERY_MEMORY_MB")
	    ->check(CLI::PositiveNumber)
	    ->capture_default_str();
	snapshot->excludes(as_of);
	as_of->excludes(snapshot);
	sub_->footer("Global options (see duckpipe --help) such as --lake-catalog may follow the subcommand name.");
}

bool QueryCommand::Selected() const {
	return sub_->parsed();
}

int QueryCommand::Run(std::ostream &out) const {
	auto selector = lake::SnapshotSelector::Latest();
	if (snapshot_) {
		selector = lake::SnapshotSelector::Id(*snapshot_);
	} else if (!as_of_.empty()) {
		selector = lake::SnapshotSelector::AsOf(as_of_);
	}
	lake::CatalogState state;
	{
		PgConnection conn(global_.LakeCatalogConninfo(), PgConnection::Options{.application_name = "duckpipe query"});
		state = lake::LoadCatalog(conn, global_.lake_schema, selector);
	}
	// A spill directory of this query's own (DuckDB's spill file names are not unique across
	// instances), removed when the query ends, or by a runner's sweep if the process dies first.
	PrivateDirectory spill(global_.temp_dir, kQueryDirPrefix);
	auto options = global_.DuckOptions(query_memory_mb_);
	options["temp_directory"] = spill.Path() + "/spill";
	DuckDatabase db("", options);
	auto duck = db.Connect();
	lake::LakeReader::Attach(*duck, state);
	// The query reads the lake's live files through the views and nothing else: no other file, no
	// write (a COPY over a live Parquet file would corrupt the lake), no extension.
	DuckSandbox{.paths = lake::LakeReader::Files(state)}.Lock(*duck);
	ResultTable result;
	try {
		DuckSandbox::CheckReadOnly(*duck, sql_);
		result = RunQuery(*duck, sql_);
	} catch (const Error &e) {
		if (e.Kind() != ErrorKind::Duck && e.Kind() != ErrorKind::Config) {
			throw;
		}
		std::string hint = "check the SQL; the lake's tables at snapshot " +
		                   std::to_string(state.snapshot.snapshot_id) + " are " + TableList(state);
		if (e.Kind() == ErrorKind::Config) {
			hint = e.Context().hint; // a statement the sandbox refuses
		} else if (e.Message().find("Permission Error") != std::string::npos) {
			hint = "queries can read only the lake's own files, through its tables: " + TableList(state);
		}
		throw Error(ErrorKind::Config, "query failed: " + e.Message(), {.hint = hint});
	}
	PrintResult(result, ParseOutputFormat(format_), out);
	out.flush();
	return 0;
}

} // namespace duckpipe::daemon
