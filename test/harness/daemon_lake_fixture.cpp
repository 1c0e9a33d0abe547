#include "harness/daemon_lake_fixture.hpp"

#include <filesystem>

namespace duckpipe::test {

void DaemonLakeTest::SetUp() {
	ASSERT_TRUE(PgCluster::SharedOptions().extension) << "this binary's cluster does not preload pg_duckpipe";
	PipelineTest::SetUp();
	Sql("CREATE EXTENSION pg_duckpipe");
	// The server (user postgres) reads, and drops lake tables in, the data path the daemon (this
	// user) writes.
	std::filesystem::permissions(data_path_, std::filesystem::perms::all);
	Sql("ALTER DATABASE \"" + Db() + "\" SET duckpipe.data_path = '" + data_path_ + "'");
	conn_ = Connect();
	// CREATE EXTENSION's `default` group is the background worker's (mode bgworker): the daemon runs
	// a group of its own.
	DuckpipeOk({"create-group", kGroup, "--mode", "daemon"});
}

} // namespace duckpipe::test
