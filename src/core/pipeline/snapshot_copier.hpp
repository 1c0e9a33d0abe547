#pragma once

#include "core/common/lsn.hpp"
#include "core/meta/metadata_types.hpp"
#include "core/pipeline/pipeline_config.hpp"
#include "core/pipeline/table_schema.hpp"

#include <atomic>
#include <cstdint>
#include <functional>
#include <string>

namespace duckpipe {
class PgConnection;
}
namespace duckpipe::lake {
class LakeCommit;
class LakeWriter;
} // namespace duckpipe::lake

namespace duckpipe::pipeline {

struct SnapshotResult {
	Lsn snapshot_lsn; // transactions committed before it are in the copy
	int64_t rows = 0;
	int64_t lake_table_id = 0;
	int64_t lake_snapshot = 0;
};

// The initial (or resync) copy of one table, consistent at a known LSN: a temporary logical slot
// exports a snapshot at its consistent point C, the table is read with COPY inside that snapshot,
// and the rows go to the lake in one DuckLake snapshot that also creates (or, on resync, replaces)
// the lake table and records the table's progress. Runs on its own connections and threads, so it
// never blocks the group's slot consumer.
class SnapshotCopier {
public:
	SnapshotCopier(const PipelineConfig &config, lake::LakeWriter &writer);

	// `on_snapshot_lsn` runs as soon as C is known, before any row is copied, so the group's stream
	// can start deciding per transaction which changes the copy already holds. With copy_data false
	// the table is created empty and C is the current WAL position.
	SnapshotResult Run(const std::string &source_conninfo, const meta::TableMapping &mapping, const TableSchema &schema,
	                   const std::function<void(Lsn)> &on_snapshot_lsn, const std::atomic<bool> &stop);

	// Append mode copied again after the group's slot was lost: the changelog already in the lake
	// stays and the copied rows are appended as operation 'R' (when its columns still match).
	void KeepHistory(bool keep) { keep_history_ = keep; }

private:
	// The lake table the copy goes to and the operation its rows are marked with.
	struct LakeTarget {
		int64_t table = 0;
		char op = 'I';
	};

	LakeTarget PrepareLakeTable(lake::LakeCommit &commit, const meta::TableMapping &mapping, const TableSchema &schema);
	int64_t CopyRows(PgConnection &sql, const std::string &source_conninfo, const std::string &snapshot_name,
	                 lake::LakeCommit &commit, const LakeTarget &target, Lsn snapshot_lsn,
	                 const meta::TableMapping &mapping, const TableSchema &schema, const std::atomic<bool> &stop);
	bool LakeSchemaExists(const std::string &name, int64_t snapshot);
	void EnsureLakeSchema(const std::string &name);

	const PipelineConfig &config_;
	lake::LakeWriter &writer_;
	bool keep_history_ = false;
};

} // namespace duckpipe::pipeline
