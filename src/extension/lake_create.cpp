// add_table creates the target's lake table before it returns, and a rolled-back add_table leaves
// none behind.
//
// The lake's catalog is written over libpq by the core (LakeWriter), so the creation cannot join the
// caller's transaction: duckpipe._create_lake_table commits it at once (an empty DuckLake table with
// the columns the worker's copy would create, from the same TableSchema mapping) and remembers it
// with the (sub)transaction that made it. If that (sub)transaction aborts, the lake table is dropped
// again by a new lake commit, provided the lake still has the table id created here. The worker's
// first copy replaces the empty table in the copy's own commit, as it replaces any lake table.
//
// A local source is described through SPI, in the caller's transaction (a table created in it is
// seen), with the core's catalog query and parser; a remote one over libpq. Nothing here alters a
// PostgreSQL relation over libpq: the backend holds their locks, a libpq session would wait forever.
#include <optional>
#include <string>
#include <vector>

#include "core/common/error.hpp"
#include "core/lake/lake_writer.hpp"
#include "core/meta/metadata_types.hpp"
#include "core/pg/pg_connection.hpp"
#include "core/pg/source_table.hpp"
#include "core/pipeline/table_schema.hpp"
#include "extension/lake_am.hpp"
#include "extension/lake_session.hpp"
#include "extension/pg_args.hpp"
#include "extension/pg_boundary.hpp"
#include "extension/pg_includes.hpp"
#include "extension/signal_block.hpp"

extern "C" {
#include "access/xact.h"
#include "catalog/pg_type.h"
#include "executor/spi.h"

PG_FUNCTION_INFO_V1(duckpipe_create_lake_table);
}

namespace duckpipe::ext {

namespace {

struct CreatedTable {
	std::string schema;
	std::string table;
	int64_t table_id = 0;
	SubTransactionId subxact = InvalidSubTransactionId;
	LakeSettings settings;
};

std::vector<CreatedTable> created;

lake::LakeConfig ConfigOf(const LakeSettings &settings) {
	lake::LakeConfig config;
	config.catalog_conninfo = settings.catalog_conninfo;
	config.catalog_schema = settings.catalog_schema;
	config.data_path = settings.data_path;
	return config;
}

// The source table as the worker's copy will see it, read in this transaction.
pipeline::TableSchema DescribeLocal(uint32_t source_oid, meta::SyncMode mode) {
	std::vector<CatalogRow> rows;
	PgCall([&] {
		SPI_connect();
		Oid types[1] = {TEXTOID};
		auto oid_text = std::to_string(source_oid);
		Datum values[1] = {CStringGetTextDatum(oid_text.c_str())};
		int rc = SPI_execute_with_args(DescribeTableSql(), 1, types, values, nullptr, true, 0);
		if (rc != SPI_OK_SELECT) {
			elog(ERROR, "pg_duckpipe: describing table %u failed: %s", source_oid, SPI_result_code_string(rc));
		}
		for (uint64 i = 0; i < SPI_processed; i++) {
			CatalogRow row;
			for (int f = 1; f <= SPI_tuptable->tupdesc->natts; f++) {
				char *value = SPI_getvalue(SPI_tuptable->vals[i], SPI_tuptable->tupdesc, f);
				row.push_back(value ? std::optional<std::string>(value) : std::nullopt);
			}
			rows.push_back(std::move(row));
		}
		SPI_finish();
	});
	return pipeline::TableSchema::FromDescription(ParseTableDescription(rows, std::to_string(source_oid)), mode);
}

bool LakeSchemaExists(const LakeSettings &settings, const std::string &name, int64_t snapshot) {
	PgConnection catalog(settings.catalog_conninfo, {.application_name = "pg_duckpipe add_table"});
	auto r = catalog.Exec("SELECT 1 FROM " + catalog.QuoteIdent(settings.catalog_schema) +
	                          ".ducklake_schema WHERE schema_name = $1 AND begin_snapshot <= $2::bigint AND "
	                          "(end_snapshot IS NULL OR end_snapshot > $2::bigint)",
	                      {name, std::to_string(snapshot)});
	return r.Rows() > 0;
}

// Creates schema.table in the lake (and the lake schema when missing). Returns the new table's id,
// nullopt when a lake table of that name exists already (it is left as it is).
std::optional<int64_t> CreateLakeTable(const LakeSettings &settings, const std::string &schema,
                                       const std::string &table, const std::vector<lake::LakeColumn> &columns) {
	SignalBlock blocked; // LakeWriter opens a DuckDB
	lake::LakeWriter writer(ConfigOf(settings));
	for (int attempt = 0;; attempt++) {
		auto commit = writer.Begin();
		if (commit.FindTable(schema, table)) {
			return std::nullopt;
		}
		if (!LakeSchemaExists(settings, schema, commit.BaseSnapshot())) {
			commit.CreateSchema(schema);
		}
		auto handle = commit.CreateTable(schema, table, columns);
		try {
			commit.Commit({.author = std::string("pg_duckpipe"),
			               .message = "add_table: create " + schema + "." + table + " (empty until its copy)"});
			return commit.ResolveId(handle);
		} catch (const Error &e) {
			// Another add_table or a worker's commit got in first (e.g. the same new schema): look again.
			if (e.Kind() != ErrorKind::Conflict || attempt >= 5) {
				throw;
			}
		}
	}
}

// Drops the lake table made by a rolled-back add_table, unless it is no longer the one made.
void DropCreated(const CreatedTable &t) {
	SignalBlock blocked;
	lake::LakeWriter writer(ConfigOf(t.settings));
	for (int attempt = 0;; attempt++) {
		auto commit = writer.Begin();
		auto found = commit.FindTable(t.schema, t.table);
		if (!found || *found != t.table_id) {
			return;
		}
		commit.DropTable(*found);
		try {
			commit.Commit({.author = std::string("pg_duckpipe"),
			               .message = "add_table rolled back: drop " + t.schema + "." + t.table});
			return;
		} catch (const Error &e) {
			if (e.Kind() != ErrorKind::Conflict || attempt >= 5) {
				throw;
			}
		}
	}
}

// Runs inside AbortTransaction / AbortSubTransaction: never raises, never throws.
void DropAll(std::vector<CreatedTable> tables) noexcept {
	for (const auto &t : tables) {
		std::string failure = FailureOf([&] { DropCreated(t); });
		if (!failure.empty()) {
			ereport(WARNING,
			        (errmsg("could not drop lake table %s.%s made by a rolled-back duckpipe.add_table: %s",
			                t.schema.c_str(), t.table.c_str(), failure.c_str()),
			         errhint("It is empty and unsynced; a later add_table of that target replaces it, or drop it "
			                 "with DuckDB (DROP TABLE on the attached lake).")));
		}
	}
}

void OnXact(XactEvent event, void *) {
	if (event == XACT_EVENT_PRE_PREPARE && !created.empty()) {
		ereport(ERROR, (errcode(ERRCODE_FEATURE_NOT_SUPPORTED),
		                errmsg("cannot PREPARE a transaction that ran duckpipe.add_table"),
		                errdetail("Its lake table is outside the transaction and could not be dropped at a later "
		                          "ROLLBACK PREPARED.")));
	}
	if (event == XACT_EVENT_COMMIT || event == XACT_EVENT_PARALLEL_COMMIT || event == XACT_EVENT_PREPARE) {
		created.clear();
	} else if (event == XACT_EVENT_ABORT || event == XACT_EVENT_PARALLEL_ABORT) {
		auto tables = std::move(created);
		created.clear();
		DropAll(std::move(tables));
	}
}

void OnSubXact(SubXactEvent event, SubTransactionId sub, SubTransactionId parent, void *) {
	if (event == SUBXACT_EVENT_ABORT_SUB) {
		std::vector<CreatedTable> aborted;
		std::erase_if(created, [&](CreatedTable &t) {
			if (t.subxact != sub) {
				return false;
			}
			aborted.push_back(std::move(t));
			return true;
		});
		DropAll(std::move(aborted));
	} else if (event == SUBXACT_EVENT_COMMIT_SUB) {
		for (auto &t : created) {
			if (t.subxact == sub) {
				t.subxact = parent;
			}
		}
	}
}

} // namespace

void RegisterLakeCreate() {
	RegisterXactCallback(OnXact, nullptr);
	RegisterSubXactCallback(OnSubXact, nullptr);
}

} // namespace duckpipe::ext

// duckpipe._create_lake_table(source oid, target_schema, target_table, sync_mode, conninfo): creates
// the lake table of a target being added (conninfo: the source's server, NULL for this database).
Datum duckpipe_create_lake_table(PG_FUNCTION_ARGS) {
	using namespace duckpipe;
	using namespace duckpipe::ext;
	return PgBoundary([&] {
		if (PG_ARGISNULL(0) || PG_ARGISNULL(1) || PG_ARGISNULL(2) || PG_ARGISNULL(3)) {
			throw Error(ErrorKind::Config, "duckpipe._create_lake_table: source, schema, table and sync_mode are "
			                               "required");
		}
		uint32_t source_oid = PG_GETARG_OID(0);
		auto schema = TextArg(fcinfo, 1);
		auto table = TextArg(fcinfo, 2);
		auto mode = meta::ParseSyncMode(TextArg(fcinfo, 3));
		std::optional<std::string> conninfo;
		if (!PG_ARGISNULL(4)) {
			conninfo = TextArg(fcinfo, 4);
		}
		pipeline::TableSchema described;
		if (conninfo) {
			PgConnection source(*conninfo, {.application_name = "pg_duckpipe add_table"});
			described = pipeline::TableSchema::Describe(source, source_oid, mode);
		} else {
			described = DescribeLocal(source_oid, mode);
		}
		auto settings = LakeSettings::Current();
		auto id = CreateLakeTable(settings, schema, table, described.lake_columns);
		if (id) {
			SubTransactionId sub = InvalidSubTransactionId;
			PgCall([&] { sub = GetCurrentSubTransactionId(); });
			created.push_back({schema, table, *id, sub, settings});
		}
		PG_RETURN_VOID();
	});
}
