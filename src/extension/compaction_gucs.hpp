#pragma once

namespace duckpipe::pipeline {
struct PipelineConfig;
}

// The GUCs of background compaction (duckpipe.auto_compact, duckpipe.compact_*), defined in
// compaction_gucs.cpp: the process-level values of the compaction keys of the config registry,
// under duckpipe.global_config, a group's and a table's config (duckpipe.set_*config).
namespace duckpipe::ext {

// Defines the GUCs (from _PG_init).
void DefineCompactionGucs();
// Sets the compaction fields of a worker's config to the values in force (main thread only).
void ApplyCompactionGucs(pipeline::PipelineConfig &config);

} // namespace duckpipe::ext
