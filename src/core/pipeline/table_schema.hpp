#pragma once

#include "core/flush/change_buffer.hpp"
#include "core/lake/catalog_model.hpp"
#include "core/lake/pg_type_mapping.hpp"
#include "core/meta/metadata_types.hpp"
#include "core/pg/source_table.hpp"
#include "core/pipeline/source_layout.hpp"

#include <string>
#include <vector>

namespace duckpipe::pipeline {

// How one source table is laid out on each hop: lake columns, buffer columns (with the DuckDB
// conversion from PostgreSQL's text output) and the key. Derived from the source's catalog for a
// copy, from the lake table plus its recorded source layout on restart, and evolved by source DDL,
// so the consumer, the copy and the flush agree.
struct TableSchema {
	PgTableDescription source;
	char relkind = 'r';                          // 'p' for a partitioned table (its partitions are read through it)
	SourceLayout layout;                         // per source column, parallel to the vectors below
	std::vector<lake::LakeTypeMapping> mappings; // per source column
	std::vector<lake::LakeColumn> lake_columns;
	std::vector<flush::BufferColumn> buffer_columns;
	std::vector<std::string> column_names;
	std::vector<bool> key;
	std::vector<std::string> key_columns;

	// Throws Error(Unsupported) for a table without a key (primary key or replica identity index)
	// unless it has REPLICA IDENTITY FULL, naming the table and the ways out. An upsert table without
	// a key is matched by full row value (RowMatchApply).
	static TableSchema Describe(PgConnection &conn, uint32_t source_oid, meta::SyncMode mode);
	// The same from a description already read (DescribeTable, or ParseTableDescription of rows the
	// extension read through SPI); same errors.
	static TableSchema FromDescription(PgTableDescription source, meta::SyncMode mode);
	// The schema of an existing lake table whose source columns are `layout` (names, keys and
	// conversions from the lake columns; `described` supplies the source's current names).
	// Throws Error(Lake) when the lake table lacks a column of the layout.
	static TableSchema FromLake(const TableSchema &described, const lake::LakeTable &table, const SourceLayout &layout);
	// The mapping that reads PostgreSQL text into an existing lake column.
	static lake::LakeTypeMapping MappingOf(const lake::LakeColumn &column);

	// Appends one source column (used by Describe, FromLake and schema evolution).
	void AddColumn(const SourceColumn &column, lake::LakeTypeMapping mapping, bool not_null);
	// Recomputes key_columns and, in append mode, the changelog columns of lake_columns.
	void Finish();

	// `SELECT <converted columns> FROM <relation>` where the relation has VARCHAR columns named
	// like the source columns (PostgreSQL's text form of each value). In append mode the copied rows are
	// recorded as operation `op` (inserts, or 'R': copied again after the slot was lost) at `copy_lsn`.
	std::string ConvertSelect(const std::string &relation, Lsn copy_lsn = {}, char op = 'I') const;
	// The conversion of one column from a VARCHAR column of the same name.
	std::string ColumnExpression(size_t column) const;

	meta::SyncMode mode = meta::SyncMode::Upsert;
	// Append (changelog) mode: lake columns after the source's, one row per change.
	static constexpr const char *kOpColumn = "duckpipe_op";                  // I, U, D, T (truncate), R (re-copied)
	static constexpr const char *kLsnColumn = "duckpipe_lsn";                // commit LSN as a number
	static constexpr const char *kCommitTimeColumn = "duckpipe_commit_time"; // source commit time
};

} // namespace duckpipe::pipeline
