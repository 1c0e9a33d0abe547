#include "core/pipeline/snapshot_copier.hpp"

#include "core/common/error.hpp"
#include "core/common/log.hpp"
#include "core/common/private_dir.hpp"
#include "core/common/source_values.hpp"
#include "core/duck/duck_connection.hpp"
#include "core/duck/duck_database.hpp"
#include "core/duck/duck_sandbox.hpp"
#include "core/lake/lake_writer.hpp"
#include "core/meta/progress_store.hpp"
#include "core/pg/pg_connection.hpp"
#include "core/pg/replication_connection.hpp"
#include "core/pipeline/binary_copy_scan.hpp"
#include "core/pipeline/commit_provenance.hpp"
#include "core/pipeline/crash_point.hpp"
#include "core/pipeline/schema_change.hpp"

#include <algorithm>
#include <cctype>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <map>
#include <random>
#include <thread>

#include <sys/resource.h>

namespace duckpipe::pipeline {

namespace {

// COPY data per lake file (binary narrow rows: some 3M rows, a Parquet file of ~60 MB).
constexpr size_t kFileBytes = 256ull << 20;
// Parallel readers of a large plain table. Each stream keeps a PostgreSQL backend and a DuckDB
// thread busy (the daemon needs ~80% of the CPU the server does), so a second stream only pays
// with cores to spare: on two cores it measured slower than one (bench/README.md, Optimisations).
// DUCKPIPE_COPY_STREAMS overrides, for measurements and tests.
int StreamCount() {
	if (const char *env = std::getenv("DUCKPIPE_COPY_STREAMS")) {
		return std::max(1, std::atoi(env));
	}
	return std::thread::hardware_concurrency() >= 4 ? 2 : 1;
}
// CPU time of this process (all its threads): the copy's own share of the machine, logged next to
// its wall time.
double ProcessCpuSeconds() {
	rusage u{};
	getrusage(RUSAGE_SELF, &u);
	return static_cast<double>(u.ru_utime.tv_sec + u.ru_stime.tv_sec) +
	       static_cast<double>(u.ru_utime.tv_usec + u.ru_stime.tv_usec) / 1e6;
}

// Tables smaller than this (8 MB) are read on one connection.
constexpr int64_t kParallelMinBlocks = 1024;

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

// Opens a read-only transaction in the exported snapshot (every connection of one copy imports the
// same one, so parallel ranges see one consistent table).
void BeginAtSnapshot(PgConnection &sql, const std::string &snapshot_name) {
	sql.Exec("BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY");
	sql.Exec("SET TRANSACTION SNAPSHOT " + sql.QuoteLiteral(snapshot_name));
}

// The relation the copy reads in the snapshot, after checking that the table still has the
// columns it was described with.
std::string RelationAtSnapshot(PgConnection &sql, const meta::TableMapping &mapping, const TableSchema &schema) {
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
	return (schema.relkind == 'p' ? "" : "ONLY ") + current;
}

// Per column: decoded from PostgreSQL's binary form when that is exact, else read as the text of
// its output function (what COPY's text format holds) and converted like the stream's values.
std::vector<CopyColumnDecoder> Decoders(PgConnection &sql, const TableSchema &schema, std::string &select_list) {
	std::vector<CopyColumnDecoder> out;
	for (size_t i = 0; i < schema.layout.columns.size(); i++) {
		const auto &sc = schema.layout.columns[i];
		auto src = std::find_if(schema.source.columns.begin(), schema.source.columns.end(),
		                        [&](const PgColumn &c) { return c.attnum == sc.attnum; });
		std::optional<CopyColumnDecoder> native;
		if (src != schema.source.columns.end()) {
			native = CopyColumnDecoder::Native(schema.column_names[i], src->type.name, src->type.typtype,
			                                   schema.mappings[i]);
		}
		auto col = sql.QuoteIdent(schema.column_names[i]);
		if (native) {
			out.push_back(*native);
		} else {
			std::string output(
			    sql.Exec("SELECT typoutput::regproc::text FROM pg_type WHERE oid = $1", {std::to_string(sc.type_oid)})
			        .Get(0, 0));
			col = output + "(" + col + ")::text";
			out.push_back(
			    {.kind = CopyColumnDecoder::Kind::Text, .name = schema.column_names[i], .duck_type = "VARCHAR"});
		}
		select_list += (i ? ", " : "") + col;
	}
	return out;
}

// Block ranges for `parts` parallel readers of a plain table (the last one open-ended: the table
// may have grown since its size was read); one range for a small or partitioned table.
std::vector<std::string> CtidRanges(PgConnection &sql, const meta::TableMapping &mapping, const TableSchema &schema,
                                    int parts) {
	if (schema.relkind != 'r' || parts < 2) {
		return {""};
	}
	auto blocks =
	    std::stoll(std::string(sql.Exec("SELECT pg_relation_size($1::oid) / current_setting('block_size')::bigint",
	                                    {std::to_string(mapping.source_oid)})
	                               .Get(0, 0)));
	if (blocks < kParallelMinBlocks) {
		return {""};
	}
	std::vector<std::string> out;
	for (int k = 0; k < parts; k++) {
		auto lo = blocks * k / parts;
		auto hi = blocks * (k + 1) / parts;
		std::string cond;
		if (k > 0) {
			cond += "ctid >= '(" + std::to_string(lo) + ",0)'::tid";
		}
		if (k + 1 < parts) {
			cond += std::string(k > 0 ? " AND " : "") + "ctid < '(" + std::to_string(hi) + ",0)'::tid";
		}
		out.push_back(" WHERE " + cond);
	}
	return out;
}

} // namespace

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

// Reads the table in the exported snapshot with binary COPY (parallel block ranges on their own
// connections for a large plain table) straight into the Parquet writes of a sandboxed DuckDB, one
// lake file per kFileBytes of COPY data; returns the rows copied.
int64_t SnapshotCopier::CopyRows(PgConnection &sql, const std::string &source_conninfo,
                                 const std::string &snapshot_name, lake::LakeCommit &commit, const LakeTarget &target,
                                 Lsn snapshot_lsn, const meta::TableMapping &mapping, const TableSchema &schema,
                                 const std::atomic<bool> &stop) {
	auto started = std::chrono::steady_clock::now();
	auto cpu_started = ProcessCpuSeconds();
	BeginAtSnapshot(sql, snapshot_name);
	auto from = RelationAtSnapshot(sql, mapping, schema);
	std::string select_list;
	auto decoders = Decoders(sql, schema, select_list);
	auto ranges = CtidRanges(sql, mapping, schema, StreamCount());
	std::vector<std::unique_ptr<PgConnection>> extra;
	std::vector<PgConnection *> connections{&sql};
	std::vector<std::string> copies;
	for (size_t k = 0; k < ranges.size(); k++) {
		if (k > 0) {
			extra.push_back(std::make_unique<PgConnection>(
			    source_conninfo, PgConnection::Options{.application_name = "pg_duckpipe copy"}));
			BeginAtSnapshot(*extra.back(), snapshot_name);
			connections.push_back(extra.back().get());
		}
		copies.push_back("COPY (SELECT " + select_list + " FROM " + from + ranges[k] + ") TO STDOUT (FORMAT binary)");
	}

	PrivateDirectory private_dir(config_.temp_dir, kCopyDirPrefix + SafeLabel(mapping.source_table) + "-",
	                             mapping.SourceName());
	const std::string &dir = private_dir.Path();
	// One DuckDB thread per stream: the table function is the only source, and an idle thread of a
	// running statement polls for tasks, taking CPU from PostgreSQL's side of the copy.
	std::map<std::string, std::string> duck_options{
	    {"memory_limit", std::to_string(config_.duckdb_flush_memory_mb) + "MB"},
	    {"threads", std::to_string(ranges.size())},
	    {"temp_directory", dir + "/tmp"},
	    // Rows are found by key, never by their order in the file: the writer may then cap its row
	    // groups by bytes (a wide table's 122,880-row groups held over 600 MB).
	    {"preserve_insertion_order", "false"}};
	if (config_.temp_dir_max_mb > 0) {
		duck_options["max_temp_directory_size"] = std::to_string(config_.temp_dir_max_mb) + "MiB";
	}
	DuckDatabase duck_db(dir + "/copy.duckdb", duck_options);
	auto duck = duck_db.Connect();
	BinaryCopyScan scan(connections, copies, decoders, mapping.SourceName(), stop);
	scan.Register(*duck, "duckpipe_copy_scan");
	// It writes the lake's files and opens nothing else: the insert executes catalog text (column
	// defaults).
	DuckSandbox{.directories = {dir, writer_.DataPath()}, .lock_configuration = false}.Lock(*duck);
	std::string converted;
	for (size_t i = 0; i < decoders.size(); i++) {
		auto expr = decoders[i].kind == CopyColumnDecoder::Kind::Text
		                ? schema.ColumnExpression(i)
		                : DuckConnection::QuoteIdent(schema.column_names[i]);
		converted += (i ? ", " : "") + expr + " AS " + DuckConnection::QuoteIdent(schema.column_names[i]);
	}
	if (schema.mode == meta::SyncMode::Append) {
		converted += std::string(", '") + target.op + "' AS " + TableSchema::kOpColumn + ", CAST(" +
		             std::to_string(snapshot_lsn.value) + " AS BIGINT) AS " + TableSchema::kLsnColumn;
	}
	std::string select_sql = "SELECT " + converted + " FROM duckpipe_copy_scan()";
	int files = 0;
	while (!scan.Finished()) {
		scan.StartFile(kFileBytes);
		try {
			if (commit.Insert(target.table, *duck, select_sql) > 0) {
				files++;
			}
		} catch (const Error &e) {
			scan.RethrowFailure(); // the stream's own error, not DuckDB's wording of it
			if (e.Kind() != ErrorKind::Duck) {
				throw;
			}
			// A value DuckDB refused: one of the columns converted from text.
			std::string text_columns;
			for (const auto &d : decoders) {
				if (d.kind == CopyColumnDecoder::Kind::Text) {
					text_columns += (text_columns.empty() ? "\"" : ", \"") + d.name + "\"";
				}
			}
			log::Debug("snapshot.conversion_failed", "table", mapping.SourceName(), "error", e.Message());
			throw Error(ErrorKind::Unsupported,
			            "cannot convert column " + text_columns + " of " + mapping.SourceName() +
			                " to its lake type: " + SourceValueText(e.Message()),
			            {.table = mapping.SourceName(),
			             .hint = "the PostgreSQL value does not fit the lake type; see docs/data-types.md"});
		}
	}
	for (auto *c : connections) {
		c->Exec("COMMIT");
	}
	auto secs = std::chrono::duration<double>(std::chrono::steady_clock::now() - started).count();
	log::Info("snapshot.copied", "table", mapping.SourceName(), "rows", scan.Rows(), "streams", ranges.size(), "files",
	          files, "seconds", secs, "cpu_s", ProcessCpuSeconds() - cpu_started);
	return scan.Rows();
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
		result.rows =
		    CopyRows(sql, source_conninfo, snapshot_name, commit, target, result.snapshot_lsn, mapping, schema, stop);
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
