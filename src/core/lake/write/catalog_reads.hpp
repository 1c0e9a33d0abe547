#pragma once

#include "core/lake/catalog_model.hpp"

#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <vector>

namespace duckpipe {
class PgConnection;
}

namespace duckpipe::lake {

// One table as of a snapshot, with what the writer needs beyond the reader's model.
struct TableBase {
	LakeTable table;           // columns (tree, current), live files with their visible delete file
	int64_t max_column_id = 0; // over every row ever written for the table (ids are never reused)
	std::string schema_full_path;
};

// The writer's catalog queries "as of snapshot N". Rows of snapshots <= N never change except for
// end_snapshot being set to a later snapshot, so these reads are consistent without a transaction.
class CatalogReads {
public:
	CatalogReads(PgConnection &conn, std::string catalog_schema, std::string data_path);

	SnapshotInfo Head();
	std::optional<LakeSchema> FindSchema(const std::string &name, int64_t snapshot);
	std::optional<int64_t> FindTableId(const std::string &schema, const std::string &name, int64_t snapshot);
	// Throws Error(Lake) when the table is not live at the snapshot.
	TableBase LoadTable(int64_t table_id, int64_t snapshot);
	// file id -> (min, max) strings per requested column id (nullopt when unknown), for live files.
	using KeyBounds = std::map<int64_t, std::vector<std::pair<std::optional<std::string>, std::optional<std::string>>>>;
	KeyBounds KeyStats(int64_t table_id, const std::vector<int64_t> &data_file_ids,
	                   const std::vector<int64_t> &column_ids);

	std::string T(const char *table) const; // qualified catalog table name

private:
	PgConnection &conn_;
	std::string schema_;
	std::string data_path_;
};

} // namespace duckpipe::lake
