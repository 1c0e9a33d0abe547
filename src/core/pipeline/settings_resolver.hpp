#pragma once

#include "core/meta/config_registry.hpp"
#include "core/pipeline/pipeline_config.hpp"

namespace duckpipe::pipeline {

// `process` (the process's settings: built-in defaults, flags or GUCs, as last reloaded) with every
// meta::ConfigRegistry key resolved over the stored layers at `scope`: a group runs with its group
// settings, a table with its table settings. `live` of the result is unset.
PipelineConfig ResolveSettings(const PipelineConfig &process, const meta::ConfigLayers &layers,
                               meta::ConfigScope scope);

// True when the registry's settings of a and b are equal (what a reload has to compare).
bool SameSettings(const PipelineConfig &a, const PipelineConfig &b);

} // namespace duckpipe::pipeline
