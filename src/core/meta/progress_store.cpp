#include "core/meta/progress_store.hpp"

#include "core/common/error.hpp"
#include "core/pg/pg_connection.hpp"

namespace duckpipe::meta {

namespace {

void RequireIdentity(const TableMapping &mapping) {
	if (!mapping.source_identity.IsValid()) {
		throw Error(ErrorKind::Internal,
		            "table mapping " + std::to_string(mapping.id) + " has no source identity for its progress",
		            {.table = mapping.SourceName()});
	}
}

std::string IdList(const std::vector<int64_t> &ids) {
	std::string out = "{";
	for (size_t i = 0; i < ids.size(); i++) {
		out += (i ? "," : "") + std::to_string(ids[i]);
	}
	return out + "}";
}

} // namespace

SourceIdentity ProgressStore::LocalIdentity(PgConnection &conn) {
	auto r = conn.Exec(std::string("SELECT ") + kLocalIdentitySql);
	return {.system_identifier = r.GetInt(0, 0), .database_oid = static_cast<uint32_t>(r.GetInt(0, 1))};
}

void ProgressStore::Record(const TableMapping &mapping, Lsn applied, int64_t rows, bool reset_rows,
                           const std::string &source_columns) {
	conn_.Exec(RecordSql(mapping, applied, rows, reset_rows, source_columns));
}

std::string ProgressStore::RecordSql(const TableMapping &mapping, Lsn applied, int64_t rows, bool reset_rows,
                                     const std::string &source_columns) const {
	RequireIdentity(mapping);
	std::string rows_synced =
	    reset_rows ? "EXCLUDED.rows_synced"
	               : "CASE WHEN p.generation = EXCLUDED.generation THEN p.rows_synced + EXCLUDED.rows_synced "
	                 "ELSE EXCLUDED.rows_synced END";
	return "INSERT INTO duckpipe.table_progress AS p(source_system_id, source_database_oid, mapping_id, "
	       "generation, applied_lsn, rows_synced, source_columns, updated_at) VALUES (" +
	       std::to_string(mapping.source_identity.system_identifier) + ", " +
	       std::to_string(mapping.source_identity.database_oid) + ", " + std::to_string(mapping.id) + ", " +
	       std::to_string(mapping.generation) + ", " + conn_.QuoteLiteral(applied.ToString()) + "::pg_lsn, " +
	       std::to_string(rows) + ", " + conn_.QuoteLiteral(source_columns) +
	       "::jsonb, now()) ON CONFLICT (source_system_id, source_database_oid, mapping_id) DO UPDATE SET "
	       "generation = EXCLUDED.generation, applied_lsn = EXCLUDED.applied_lsn, "
	       "source_columns = EXCLUDED.source_columns, rows_synced = " +
	       rows_synced + ", updated_at = now()";
}

std::optional<ProgressStore::Progress> ProgressStore::Load(const TableMapping &mapping) {
	RequireIdentity(mapping);
	auto r = conn_.Exec("SELECT applied_lsn, source_columns FROM duckpipe.table_progress WHERE source_system_id = $1 "
	                    "AND source_database_oid = $2 AND mapping_id = $3 AND generation = $4",
	                    {std::to_string(mapping.source_identity.system_identifier),
	                     std::to_string(mapping.source_identity.database_oid), std::to_string(mapping.id),
	                     std::to_string(mapping.generation)});
	if (r.Rows() == 0 || r.IsNull(0, 0)) {
		return std::nullopt;
	}
	Progress p{.applied = Lsn::Parse(r.Get(0, 0)), .source_columns = r.GetOptional(0, 1)};
	return p;
}

void ProgressStore::ForgetLocal(const std::vector<int64_t> &mapping_ids) {
	if (mapping_ids.empty()) {
		return;
	}
	conn_.Exec(std::string("DELETE FROM duckpipe.table_progress WHERE (source_system_id, source_database_oid) = (") +
	               kLocalIdentitySql + ") AND mapping_id = ANY($1::bigint[])",
	           {IdList(mapping_ids)});
}

int ProgressStore::AdoptLegacyRows(const SourceIdentity &owner) {
	auto r = conn_.Exec(std::string("UPDATE duckpipe.table_progress SET source_system_id = $1, "
	                                "source_database_oid = $2 WHERE (source_system_id, source_database_oid) = (") +
	                        kLocalIdentitySql + ") AND ($1, $2::oid) <> (" + kLocalIdentitySql +
	                        ") AND NOT EXISTS (SELECT 1 FROM duckpipe.table_mappings)",
	                    {std::to_string(owner.system_identifier), std::to_string(owner.database_oid)});
	return static_cast<int>(r.AffectedRows());
}

} // namespace duckpipe::meta
