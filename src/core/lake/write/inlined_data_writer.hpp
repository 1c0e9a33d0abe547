#pragma once

#include "core/lake/catalog_model.hpp"
#include "core/lake/write/inlined_rows.hpp"

#include <cstdint>
#include <map>
#include <memory>
#include <optional>
#include <set>
#include <string>
#include <vector>

namespace duckpipe {
class PgConnection;
class DuckConnection;
} // namespace duckpipe

namespace duckpipe::lake {

// The catalog side of DuckLake data inlining for our writer (digest section 7): small inserts go into
// ducklake_inlined_data_<T>_<V> (created and registered in ducklake_inlined_data_tables when
// missing, in the commit's transaction), with the column types the reference's PostgreSQL catalog
// gives them: strings, JSON and BLOBs as BYTEA, dates, timestamps and 128-bit/unsigned 64-bit
// integers as VARCHAR (DuckDB's text), the other primitives natively. Deleting an inlined row sets
// its end_snapshot.
class InlinedDataWriter {
public:
	// The inlined table's column type for a lake type, or nullopt when we do not inline it (nested
	// types, variant, geometry, time_ns).
	static std::optional<std::string> PgType(const std::string &lake_type);
	// Whether every column of the table can be inlined and none clashes with the inlined table's
	// own columns (row_id, begin_snapshot, end_snapshot).
	static bool CanInline(const std::vector<LakeColumn> &columns);
	static std::string TableName(int64_t table_id, int64_t schema_version);

	// Reads the rows of the Parquet file just written for `columns` as PostgreSQL expressions.
	static std::shared_ptr<const InlinedInsert> ReadRows(DuckConnection &duck, const std::vector<LakeColumn> &columns,
	                                                     const std::string &path);

	// The type the reference's PostgreSQL catalog gives a column of an inlined table it creates
	// (nested values as VARCHAR text), or nullopt when it would not inline the table.
	static std::optional<std::string> ReferencePgType(const LakeColumn &column);

	// The statements that insert `rows` with row ids from `row_id_start` at snapshot S into the
	// table's inlined table, created and registered when missing. The table is the one of the
	// table's own latest schema version (max ducklake_schema_versions.schema_version of the table:
	// the reference reads an inlined table with the columns at that row's begin_snapshot);
	// `schema_version` (the commit's) is used, with a new schema_versions row, only for a table
	// that has no row at all.
	static std::string InsertSql(PgConnection &conn, const std::string &catalog_schema, const InlinedInsert &rows,
	                             int64_t table_id, int64_t schema_version, int64_t snapshot, int64_t row_id_start);
	// For a commit that changes the columns of a table (schema version `schema_version`): when the
	// table has registered inlined tables, creates and registers the inlined table of the new
	// version with the new `columns`, as the reference does at ALTER. The reference's writer
	// inserts positionally into a table's latest registered inlined table, which must therefore
	// have the table's current columns. Empty when the reference would not inline the table.
	static std::string NewVersionSql(PgConnection &conn, const std::string &catalog_schema,
	                                 const std::vector<LakeColumn> &columns, int64_t table_id, int64_t schema_version);
	// The statements that end the staged inlined rows at S. Each must be live: a row another writer
	// ended meanwhile (a concurrent delete or flush to Parquet) fails the commit with an error (not
	// retried: the caller redoes the delete from the new snapshot) rather than losing the delete.
	static std::string DeleteSql(PgConnection &conn, const std::string &catalog_schema,
	                             const std::map<std::string, StagedInlinedDelete> &deletes, int64_t snapshot);

	// The statements that end every live inlined row of the truncated tables at S (run before the
	// commit's own inlined inserts).
	static std::string TruncateSql(PgConnection &conn, const std::string &catalog_schema,
	                               const std::set<int64_t> &table_ids, int64_t snapshot);

	// The inlined tables of a table that exist (registered and created), and whether its
	// ducklake_inlined_delete_<T> exists.
	struct Tables {
		std::vector<std::string> data;
		bool deletes = false;
	};
	static Tables Find(PgConnection &conn, const std::string &catalog_schema, int64_t table_id);

	// Live inlined rows per table (every registered inlined table that exists), for maintenance.
	static std::map<int64_t, int64_t> LiveRowCounts(PgConnection &conn, const std::string &catalog_schema,
	                                                const std::vector<int64_t> &table_ids);
};

} // namespace duckpipe::lake
