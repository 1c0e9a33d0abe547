#pragma once

#include "core/common/lsn.hpp"
#include "core/pg/pg_connection.hpp"
#include "harness/daemon_process.hpp"
#include "harness/pg_cluster.hpp"

#include <gtest/gtest.h>

#include <chrono>
#include <map>
#include <memory>
#include <string>
#include <vector>

namespace duckpipe::test {

using Rows = std::vector<std::vector<std::string>>;
using namespace std::chrono_literals;

// A table's content as canonical text: one line per row ("v1|v2|..." with NULL as "<null>"),
// sorted bytewise, so both sides print and order it the same way.
struct TableDigest {
	int64_t rows = 0;
	std::string md5; // empty for an empty table
	bool operator==(const TableDigest &other) const { return rows == other.rows && md5 == other.md5; }
};

// One fresh source database per test (also the lake catalog), a lake data path, a temp dir and a
// log file for the daemon. Tests drive the real `duckpipe` binary and check the lake in process.
class PipelineTest : public ::testing::Test {
protected:
	void SetUp() override;
	void TearDown() override;

	PgCluster &Cluster() { return PgCluster::Shared(); }
	const std::string &Db() const { return db_; }
	std::string Source() const;
	// Runs SQL in the test database through libpq (one connection kept open); returns the rows.
	Rows Sql(const std::string &sql);
	std::string Scalar(const std::string &sql);
	std::unique_ptr<PgConnection> Connect() const;

	// --source/--data-path/--temp-dir/--log-level, then args.
	std::vector<std::string> WithGlobals(const std::vector<std::string> &args) const;
	CommandResult Duckpipe(const std::vector<std::string> &args, const std::map<std::string, std::string> &env = {});
	// Runs a management subcommand and asserts exit code 0 (prints its output otherwise).
	void DuckpipeOk(const std::vector<std::string> &args);
	// `duckpipe run --flush-interval <flush_ms> --ready-file ...` plus extra args, logging to this
	// test's log file. Returns once the daemon is ready (every group's control loop started) or has
	// exited.
	std::unique_ptr<DaemonProcess> StartDaemon(const std::vector<std::string> &extra = {},
	                                           const std::map<std::string, std::string> &env = {}, int flush_ms = 300);
	// The daemon log's last lines, for failure messages.
	std::string LogTail(size_t lines = 60) const;

	// SQL over the lake's latest snapshot (in process: LoadCatalog + LakeReader in an in-memory
	// DuckDB); every value as DuckDB's VARCHAR text, NULL as "<null>". Throws NotYet while the lake
	// or a queried table does not exist; any other failure as it is.
	Rows LakeQuery(const std::string &sql);
	// count(*) of a lake table, -1 when the lake or the table does not exist (yet); a lake that
	// cannot be read throws.
	int64_t LakeCount(const std::string &lake_table);

	TableDigest SourceDigest(const std::string &table);
	TableDigest LakeDigest(const std::string &table, const std::string &lake_table);
	// Compares a source table with its lake table row by row (default lake name <table>_ducklake);
	// on a difference, says which rows are missing from or extra in the lake.
	::testing::AssertionResult LakeEqualsSource(const std::string &table, const std::string &lake_table = "");
	// Waits until the lake table equals the source table; on timeout, the comparison's failure.
	::testing::AssertionResult WaitLakeEqualsSource(const std::string &table, std::chrono::milliseconds timeout = 60s,
	                                                const std::string &lake_table = "");
	bool WaitLakeCount(const std::string &lake_table, int64_t count, std::chrono::milliseconds timeout = 60s);

	// duckpipe.table_mappings state / error_message of a source table (by table name).
	std::string TableState(const std::string &table);
	std::string TableError(const std::string &table);
	bool WaitTableState(const std::string &table, const std::string &state, std::chrono::milliseconds timeout = 60s);
	// Waits for ERRORED and returns the error message read at that moment (the automatic retry may
	// clear it a second later); empty on timeout.
	std::string WaitTableError(const std::string &table, std::chrono::milliseconds timeout = 60s);
	// Lines of the daemon log containing `text`.
	int CountLog(const std::string &text) const;

	// The group's slot: confirmed_flush_lsn and how far it trails pg_current_wal_lsn() (bytes).
	Lsn SlotConfirmed(const std::string &group = "default");
	int64_t SlotLagBytes(const std::string &group = "default");

	// Columns of a source table in order, and its primary key columns.
	std::vector<std::string> Columns(const std::string &table);

	// Unless a test sets this, TearDown fails it when a table failed or was copied again after the
	// stream lost it: the automatic recovery (a fresh copy) would otherwise hide a streaming bug
	// behind a lake that ends equal to the source.
	bool allow_table_failures_ = false;

	std::string db_;
	std::unique_ptr<TempDir> dir_;
	std::string data_path_;
	std::string temp_path_;
	std::string log_path_;
	std::unique_ptr<PgConnection> conn_;
	int daemons_started_ = 0;
};

} // namespace duckpipe::test
