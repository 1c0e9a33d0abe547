#include "core/pipeline/snapshot_copier.hpp"

#include "core/common/error.hpp"
#include "core/common/log.hpp"
#include "core/common/private_dir.hpp"
#include "core/common/source_values.hpp"
#include "core/common/thread.hpp"
#include "core/duck/duck_connection.hpp"
#include "core/duck/duck_database.hpp"
#include "core/duck/duck_sandbox.hpp"
#include "core/lake/lake_writer.hpp"
#include "core/pipeline/commit_provenance.hpp"
#include "core/meta/progress_store.hpp"
#include "core/pg/pg_connection.hpp"
#include "core/pg/replication_connection.hpp"
#include "core/pipeline/crash_point.hpp"
#include "core/pipeline/schema_change.hpp"

#include <algorithm>
#include <cctype>
#include <chrono>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <future>
#include <map>
#include <random>

namespace fs = std::filesystem;

namespace duckpipe::pipeline {

namespace {

// Rows per chunk file: one Parquet file each, converted while the next chunk is read.
constexpr size_t kChunkBytes = 32ull << 20;

std::string SafeLabel(const std::string &name) {
	std::string out;
	for (char c : name) {
		out += std::isalnum(static_cast<unsigned char>(c)) ? c : '_';
	}
	return out.substr(0, 40);
}

// The lake table has exactly the columns a fresh copy would create (names and types, in order).
bool SameColumns(const lake::LakeTable &table, const TableSchema &schema) {
	if (table.columns.size() != schema.lake_columns.size()) {
		return false;
	}
	for (size_t i = 0; i < table.columns.size(); i++) {
		if (table.columns[i].name != schema.lake_columns[i].name ||
		    table.columns[i].type != schema.lake_columns[i].type) {
			return false;
		}
	}
	return true;
}

// Exports a snapshot at the consistent point of a temporary slot, which lives as long as the
// returned connection; the snapshot itself until the next command on it, so the copy runs on
// another connection while this one stays idle.
std::unique_ptr<ReplicationConnection> ExportSnapshot(const std::string &source_conninfo, int64_t mapping_id,
                                                      Lsn &consistent_point, std::string &snapshot_name) {
	auto repl = std::make_unique<ReplicationConnection>(source_conninfo);
	std::random_device rd;
	std::string slot = "duckpipe_copy_" + std::to_string(mapping_id) + "_" + std::to_string(rd() % 1000000);
	auto created = repl->CreateSlot(slot, true, SlotSnapshot::Export);
	consistent_point = created.consistent_point;
	snapshot_name = created.snapshot_name;
	return repl;
}

// Opens the read-only transaction in the exported snapshot and returns the COPY that reads the
// table there, after checking that the table still has the columns it was described with.
std::string BeginCopyAtSnapshot(PgConnection &sql, const std::string &snapshot_name, const meta::TableMapping &mapping,
                                const TableSchema &schema) {
	sql.Exec("BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY");
	sql.Exec("SET TRANSACTION SNAPSHOT " + sql.QuoteLiteral(snapshot_name));
	// The stream's rows after C have the columns of C; the copy must have them too.
	auto at_snapshot = SourceLayout::Current(sql, mapping.source_oid);
	auto expected = schema.layout;
	for (auto &c : expected.columns) {
		c.key = false;
	}
	if (!(at_snapshot == expected)) {
		throw Error(ErrorKind::Source,
		            "the columns of " + mapping.SourceName() + " changed while its copy was starting",
		            {.table = mapping.SourceName(), .hint = "nothing to do: the copy is retried"});
	}
	std::string cols;
	for (size_t i = 0; i < schema.column_names.size(); i++) {
		cols += (i ? ", " : "") + sql.QuoteIdent(schema.column_names[i]);
	}
	// By OID: the table may have been renamed since it was described (regclass prints its
	// current name, quoted and qualified as needed).
	std::string current(sql.Exec("SELECT $1::oid::regclass::text", {std::to_string(mapping.source_oid)}).Get(0, 0));
	if (std::all_of(current.begin(), current.end(),
	                [](char c) { return std::isdigit(static_cast<unsigned char>(c)); })) {
		// regclass prints a bare OID for a table that no longer exists.
		throw Error(ErrorKind::Source,
		            "source table " + mapping.SourceName() + " (oid " + current + ") was dropped during its copy",
		            {.table = mapping.SourceName(), .hint = "remove it with `duckpipe remove-table`"});
	}
	std::string from = (schema.relkind == 'p' ? "" : "ONLY ") + current;
	return "COPY (SELECT " + cols + " FROM " + from + ") TO STDOUT (FORMAT csv)";
}

// Cuts COPY's CSV stream into chunk files of about kChunkBytes under `dir`: chunk i is converted
// (by `convert`, which returns its row count) on a helper thread while chunk i+1 is read.
class ChunkWriter {
public:
	ChunkWriter(std::string dir, std::string source_name, std::function<int64_t(const std::string &)> convert)
	    : dir_(std::move(dir)), source_name_(std::move(source_name)), convert_(std::move(convert)) {}

	void Write(std::string_view row) {
		if (path_.empty()) {
			path_ = dir_ + "/chunk-" + std::to_string(chunk_no_++) + ".csv";
			out_.open(path_, std::ios::binary | std::ios::trunc);
			if (!out_) {
				throw Error(ErrorKind::Io, "cannot write " + path_,
				            {.table = source_name_, .hint = "check --temp-dir: free space and permissions"});
			}
		}
		out_.write(row.data(), static_cast<std::streamsize>(row.size()));
		bytes_ += row.size();
		if (bytes_ >= kChunkBytes) {
			Rotate();
		}
	}

	// Converts the last chunk and waits for every conversion; returns the rows converted.
	int64_t Finish() {
		if (!path_.empty()) {
			Rotate();
		}
		if (converting_.Valid()) {
			rows_ += converting_.Get();
		}
		if (out_.fail()) {
			throw Error(ErrorKind::Io, "writing the copy of " + source_name_ + " to " + dir_ + " failed",
			            {.table = source_name_, .hint = "check free space in --temp-dir"});
		}
		return rows_;
	}

private:
	void Rotate() {
		out_.close();
		if (converting_.Valid()) {
			rows_ += converting_.Get();
		}
		std::string done = path_;
		converting_ = StartTask("dp-copy-convert", [convert = convert_, done] { return convert(done); });
		bytes_ = 0;
		path_.clear();
	}

	std::string dir_;
	std::string source_name_;
	std::function<int64_t(const std::string &)> convert_;
	ThreadTask<int64_t> converting_;
	int chunk_no_ = 0;
	std::string path_;
	std::ofstream out_;
	size_t bytes_ = 0;
	int64_t rows_ = 0;
};

} // namespace

// DuckDB's conversion error quotes the value but not the column: convert each column on its own
// and name the first that fails.
static void DiagnoseConversion(DuckConnection &duck, const std::string &relation, const TableSchema &schema,
                               const meta::TableMapping &mapping) {
	for (size_t i = 0; i < schema.buffer_columns.size(); i++) {
		const auto &bc = schema.buffer_columns[i];
		std::string expr = "CAST((" + schema.ColumnExpression(i) + ") AS " + bc.duck_type + ")";
		try {
			duck.Query("SELECT count(" + expr + ") FROM " + relation);
		} catch (const Error &e) {
			// DuckDB's message quotes the value: a source value, kept out of logs unless debug.
			log::Debug("snapshot.conversion_failed", "table", mapping.SourceName(), "column", bc.name, "error",
			           e.Message());
			throw Error(ErrorKind::Unsupported,
			            "cannot convert column \"" + bc.name + "\" of " + mapping.SourceName() + " to " + bc.duck_type +
			                ": " + SourceValueText(e.Message()),
			            {.table = mapping.SourceName(),
			             .statement = expr,
			             .hint = "the PostgreSQL value does not fit the lake type; see docs/data-types.md"});
		}
	}
}

SnapshotCopier::SnapshotCopier(const PipelineConfig &config, lake::LakeWriter &writer)
    : config_(config), writer_(writer) {}

bool SnapshotCopier::LakeSchemaExists(const std::string &name, int64_t snapshot) {
	PgConnection catalog(config_.LakeCatalogConninfo(), {.application_name = "pg_duckpipe copy"});
	auto r = catalog.Exec("SELECT 1 FROM " + catalog.QuoteIdent(config_.lake_schema) +
	                          ".ducklake_schema WHERE schema_name = $1 AND begin_snapshot <= $2::bigint AND "
	                          "(end_snapshot IS NULL OR end_snapshot > $2::bigint)",
	                      {name, std::to_string(snapshot)});
	return r.Rows() > 0;
}

void SnapshotCopier::EnsureLakeSchema(const std::string &name) {
	// Copies of several tables of one new schema run in parallel. Created inside each copy's commit,
	// the schema made every copy but the first fail with a conflict at its end; created on its own
	// first, a copy that loses the race just finds it.
	for (int attempt = 0;; attempt++) {
		auto commit = writer_.Begin();
		if (LakeSchemaExists(name, commit.BaseSnapshot())) {
			return;
		}
		commit.CreateSchema(name);
		try {
			commit.Commit({.author = std::string("duckpipe"), .message = "create schema " + name});
			return;
		} catch (const Error &e) {
			if (e.Kind() != ErrorKind::Conflict || attempt >= 5) {
				throw;
			}
		}
	}
}

// On resync the old lake table is replaced at the same snapshot that brings the new copy, unless
// an append-mode history is kept (then the copy is appended to it as operation 'R').
SnapshotCopier::LakeTarget SnapshotCopier::PrepareLakeTable(lake::LakeCommit &commit, const meta::TableMapping &mapping,
                                                            const TableSchema &schema) {
	auto existing = commit.FindTable(mapping.target_schema, mapping.target_table);
	bool keep = keep_history_ && existing && SameColumns(commit.Table(*existing), schema);
	if (keep_history_ && !keep) {
		log::Warn("snapshot.history_replaced", "table", mapping.SourceName(), "target", mapping.TargetName(), "reason",
		          existing ? "the lake table's columns differ from the source's" : "no lake table");
	}
	if (keep) {
		return {.table = *existing, .op = 'R'};
	}
	if (existing) {
		commit.DropTable(*existing);
	}
	if (!LakeSchemaExists(mapping.target_schema, commit.BaseSnapshot())) {
		commit.CreateSchema(mapping.target_schema);
	}
	// A new copy may have other columns than the relation of the table (a resync after DDL the
	// lake could not follow): the relation takes the new table's.
	SchemaChange::FollowInRelation(commit, mapping.target_schema, mapping.target_table,
	                               SchemaChange::ColumnsJson(schema.lake_columns));
	return {.table = commit.CreateTable(mapping.target_schema, mapping.target_table, schema.lake_columns), .op = 'I'};
}

// Streams `copy_sql` into chunk files in a private directory and inserts each into the lake table
// through a sandboxed DuckDB; returns the rows copied.
int64_t SnapshotCopier::CopyRows(PgConnection &sql, const std::string &copy_sql, lake::LakeCommit &commit,
                                 const LakeTarget &target, Lsn snapshot_lsn, const meta::TableMapping &mapping,
                                 const TableSchema &schema, const std::atomic<bool> &stop) {
	std::string dir = CreatePrivateDirectory(config_.temp_dir, "duckpipe-copy-" + SafeLabel(mapping.source_table) + "-",
	                                         mapping.SourceName());
	struct DirGuard {
		std::string path;
		~DirGuard() {
			std::error_code ec;
			fs::remove_all(path, ec);
		}
	} dir_guard{dir};

	std::map<std::string, std::string> duck_options{
	    {"memory_limit", std::to_string(config_.duckdb_flush_memory_mb) + "MB"},
	    {"threads", std::to_string(std::max(2, config_.duckdb_threads))},
	    {"temp_directory", dir + "/tmp"}};
	if (config_.temp_dir_max_mb > 0) {
		duck_options["max_temp_directory_size"] = std::to_string(config_.temp_dir_max_mb) + "MiB";
	}
	DuckDatabase duck_db(dir + "/copy.duckdb", duck_options);
	auto duck = duck_db.Connect();
	// It reads its chunk files and writes the lake's, and opens nothing else: the insert executes
	// catalog text (column defaults).
	DuckSandbox{.directories = {dir, writer_.DataPath()}, .lock_configuration = false}.Lock(*duck);
	lake::RegisterPgTextFunctions(*duck);
	std::string columns_struct;
	for (size_t i = 0; i < schema.column_names.size(); i++) {
		columns_struct += (i ? ", " : "") + DuckConnection::QuoteLiteral(schema.column_names[i]) + ": 'VARCHAR'";
	}

	auto convert = [&](const std::string &path) -> int64_t {
		std::string relation = "read_csv(" + DuckConnection::QuoteLiteral(path) + ", columns = {" + columns_struct +
		                       "}, header = false, delim = ',', quote = '\"', escape = '\"', "
		                       "allow_quoted_nulls = false, auto_detect = false, max_line_size = 67108864, "
		                       "buffer_size = 67108864)";
		int64_t n = 0;
		try {
			n = commit.Insert(target.table, *duck, schema.ConvertSelect(relation, snapshot_lsn, target.op));
		} catch (const Error &e) {
			if (e.Kind() == ErrorKind::Duck) { // a value DuckDB refused, not I/O or the catalog
				DiagnoseConversion(*duck, relation, schema, mapping);
			}
			throw;
		}
		fs::remove(path);
		return n;
	};
	ChunkWriter chunks(dir, mapping.SourceName(), convert);
	sql.CopyOut(copy_sql, [&](std::string_view row) {
		if (stop.load()) {
			throw Error(ErrorKind::Internal, "copy of " + mapping.SourceName() + " interrupted by shutdown");
		}
		chunks.Write(row);
	});
	return chunks.Finish();
}

SnapshotResult SnapshotCopier::Run(const std::string &source_conninfo, const meta::TableMapping &mapping,
                                   const TableSchema &schema, const std::function<void(Lsn)> &on_snapshot_lsn,
                                   const std::atomic<bool> &stop) {
	SnapshotResult result;
	auto started = std::chrono::steady_clock::now();
	PgConnection sql(source_conninfo, {.application_name = "pg_duckpipe copy"});
	std::unique_ptr<ReplicationConnection> repl;
	std::string snapshot_name;
	if (mapping.copy_data) {
		repl = ExportSnapshot(source_conninfo, mapping.id, result.snapshot_lsn, snapshot_name);
	} else {
		result.snapshot_lsn = Lsn::Parse(sql.Exec("SELECT pg_current_wal_lsn()").Get(0, 0));
	}
	on_snapshot_lsn(result.snapshot_lsn);

	EnsureLakeSchema(mapping.target_schema);
	auto commit = writer_.Begin();
	auto target = PrepareLakeTable(commit, mapping, schema);
	if (mapping.copy_data) {
		auto copy_sql = BeginCopyAtSnapshot(sql, snapshot_name, mapping, schema);
		result.rows = CopyRows(sql, copy_sql, commit, target, result.snapshot_lsn, mapping, schema, stop);
		sql.Exec("COMMIT");
	}

	// Everything committed before C is in the copy: the applied position is just below it.
	Lsn applied(result.snapshot_lsn.value - 1);
	auto layout = schema.layout.ToJson();
	commit.AddSql([mapping, applied, rows = result.rows, layout](PgConnection &catalog) {
		meta::ProgressStore(catalog).Record(mapping, applied, rows, true, layout);
	});
	CrashPoint("copy_before_commit");
#ifdef DUCKPIPE_FAULT_INJECTION
	commit.OnCommitSent([] { CrashPoint("copy_commit_sent"); });
#endif
	result.lake_snapshot =
	    commit.Commit({.author = std::string("duckpipe"),
	                   .message = "initial copy of " + mapping.SourceName() + " at " + result.snapshot_lsn.ToString(),
	                   .extra_info = CommitProvenance{.kind = CommitProvenance::Kind::Copy,
	                                                  .group = mapping.group_name,
	                                                  .source_table = mapping.SourceName(),
	                                                  .target_table = mapping.TargetName(),
	                                                  .source_lsn = result.snapshot_lsn}
	                                     .ToJson()});
	result.lake_table_id = commit.ResolveId(target.table);
	repl.reset(); // drops the temporary slot

	auto secs = std::chrono::duration<double>(std::chrono::steady_clock::now() - started).count();
	log::Info("snapshot.done", "table", mapping.SourceName(), "target", mapping.TargetName(), "rows", result.rows,
	          "snapshot_lsn", result.snapshot_lsn.ToString(), "seconds", secs, "rows_per_s",
	          secs > 0 ? static_cast<int64_t>(result.rows / secs) : 0);
	return result;
}

} // namespace duckpipe::pipeline
