// The GUCs of background compaction. Boot values are meta::defaults and ranges the config
// registry's (src/core/meta/config_registry.cpp), so the GUC and duckpipe.set_config agree.
#include "extension/compaction_gucs.hpp"

#include <climits>

#include "core/pipeline/pipeline_config.hpp"

#include "extension/pg_includes.hpp"

extern "C" {
#include "utils/guc.h"
}

namespace duckpipe::ext {

namespace {

namespace defaults = meta::defaults;

bool auto_compact = defaults::kAutoCompact != 0;
int compact_min_files = defaults::kCompactMinFiles;
int compact_target_file_size_mb = defaults::kCompactTargetFileSizeMb;
int compact_interval_ms = defaults::kCompactIntervalMs;

} // namespace

void DefineCompactionGucs() {
	DefineCustomBoolVariable("duckpipe.auto_compact",
	                         "Merges each streaming table's small lake files in the background.",
	                         "Per group or table: duckpipe.set_group_config / set_table_config('auto_compact', 0).",
	                         &auto_compact, defaults::kAutoCompact != 0, PGC_SIGHUP, 0, nullptr, nullptr, nullptr);
	DefineCustomIntVariable("duckpipe.compact_min_files",
	                        "Small lake files of a table that start a background compaction.",
	                        "The smallest files of like size are merged first.", &compact_min_files,
	                        defaults::kCompactMinFiles, 2, INT_MAX, PGC_SIGHUP, 0, nullptr, nullptr, nullptr);
	DefineCustomIntVariable("duckpipe.compact_target_file_size_mb",
	                        "Size below which a lake file counts as small and is merged; merged files stay below it.",
	                        nullptr, &compact_target_file_size_mb, defaults::kCompactTargetFileSizeMb, 1, 1 << 20,
	                        PGC_SIGHUP, GUC_UNIT_MB, nullptr, nullptr, nullptr);
	DefineCustomIntVariable("duckpipe.compact_interval",
	                        "How often every small lake file of a table is merged into one, whatever their sizes.",
	                        nullptr, &compact_interval_ms, defaults::kCompactIntervalMs, 1000, INT_MAX, PGC_SIGHUP,
	                        GUC_UNIT_MS, nullptr, nullptr, nullptr);
}

void ApplyCompactionGucs(pipeline::PipelineConfig &config) {
	config.auto_compact = auto_compact ? 1 : 0;
	config.compact_min_files = compact_min_files;
	config.compact_target_file_size_mb = compact_target_file_size_mb;
	config.compact_interval_ms = compact_interval_ms;
}

} // namespace duckpipe::ext
