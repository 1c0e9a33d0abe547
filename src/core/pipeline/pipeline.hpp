#pragma once

#include "core/pipeline/pipeline_config.hpp"

#include <atomic>
#include <map>
#include <memory>
#include <string>

namespace duckpipe {
class PgConnection;
}
namespace duckpipe::lake {
class LakeWriter;
}

namespace duckpipe::pipeline {

class SyncGroup;

// Everything one process runs: the lake writer shared by all tables and one SyncGroup per enabled
// group (all of them, or the ones named in the config). Groups created, enabled, disabled or
// dropped by other processes are picked up within a second.
class Pipeline {
public:
	explicit Pipeline(PipelineConfig config);
	~Pipeline();
	Pipeline(const Pipeline &) = delete;
	Pipeline &operator=(const Pipeline &) = delete;

	// Blocks until `stop` becomes true, then stops every group cleanly (final flushes at
	// transaction boundaries, final confirmed LSN). Throws Error for what prevents starting at all
	// (unreachable source, lake refused); a group that fails later is retried on its own.
	void Run(const std::atomic<bool> &stop);

private:
	void SyncGroups();
	// A lake catalog of its own migrated to keyed progress: its rows are this source's.
	void AdoptLegacyProgress(PgConnection &catalog);

	PipelineConfig config_;
	std::unique_ptr<lake::LakeWriter> writer_;
	std::map<std::string, std::unique_ptr<SyncGroup>> groups_;
};

} // namespace duckpipe::pipeline
