#include "daemon/maintenance_command.hpp"

#include "core/common/error.hpp"
#include "core/lake/catalog_loader.hpp"
#include "core/lake/catalog_schema.hpp"
#include "core/lake/lake_maintenance.hpp"
#include "core/lake/lake_writer.hpp"
#include "core/lake/write/inlined_data_flusher.hpp"
#include "core/lake/write/lake_compactor.hpp"
#include "core/pg/pg_connection.hpp"

#include <CLI/CLI.hpp>

#include <ostream>
#include <set>

namespace duckpipe::daemon {

namespace {

// The config of an existing lake: never creates one (maintenance of a missing lake is a mistake).
lake::LakeConfig ExistingLake(const GlobalOptions &global) {
	lake::LakeConfig config;
	config.catalog_conninfo = global.LakeCatalogConninfo();
	config.catalog_schema = global.lake_schema;
	PgConnection conn(config.catalog_conninfo, PgConnection::Options{.application_name = "pg_duckpipe maintenance"});
	auto info = lake::CatalogSchema::Check(conn, config.catalog_schema);
	config.data_path = global.data_path.empty() ? info.data_path : global.data_path;
	return config;
}

// The lake tables named (schema.table), or all of them.
std::vector<const lake::LakeTable *> ChosenTables(const lake::CatalogState &state,
                                                  const std::vector<std::string> &tables) {
	std::vector<const lake::LakeTable *> chosen;
	if (tables.empty()) {
		for (const auto &t : state.tables) {
			chosen.push_back(&t);
		}
	}
	for (const auto &name : tables) {
		auto dot = name.find('.');
		const lake::LakeTable *t = nullptr;
		if (dot != std::string::npos) {
			t = state.FindTable(name.substr(0, dot), name.substr(dot + 1));
		}
		if (!t) {
			throw Error(ErrorKind::Config, "lake table '" + name + "' does not exist",
			            {.hint = "name lake tables as schema.table (see `duckpipe query \"SHOW ALL TABLES\"`)"});
		}
		chosen.push_back(t);
	}
	return chosen;
}

// Moves the tables' inlined rows into Parquet files; one line per table that had some.
void FlushInlinedRows(lake::LakeWriter &writer, const std::vector<const lake::LakeTable *> &tables, std::ostream &out,
                      bool quiet) {
	for (const auto *t : tables) {
		auto name = t->schema_name + "." + t->name;
		if (t->inlined.empty()) {
			if (!quiet) {
				out << "flush-inlined " << name << ": no inlined rows\n";
			}
			continue;
		}
		auto result = lake::FlushInlinedData(writer, t->table_id);
		if (!result.snapshot_id) {
			if (!quiet) {
				out << "flush-inlined " << name << ": no inlined rows\n";
			}
			continue;
		}
		out << "flush-inlined " << name << ": moved " << result.rows << " inlined rows into a Parquet file (snapshot "
		    << *result.snapshot_id << ")\n";
	}
}

} // namespace

MaintenanceCommand::MaintenanceCommand(CLI::App &app, const GlobalOptions &global) : global_(global) {
	compact_ = app.add_subcommand("compact", "Merge small lake files and rewrite files with many deleted rows");
	compact_->add_option("tables", tables_, "Lake tables (schema.table; default: all)");
	compact_->add_option("--target-file-size-mb", target_file_size_mb_, "Merge files smaller than this, up to it")
	    ->capture_default_str();
	compact_->add_option("--min-files", min_files_, "Merge a batch of small files only from this many files")
	    ->capture_default_str();
	compact_
	    ->add_option("--delete-threshold", delete_threshold_,
	                 "Rewrite a file when this fraction of its rows is deleted")
	    ->capture_default_str();

	flush_inlined_ = app.add_subcommand(
	    "flush-inlined", "Move rows inlined into the lake catalog (DuckLake data inlining) into Parquet files");
	flush_inlined_->add_option("tables", tables_, "Lake tables (schema.table; default: all)");

	expire_ = app.add_subcommand("expire-snapshots",
	                             "Expire old lake snapshots, then delete the files no snapshot needs any more");
	expire_->add_option("--older-than", older_than_, "Expire snapshots older than this interval")
	    ->capture_default_str();
	expire_
	    ->add_option("--cleanup-older-than", cleanup_older_than_,
	                 "Then delete files scheduled for deletion longer ago than this")
	    ->capture_default_str();

	cleanup_ = app.add_subcommand("cleanup-files", "Delete lake files scheduled for deletion (and orphans)");
	cleanup_->add_option("--older-than", cleanup_older_than_, "Only files scheduled longer ago than this")
	    ->capture_default_str();
	cleanup_->add_option("--orphans-older-than", orphans_older_than_,
	                     "Also delete unreferenced Parquet files older than this (e.g. '1 hour')");
}

bool MaintenanceCommand::Selected() const {
	return compact_->parsed() || flush_inlined_->parsed() || expire_->parsed() || cleanup_->parsed();
}

int MaintenanceCommand::Run(std::ostream &out) const {
	if (compact_->parsed()) {
		return Compact(out);
	}
	if (flush_inlined_->parsed()) {
		return FlushInlined(out);
	}
	if (expire_->parsed()) {
		return ExpireSnapshots(out);
	}
	return CleanupFiles(out);
}

int MaintenanceCommand::Compact(std::ostream &out) const {
	if (target_file_size_mb_ <= 0 || min_files_ < 2 || delete_threshold_ < 0 || delete_threshold_ > 1) {
		throw Error(ErrorKind::Config, "invalid compaction options",
		            {.hint = "--target-file-size-mb > 0, --min-files >= 2, 0 <= --delete-threshold <= 1"});
	}
	auto config = ExistingLake(global_);
	lake::CatalogState state;
	{
		PgConnection conn(config.catalog_conninfo);
		state = lake::LoadCatalog(conn, config.catalog_schema);
	}
	auto chosen = ChosenTables(state, tables_);
	lake::CompactionOptions options;
	options.target_file_size_bytes = target_file_size_mb_ << 20;
	options.min_files_to_merge = min_files_;
	options.delete_ratio_threshold = delete_threshold_;
	// As duckpipe.compact_table() and the background compaction do: a synced table that receives
	// updates has deletes in nearly every small file, which would otherwise never merge.
	options.merge_small_with_deletes = true;
	lake::LakeWriter writer(config);
	// Inlined rows first: they become a file the compaction may then merge with others.
	FlushInlinedRows(writer, chosen, out, true);
	for (const auto *t : chosen) {
		auto name = t->schema_name + "." + t->name;
		auto result = lake::CompactTable(writer, t->table_id, options);
		if (!result.snapshot_id) {
			out << "compact " << name << ": nothing to compact\n";
			continue;
		}
		out << "compact " << name << ": merged " << result.files_merged << " files, rewrote " << result.files_rewritten
		    << " files with deletes into " << result.files_written << " files (" << result.rows_written
		    << " rows, snapshot " << *result.snapshot_id << ")\n";
	}
	return 0;
}

int MaintenanceCommand::FlushInlined(std::ostream &out) const {
	auto config = ExistingLake(global_);
	lake::CatalogState state;
	{
		PgConnection conn(config.catalog_conninfo);
		state = lake::LoadCatalog(conn, config.catalog_schema);
	}
	lake::LakeWriter writer(config);
	FlushInlinedRows(writer, ChosenTables(state, tables_), out, false);
	return 0;
}

int MaintenanceCommand::ExpireSnapshots(std::ostream &out) const {
	lake::LakeMaintenance maintenance(ExistingLake(global_));
	auto expired = maintenance.ExpireSnapshots(older_than_);
	out << "expire-snapshots: expired " << expired.snapshots_expired << " snapshots older than " << older_than_
	    << ", scheduled " << expired.files_scheduled << " files for deletion\n";
	auto cleaned = maintenance.CleanupOldFiles(cleanup_older_than_);
	out << "cleanup-files: deleted " << cleaned.files_deleted << " scheduled files (" << cleaned.files_missing
	    << " already gone)\n";
	return 0;
}

int MaintenanceCommand::CleanupFiles(std::ostream &out) const {
	lake::LakeMaintenance maintenance(ExistingLake(global_));
	auto cleaned = maintenance.CleanupOldFiles(cleanup_older_than_);
	out << "cleanup-files: deleted " << cleaned.files_deleted << " scheduled files (" << cleaned.files_missing
	    << " already gone)\n";
	if (!orphans_older_than_.empty()) {
		auto orphans = maintenance.DeleteOrphanedFiles(orphans_older_than_);
		out << "cleanup-files: deleted " << orphans.files_deleted << " orphaned files older than "
		    << orphans_older_than_ << "\n";
	}
	return 0;
}

} // namespace duckpipe::daemon
