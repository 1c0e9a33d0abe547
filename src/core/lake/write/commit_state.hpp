#pragma once

#include "core/lake/catalog_model.hpp"
#include "core/lake/write/catalog_reads.hpp"
#include "core/lake/write/inlined_rows.hpp"
#include "core/lake/write/parquet_file_writer.hpp"
#include "core/pg/pg_result.hpp"

#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <set>
#include <string>
#include <vector>

namespace duckpipe {
class PgConnection;
}

namespace duckpipe::lake {

// Everything a LakeCommit has staged. Ids that depend on the head snapshot (schema and table ids,
// file ids, snapshot id, row ids) are assigned per attempt by CommitApplier; column ids and file
// names are final when staged. New schemas and tables are referred to by negative handles.
struct StagedSchema {
	int64_t handle = 0;
	std::string name;
	std::string uuid;
	std::string path;
};

struct StagedTable {
	int64_t handle = 0;
	int64_t schema_ref = 0; // schema id, or a StagedSchema handle
	std::string schema_name;
	std::string name;
	std::string uuid;
	std::string path;
};

// A ducklake_column row to insert at S.
struct StagedColumnRow {
	int64_t table_ref = 0;
	LakeColumn column; // children are separate rows
	std::optional<int64_t> parent;
};

struct StagedDataFile {
	int64_t table_ref = 0;
	std::string file_name; // relative to the table path
	WrittenFile file;
	// Set when the rows go into the catalog's inlined data table instead (no file; `file` keeps
	// their count and column stats for the table stats).
	std::shared_ptr<const InlinedInsert> inlined;
};

// Positions to delete from one live data file (collected by DeleteByKey / DeletePositions).
struct StagedDelete {
	int64_t table_id = 0;
	LakeDataFile data_file; // as of the base snapshot (with its visible delete file)
	std::set<int64_t> positions;
};

// The delete file (or whole-file end) materialised from a StagedDelete before the catalog transaction.
struct MaterialisedDelete {
	int64_t table_id = 0;
	int64_t data_file_id = 0;
	std::optional<int64_t> old_delete_file_id;
	bool whole_file = false; // every row dead: end the data file instead of writing a delete file
	std::string file_name;   // relative to the table path
	WrittenFile file;
};

struct CommitState {
	SnapshotInfo base;
	std::string token;                    // PendingFiles registration
	std::function<void()> on_commit_sent; // crash tests
	std::vector<StagedSchema> schemas;
	std::vector<StagedTable> tables;
	std::map<int64_t, TableBase> working; // table id or handle -> definition including staged changes
	std::vector<StagedColumnRow> column_rows;
	std::set<std::pair<int64_t, int64_t>> ended_columns; // (table id, column id)
	std::map<int64_t, std::string> renamed_tables;       // table id -> new name
	std::set<int64_t> altered_tables;                    // existing tables whose columns changed
	std::set<int64_t> dropped_tables;
	std::set<int64_t> truncated_tables;
	std::vector<StagedDataFile> data_files;
	std::map<int64_t, StagedDelete> deletes; // data file id -> positions
	std::vector<MaterialisedDelete> delete_files;
	bool deletes_materialised = false;
	// Data inlining (inlined_data_writer.hpp): whether small inserts may be inlined, and the inlined
	// rows this commit ends, by inlined table name.
	bool inlining_allowed = false;
	std::map<std::string, StagedInlinedDelete> inlined_deletes;
	std::vector<std::function<void(PgConnection &)>> callbacks;
	// SQL text sent in the round trip of the lake rows.
	std::vector<std::function<std::string(PgConnection &)>> statements;
	std::map<int64_t, int64_t> resolved; // handle -> id, set by the successful attempt
	int64_t next_handle = -1;
	// Table stats as of the base, read while staging (TableStatsMerger::OldStatsSelectFor rows) in the
	// round trip that registers a table's first file: the single-round-trip commit needs nothing else.
	std::vector<PgResult> staged_stats;
	std::set<int64_t> staged_stats_tables;
	bool single_trip_tried = false; // the head moved (once, or a commit of this writer since Begin): read it first

	bool HasLakeChanges() const {
		return !schemas.empty() || !tables.empty() || !column_rows.empty() || !ended_columns.empty() ||
		       !renamed_tables.empty() || !dropped_tables.empty() || !truncated_tables.empty() || !data_files.empty() ||
		       !deletes.empty() || !inlined_deletes.empty();
	}
};

} // namespace duckpipe::lake
