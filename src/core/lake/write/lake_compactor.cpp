#include "core/lake/write/lake_compactor.hpp"
#include "core/lake/write/data_file_rows.hpp"

#include "core/common/error.hpp"
#include "core/common/log.hpp"
#include "core/duck/duck_connection.hpp"
#include "core/duck/duck_database.hpp"
#include "core/duck/duck_sandbox.hpp"
#include "core/lake/lake_reader.hpp"
#include "core/lake/lake_writer.hpp"
#include "core/lake/write/commit_applier.hpp"
#include "core/lake/write/pending_files.hpp"
#include "core/pg/pg_connection.hpp"

#include <algorithm>
#include <chrono>
#include <cmath>
#include <filesystem>
#include <map>
#include <random>
#include <set>
#include <thread>

namespace duckpipe::lake {

namespace {

constexpr const char *kApplicationName = "pg_duckpipe compaction";

std::string IdList(const std::vector<LakeDataFile> &files) {
	std::string out;
	for (const auto &f : files) {
		out += (out.empty() ? "" : ",") + std::to_string(f.data_file_id);
	}
	return out;
}

} // namespace

TableCompaction::TableCompaction(LakeWriter &writer, int64_t table_id, CompactionOptions options)
    : writer_(writer), table_id_(table_id), options_(std::move(options)) {
	Conn();
}

TableCompaction::~TableCompaction() {
	if (!done_) {
		RemoveFiles();
		Forget();
	}
}

PgConnection &TableCompaction::Conn() {
	if (conn_ && conn_->IsHealthy()) {
		return *conn_;
	}
	conn_.reset();
	auto conn = std::make_unique<PgConnection>(writer_.Config().catalog_conninfo,
	                                           PgConnection::Options{.application_name = kApplicationName});
	if (!token_.empty()) {
		// Registrations stay owned by a live session, or maintenance takes them for a dead writer's.
		PendingFiles(*conn, writer_.Config().catalog_schema).Adopt(token_);
	}
	conn_ = std::move(conn);
	return *conn_;
}

void TableCompaction::Forget() noexcept {
	if (token_.empty()) {
		return;
	}
	try {
		auto &conn = Conn();
		conn.Exec(PendingFiles(conn, writer_.Config().catalog_schema).ForgetSql({token_}));
		token_.clear();
	} catch (const std::exception &e) {
		log::Debug("lake.forget_failed", "error", e.what()); // stale rows are swept later
	}
}

void TableCompaction::RemoveFiles() {
	for (auto &o : outputs_) {
		if (!o.file_name.empty()) {
			std::error_code ec;
			std::filesystem::remove(o.file.full_path, ec);
			if (ec) {
				log::Warn("lake.orphan_file", "path", o.file.full_path, "error", ec.message());
			}
		}
	}
	outputs_.clear();
}

bool TableCompaction::Prepare() {
	const auto &schema = writer_.Config().catalog_schema;
	auto &conn = Conn();
	CatalogReads reads(conn, schema, writer_.DataPath());
	base_ = reads.Head();
	table_ = reads.LoadTable(table_id_, base_.snapshot_id);
	const auto &table = table_.table;

	// Files are merged only with files written under the same schema version of the table.
	auto versions = conn.Exec("SELECT begin_snapshot FROM " + reads.T("ducklake_schema_versions") +
	                              " WHERE table_id = $1 ORDER BY begin_snapshot",
	                          {std::to_string(table_id_)});
	std::vector<int64_t> version_starts;
	for (int i = 0; i < versions.Rows(); i++) {
		version_starts.push_back(versions.GetInt(i, 0));
	}
	auto version_of = [&](int64_t begin) {
		auto it = std::upper_bound(version_starts.begin(), version_starts.end(), begin);
		return it == version_starts.begin() ? int64_t(-1) : *(it - 1);
	};

	// Candidates: small files without deletes, and files with too many deletes. Small candidates of
	// one schema version are merged in batches up to the target size; a file with too many deletes
	// that joins no batch is rewritten alone.
	auto needs_rewrite = [&](const LakeDataFile &f) {
		return f.delete_file_id && (f.record_count == 0 ||
		                            double(f.delete_count) / double(f.record_count) > options_.delete_ratio_threshold);
	};
	auto add_output = [&](std::vector<LakeDataFile> sources) {
		for (const auto &f : sources) {
			(f.delete_file_id ? result_.files_rewritten : result_.files_merged)++;
		}
		outputs_.push_back({std::move(sources), {}, {}});
	};
	std::map<int64_t, std::vector<LakeDataFile>> small; // schema version -> files
	for (const auto &f : table.files) {
		if (f.mapping_id) {
			continue; // no field ids: the reader cannot read it, neither can we
		}
		bool rewrite = needs_rewrite(f);
		bool is_small = f.file_size_bytes < options_.target_file_size_bytes;
		if (f.delete_file_id && !rewrite && !(is_small && options_.merge_small_with_deletes)) {
			continue;
		}
		if (is_small) {
			small[version_of(f.begin_snapshot)].push_back(f);
		} else if (rewrite) {
			add_output({f});
		}
	}
	for (auto &[version, files] : small) {
		std::sort(files.begin(), files.end(), [&](const LakeDataFile &a, const LakeDataFile &b) {
			if (options_.tiered && a.file_size_bytes != b.file_size_bytes) {
				return a.file_size_bytes < b.file_size_bytes;
			}
			return a.row_id_start < b.row_id_start;
		});
		std::vector<LakeDataFile> batch;
		int64_t bytes = 0;
		auto flush = [&] {
			if (static_cast<int>(batch.size()) >= std::max(2, options_.min_files_to_merge)) {
				add_output(batch);
			} else {
				for (const auto &f : batch) {
					if (needs_rewrite(f)) {
						add_output({f});
					}
				}
			}
			batch.clear();
			bytes = 0;
		};
		for (const auto &f : files) {
			if (!batch.empty() &&
			    (bytes + f.file_size_bytes > options_.target_file_size_bytes ||
			     (options_.tiered && f.file_size_bytes > std::max(2 * bytes, options_.tier_floor_bytes)))) {
				flush();
			}
			batch.push_back(f);
			bytes += f.file_size_bytes;
		}
		flush();
	}
	if (outputs_.empty()) {
		return false;
	}
	// The merged file's rows get new row ids and are found by key: their order is free, which lets
	// the Parquet writer cap its row groups by bytes (ParquetFileWriter::kRowGroupBytes).
	duck_db_ = std::make_unique<DuckDatabase>(
	    "", std::map<std::string, std::string>{
	            {"memory_limit", options_.duck_memory_limit}, {"threads", "1"}, {"preserve_insertion_order", "false"}});
	duck_ = duck_db_->Connect();
	DuckSandbox{.directories = {writer_.DataPath()}, .lock_configuration = false}.Lock(*duck_);
	// In flight from here on: expiry keeps the base snapshot (CheckConflicts reads what follows it) and
	// every file is registered before it is written (WriteOutput), so the orphan sweep spares it.
	token_ = *duck_->Query("SELECT CAST(uuidv7() AS VARCHAR)").GetString(0, 0);
	conn.Exec(PendingFiles(conn, schema).RegisterCommitSql(token_, token_, base_.snapshot_id));
	std::error_code ec;
	std::filesystem::create_directories(table.full_path, ec);
	if (ec) {
		throw Error(ErrorKind::Io, "cannot create lake directory '" + table.full_path + "': " + ec.message(),
		            {.hint = "check permissions and free space under the lake data path"});
	}
	for (auto &o : outputs_) {
		WriteOutput(o);
	}
	return true;
}

// The live rows of the sources (as the reader sees them at the base snapshot) into one new file.
void TableCompaction::WriteOutput(Output &output) {
	const auto &table = table_.table;
	CatalogState state;
	state.data_path = writer_.DataPath();
	state.snapshot = base_;
	LakeTable subset = table;
	subset.files = output.sources;
	int64_t expected = 0;
	for (const auto &f : output.sources) {
		expected += f.record_count - (f.delete_file_id ? f.delete_count : 0);
	}
	if (expected == 0) {
		return; // every row deleted: the sources just end
	}
	std::string list;
	for (const auto &c : table.columns) {
		list += (list.empty() ? "" : ", ") + std::string("CAST(__dp_live.") + DuckConnection::QuoteIdent(c.name) +
		        " AS " + ParquetFileWriter::DuckType(c) + ") AS " + DuckConnection::QuoteIdent(c.name);
	}
	auto stem = ParquetFileWriter::NewFileStem(*duck_) + ".parquet";
	auto path = table.full_path + stem;
	PendingFiles(Conn(), writer_.Config().catalog_schema).RegisterFile(token_, token_, path);
	try {
		output.file = ParquetFileWriter::Write(
		    *duck_, "SELECT " + list + " FROM (" + LakeReader::TableQuery(state, subset) + ") __dp_live", path,
		    table.columns);
	} catch (...) {
		std::error_code ec;
		std::filesystem::remove(path, ec);
		throw;
	}
	output.file_name = stem;
	if (output.file.record_count != expected) {
		// Metadata counts must stay exact: never commit a file that disagrees with them.
		throw Error(ErrorKind::Lake,
		            "compaction of " + table.schema_name + "." + table.name + " read " +
		                std::to_string(output.file.record_count) + " live rows where the catalog counts " +
		                std::to_string(expected),
		            {.table = table.schema_name + "." + table.name,
		             .hint = "the catalog's record_count/delete_count disagree with the files; check the lake"});
	}
	result_.files_written++;
	result_.rows_written += output.file.record_count;
}

void TableCompaction::CheckConflicts(PgConnection &conn, const CatalogReads &reads) {
	auto r = conn.Exec("SELECT snapshot_id, changes_made FROM " + reads.T("ducklake_snapshot_changes") +
	                       " WHERE snapshot_id > $1 ORDER BY snapshot_id",
	                   {std::to_string(base_.snapshot_id)});
	static const std::set<std::string> kConflicting = {"dropped_table",  "altered_table",  "deleted_from_table",
	                                                   "inlined_delete", "merge_adjacent", "rewrite_delete",
	                                                   "compacted_table"};
	const auto id = std::to_string(table_id_);
	for (int i = 0; i < r.Rows(); i++) {
		if (r.IsNull(i, 1)) {
			continue;
		}
		for (const auto &[type, value] : CommitApplier::ParseChanges(std::string(r.Get(i, 1)))) {
			if (value == id && kConflicting.count(type)) {
				throw Error(ErrorKind::Conflict,
				            "lake snapshot " + std::string(r.Get(i, 0)) + " (" + type + ":" + value +
				                ") conflicts with the compaction of " + table_.table.schema_name + "." +
				                table_.table.name,
				            {.table = table_.table.schema_name + "." + table_.table.name,
				             .hint = "another writer changed the table's files; run the compaction again"});
			}
		}
	}
}

int64_t TableCompaction::Attempt() {
	auto &conn = Conn();
	PgTransaction txn(conn, "REPEATABLE READ");
	CatalogReads reads(conn, writer_.Config().catalog_schema, writer_.DataPath());
	auto head = reads.Head();
	if (head.snapshot_id != base_.snapshot_id) {
		CheckConflicts(conn, reads);
	}
	const auto S = std::to_string(head.snapshot_id + 1);
	const auto T = std::to_string(table_id_);
	std::vector<LakeDataFile> sources;
	for (const auto &o : outputs_) {
		sources.insert(sources.end(), o.sources.begin(), o.sources.end());
	}
	// Belt and braces: every source must still be live with the delete file we read.
	auto live = conn.Exec("SELECT count(*) FROM " + reads.T("ducklake_data_file") + " WHERE data_file_id IN (" +
	                      IdList(sources) + ") AND end_snapshot IS NULL AND NOT EXISTS (SELECT 1 FROM " +
	                      reads.T("ducklake_delete_file") +
	                      " x WHERE x.data_file_id = ducklake_data_file.data_file_id AND x.begin_snapshot > " +
	                      std::to_string(base_.snapshot_id) + ")");
	if (live.GetInt(0, 0) != static_cast<int64_t>(sources.size())) {
		throw Error(ErrorKind::Conflict,
		            "the files chosen for compacting " + table_.table.schema_name + "." + table_.table.name +
		                " changed since snapshot " + std::to_string(base_.snapshot_id),
		            {.table = table_.table.schema_name + "." + table_.table.name,
		             .hint = "another writer changed the table's files; run the compaction again"});
	}
	auto stats = conn.Exec("SELECT next_row_id FROM " + reads.T("ducklake_table_stats") + " WHERE table_id = $1", {T});
	if (stats.Rows() != 1) {
		throw Error(ErrorKind::Lake, "lake table " + T + " has data files but no ducklake_table_stats row",
		            {.hint = "the catalog is malformed"});
	}
	int64_t next_row_id = stats.GetInt(0, 0);
	int64_t next_file = head.next_file_id;
	int64_t new_rows = 0;
	DataFileRows rows(conn);
	for (const auto &o : outputs_) {
		if (o.file_name.empty()) {
			continue;
		}
		rows.Add(next_file++, table_id_, head.snapshot_id + 1, o.file_name, o.file, next_row_id + new_rows);
		new_rows += o.file.record_count;
	}
	if (next_file == head.next_file_id) {
		next_file++; // every data change advances next_file_id (reader caches are keyed by it)
	}
	std::string sql = "INSERT INTO " + reads.T("ducklake_snapshot") +
	                  "(snapshot_id, snapshot_time, schema_version, next_catalog_id, next_file_id) VALUES (" + S +
	                  ", now(), " + std::to_string(head.schema_version) + ", " + std::to_string(head.next_catalog_id) +
	                  ", " + std::to_string(next_file) + ");\n";
	sql += "INSERT INTO " + reads.T("ducklake_snapshot_changes") +
	       "(snapshot_id, changes_made, author, commit_message, commit_extra_info) VALUES (" + S +
	       ", 'rewrite_delete:" + T + "', NULL, 'pg_duckpipe compaction', NULL);\n";
	sql += "UPDATE " + reads.T("ducklake_data_file") + " SET end_snapshot = " + S + " WHERE data_file_id IN (" +
	       IdList(sources) + ") AND end_snapshot IS NULL;\n";
	sql += "UPDATE " + reads.T("ducklake_delete_file") + " SET end_snapshot = " + S + " WHERE data_file_id IN (" +
	       IdList(sources) + ") AND end_snapshot IS NULL;\n";
	sql += rows.Sql(conn.QuoteIdent(writer_.Config().catalog_schema) + ".");
	// Fresh row ids for the new files. record_count stays the gross count of rows ever inserted (never
	// equal to the net count once rows were deleted), so readers keep ignoring loose min/max bounds.
	if (new_rows > 0) {
		sql += "UPDATE " + reads.T("ducklake_table_stats") + " SET next_row_id = next_row_id + " +
		       std::to_string(new_rows) + " WHERE table_id = " + T + ";\n";
	}
	// The marker tells a lost COMMIT's outcome (Resolve); the file registrations end with the commit.
	sql += PendingFiles(conn, writer_.Config().catalog_schema).CommittedSql(token_, head.snapshot_id + 1);
	conn.Exec(sql);
	LakeWriter::MaybeFail("before_catalog_commit");
	try {
		LakeWriter::AtConnectionPoint("before_commit_sent", conn);
		txn.Commit([&] { LakeWriter::AtConnectionPoint("after_commit_sent", conn); });
	} catch (const Error &e) {
		throw AmbiguousCommitError(head.snapshot_id + 1, e);
	}
	return head.snapshot_id + 1;
}

// COMMIT was sent (or being sent) and its answer lost: the catalog says on a new connection.
int64_t TableCompaction::Resolve(const AmbiguousCommitError &e) {
	std::optional<int> old_pid;
	if (conn_) {
		old_pid = conn_->BackendPid();
		conn_.reset();
	}
	const auto &cfg = writer_.Config();
	auto verdict = PendingFiles::Verify(cfg.catalog_conninfo, cfg.catalog_schema, token_, old_pid);
	const auto name = table_.table.schema_name + "." + table_.table.name;
	switch (verdict.outcome) {
	case PendingFiles::Outcome::Committed:
		log::Warn("lake.commit_ambiguous", "table", name, "outcome", "committed", "snapshot", verdict.snapshot, "error",
		          e.what());
		return verdict.snapshot;
	case PendingFiles::Outcome::NotCommitted:
		log::Warn("lake.commit_ambiguous", "table", name, "outcome", "not committed", "error", e.what());
		throw e.Cause();
	case PendingFiles::Outcome::Unknown:
		break;
	}
	outcome_unknown_ = true;
	throw Error(ErrorKind::Connection,
	            "the catalog connection failed after COMMIT of the compaction of " + name + " (lake snapshot " +
	                std::to_string(e.Snapshot()) + ") was sent (" + e.Cause().what() +
	                ") and whether it committed cannot be checked now (" + verdict.reason +
	                "); its Parquet files are kept",
	            {.table = name,
	             .hint = "nothing is lost: the files stay registered as in flight, so maintenance keeps them; if the "
	                     "compaction did not commit, cleanup-files --orphans-older-than removes them after a day; "
	                     "run the compaction again later"});
}

CompactionResult TableCompaction::Commit() {
	if (done_) {
		throw Error(ErrorKind::Internal, "TableCompaction::Commit called twice");
	}
	if (outputs_.empty()) {
		done_ = true;
		return result_;
	}
	try {
		std::mt19937 rng(std::random_device{}());
		const auto &cfg = writer_.Config();
		for (int attempt = 0;; attempt++) {
			try {
				try {
					result_.snapshot_id = Attempt();
				} catch (const AmbiguousCommitError &e) {
					result_.snapshot_id = Resolve(e);
				}
				break;
			} catch (const Error &e) {
				const auto &code = e.Context().sqlstate;
				if (outcome_unknown_ || (code != "23505" && code != "40001" && code != "40P01")) {
					throw;
				}
				if (attempt >= cfg.max_commit_retries) {
					throw Error(ErrorKind::Conflict,
					            "compaction gave up after " + std::to_string(attempt + 1) +
					                " attempts: concurrent writers kept winning",
					            {.sqlstate = code, .hint = "run the compaction again when the lake is quieter"});
				}
				double ms =
				    cfg.retry_base_ms * std::pow(1.5, attempt) * std::uniform_real_distribution<double>(0.5, 1.0)(rng);
				std::this_thread::sleep_for(std::chrono::microseconds(static_cast<int64_t>(ms * 1000)));
			}
		}
	} catch (...) {
		// An unknown outcome keeps its files and registrations: the catalog may reference the files.
		if (!outcome_unknown_) {
			RemoveFiles();
			Forget();
		}
		done_ = true;
		throw;
	}
	done_ = true;
	Forget(); // the marker's answer is no longer needed
	log::Info("lake.compacted", "table", table_.table.schema_name + "." + table_.table.name, "snapshot",
	          *result_.snapshot_id, "files_merged", result_.files_merged, "files_rewritten", result_.files_rewritten,
	          "files_written", result_.files_written, "rows", result_.rows_written);
	return result_;
}

CompactionResult CompactTable(LakeWriter &writer, int64_t table_id, const CompactionOptions &options) {
	TableCompaction compaction(writer, table_id, options);
	if (!compaction.Prepare()) {
		return {};
	}
	return compaction.Commit();
}

} // namespace duckpipe::lake
