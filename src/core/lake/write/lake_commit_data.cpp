// LakeCommit: data operations (Insert, deletes) and Commit. Schema operations are in lake_commit.cpp.
#include "core/common/ascii.hpp"
#include "core/common/error.hpp"
#include "core/common/log.hpp"
#include "core/duck/duck_connection.hpp"
#include "core/lake/lake_type.hpp"
#include "core/lake/lake_writer.hpp"
#include "core/lake/write/commit_applier.hpp"
#include "core/lake/write/commit_state.hpp"
#include "core/lake/write/key_index.hpp"
#include "core/lake/write/lake_commit.hpp"
#include "core/pg/pg_connection.hpp"

#include <duckdb.h>

#include <algorithm>
#include <cctype>
#include <chrono>
#include <cmath>
#include <filesystem>
#include <random>
#include <set>
#include <thread>

namespace duckpipe::lake {

namespace {

void EnsureDir(const std::string &dir) {
	std::error_code ec;
	std::filesystem::create_directories(dir, ec);
	if (ec) {
		throw Error(ErrorKind::Io, "cannot create lake directory '" + dir + "': " + ec.message(),
		            {.hint = "check permissions and free space under the lake data path"});
	}
}

// Types whose stats strings can be compared after a cast (file pruning on keys).
bool Prunable(const std::string &type) {
	return type != "blob" && type != "json" && type != "interval" && type != "variant" && type != "geometry" &&
	       !IsNestedTypeName(type);
}

std::string OptLiteral(const std::optional<std::string> &v) {
	return v ? "CAST(" + DuckConnection::QuoteLiteral(*v) + " AS VARCHAR)" : "CAST(NULL AS VARCHAR)";
}

} // namespace

int64_t LakeCommit::Insert(int64_t table, DuckConnection &duck, const std::string &select_sql) {
	auto &w = Working(table);
	auto desc = duck.Query("DESCRIBE SELECT * FROM (" + select_sql + ") __dp_src");
	std::map<std::string, std::string> source; // lower name -> name
	for (uint64_t i = 0; i < desc.Rows(); i++) {
		auto name = *desc.GetString(0, i);
		source[AsciiLower(name)] = name;
	}
	std::string list;
	for (const auto &c : w.table.columns) {
		auto type = ParquetFileWriter::DuckType(c);
		std::string expr;
		auto it = source.find(AsciiLower(c.name));
		if (it != source.end()) {
			expr = "CAST(__dp_src." + DuckConnection::QuoteIdent(it->second) + " AS " + type + ")";
			source.erase(it);
		} else if (c.default_value && *c.default_value != "NULL" && c.default_value_type == "literal") {
			expr = "CAST(" + DuckConnection::QuoteLiteral(*c.default_value) + " AS " + type + ")";
		} else if (c.default_value && c.default_value_type == "expression") {
			expr = "CAST((" + *c.default_value + ") AS " + type + ")";
		} else {
			expr = "CAST(NULL AS " + type + ")";
		}
		list += (list.empty() ? "" : ", ") + expr + " AS " + DuckConnection::QuoteIdent(c.name);
	}
	if (!source.empty()) {
		throw Error(ErrorKind::Internal,
		            "insert into lake table " + w.table.schema_name + "." + w.table.name + " has column '" +
		                source.begin()->second + "' that the table does not have",
		            {.hint = "add the column to the lake table first (AddColumn)"});
	}
	EnsureDir(w.table.full_path);
	auto stem = ParquetFileWriter::NewFileStem(duck);
	auto path = w.table.full_path + stem + ".parquet";
	RegisterFile(path, false, table); // before the file exists: maintenance never takes it for an orphan
	WrittenFile file;
	try {
		file = ParquetFileWriter::Write(duck, "SELECT " + list + " FROM (" + select_sql + ") __dp_src", path,
		                                w.table.columns);
	} catch (...) {
		std::error_code ec;
		std::filesystem::remove(path, ec);
		throw;
	}
	if (file.record_count == 0) {
		return 0;
	}
	if (StageInlined(table, duck, file, stem + ".parquet")) {
		return file.record_count;
	}
	state_->data_files.push_back({table, stem + ".parquet", file});
	LakeWriter::MaybeFail("after_parquet_write");
	return file.record_count;
}

std::vector<const LakeDataFile *>
LakeCommit::FilesAdmitting(int64_t table, DuckConnection &duck,
                           const std::vector<std::pair<const LakeColumn *, std::string>> &bounds,
                           const std::string &rows_from) {
	auto &w = Working(table);
	std::vector<const LakeDataFile *> all;
	for (const auto &f : w.table.files) {
		all.push_back(&f);
	}
	// A table created in this commit has no stats in the catalog yet.
	if (bounds.empty() || all.empty() || table < 0) {
		return all;
	}
	std::vector<int64_t> file_ids, column_ids;
	for (const auto *f : all) {
		file_ids.push_back(f->data_file_id);
	}
	std::string stats_cols, cond;
	for (size_t j = 0; j < bounds.size(); j++) {
		column_ids.push_back(bounds[j].first->column_id);
		auto type = ParquetFileWriter::DuckType(*bounds[j].first);
		const auto &v = bounds[j].second;
		auto lo = "TRY_CAST(f.lo" + std::to_string(j) + " AS " + type + ")";
		auto hi = "TRY_CAST(f.hi" + std::to_string(j) + " AS " + type + ")";
		stats_cols.append(", lo").append(std::to_string(j)).append(", hi").append(std::to_string(j));
		// A NULL value is in no range but may equal a NULL (row match): it admits every file.
		cond.append(" AND (").append(v).append(" IS NULL OR ((").append(lo).append(" IS NULL OR ").append(v);
		cond.append(" >= ").append(lo).append(") AND (").append(hi).append(" IS NULL OR ").append(v);
		cond.append(" <= ").append(hi).append(")))");
	}
	CatalogReads::KeyBounds stats;
	{
		std::lock_guard guard(writer_->mutex_);
		CatalogReads reads(writer_->Conn(), writer_->config_.catalog_schema, writer_->DataPath());
		stats = reads.KeyStats(table, file_ids, column_ids);
	}
	std::vector<const LakeDataFile *> out;
	// Files without stats rows (none expected) are read rather than skipped.
	for (const auto *f : all) {
		if (!stats.count(f->data_file_id)) {
			out.push_back(f);
		}
	}
	if (stats.empty()) {
		return out;
	}
	std::string values;
	for (auto &[fid, file_bounds] : stats) {
		values += (values.empty() ? "(" : ", (") + std::to_string(fid);
		for (auto &[lo, hi] : file_bounds) {
			values += ", " + OptLiteral(lo) + ", " + OptLiteral(hi);
		}
		values += ")";
	}
	auto found = duck.Query("SELECT f.fid FROM (VALUES " + values + ") f(fid" + stats_cols +
	                        ") WHERE EXISTS (SELECT 1 FROM " + rows_from + " WHERE true" + cond + ") ORDER BY f.fid");
	std::map<int64_t, const LakeDataFile *> by_id;
	for (const auto *f : all) {
		by_id[f->data_file_id] = f;
	}
	for (uint64_t i = 0; i < found.Rows(); i++) {
		out.push_back(by_id.at(found.GetInt(0, i)));
	}
	return out;
}

int64_t LakeCommit::DeleteByKey(int64_t table, DuckConnection &duck, const std::vector<std::string> &key_columns,
                                const std::string &keys_sql) {
	if (table < 0) {
		return 0; // created in this commit: no files yet
	}
	auto &w = Working(table);
	if (key_columns.empty()) {
		throw Error(ErrorKind::Internal, "DeleteByKey needs at least one key column");
	}
	std::vector<const LakeColumn *> keys;
	for (const auto &name : key_columns) {
		const LakeColumn *found = nullptr;
		for (const auto &c : w.table.columns) {
			if (AsciiLower(c.name) == AsciiLower(name)) {
				found = &c;
			}
		}
		if (!found || !found->children.empty()) {
			throw Error(ErrorKind::Config,
			            "key column '" + name + "' is not a primitive column of lake table " + w.table.name,
			            {.hint = "key columns must exist in the lake table with a primitive type"});
		}
		keys.push_back(found);
	}
	std::string key_list, join, schema_map;
	std::vector<std::pair<const LakeColumn *, std::string>> bounds;
	for (size_t i = 0; i < keys.size(); i++) {
		auto k = "k" + std::to_string(i);
		auto type = ParquetFileWriter::DuckType(*keys[i]);
		key_list.append(i ? ", " : "").append("CAST(__dp_keys_src.").append(DuckConnection::QuoteIdent(key_columns[i]));
		key_list.append(" AS ").append(type).append(") AS ").append(k);
		join.append(i ? " AND " : "").append("p.").append(k).append(" = k.").append(k);
		auto def = keys[i]->initial_default
		               ? "CAST(" + DuckConnection::QuoteLiteral(*keys[i]->initial_default) + " AS " + type + ")"
		               : std::string("NULL");
		schema_map.append(i ? ", " : "").append(std::to_string(keys[i]->column_id)).append(": {name: '").append(k);
		schema_map.append("', type: '").append(type).append("', default_value: ").append(def).append("}");
		if (Prunable(keys[i]->type)) {
			bounds.emplace_back(keys[i], "r." + k);
		}
	}
	// A lake table without rows (the first flush after copying an empty table, as a big first
	// transaction has it) holds no key: the distinct keys of a large flush cost a hash table of them.
	std::optional<LakeTable> inlined;
	if (w.table.files.empty()) {
		inlined = WithInlinedRows(table);
		bool any = false;
		for (const auto &rows : inlined->inlined) {
			any = any || !rows.row_ids.empty();
		}
		if (!any) {
			return 0;
		}
	}
	duck.Execute("CREATE OR REPLACE TEMP TABLE __dp_keys AS SELECT DISTINCT " + key_list + " FROM (" + keys_sql +
	             ") __dp_keys_src");
	struct DropKeys {
		DuckConnection &duck;
		~DropKeys() {
			try {
				duck.Execute("DROP TABLE IF EXISTS __dp_keys");
			} catch (...) {
			}
		}
	} drop_keys{duck};
	if (duck.Query("SELECT count(*) FROM __dp_keys").GetInt(0, 0) == 0) {
		return 0;
	}
	// Only files whose key ranges hold a key are read.
	auto candidates = FilesAdmitting(table, duck, bounds, "__dp_keys r");
	auto inlined_rows = [&] {
		if (!inlined) {
			inlined = WithInlinedRows(table);
		}
		return DeleteInlinedByKey(table, duck, keys, *inlined); // rows inlined into the catalog
	};
	if (candidates.empty()) {
		return inlined_rows();
	}
	if (keys.size() == 1) {
		if (auto found = DeleteByIndexedKey(table, duck, *keys[0], schema_map, candidates)) {
			return *found + inlined_rows();
		}
	}
	std::map<int64_t, const LakeDataFile *> by_id;
	std::string paths;
	std::map<std::string, int64_t> path_to_id;
	for (const auto *f : candidates) {
		by_id[f->data_file_id] = f;
		paths += (paths.empty() ? "" : ", ") + DuckConnection::QuoteLiteral(f->full_path);
		path_to_id[f->full_path] = f->data_file_id;
	}
	auto found = duck.Query("SELECT p.filename, p.file_row_number FROM read_parquet([" + paths + "], schema=MAP{" +
	                        schema_map + "}, file_row_number=true, filename=true) p SEMI JOIN __dp_keys k ON " + join);
	int64_t count = 0;
	for (uint64_t i = 0; i < found.Rows(); i++) {
		auto fid = path_to_id.at(*found.GetString(0, i));
		auto &staged = state_->deletes[fid];
		staged.table_id = table;
		staged.data_file = *by_id.at(fid);
		staged.positions.insert(found.GetInt(1, i));
		count++;
	}
	return count + inlined_rows();
}

std::optional<int64_t> LakeCommit::DeleteByIndexedKey(int64_t table, DuckConnection &duck, const LakeColumn &key,
                                                      const std::string &schema_map,
                                                      const std::vector<const LakeDataFile *> &candidates) {
	static const std::set<std::string> kIntegers = {"int8", "int16", "int32", "int64", "uint8", "uint16", "uint32"};
	if (!kIntegers.count(key.type)) {
		return std::nullopt;
	}
	int64_t candidate_rows = 0;
	for (const auto *f : candidates) {
		candidate_rows += f->record_count;
	}
	// Many keys for the rows they may hit (a big transaction): one scan of the candidates costs less
	// than a block read per key, and builds no index.
	auto wanted = duck.Query("SELECT count(*) FROM __dp_keys").GetInt(0, 0);
	if (wanted > kIndexedKeysMax || wanted * kIndexedKeysSparsity > candidate_rows) {
		return std::nullopt;
	}
	auto rows = duck.Query("SELECT CAST(k0 AS BIGINT) FROM __dp_keys WHERE k0 IS NOT NULL ORDER BY 1");
	std::vector<int64_t> sorted;
	sorted.reserve(rows.Rows());
	for (uint64_t i = 0; i < rows.Rows(); i++) {
		sorted.push_back(rows.GetInt(0, i));
	}
	auto &index = writer_->Keys();
	std::set<int64_t> live;
	for (const auto &f : Working(table).table.files) {
		live.insert(f.data_file_id);
	}
	index.Retain(table, live);
	int64_t count = 0;
	std::vector<int64_t> positions;
	for (const auto *f : candidates) {
		positions.clear();
		index.Lookup(table, f->data_file_id, key.column_id, sorted, duck,
		             "SELECT CAST(p.k0 AS BIGINT), CAST(p.file_row_number AS BIGINT) FROM read_parquet([" +
		                 DuckConnection::QuoteLiteral(f->full_path) + "], schema=MAP{" + schema_map +
		                 "}, file_row_number=true) p WHERE p.k0 IS NOT NULL ORDER BY 1, 2",
		             positions);
		if (positions.empty()) {
			continue;
		}
		auto &staged = state_->deletes[f->data_file_id];
		staged.table_id = table;
		staged.data_file = *f;
		staged.positions.insert(positions.begin(), positions.end());
		count += static_cast<int64_t>(positions.size());
	}
	return count;
}

void LakeCommit::DeletePositions(int64_t table, int64_t data_file_id, const std::vector<int64_t> &positions) {
	RequireExisting(table, "DeletePositions");
	auto &w = Working(table);
	const LakeDataFile *file = nullptr;
	for (const auto &f : w.table.files) {
		if (f.data_file_id == data_file_id) {
			file = &f;
		}
	}
	if (!file) {
		throw Error(ErrorKind::Lake, "data file " + std::to_string(data_file_id) + " is not live in lake table " +
		                                 w.table.name + " at snapshot " + std::to_string(state_->base.snapshot_id));
	}
	auto &staged = state_->deletes[data_file_id];
	staged.table_id = table;
	staged.data_file = *file;
	for (auto p : positions) {
		if (p < 0 || p >= file->record_count) {
			throw Error(ErrorKind::Internal,
			            "position " + std::to_string(p) + " outside data file " + std::to_string(data_file_id));
		}
		staged.positions.insert(p);
	}
}

// Writes one delete file per touched data file: the union of its visible delete file and the new
// positions (spec form A). Runs once; retries reuse the files. Caller holds the writer mutex.
void LakeCommit::MaterialiseDeletes() {
	if (state_->deletes_materialised) {
		return;
	}
	auto &duck = *writer_->duck_;
	for (auto &[fid, staged] : state_->deletes) {
		auto positions = staged.positions;
		const auto &df = staged.data_file;
		if (df.delete_file_id) {
			auto old =
			    duck.Query("SELECT pos FROM read_parquet(" + DuckConnection::QuoteLiteral(df.delete_full_path) + ")");
			for (uint64_t i = 0; i < old.Rows(); i++) {
				positions.insert(old.GetInt(0, i));
			}
		}
		MaterialisedDelete m;
		m.table_id = staged.table_id;
		m.data_file_id = fid;
		m.old_delete_file_id = df.delete_file_id;
		if (static_cast<int64_t>(positions.size()) >= df.record_count) {
			m.whole_file = true;
			state_->delete_files.push_back(std::move(m));
			continue;
		}
		duck.Execute("CREATE OR REPLACE TABLE __dp_pos(pos BIGINT)");
		duckdb_appender appender;
		if (duckdb_appender_create(duck.Raw(), nullptr, "__dp_pos", &appender) == DuckDBError) {
			throw Error(ErrorKind::Duck, "cannot create a DuckDB appender for delete positions");
		}
		for (auto p : positions) {
			duckdb_append_int64(appender, p);
			duckdb_appender_end_row(appender);
		}
		auto state = duckdb_appender_close(appender);
		duckdb_appender_destroy(&appender);
		if (state == DuckDBError) {
			throw Error(ErrorKind::Duck, "appending delete positions failed");
		}
		auto dir = df.full_path.substr(0, df.full_path.rfind('/') + 1);
		auto &w = state_->working.at(staged.table_id);
		if (df.path_is_relative) {
			dir = w.table.full_path;
		}
		auto stem = ParquetFileWriter::NewFileStem(duck) + "-delete.parquet";
		m.file_name = stem;
		m.file.full_path = dir + stem;
		RegisterFile(m.file.full_path, true);
		state_->delete_files.push_back(m);
		state_->delete_files.back().file =
		    ParquetFileWriter::WriteDeleteFile(duck, "SELECT pos FROM __dp_pos", df.full_path, dir + stem);
		if (!df.path_is_relative) {
			state_->delete_files.back().file_name = dir + stem;
		}
		LakeWriter::MaybeFail("after_delete_file_write");
	}
	duck.Execute("DROP TABLE IF EXISTS __dp_pos");
	state_->deletes_materialised = true;
}

int64_t LakeCommit::Commit(const CommitInfo &info) {
	if (done_) {
		throw Error(ErrorKind::Internal, "LakeCommit::Commit called twice or after Abort");
	}
	using Clock = std::chrono::steady_clock;
	// Set on every way out: a failed commit's times tell where it failed.
	struct Timer {
		double &out;
		Clock::time_point from = Clock::now();
		~Timer() { out = std::chrono::duration<double, std::milli>(Clock::now() - from).count(); }
	};
	try {
		std::unique_lock guard(writer_->mutex_);
		if (!state_->HasLakeChanges()) {
			Timer catalog_timer{times_.catalog_ms};
			auto &conn = writer_->Conn();
			auto trips = conn.RoundTrips();
			PgTransaction txn(conn);
			std::string sql;
			for (auto &st : state_->statements) {
				sql += st(conn) + ";\n";
			}
			if (!state_->callbacks.empty() && !sql.empty()) {
				conn.Exec(sql);
				sql.clear();
			}
			for (auto &cb : state_->callbacks) {
				cb(conn);
			}
			txn.CommitWith(sql + PendingFiles(conn, writer_->config_.catalog_schema).ForgetSql({state_->token}), [] {});
			times_.catalog_round_trips = conn.RoundTrips() - trips;
			done_ = true;
			return state_->base.snapshot_id;
		}
		{
			Timer write_timer{times_.delete_files_ms};
			MaterialiseDeletes();
		}
		Timer catalog_timer{times_.catalog_ms};
		LakeWriter::MaybeFail("before_catalog_transaction");
		if (writer_->last_committed_ > state_->base.snapshot_id) {
			state_->single_trip_tried = true; // its guard would fail: another table of ours committed
		}
		std::mt19937 rng(std::random_device{}());
		const auto &cfg = writer_->config_;
		for (int attempt = 0;; attempt++) {
			try {
				try {
					auto &conn = writer_->Conn();
					auto trips = conn.RoundTrips();
					CommitApplier applier(conn, *writer_->duck_, cfg.catalog_schema, writer_->DataPath(), *state_);
					auto snapshot = applier.Attempt(info);
					times_.catalog_round_trips += conn.RoundTrips() - trips;
					writer_->last_committed_ = std::max(writer_->last_committed_, snapshot);
					done_ = true;
					return snapshot;
				} catch (const AmbiguousCommitError &e) {
					if (auto snapshot = Resolve(e)) {
						return *snapshot;
					}
					throw e.Cause();
				}
			} catch (const Error &e) {
				const auto &code = e.Context().sqlstate;
				bool retryable = code == "23505" || code == "40001" || code == "40P01";
				if (!retryable || outcome_unknown_) {
					throw;
				}
				if (attempt >= cfg.max_commit_retries) {
					throw Error(ErrorKind::Conflict,
					            "lake commit gave up after " + std::to_string(attempt + 1) +
					                " attempts: concurrent writers kept winning",
					            {.sqlstate = code, .hint = "retry later or reduce the number of concurrent writers"});
				}
				double factor = std::uniform_real_distribution<double>(0.5, 1.0)(rng);
				double ms = cfg.retry_base_ms * std::pow(1.5, attempt) * factor;
				log::Debug("lake.commit_retry", "attempt", attempt + 1, "sqlstate", code, "sleep_ms", ms);
				guard.unlock();
				std::this_thread::sleep_for(std::chrono::microseconds(static_cast<int64_t>(ms * 1000)));
				guard.lock();
			}
		}
	} catch (...) {
		// An unknown outcome keeps its files: the catalog may reference them.
		if (!done_) {
			RemoveFiles();
			done_ = true;
		}
		throw;
	}
}

// COMMIT was sent and its answer lost. Caller holds the writer mutex. -> the snapshot when it committed;
// nullopt when it did not (the caller handles the cause as any failed attempt); throws when unknown.
std::optional<int64_t> LakeCommit::Resolve(const AmbiguousCommitError &e) {
	auto old_pid = writer_->DropConn();
	auto verdict = writer_->VerifyLocked(state_->token, old_pid);
	switch (verdict.outcome) {
	case PendingFiles::Outcome::Committed:
		log::Warn("lake.commit_ambiguous", "outcome", "committed", "snapshot", verdict.snapshot, "error", e.what());
		done_ = true;
		return verdict.snapshot;
	case PendingFiles::Outcome::NotCommitted:
		log::Warn("lake.commit_ambiguous", "outcome", "not committed", "error", e.what());
		return std::nullopt;
	case PendingFiles::Outcome::Unknown:
		break;
	}
	done_ = true;
	outcome_unknown_ = true;
	writer_->unresolved_[state_->token] = old_pid;
	throw Error(ErrorKind::Connection,
	            "the catalog connection failed after COMMIT of lake snapshot " + std::to_string(e.Snapshot()) +
	                " was sent (" + e.Cause().what() + ") and whether it committed cannot be checked now (" +
	                verdict.reason + "); its Parquet files are kept",
	            {.hint = "nothing to do: the writer asks the catalog again (LakeWriter::ResolveCommit); maintenance "
	                     "never deletes the files of a commit whose outcome is unknown"});
}

} // namespace duckpipe::lake
