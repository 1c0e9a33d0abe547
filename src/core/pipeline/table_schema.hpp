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
	// like the source columns (a CSV read of COPY output).
	std::string ConvertSelect(const std::string &relation) const;
};

} // namespace duckpipe::pipeline
