#pragma once

#include "core/duck/duck_connection.hpp"
#include "core/duck/duck_database.hpp"
#include "core/lake/lake_config.hpp"
#include "core/lake/lake_writer.hpp"
#include "harness/lake_text.hpp"
#include "harness/pg_cluster.hpp"

#include <memory>
#include <set>
#include <string>

namespace duckpipe::test {

// A fresh lake with one table s.t(id int64, name varchar, amount float64) filled by many small
// commits: `inserts` files of 20 rows, then deletes of every id divisible by 3 in the first half of
// the files and of 16 of the 20 rows of the last file.
struct CompactionLake {
	std::string db;
	std::unique_ptr<TempDir> dir;
	lake::LakeConfig config;
	std::unique_ptr<lake::LakeWriter> writer;
	std::unique_ptr<DuckDatabase> staging_db;
	std::unique_ptr<DuckConnection> staging;
	int64_t table_id = 0;

	explicit CompactionLake(const std::string &prefix, int inserts = 10);

	std::string Conninfo() const { return config.catalog_conninfo; }
	void Insert(int64_t from, int64_t to);
	// Deletes the ids of `keys_sql` (one column `id`) in one commit.
	void Delete(const std::string &keys_sql);
	int64_t Head() const;
	// One line of catalog SQL through psql (trailing newline kept).
	std::string Psql(const std::string &sql) const;
	int64_t LiveDataFiles() const;
	// Σ record_count − Σ delete_count of the visible files: what metadata count(*) answers.
	int64_t MetadataCount() const;
	Table Contents(const lake::SnapshotSelector &selector = lake::SnapshotSelector::Latest()) const;
};

// Every regular file under dir with the extension, absolute paths.
std::set<std::string> FilesUnder(const std::string &dir, const std::string &extension = ".parquet");

} // namespace duckpipe::test
