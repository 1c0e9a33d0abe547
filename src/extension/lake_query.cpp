// duckpipe.query(sql, snapshot, as_of): DuckDB SQL over the lake's tables, one jsonb object per row,
// in a sandboxed DuckDB that can read only the snapshot's files (as `duckpipe query` does).
#include <cctype>
#include <cstdio>
#include <optional>
#include <string>
#include <vector>

#include "core/common/error.hpp"
#include "core/duck/duck_connection.hpp"
#include "core/duck/duck_sandbox.hpp"
#include "extension/lake_session.hpp"
#include "extension/pg_boundary.hpp"
#include "extension/pg_includes.hpp"
#include "extension/signal_block.hpp"
#include "extension/time_travel.hpp"

extern "C" {
#include "funcapi.h"
#include "utils/jsonb.h"
#include "utils/timestamp.h"
#include "utils/tuplestore.h"

PG_FUNCTION_INFO_V1(duckpipe_query);
}

namespace duckpipe::ext {

namespace {

std::string StripTrailingSemicolons(std::string sql) {
	while (!sql.empty() && (std::isspace(static_cast<unsigned char>(sql.back())) || sql.back() == ';')) {
		sql.pop_back();
	}
	return sql;
}

std::string JsonString(const std::string &text) {
	std::string out = "\"";
	for (unsigned char c : text) {
		switch (c) {
		case '"':
			out += "\\\"";
			break;
		case '\\':
			out += "\\\\";
			break;
		case '\n':
			out += "\\n";
			break;
		case '\r':
			out += "\\r";
			break;
		case '\t':
			out += "\\t";
			break;
		default:
			if (c < 0x20) {
				char buf[8];
				snprintf(buf, sizeof(buf), "\\u%04x", c);
				out += buf;
			} else {
				out += static_cast<char>(c);
			}
		}
	}
	return out + "\"";
}

// DuckDB's to_json writes non-finite doubles as bare Infinity, -Infinity and NaN, which JSON (and
// jsonb) has no literal for: they become strings.
std::string QuoteNonFinite(const std::string &json) {
	std::string out;
	out.reserve(json.size());
	bool in_string = false;
	for (size_t i = 0; i < json.size(); i++) {
		char c = json[i];
		if (in_string) {
			out += c;
			if (c == '\\' && i + 1 < json.size()) {
				out += json[++i];
			} else if (c == '"') {
				in_string = false;
			}
			continue;
		}
		if (c == '"') {
			in_string = true;
			out += c;
			continue;
		}
		bool matched = false;
		for (const char *token : {"-Infinity", "Infinity", "NaN"}) {
			size_t n = std::char_traits<char>::length(token);
			if (json.compare(i, n, token) == 0) {
				out += std::string("\"") + token + "\"";
				i += n - 1;
				matched = true;
				break;
			}
		}
		if (!matched) {
			out += c;
		}
	}
	return out;
}

// One JSON object text per row. SELECTs go through DuckDB's to_json (typed values: numbers,
// booleans, nested lists and structs); what cannot be wrapped (DESCRIBE, SHOW, CALL, EXPLAIN ...)
// has its values as strings.
std::vector<std::string> RunQuery(DuckConnection &duck, const std::string &sql) {
	std::vector<std::string> rows;
	std::optional<DuckResult> result;
	try {
		result.emplace(
		    duck.Query("SELECT CAST(to_json(__q) AS VARCHAR) FROM (" + StripTrailingSemicolons(sql) + "\n) AS __q"));
	} catch (const Error &) {
	}
	if (result) {
		for (uint64_t r = 0; r < result->Rows(); r++) {
			rows.push_back(QuoteNonFinite(result->GetString(0, r).value_or("null")));
		}
		return rows;
	}
	auto raw = duck.Query(sql); // DuckDB's own error for what is wrong with the SQL
	for (uint64_t r = 0; r < raw.Rows(); r++) {
		std::string row = "{";
		for (uint64_t c = 0; c < raw.Columns(); c++) {
			auto value = raw.GetString(c, r);
			row += (c ? ", " : "") + JsonString(raw.ColumnName(c)) + ": " + (value ? JsonString(*value) : "null");
		}
		rows.push_back(row + "}");
	}
	return rows;
}

} // namespace

} // namespace duckpipe::ext

Datum duckpipe_query(PG_FUNCTION_ARGS) {
	using namespace duckpipe;
	using namespace duckpipe::ext;
	return PgBoundary([&] {
		if (PG_ARGISNULL(0)) {
			throw PgError(ERRCODE_NULL_VALUE_NOT_ALLOWED, "sql must not be NULL", "", "");
		}
		std::string sql;
		const char *arg = nullptr;
		PgCall([&] { arg = text_to_cstring(PG_GETARG_TEXT_PP(0)); });
		sql = arg;
		if (!PG_ARGISNULL(1) && !PG_ARGISNULL(2)) {
			throw PgError(ERRCODE_INVALID_PARAMETER_VALUE, "snapshot and as_of cannot both be given", "",
			              "read the lake either at a snapshot id or as of a time");
		}
		// Its own arguments first, else the session's (duckpipe.as_of_snapshot / as_of_time).
		bool own_snapshot = !PG_ARGISNULL(1) || !PG_ARGISNULL(2);
		auto settings = own_snapshot ? LakeSettings::Location() : LakeSettings::Current();
		auto selector = settings.snapshot;
		if (!PG_ARGISNULL(1)) {
			selector = lake::SnapshotSelector::Id(PG_GETARG_INT64(1));
			selector.origin = "the snapshot argument";
		} else if (!PG_ARGISNULL(2)) {
			selector = lake::SnapshotSelector::AsOf(UtcTimestampText(PG_GETARG_TIMESTAMPTZ(2)));
			selector.origin = "the as_of argument";
		}
		if (own_snapshot) {
			selector.hint = "SELECT * FROM duckpipe.snapshots() lists the lake's snapshots";
		}
		std::vector<std::string> rows;
		{
			LakeSession session(settings, selector);
			if (!session.HasLake()) {
				throw PgError(ERRCODE_UNDEFINED_TABLE, "this database has no lake yet", "",
				              "duckpipe.add_table copies a first table into it");
			}
			SignalBlock blocked;
			try {
				DuckSandbox::CheckReadOnly(session.Duck(), sql);
				rows = RunQuery(session.Duck(), sql);
			} catch (const Error &e) {
				if (e.Kind() != ErrorKind::Duck && e.Kind() != ErrorKind::Config) {
					throw;
				}
				std::string hint = "check the SQL; the lake's tables at snapshot " +
				                   std::to_string(session.State().snapshot.snapshot_id) + " are " + session.TableList();
				if (e.Kind() == ErrorKind::Config) {
					hint = e.Context().hint;
				} else if (e.Message().find("Permission Error") != std::string::npos) {
					hint = "queries can read only the lake's own files, through its tables: " + session.TableList();
				}
				throw PgError(ERRCODE_INVALID_PARAMETER_VALUE, "query failed: " + e.Message(), "", hint);
			}
		}
		PgCall([&] {
			InitMaterializedSRF(fcinfo, MAT_SRF_USE_EXPECTED_DESC);
			auto *rsinfo = reinterpret_cast<ReturnSetInfo *>(fcinfo->resultinfo);
			for (const auto &row : rows) {
				Datum value = DirectFunctionCall1(jsonb_in, CStringGetDatum(row.c_str()));
				bool isnull = false;
				tuplestore_putvalues(rsinfo->setResult, rsinfo->setDesc, &value, &isnull);
				CHECK_FOR_INTERRUPTS();
			}
		});
		return static_cast<Datum>(0);
	});
}
