// duckpipe._compact_lake_table(schema, table, target_file_size_mb, memory_mb): one compaction of a
// lake table from a backend (duckpipe.compact_table, sql/extension/44_maintenance.sql), merging
// every small file (the worker's background compaction merges them too, CompactionScheduler).
#include <cstdint>
#include <string>

#include "core/common/error.hpp"
#include "core/lake/lake_writer.hpp"
#include "core/lake/write/lake_compactor.hpp"
#include "extension/lake_session.hpp"
#include "extension/pg_boundary.hpp"
#include "extension/query_engine.hpp"
#include "extension/signal_block.hpp"

#include "extension/pg_includes.hpp"

extern "C" {
#include "access/htup_details.h"
#include "funcapi.h"

PG_FUNCTION_INFO_V1(duckpipe_compact_lake_table);
}

Datum duckpipe_compact_lake_table(PG_FUNCTION_ARGS) {
	using namespace duckpipe;
	return ext::PgBoundary([&] {
		std::string schema, table;
		int64_t target_mb = 0, memory_mb = 0;
		ext::PgCall([&] {
			schema = text_to_cstring(PG_GETARG_TEXT_PP(0));
			table = text_to_cstring(PG_GETARG_TEXT_PP(1));
			target_mb = PG_GETARG_INT64(2);
			memory_mb = PG_GETARG_INT64(3);
		});
		auto settings = ext::LakeSettings::Location();
		auto state = ext::QueryEngine::Backend().Catalog(settings, lake::SnapshotSelector::Latest());
		const lake::LakeTable *found = state ? state->FindTable(schema, table) : nullptr;
		if (!found) {
			throw Error(ErrorKind::Lake, "lake table " + schema + "." + table + " does not exist",
			            {.hint = "the table has not been copied to the lake yet; see duckpipe.status()"});
		}
		int64_t files_before = static_cast<int64_t>(found->files.size());
		lake::CompactionOptions options;
		options.target_file_size_bytes = target_mb << 20;
		options.duck_memory_limit = std::to_string(memory_mb) + "MB";
		options.merge_small_with_deletes = true;
		lake::CompactionResult result;
		{
			ext::SignalBlock blocked; // the compaction's DuckDB starts threads
			lake::LakeConfig config;
			config.catalog_conninfo = settings.catalog_conninfo;
			config.catalog_schema = settings.catalog_schema;
			config.data_path = settings.data_path;
			lake::LakeWriter writer(config);
			result = lake::CompactTable(writer, found->table_id, options);
		}
		Datum out = 0;
		ext::PgCall([&] {
			TupleDesc desc;
			if (get_call_result_type(fcinfo, nullptr, &desc) != TYPEFUNC_COMPOSITE) {
				ereport(ERROR, (errcode(ERRCODE_FEATURE_NOT_SUPPORTED),
				                errmsg("duckpipe._compact_lake_table must return a record")));
			}
			desc = BlessTupleDesc(desc);
			int64_t files_after = files_before - result.files_merged - result.files_rewritten + result.files_written;
			Datum values[4] = {Int64GetDatum(files_before), Int64GetDatum(files_after),
			                   Int64GetDatum(result.rows_written), Int64GetDatum(result.snapshot_id.value_or(0))};
			bool nulls[4] = {false, false, false, !result.snapshot_id};
			out = HeapTupleGetDatum(heap_form_tuple(desc, values, nulls));
		});
		return out;
	});
}
