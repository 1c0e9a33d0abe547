#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

// Plain data describing a DuckLake catalog as of one snapshot. Loaded from the catalog tables
// (see catalog_loader), consumed by the reader (views) and the writer (ids, live files, stats).
namespace duckpipe::lake {

struct SnapshotInfo {
	int64_t snapshot_id = 0;
	std::string snapshot_time; // as PostgreSQL prints timestamptz, UTC
	int64_t schema_version = 0;
	int64_t next_catalog_id = 0;
	int64_t next_file_id = 0;
};

struct LakeColumn {
	int64_t column_id = 0;
	int64_t column_order = 0;
	std::string name;
	std::string type; // DuckLake type name
	std::optional<std::string> initial_default;
	std::optional<std::string> default_value;
	std::string default_value_type = "literal";
	bool nulls_allowed = true;
	std::vector<LakeColumn> children; // list: "element"; map: "key","value"; struct: fields
};

// One column's statistics in one data file (ducklake_file_column_stats): min/max are text in the
// lake type's format (digest section 6), NULL when unknown.
struct LakeColumnStats {
	int64_t column_id = 0;
	std::optional<int64_t> value_count; // non-null values
	std::optional<int64_t> null_count;
	std::optional<std::string> min_value;
	std::optional<std::string> max_value;
	std::optional<bool> contains_nan;
};

struct LakeDataFile {
	int64_t data_file_id = 0;
	std::string path; // as stored
	bool path_is_relative = true;
	std::string full_path; // resolved against table/schema/data_path
	int64_t record_count = 0;
	int64_t file_size_bytes = 0;
	std::optional<int64_t> footer_size;
	int64_t row_id_start = 0;
	int64_t begin_snapshot = 0;
	std::optional<int64_t> mapping_id;
	// Set on merged files whose rows carry _ducklake_internal_snapshot_id (rows newer than the
	// loaded snapshot must be hidden when time travelling).
	std::optional<int64_t> partial_max;
	// The delete file visible at the loaded snapshot, if any.
	std::optional<int64_t> delete_file_id;
	std::string delete_full_path;
	int64_t delete_count = 0;
	// Set when the delete file has a per-position _ducklake_internal_snapshot_id column.
	std::optional<int64_t> delete_partial_max;
	// Top-level columns' statistics, for pruning files by a filter (a column absent has none).
	std::vector<LakeColumnStats> column_stats;
	// Positions deleted inline (ducklake_inlined_delete_<table_id>) by the loaded snapshot, sorted.
	std::vector<int64_t> inlined_deleted_positions;
};

// Rows of one inlined data table (ducklake_inlined_data_<table_id>_<schema_version>) visible at
// the loaded snapshot, values as text (SQL NULL as nullopt), read by the views next to the files.
struct LakeInlinedRows {
	std::string table_name;
	int64_t schema_version = 0;
	// Per user column of the inlined table, in its order: the lake column id it holds (the
	// table's column of that name at the schema version), nullopt when none (then unused).
	std::vector<std::optional<int64_t>> column_ids;
	std::vector<int64_t> row_ids;
	std::vector<std::vector<std::optional<std::string>>> values; // per row, per column
};

struct LakeTable {
	int64_t table_id = 0;
	std::string table_uuid;
	int64_t schema_id = 0;
	std::string schema_name;
	std::string name;
	std::string path; // as stored (relative to the schema path when path_is_relative)
	bool path_is_relative = true;
	std::string full_path; // resolved, ends in '/'
	int64_t begin_snapshot = 0;
	std::vector<LakeColumn> columns; // top-level, in column_order
	std::vector<LakeDataFile> files; // live at the loaded snapshot
	// Inlined rows live at the loaded snapshot (LoadCatalog only; a writer's TableBase has none).
	std::vector<LakeInlinedRows> inlined;
};

struct LakeSchema {
	int64_t schema_id = 0;
	std::string schema_uuid;
	std::string name;
	std::string path;
	bool path_is_relative = true;
	std::string full_path; // resolved, ends in '/'
};

struct CatalogState {
	std::string data_path; // from ducklake_metadata, ends in '/'
	std::string version;   // ducklake_metadata 'version'
	SnapshotInfo snapshot;
	std::vector<LakeSchema> schemas;
	std::vector<LakeTable> tables;

	const LakeTable *FindTable(const std::string &schema, const std::string &name) const;
	const LakeTable *FindTable(int64_t table_id) const;
};

} // namespace duckpipe::lake
