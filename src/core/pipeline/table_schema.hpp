#pragma once

#include "core/flush/change_buffer.hpp"
#include "core/lake/catalog_model.hpp"
#include "core/lake/pg_type_mapping.hpp"
#include "core/meta/metadata_types.hpp"

#include <string>
#include <vector>

namespace duckpipe::pipeline {

// How one source table is laid out on each hop: lake columns, buffer columns (with the DuckDB
// conversion from PostgreSQL's text output) and the key. Derived once per snapshot from the
// source's catalog, so the consumer, the copy and the flush agree.
struct TableSchema {
	lake::PgTableDescription source;
	char relkind = 'r';                          // 'p' for a partitioned table (its partitions are read through it)
	std::vector<lake::LakeTypeMapping> mappings; // per source column
	std::vector<lake::LakeColumn> lake_columns;
	std::vector<flush::BufferColumn> buffer_columns;
	std::vector<std::string> column_names;
	std::vector<bool> key;
	std::vector<std::string> key_columns;

	// Throws Error(Unsupported) for an upsert table without a key (primary key or replica
	// identity index), naming the table and the ways out.
	static TableSchema Describe(PgConnection &conn, uint32_t source_oid, meta::SyncMode mode);

	// `SELECT <converted columns> FROM <relation>` where the relation has VARCHAR columns named
	// like the source columns (a CSV read of COPY output). In append mode the copied rows are
	// recorded as inserts at `copy_lsn`.
	std::string ConvertSelect(const std::string &relation, Lsn copy_lsn = {}) const;

	meta::SyncMode mode = meta::SyncMode::Upsert;
	// Append (changelog) mode: lake columns after the source's, one row per change.
	static constexpr const char *kOpColumn = "duckpipe_op";                  // I, U, D
	static constexpr const char *kLsnColumn = "duckpipe_lsn";                // commit LSN as a number
	static constexpr const char *kCommitTimeColumn = "duckpipe_commit_time"; // source commit time
};

} // namespace duckpipe::pipeline
