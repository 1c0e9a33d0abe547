#pragma once

#include "harness/pipeline_fixture.hpp"

namespace duckpipe::test {

// The daemon writes the lake, the extension reads it: a database with pg_duckpipe created, whose
// lake relations read the lake the daemon's group `kGroup` (mode daemon) writes (same catalog, same
// data path). The binary's cluster must preload the module (PgCluster::SharedOptions().extension,
// set before the cluster starts).
class DaemonLakeTest : public PipelineTest {
protected:
	void SetUp() override;

	static constexpr const char *kGroup = "lake";
};

} // namespace duckpipe::test
