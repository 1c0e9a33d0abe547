#include "core/lake/lake_maintenance.hpp"

#include "core/common/error.hpp"
#include "core/common/log.hpp"
#include "core/lake/catalog_loader.hpp"
#include "core/lake/write/pending_files.hpp"
#include "core/pg/pg_connection.hpp"

#include <chrono>
#include <filesystem>
#include <set>
#include <string_view>
#include <utility>
#include <vector>

namespace fs = std::filesystem;

namespace duckpipe::lake {

namespace {

// A catalog row whose [begin, end) range no surviving snapshot falls into.
std::string Dead(const std::string &snapshots, const std::string &alias) {
	return alias + ".end_snapshot IS NOT NULL AND NOT EXISTS (SELECT 1 FROM " + snapshots +
	       " s WHERE s.snapshot_id >= " + alias + ".begin_snapshot AND s.snapshot_id < " + alias + ".end_snapshot)";
}

} // namespace

LakeMaintenance::LakeMaintenance(const LakeConfig &config) : config_(config) {
	conn_ = std::make_unique<PgConnection>(config_.catalog_conninfo,
	                                       PgConnection::Options{.application_name = "pg_duckpipe maintenance"});
	// Refuses a missing catalog or another format version with the loader's clear messages.
	data_path_ = LoadCatalog(*conn_, config_.catalog_schema).data_path;
	PendingFiles(*conn_, config_.catalog_schema).Ensure();
}

LakeMaintenance::~LakeMaintenance() = default;

std::string LakeMaintenance::Table(const char *name) const {
	return conn_->QuoteIdent(config_.catalog_schema) + "." + name;
}

ExpireResult LakeMaintenance::ExpireSnapshots(const std::string &older_than) {
	ExpireResult result;
	auto &c = *conn_;
	PgTransaction tx(c);
	// Never the snapshot a commit in flight is based on, nor a later one: its conflict check reads them.
	auto pending = PendingFiles(c, config_.catalog_schema).Table();
	auto expired =
	    c.Exec("DELETE FROM " + Table("ducklake_snapshot") +
	               " WHERE snapshot_time < now() - $1::interval AND snapshot_id < (SELECT max(snapshot_id) "
	               "FROM " +
	               Table("ducklake_snapshot") + ") AND snapshot_id < coalesce((SELECT min(p.base_snapshot) FROM " +
	               pending + " p WHERE p.path IS NULL AND p.committed_snapshot IS NULL AND NOT " +
	               PendingFiles::StaleCondition("'0 seconds'") + "), 9223372036854775807) RETURNING snapshot_id",
	           {older_than});
	result.snapshots_expired = expired.Rows();
	if (result.snapshots_expired == 0) {
		tx.Commit();
		return result;
	}
	c.Exec("DELETE FROM " + Table("ducklake_snapshot_changes") + " WHERE snapshot_id NOT IN (SELECT snapshot_id FROM " +
	       Table("ducklake_snapshot") + ")");
	std::string snaps = Table("ducklake_snapshot");

	// Files: schedule by their path relative to data_path (table and schema paths prefixed when
	// relative), then drop their rows and statistics.
	auto path_of = [&](const std::string &alias) {
		return "CASE WHEN NOT " + alias + ".path_is_relative THEN " + alias +
		       ".path ELSE (SELECT CASE WHEN t.path_is_relative THEN coalesce((SELECT CASE WHEN s.path_is_relative "
		       "THEN s.path ELSE '' END FROM " +
		       Table("ducklake_schema") +
		       " s WHERE s.schema_id = t.schema_id LIMIT 1), '') ELSE '' END || t.path FROM " +
		       Table("ducklake_table") + " t WHERE t.table_id = " + alias + ".table_id LIMIT 1) || " + alias +
		       ".path END";
	};
	c.Exec("CREATE TEMP TABLE duckpipe_dead_files ON COMMIT DROP AS "
	       "SELECT d.data_file_id AS id, " +
	       path_of("d") + " AS path, d.path_is_relative FROM " + Table("ducklake_data_file") + " d WHERE " +
	       Dead(snaps, "d") + " UNION ALL SELECT d.delete_file_id, " + path_of("d") + ", d.path_is_relative FROM " +
	       Table("ducklake_delete_file") + " d WHERE " + Dead(snaps, "d"));
	result.files_scheduled =
	    c.Exec("INSERT INTO " + Table("ducklake_files_scheduled_for_deletion") +
	           "(data_file_id, path, path_is_relative, schedule_start) "
	           "SELECT id, path, path_is_relative, now() FROM duckpipe_dead_files WHERE path IS NOT NULL")
	        .AffectedRows();
	for (const char *t :
	     {"ducklake_file_column_stats", "ducklake_file_partition_value", "ducklake_file_variant_stats"}) {
		c.Exec("DELETE FROM " + Table(t) + " WHERE data_file_id IN (SELECT id FROM duckpipe_dead_files)");
	}
	c.Exec("DELETE FROM " + Table("ducklake_data_file") + " d WHERE " + Dead(snaps, "d"));
	c.Exec("DELETE FROM " + Table("ducklake_delete_file") + " d WHERE " + Dead(snaps, "d"));

	// Inlined rows (data inlining) no surviving snapshot sees.
	auto inlined =
	    c.Exec("SELECT r.table_name, r.table_id, r.schema_version < coalesce((SELECT max(v.schema_version) "
	           "FROM " +
	               Table("ducklake_schema_versions") +
	               " v WHERE v.table_id = r.table_id), r.schema_version) AND EXISTS (SELECT 1 FROM " +
	               Table("ducklake_table") + " t WHERE t.table_id = r.table_id AND t.end_snapshot IS NULL) FROM " +
	               Table("ducklake_inlined_data_tables") +
	               " r WHERE to_regclass(quote_ident($1) || '.' || quote_ident(r.table_name)) IS NOT NULL",
	           {config_.catalog_schema});
	// A live table's inlined table of an older schema version that still holds rows is read (by
	// the reference and by us) with the table's columns at that version's begin_snapshot, by name:
	// the table's and columns' rows of then are kept until its rows have moved to Parquet.
	std::string keep;
	for (int i = 0; i < inlined.Rows(); i++) {
		auto qt = c.QuoteIdent(config_.catalog_schema) + "." + c.QuoteIdent(std::string(inlined.Get(i, 0)));
		c.Exec("DELETE FROM " + qt + " x WHERE " + Dead(snaps, "x"));
		if (inlined.GetBool(i, 2) && c.Exec("SELECT EXISTS (SELECT 1 FROM " + qt + ")").GetBool(0, 0)) {
			keep += (keep.empty() ? "" : ",") + std::to_string(inlined.GetInt(i, 1));
		}
	}
	// Versioned catalog rows no surviving snapshot sees.
	for (const char *t :
	     {"ducklake_column", "ducklake_column_tag", "ducklake_tag", "ducklake_view", "ducklake_partition_info",
	      "ducklake_sort_info", "ducklake_macro", "ducklake_table", "ducklake_schema"}) {
		bool by_table = std::string_view(t) == "ducklake_column" || std::string_view(t) == "ducklake_table";
		c.Exec("DELETE FROM " + Table(t) + " x WHERE " + Dead(snaps, "x") +
		       (by_table && !keep.empty() ? " AND x.table_id NOT IN (" + keep + ")" : std::string()));
	}
	// The inlined tables of tables gone for good (no ducklake_table row left after the deletes
	// above) are dropped with their registration.
	auto dropped = c.Exec("SELECT r.table_name FROM " + Table("ducklake_inlined_data_tables") +
	                          " r WHERE to_regclass(quote_ident($1) || '.' || quote_ident(r.table_name)) IS NOT NULL "
	                          "AND NOT EXISTS (SELECT 1 FROM " +
	                          Table("ducklake_table") + " t WHERE t.table_id = r.table_id)",
	                      {config_.catalog_schema});
	for (int i = 0; i < dropped.Rows(); i++) {
		c.Exec("DROP TABLE IF EXISTS " + c.QuoteIdent(config_.catalog_schema) + "." +
		       c.QuoteIdent(std::string(dropped.Get(i, 0))));
	}
	// Tables gone for good lose every row keyed by their id.
	std::string gone = "table_id NOT IN (SELECT table_id FROM " + Table("ducklake_table") + ")";
	for (const char *t :
	     {"ducklake_column", "ducklake_column_tag", "ducklake_table_stats", "ducklake_table_column_stats",
	      "ducklake_partition_info", "ducklake_partition_column", "ducklake_sort_info", "ducklake_sort_expression",
	      "ducklake_schema_versions", "ducklake_inlined_data_tables"}) {
		c.Exec("DELETE FROM " + Table(t) + " WHERE " + gone);
	}
	c.Exec("DELETE FROM " + Table("ducklake_tag") + " WHERE object_id NOT IN (SELECT table_id FROM " +
	       Table("ducklake_table") + ") AND object_id NOT IN (SELECT schema_id FROM " + Table("ducklake_schema") +
	       ") AND object_id NOT IN (SELECT view_id FROM " + Table("ducklake_view") + ")");
	tx.Commit();
	log::Info("lake.snapshots_expired", "count", result.snapshots_expired, "files_scheduled", result.files_scheduled);
	return result;
}

CleanupResult LakeMaintenance::CleanupOldFiles(const std::string &older_than) {
	CleanupResult result;
	auto rows = conn_->Exec("SELECT data_file_id, path, path_is_relative FROM " +
	                            Table("ducklake_files_scheduled_for_deletion") +
	                            " WHERE schedule_start <= now() - $1::interval",
	                        {older_than});
	for (int i = 0; i < rows.Rows(); i++) {
		std::string path = rows.GetBool(i, 2) ? data_path_ + std::string(rows.Get(i, 1)) : std::string(rows.Get(i, 1));
		std::error_code ec;
		// The file goes first: a crash in between leaves a row whose file is already gone, which the
		// next cleanup simply counts as missing.
		if (fs::remove(path, ec)) {
			result.files_deleted++;
		} else if (ec) {
			throw Error(ErrorKind::Io, "cannot delete " + path + ": " + ec.message(),
			            {.hint = "check the permissions of the lake's data path"});
		} else {
			result.files_missing++;
		}
		conn_->Exec("DELETE FROM " + Table("ducklake_files_scheduled_for_deletion") +
		                " WHERE data_file_id = $1 AND path = $2",
		            {std::string(rows.Get(i, 0)), std::string(rows.Get(i, 1))});
	}
	log::Info("lake.files_cleaned", "deleted", result.files_deleted, "missing", result.files_missing);
	return result;
}

CleanupResult LakeMaintenance::DeleteOrphanedFiles(const std::string &older_than) {
	CleanupResult result;
	auto age = conn_->Exec("SELECT extract(epoch FROM $1::interval)", {older_than});
	auto min_age = std::chrono::seconds(static_cast<int64_t>(std::stod(std::string(age.Get(0, 0)))));
	// The files first, the catalog after: a file listed here is either registered as in flight
	// (registered before it was written), or referenced by the catalog (its commit removed the
	// registration in the transaction that added the reference), or abandoned. The query below sees
	// all of it in one snapshot.
	std::vector<std::pair<std::string, fs::file_time_type>> files;
	std::error_code ec;
	if (!fs::exists(data_path_, ec)) {
		return result;
	}
	for (auto it = fs::recursive_directory_iterator(data_path_, ec); it != fs::recursive_directory_iterator();
	     it.increment(ec)) {
		if (ec || !it->is_regular_file() || it->path().extension() != ".parquet") {
			continue;
		}
		files.emplace_back(it->path().string(), it->last_write_time(ec));
	}
	auto pending = PendingFiles(*conn_, config_.catalog_schema).Table();
	// Registrations of a writer that died long ago, and markers of commits long since committed.
	conn_->Exec("DELETE FROM " + pending + " p WHERE " + PendingFiles::StaleCondition("$1") +
	                " OR (p.committed_snapshot IS NOT NULL AND p.registered_at < now() - interval '1 hour')",
	            {older_than});
	// Every path the catalog knows, resolved the way readers resolve them, and every file in flight.
	std::set<std::string> known;
	auto refs =
	    conn_->Exec("SELECT CASE WHEN NOT f.path_is_relative THEN f.path ELSE "
	                "CASE WHEN t.path_is_relative THEN CASE WHEN s.path_is_relative THEN $1 || s.path ELSE s.path END "
	                "ELSE '' END || t.path || f.path END FROM (SELECT table_id, path, path_is_relative FROM " +
	                    Table("ducklake_data_file") + " UNION ALL SELECT table_id, path, path_is_relative FROM " +
	                    Table("ducklake_delete_file") +
	                    ") f JOIN (SELECT DISTINCT ON (table_id) table_id, schema_id, path, "
	                    "path_is_relative FROM " +
	                    Table("ducklake_table") +
	                    " ORDER BY table_id, begin_snapshot DESC) t ON t.table_id = f.table_id JOIN "
	                    "(SELECT DISTINCT ON (schema_id) schema_id, path, path_is_relative FROM " +
	                    Table("ducklake_schema") +
	                    " ORDER BY schema_id, begin_snapshot DESC) s ON s.schema_id = t.schema_id "
	                    "UNION ALL SELECT CASE WHEN path_is_relative THEN $1 || path ELSE path END FROM " +
	                    Table("ducklake_files_scheduled_for_deletion") + " UNION ALL SELECT path FROM " + pending +
	                    " WHERE path IS NOT NULL",
	                {data_path_});
	for (int i = 0; i < refs.Rows(); i++) {
		known.insert(std::string(refs.Get(i, 0)));
	}
	auto now = fs::file_time_type::clock::now();
	for (const auto &[path, written] : files) {
		if (known.count(path) || now - written < min_age) {
			continue;
		}
		if (fs::remove(path, ec)) {
			result.files_deleted++;
			log::Info("lake.orphan_deleted", "path", path);
		}
	}
	return result;
}

} // namespace duckpipe::lake
