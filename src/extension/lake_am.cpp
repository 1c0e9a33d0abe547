// The duckpipe_lake table access method. Scans stream the lake table of the same schema and name
// (LakeScan) and convert each value with its column type's input function; every write path is
// refused (the pipeline is the only writer, and it writes the lake, not this relation). The planner's
// size estimate comes from the lake catalog (LakeSizeOf), and ANALYZE samples the lake table.
#include "extension/lake_am.hpp"

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "core/common/error.hpp"
#include "extension/lake_scan.hpp"
#include "extension/lake_stats.hpp"
#include "extension/pg_boundary.hpp"
#include "extension/query_engine.hpp"

#include "extension/pg_includes.hpp"

extern "C" {
#include "access/multixact.h"
#include "access/tableam.h"
#include "catalog/index.h"
#include "catalog/storage.h"
#include "commands/vacuum.h"
#include "executor/tuptable.h"
#include "nodes/parsenodes.h"
#include "storage/smgr.h"
#include "utils/lsyscache.h"
#include "utils/memutils.h"
#include "utils/rel.h"
#include "utils/snapmgr.h"

PG_FUNCTION_INFO_V1(duckpipe_lake_am_handler);
}

namespace duckpipe::ext {

namespace {

// The relation a rewrite (ALTER TABLE ... TYPE, VACUUM FULL, CLUSTER) copies into `rel`: the
// transient table of make_new_heap is named pg_temp_<oid of the original>. InvalidOid otherwise.
Oid RewriteOf(Relation rel) {
	unsigned int original = 0;
	char extra = 0;
	if (sscanf(RelationGetRelationName(rel), "pg_temp_%u%c", &original, &extra) == 1 &&
	    original != RelationGetRelid(rel)) {
		return original;
	}
	return InvalidOid;
}

std::string RelationName(Relation rel) {
	const char *name = nullptr; // no C++ allocation inside PgCall: an exception must not cross its PG_TRY
	PgCall([&] {
		Oid original = RewriteOf(rel);
		Oid relid = OidIsValid(original) ? original : RelationGetRelid(rel);
		name = quote_qualified_identifier(get_namespace_name(get_rel_namespace(relid)), get_rel_name(relid));
	});
	return name;
}

// The scan state. PostgreSQL frees it with the memory context the scan began in; the reset callback
// deletes the C++ scan then, so an error or a cancel anywhere releases DuckDB (scan_end may never run).
struct LakeScanDesc {
	TableScanDescData base;
	LakeScan *scan;
	// A parallel scan's participant that another one beat to the lake table: it returns no rows.
	bool no_rows;
	FmgrInfo *input;
	Oid *ioparam;
	MemoryContext row_context;
	MemoryContextCallback release;
	// ANALYZE: the rows sampled so far, the sample's size asked for, and the live rows the catalog
	// counts (-1 when unknown).
	double analyze_rows;
	double analyze_target;
	double analyze_total;
};

void ReleaseScan(void *arg) {
	auto *desc = static_cast<LakeScanDesc *>(arg);
	delete desc->scan; // destructors never throw
	desc->scan = nullptr;
}

const TupleTableSlotOps *SlotCallbacks(Relation) {
	return &TTSOpsVirtual;
}

TableScanDesc ScanBegin(Relation rel, Snapshot snapshot, int nkeys, ScanKeyData *key, ParallelTableScanDesc pscan,
                        uint32 flags) {
	return PgBoundary([&] {
		LakeScanDesc *desc = nullptr;
		PgCall([&] {
			desc = static_cast<LakeScanDesc *>(palloc0(sizeof(LakeScanDesc)));
			desc->base.rs_rd = rel;
			desc->base.rs_snapshot = snapshot;
			desc->base.rs_nkeys = nkeys;
			desc->base.rs_key = key;
			desc->base.rs_flags = flags;
			desc->base.rs_parallel = pscan;
			TupleDesc tupdesc = RelationGetDescr(rel);
			desc->input = static_cast<FmgrInfo *>(palloc0(sizeof(FmgrInfo) * Max(tupdesc->natts, 1)));
			desc->ioparam = static_cast<Oid *>(palloc0(sizeof(Oid) * Max(tupdesc->natts, 1)));
			for (int i = 0; i < tupdesc->natts; i++) {
				Form_pg_attribute att = TupleDescAttr(tupdesc, i);
				if (att->attisdropped) {
					continue;
				}
				Oid input_fn;
				getTypeInputInfo(att->atttypid, &input_fn, &desc->ioparam[i]);
				fmgr_info(input_fn, &desc->input[i]);
			}
			// AllocSetContextCreate without its macro, a GNU statement expression (the name is a literal).
			desc->row_context =
			    AllocSetContextCreateInternal(CurrentMemoryContext, "pg_duckpipe lake row", ALLOCSET_DEFAULT_SIZES);
			desc->release.func = ReleaseScan;
			desc->release.arg = desc;
			MemoryContextRegisterResetCallback(CurrentMemoryContext, &desc->release);
		});
		return reinterpret_cast<TableScanDesc>(desc);
	});
}

void ScanEnd(TableScanDesc scan) {
	// The descriptor itself stays until its memory context goes: its reset callback is linked there.
	ReleaseScan(scan);
	// table_beginscan_parallel registered the snapshot for the scan: the scan's end releases it.
	if (scan->rs_flags & SO_TEMP_SNAPSHOT) {
		PgBoundary([&] { PgCall([&] { UnregisterSnapshot(scan->rs_snapshot); }); });
	}
}

// A rescan (the inner side of a nested loop, a correlated subquery: once per outer row) reads the
// snapshot the scan opened, in the same DuckDB session: consistent within the statement, and no
// catalog load or DuckDB start per outer row.
void ScanRescan(TableScanDesc scan, ScanKeyData *, bool, bool, bool, bool) {
	auto *desc = reinterpret_cast<LakeScanDesc *>(scan);
	if (desc->base.rs_parallel) {
		// The shared state was reset (table_parallelscan_reinitialize): the participants claim again.
		ReleaseScan(scan);
		desc->no_rows = false;
	} else if (desc->scan) {
		PgBoundary([&] { desc->scan->Restart(); });
	}
}

std::string SchemaOf(Relation rel) {
	const char *namespace_name = nullptr;
	PgCall([&] { namespace_name = get_namespace_name(RelationGetNamespace(rel)); });
	return namespace_name;
}

// Starts the scan's DuckDB query: every row, or a sample of `sample_rows`.
void OpenScan(LakeScanDesc *desc, std::optional<int64_t> sample_rows = std::nullopt) {
	Relation rel = desc->base.rs_rd;
	TupleDesc tupdesc = RelationGetDescr(rel);
	std::vector<std::string> columns;
	for (int i = 0; i < tupdesc->natts; i++) {
		Form_pg_attribute att = TupleDescAttr(tupdesc, i);
		columns.emplace_back(att->attisdropped ? "" : NameStr(att->attname));
	}
	desc->scan =
	    new LakeScan(LakeSettings::Current(), SchemaOf(rel), RelationGetRelationName(rel), columns, sample_rows);
}

// The scan's current row into `slot`. Values go through their types' input functions, which may
// raise (a value the type cannot read) like any PostgreSQL error. No typmod: the lake's value is the
// source's, and a source change the lake need not follow (varchar(10) -> varchar(20)) must not make
// the relation unreadable. Cancels are seen between rows.
void FillSlot(LakeScanDesc *desc, TupleTableSlot *slot) {
	LakeScan &lake = *desc->scan;
	PgCall([&] {
		CHECK_FOR_INTERRUPTS();
		MemoryContextReset(desc->row_context);
		MemoryContext caller = MemoryContextSwitchTo(desc->row_context);
		TupleDesc tupdesc = slot->tts_tupleDescriptor;
		for (int i = 0; i < tupdesc->natts; i++) {
			Form_pg_attribute att = TupleDescAttr(tupdesc, i);
			auto value = att->attisdropped ? std::nullopt : lake.Value(static_cast<size_t>(i));
			slot->tts_isnull[i] = !value.has_value();
			slot->tts_values[i] =
			    value ? InputFunctionCall(&desc->input[i], pnstrdup(value->data(), value->size()), desc->ioparam[i], -1)
			          : static_cast<Datum>(0);
		}
		MemoryContextSwitchTo(caller);
		ExecStoreVirtualTuple(slot);
	});
}

bool ScanGetNextSlot(TableScanDesc scan, ScanDirection, TupleTableSlot *slot) {
	auto *desc = reinterpret_cast<LakeScanDesc *>(scan);
	return PgBoundary([&] {
		PgCall([&] { ExecClearTuple(slot); });
		if (desc->base.rs_flags & (SO_TYPE_ANALYZE | SO_TYPE_BITMAPSCAN | SO_TYPE_SAMPLESCAN | SO_TYPE_TIDSCAN)) {
			return false;
		}
		if (desc->no_rows) {
			return false;
		}
		if (!desc->scan && desc->base.rs_parallel) {
			// A parallel scan: the participant that comes first reads the whole lake table (DuckDB does
			// not split it between processes), the others none, so every row is returned once. The
			// block counter of the shared state, unused otherwise, is the claim.
			auto *shared = reinterpret_cast<ParallelBlockTableScanDesc>(desc->base.rs_parallel);
			if (pg_atomic_fetch_add_u64(&shared->phs_nallocated, 1) != 0) {
				desc->no_rows = true;
				return false;
			}
		}
		if (!desc->scan) {
			OpenScan(desc);
		}
		if (!desc->scan->Next()) {
			return false;
		}
		// A terminate unwinds the scan (and its DuckDB stream) before PostgreSQL exits.
		QueryEngine::CheckInterrupts();
		FillSlot(desc, slot);
		return true;
	});
}

[[noreturn]] void Refuse(Relation rel) {
	PgBoundary([&] {
		std::string name = RelationName(rel);
		RefuseWrite(name.c_str());
	});
	pg_unreachable();
}

void RefuseVoid(Relation rel) {
	Refuse(rel);
}

IndexFetchTableData *IndexFetchBegin(Relation) {
	return PgBoundary([&]() -> IndexFetchTableData * {
		throw PgError(ERRCODE_FEATURE_NOT_SUPPORTED, "pg_duckpipe lake relations have no indexes", "", "");
	});
}
void IndexFetchNothing(IndexFetchTableData *) {}
bool IndexFetchTuple(IndexFetchTableData *, ItemPointer, Snapshot, TupleTableSlot *, bool *, bool *) {
	return false;
}

bool FetchRowVersion(Relation, ItemPointer, Snapshot, TupleTableSlot *) {
	return false;
}
bool TidValid(TableScanDesc, ItemPointer) {
	return false;
}
void LatestTid(TableScanDesc, ItemPointer) {}
bool SatisfiesSnapshot(Relation, TupleTableSlot *, Snapshot) {
	return true;
}
TransactionId IndexDeleteTuples(Relation rel, TM_IndexDeleteOp *) {
	Refuse(rel);
}
void TupleInsert(Relation rel, TupleTableSlot *, CommandId, int, BulkInsertStateData *) {
	Refuse(rel);
}
void TupleInsertSpeculative(Relation rel, TupleTableSlot *, CommandId, int, BulkInsertStateData *, uint32) {
	Refuse(rel);
}
void CompleteSpeculative(Relation rel, TupleTableSlot *, uint32, bool) {
	Refuse(rel);
}
void MultiInsert(Relation rel, TupleTableSlot **, int, CommandId, int, BulkInsertStateData *) {
	Refuse(rel);
}
TM_Result TupleDelete(Relation rel, ItemPointer, CommandId, Snapshot, Snapshot, bool, TM_FailureData *, bool) {
	Refuse(rel);
}
TM_Result TupleUpdate(Relation rel, ItemPointer, TupleTableSlot *, CommandId, Snapshot, Snapshot, bool,
                      TM_FailureData *, LockTupleMode *, bool *) {
	Refuse(rel);
}
TM_Result TupleLock(Relation rel, ItemPointer, Snapshot, TupleTableSlot *, CommandId, LockTupleMode, LockWaitPolicy,
                    uint8, TM_FailureData *) {
	Refuse(rel);
}
void FinishBulkInsert(Relation, int) {}

// Called when the relation is created (the new node is its own), when TRUNCATE gives it a new one,
// and for the transient copy that VACUUM FULL, CLUSTER or a rewriting ALTER TABLE fills: the latter
// two are refused (the pipeline changes the relation's columns without a rewrite).
void SetNewFilenode(Relation rel, const RelFileNode *newrnode, char persistence, TransactionId *freeze_xid,
                    MultiXactId *minmulti) {
	if (!RelFileNodeEquals(*newrnode, rel->rd_node) || OidIsValid(RewriteOf(rel))) {
		Refuse(rel);
	}
	// A lake relation reads the lake table of its own name with the lake catalog's rights: only
	// duckpipe.create_target_relation (SECURITY DEFINER) makes one, for a table that is synced.
	if (!superuser()) {
		PgBoundary([&] {
			throw PgError(ERRCODE_INSUFFICIENT_PRIVILEGE, "only pg_duckpipe creates relations USING duckpipe_lake", "",
			              "duckpipe.add_table creates the relation of a synced table");
		});
	}
	*freeze_xid = InvalidTransactionId;
	*minmulti = InvalidMultiXactId;
	// An empty main fork, so that everything that expects one (size functions, DROP) finds it.
	SMgrRelation srel = RelationCreateStorage(*newrnode, persistence, true);
	smgrclose(srel);
}
void CopyData(Relation rel, const RelFileNode *) {
	Refuse(rel);
}
void CopyForCluster(Relation rel, Relation, Relation, bool, TransactionId, TransactionId *, MultiXactId *, double *,
                    double *, double *) {
	Refuse(rel);
}
void Vacuum(Relation, VacuumParams *, BufferAccessStrategy) {
	// Nothing here to vacuum: the lake is maintained by pg_duckpipe.
}
// The rows ANALYZE would keep: 300 times the largest statistics target of the columns (its
// std_typanalyze's minimum), less one, so that PostgreSQL does not sort the sample by the rows'
// physical positions (which lake rows have none of).
double SampleTarget(Relation rel) {
	TupleDesc tupdesc = RelationGetDescr(rel);
	int target = 0;
	for (int i = 0; i < tupdesc->natts; i++) {
		Form_pg_attribute att = TupleDescAttr(tupdesc, i);
		if (!att->attisdropped) {
			target = std::max(target, att->attstattarget < 0 ? default_statistics_target : att->attstattarget);
		}
	}
	return std::max(300.0 * target - 1, 100.0);
}

// ANALYZE (acquire_sample_rows) sees one block (RelationSize): its rows are a uniform sample of the
// lake table drawn by DuckDB (reservoir), and the live rows it counts are the catalog's, so that
// pg_class.reltuples and the n_distinct estimates scale to the whole table. A lake that cannot be
// read gives a WARNING and no sample, so that a database-wide ANALYZE goes on with the next table.
bool AnalyzeNextBlock(TableScanDesc scan, BlockNumber blockno, BufferAccessStrategy) {
	auto *desc = reinterpret_cast<LakeScanDesc *>(scan);
	if (blockno != 0) {
		return false;
	}
	return PgBoundary([&] {
		ReleaseScan(scan);
		Relation rel = desc->base.rs_rd;
		desc->analyze_rows = 0;
		desc->analyze_target = SampleTarget(rel);
		try {
			auto size = LakeSizeOf(SchemaOf(rel), RelationGetRelationName(rel));
			desc->analyze_total = size ? size->rows : -1;
			OpenScan(desc, static_cast<int64_t>(desc->analyze_target));
		} catch (const Error &e) {
			ReleaseScan(scan);
			std::string name = RelationName(rel);
			std::string message = e.what();
			PgCall([&] {
				ereport(WARNING,
				        (errmsg("pg_duckpipe: no statistics for lake relation %s: %s", name.c_str(), message.c_str())));
			});
			return false;
		}
		return true;
	});
}
bool AnalyzeNextTuple(TableScanDesc scan, TransactionId, double *liverows, double *, TupleTableSlot *slot) {
	auto *desc = reinterpret_cast<LakeScanDesc *>(scan);
	if (!desc->scan) {
		return false;
	}
	return PgBoundary([&] {
		PgCall([&] { ExecClearTuple(slot); });
		if (!desc->scan->Next()) {
			ReleaseScan(scan);
			// A sample short of its target holds every row; a full one stands for the catalog's count.
			if (desc->analyze_rows >= desc->analyze_target && desc->analyze_total > desc->analyze_rows) {
				*liverows += desc->analyze_total - desc->analyze_rows;
			}
			return false;
		}
		QueryEngine::CheckInterrupts();
		FillSlot(desc, slot);
		desc->analyze_rows += 1;
		*liverows += 1;
		return true;
	});
}
double IndexBuildRangeScan(Relation rel, Relation, IndexInfo *, bool, bool, bool, BlockNumber, BlockNumber,
                           IndexBuildCallback, void *, TableScanDesc) {
	PgBoundary([&] {
		std::string name = RelationName(rel);
		throw PgError(ERRCODE_FEATURE_NOT_SUPPORTED, "cannot create an index on " + name,
		              "it is a pg_duckpipe lake relation", "");
	});
	pg_unreachable();
}
void IndexValidateScan(Relation rel, Relation, IndexInfo *, Snapshot, ValidateIndexState *) {
	IndexBuildRangeScan(rel, nullptr, nullptr, false, false, false, 0, 0, nullptr, nullptr, nullptr);
}
// One block of the main fork, though the file is empty (nothing reads it): ANALYZE samples the blocks
// RelationGetNumberOfBlocks counts, and that one stands for the lake table (AnalyzeNextBlock).
// pg_relation_size and the like measure the files, not this.
uint64 RelationSize(Relation, ForkNumber fork) {
	return fork == MAIN_FORKNUM || fork == InvalidForkNumber ? BLCKSZ : 0;
}
bool NeedsToastTable(Relation) {
	return false;
}
// The lake table's live rows and the pages of its data files at the snapshot the statement reads
// (LakeSizeOf: the catalog state of that snapshot, loaded once), so that joins with heap tables are
// ordered by real sizes. A fixed guess when the lake cannot be asked. Parallel plans are kept away by
// the DuckPipe Lake Scan's planning (lake_scan_path.cpp): they work, but one participant reads the
// whole table (ScanGetNextSlot).
void EstimateSize(Relation rel, int32 *, BlockNumber *pages, double *tuples, double *allvisfrac) {
	*pages = 10;
	*tuples = 1000;
	*allvisfrac = 0;
	PgBoundary([&] {
		auto size = LakeSizeOf(SchemaOf(rel), RelationGetRelationName(rel));
		if (size) {
			*tuples = size->rows;
			*pages =
			    size->rows > 0 ? static_cast<BlockNumber>(std::clamp(std::ceil(size->bytes / BLCKSZ), 1.0, 1e9)) : 0;
		}
	});
}
bool BitmapNextBlock(TableScanDesc, TBMIterateResult *) {
	return false;
}
bool BitmapNextTuple(TableScanDesc, TBMIterateResult *, TupleTableSlot *) {
	return false;
}
bool SampleNextBlock(TableScanDesc, SampleScanState *) {
	return false;
}
bool SampleNextTuple(TableScanDesc, SampleScanState *, TupleTableSlot *) {
	return false;
}

const TableAmRoutine kLakeAm = [] {
	TableAmRoutine am{};
	am.type = T_TableAmRoutine;
	am.slot_callbacks = SlotCallbacks;
	am.scan_begin = ScanBegin;
	am.scan_end = ScanEnd;
	am.scan_rescan = ScanRescan;
	am.scan_getnextslot = ScanGetNextSlot;
	am.parallelscan_estimate = table_block_parallelscan_estimate;
	am.parallelscan_initialize = table_block_parallelscan_initialize;
	am.parallelscan_reinitialize = table_block_parallelscan_reinitialize;
	am.index_fetch_begin = IndexFetchBegin;
	am.index_fetch_reset = IndexFetchNothing;
	am.index_fetch_end = IndexFetchNothing;
	am.index_fetch_tuple = IndexFetchTuple;
	am.tuple_fetch_row_version = FetchRowVersion;
	am.tuple_tid_valid = TidValid;
	am.tuple_get_latest_tid = LatestTid;
	am.tuple_satisfies_snapshot = SatisfiesSnapshot;
	am.index_delete_tuples = IndexDeleteTuples;
	am.tuple_insert = TupleInsert;
	am.tuple_insert_speculative = TupleInsertSpeculative;
	am.tuple_complete_speculative = CompleteSpeculative;
	am.multi_insert = MultiInsert;
	am.tuple_delete = TupleDelete;
	am.tuple_update = TupleUpdate;
	am.tuple_lock = TupleLock;
	am.finish_bulk_insert = FinishBulkInsert;
	am.relation_set_new_filenode = SetNewFilenode;
	am.relation_nontransactional_truncate = RefuseVoid;
	am.relation_copy_data = CopyData;
	am.relation_copy_for_cluster = CopyForCluster;
	am.relation_vacuum = Vacuum;
	am.scan_analyze_next_block = AnalyzeNextBlock;
	am.scan_analyze_next_tuple = AnalyzeNextTuple;
	am.index_build_range_scan = IndexBuildRangeScan;
	am.index_validate_scan = IndexValidateScan;
	am.relation_size = RelationSize;
	am.relation_needs_toast_table = NeedsToastTable;
	am.relation_estimate_size = EstimateSize;
	am.scan_bitmap_next_block = BitmapNextBlock;
	am.scan_bitmap_next_tuple = BitmapNextTuple;
	am.scan_sample_next_block = SampleNextBlock;
	am.scan_sample_next_tuple = SampleNextTuple;
	return am;
}();

} // namespace

bool IsLakeRelation(RelationData *rel) {
	return rel->rd_tableam == &kLakeAm;
}

} // namespace duckpipe::ext

Datum duckpipe_lake_am_handler(FunctionCallInfo) {
	PG_RETURN_POINTER(&duckpipe::ext::kLakeAm);
}
