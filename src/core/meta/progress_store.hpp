#pragma once

#include "core/common/lsn.hpp"
#include "core/meta/metadata_types.hpp"

#include <optional>
#include <string>
#include <vector>

namespace duckpipe {
class PgConnection;
}

namespace duckpipe::meta {

// duckpipe.table_progress, in the lake catalog's database: each table's applied LSN (and the source
// layout its lake table mirrors), written in the same transaction as the lake commit, which is what
// makes apply exactly-once. Rows are keyed by (SourceIdentity, mapping id, generation is a column):
// mapping ids are allocated per metadata database, and a lake catalog may be shared by several.
class ProgressStore {
public:
	explicit ProgressStore(PgConnection &conn) : conn_(conn) {}

	// The SourceIdentity of the database `conn` is connected to, as two SQL columns.
	static constexpr const char *kLocalIdentitySql = "(SELECT system_identifier FROM pg_control_system()), "
	                                                 "(SELECT oid FROM pg_database WHERE datname = current_database())";
	static SourceIdentity LocalIdentity(PgConnection &conn);

	struct Progress {
		Lsn applied;
		std::optional<std::string> source_columns; // SourceLayout JSON, when recorded
	};
	// Run inside the lake commit's catalog transaction. `reset_rows` starts rows_synced over (a copy);
	// otherwise `rows` adds to it within one generation.
	void Record(const TableMapping &mapping, Lsn applied, int64_t rows, bool reset_rows,
	            const std::string &source_columns);
	// Record as SQL text (literals quoted), for a caller that sends it with other statements.
	std::string RecordSql(const TableMapping &mapping, Lsn applied, int64_t rows, bool reset_rows,
	                      const std::string &source_columns) const;
	// The progress of the mapping's current generation, if any.
	std::optional<Progress> Load(const TableMapping &mapping);
	// Removed or resynced mappings of the metadata `conn` is connected to (their progress is in this
	// database when it is also the lake catalog).
	void ForgetLocal(const std::vector<int64_t> &mapping_ids);
	// Migration 0003 gave the rows that predate it the identity of the database they are in. In a
	// lake catalog of its own (no mappings there) they were written by the one source using it:
	// re-key them to `owner`. Returns the rows adopted.
	int AdoptLegacyRows(const SourceIdentity &owner);

private:
	PgConnection &conn_;
};

} // namespace duckpipe::meta
