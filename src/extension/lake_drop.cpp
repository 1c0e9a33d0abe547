// DROP TABLE of a lake relation drops its lake table and stops syncing it.
//
// The lake's catalog is written over libpq by the core (LakeWriter: a DuckLake snapshot, data files
// scheduled for deletion), so it cannot join the DROP's transaction. Instead the drop is recorded
// when PostgreSQL drops the relation (object access hook; forgotten if its subtransaction or
// transaction rolls back), the sql_drop event trigger (duckpipe.lake_relation_dropped) deletes the
// table's mapping in the DROP's own transaction (so the worker stops syncing it exactly when the
// DROP commits) and confirms the record, and the lake table is dropped once the transaction has
// committed. A relation dropped without the event trigger (DROP EXTENSION) keeps its lake table.
#include <string>
#include <vector>

#include "core/common/error.hpp"
#include "core/lake/lake_writer.hpp"
#include "extension/lake_am.hpp"
#include "extension/lake_session.hpp"
#include "extension/pg_boundary.hpp"
#include "extension/query_engine.hpp"
#include "extension/signal_block.hpp"

#include "extension/pg_includes.hpp"

extern "C" {
#include "access/xact.h"
#include "catalog/objectaccess.h"
#include "catalog/pg_class.h"
#include "funcapi.h"
#include "utils/lsyscache.h"
#include "utils/rel.h"
#include "utils/tuplestore.h"

PG_FUNCTION_INFO_V1(duckpipe_lake_relation_drops);
}

namespace duckpipe::ext {

namespace {

struct PendingDrop {
	std::string schema;
	std::string table;
	SubTransactionId subxact;
	bool confirmed = false;
	LakeSettings settings;
};

std::vector<PendingDrop> pending;
object_access_hook_type previous_object_access = nullptr;

void OnObjectAccess(ObjectAccessType access, Oid class_id, Oid object_id, int sub_id, void *arg) {
	if (previous_object_access) {
		previous_object_access(access, class_id, object_id, sub_id, arg);
	}
	if (access != OAT_DROP || class_id != RelationRelationId || sub_id != 0) {
		return;
	}
	PgBoundary([&] {
		const char *schema = nullptr; // copied out of the relation cache entry before it is closed
		const char *table = nullptr;
		PgCall([&] {
			Relation rel = RelationIdGetRelation(object_id);
			if (!RelationIsValid(rel)) {
				return;
			}
			if (rel->rd_rel->relkind == RELKIND_RELATION && IsLakeRelation(rel)) {
				schema = get_namespace_name(RelationGetNamespace(rel));
				table = pstrdup(RelationGetRelationName(rel));
			}
			RelationClose(rel);
		});
		if (table) {
			pending.push_back({schema, table, GetCurrentSubTransactionId(), false, {}});
		}
	});
}

void DropLakeTable(const PendingDrop &drop) {
	// Only an existing lake is opened (LakeWriter would create one). The query engine's catalog
	// connection tells, without DuckDB; its next read sees the snapshot of the drop, without the view.
	auto state = QueryEngine::Backend().Catalog(drop.settings, lake::SnapshotSelector::Latest());
	if (!state || !state->FindTable(drop.schema, drop.table)) {
		return;
	}
	SignalBlock blocked;
	lake::LakeConfig config;
	config.catalog_conninfo = drop.settings.catalog_conninfo;
	config.catalog_schema = drop.settings.catalog_schema;
	config.data_path = drop.settings.data_path;
	lake::LakeWriter writer(config);
	auto commit = writer.Begin();
	if (auto table = commit.FindTable(drop.schema, drop.table)) {
		commit.DropTable(*table);
		commit.Commit(
		    {.author = std::string("pg_duckpipe"), .message = "DROP TABLE " + drop.schema + "." + drop.table});
	}
}

void OnXact(XactEvent event, void *) {
	if (event == XACT_EVENT_PRE_PREPARE && !pending.empty()) {
		ereport(ERROR, (errcode(ERRCODE_FEATURE_NOT_SUPPORTED),
		                errmsg("cannot PREPARE a transaction that dropped a pg_duckpipe lake relation")));
	}
	if (event == XACT_EVENT_COMMIT || event == XACT_EVENT_PARALLEL_COMMIT) {
		// Committed: nothing here may raise an ERROR any more. A failure leaves the lake table behind
		// (unsynced, readable with duckpipe.query) and says so.
		auto drops = std::move(pending);
		pending.clear();
		for (const auto &drop : drops) {
			if (!drop.confirmed) {
				continue;
			}
			std::string failure = FailureOf([&] { DropLakeTable(drop); });
			if (!failure.empty()) {
				ereport(WARNING,
				        (errmsg("could not drop lake table %s.%s: %s", drop.schema.c_str(), drop.table.c_str(),
				                failure.c_str()),
				         errhint("It is no longer synced; drop it with DuckDB (DROP TABLE on the attached lake).")));
			}
		}
	} else if (event == XACT_EVENT_ABORT || event == XACT_EVENT_PARALLEL_ABORT || event == XACT_EVENT_PREPARE) {
		pending.clear();
	}
}

void OnSubXact(SubXactEvent event, SubTransactionId sub, SubTransactionId parent, void *) {
	if (event == SUBXACT_EVENT_ABORT_SUB) {
		std::erase_if(pending, [&](const PendingDrop &d) { return d.subxact == sub; });
	} else if (event == SUBXACT_EVENT_COMMIT_SUB) {
		for (auto &d : pending) {
			if (d.subxact == sub) {
				d.subxact = parent;
			}
		}
	}
}

} // namespace

void RegisterLakeDrop() {
	previous_object_access = object_access_hook;
	object_access_hook = OnObjectAccess;
	RegisterXactCallback(OnXact, nullptr);
	RegisterSubXactCallback(OnSubXact, nullptr);
}

} // namespace duckpipe::ext

// duckpipe._lake_relation_drops(): the lake relations dropped by the current command (called by
// the sql_drop event trigger), each confirmed for dropping its lake table at commit.
Datum duckpipe_lake_relation_drops(PG_FUNCTION_ARGS) {
	using namespace duckpipe::ext;
	return PgBoundary([&] {
		std::vector<const PendingDrop *> fresh;
		for (auto &d : pending) {
			if (!d.confirmed) {
				fresh.push_back(&d);
			}
		}
		if (!fresh.empty()) {
			auto settings = LakeSettings::Location(); // the drop acts on the latest snapshot
			for (auto &d : pending) {
				if (!d.confirmed) {
					d.confirmed = true;
					d.settings = settings;
				}
			}
		}
		PgCall([&] {
			InitMaterializedSRF(fcinfo, MAT_SRF_USE_EXPECTED_DESC);
			auto *rsinfo = reinterpret_cast<ReturnSetInfo *>(fcinfo->resultinfo);
			for (const PendingDrop *d : fresh) {
				Datum values[2] = {CStringGetTextDatum(d->schema.c_str()), CStringGetTextDatum(d->table.c_str())};
				bool nulls[2] = {false, false};
				tuplestore_putvalues(rsinfo->setResult, rsinfo->setDesc, values, nulls);
			}
		});
		return static_cast<Datum>(0);
	});
}
