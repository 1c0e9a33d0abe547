#include "core/lake/write/inlined_data_flusher.hpp"
#include "core/lake/write/data_file_rows.hpp"

#include "core/common/error.hpp"
#include "core/common/log.hpp"
#include "core/duck/duck_connection.hpp"
#include "core/duck/duck_database.hpp"
#include "core/duck/duck_sandbox.hpp"
#include "core/lake/catalog_loader.hpp"
#include "core/lake/inlined_data_reader.hpp"
#include "core/lake/lake_writer.hpp"
#include "core/lake/write/commit_applier.hpp"
#include "core/lake/write/pending_files.hpp"
#include "core/pg/pg_connection.hpp"

#include <chrono>
#include <cmath>
#include <filesystem>
#include <map>
#include <random>
#include <set>
#include <thread>

namespace duckpipe::lake {

namespace {

constexpr const char *kApplicationName = "pg_duckpipe inlined data flush";

} // namespace

InlinedDataFlush::InlinedDataFlush(LakeWriter &writer, int64_t table_id) : writer_(writer), table_id_(table_id) {
	conn_ = std::make_unique<PgConnection>(writer_.Config().catalog_conninfo,
	                                       PgConnection::Options{.application_name = kApplicationName});
}

InlinedDataFlush::~InlinedDataFlush() {
	if (!done_) {
		Cleanup();
	}
}

void InlinedDataFlush::Cleanup() noexcept {
	if (keep_files_) {
		return;
	}
	if (!file_name_.empty()) {
		std::error_code ec;
		std::filesystem::remove(file_.full_path, ec);
	}
	if (!token_.empty()) {
		try {
			conn_->Exec(PendingFiles(*conn_, writer_.Config().catalog_schema).ForgetSql({token_}));
		} catch (const std::exception &e) {
			log::Debug("lake.forget_failed", "error", e.what()); // stale rows are swept later
		}
		token_.clear();
	}
}

bool InlinedDataFlush::Prepare() {
	const auto &schema = writer_.Config().catalog_schema;
	state_ = LoadCatalog(*conn_, schema);
	const auto *table = state_.FindTable(table_id_);
	if (!table) {
		throw Error(ErrorKind::Lake, "lake table " + std::to_string(table_id_) + " does not exist");
	}
	table_ = *table;
	table_.files.clear(); // the file holds the inlined rows only
	int64_t rows = 0;
	for (const auto &i : table_.inlined) {
		rows += static_cast<int64_t>(i.row_ids.size());
	}
	if (rows == 0) {
		return false;
	}
	duck_db_ = std::make_unique<DuckDatabase>(
	    "", std::map<std::string, std::string>{{"memory_limit", "256MB"}, {"threads", "1"}});
	duck_ = duck_db_->Connect();
	DuckSandbox{.directories = {state_.data_path}, .lock_configuration = false}.Lock(*duck_);
	// In flight from here on: expiry keeps the base snapshot and the orphan sweep spares the file.
	token_ = *duck_->Query("SELECT CAST(uuidv7() AS VARCHAR)").GetString(0, 0);
	conn_->Exec(PendingFiles(*conn_, schema).RegisterCommitSql(token_, token_, state_.snapshot.snapshot_id));
	std::error_code ec;
	std::filesystem::create_directories(table_.full_path, ec);
	if (ec) {
		throw Error(ErrorKind::Io, "cannot create lake directory '" + table_.full_path + "': " + ec.message(),
		            {.hint = "check permissions and free space under the lake data path"});
	}
	std::string list;
	for (const auto &c : table_.columns) {
		list += (list.empty() ? "" : ", ") + std::string("CAST(__dp_live.") + DuckConnection::QuoteIdent(c.name) +
		        " AS " + ParquetFileWriter::DuckType(c) + ") AS " + DuckConnection::QuoteIdent(c.name);
	}
	auto stem = ParquetFileWriter::NewFileStem(*duck_) + ".parquet";
	auto path = table_.full_path + stem;
	PendingFiles(*conn_, schema).RegisterFile(token_, token_, path);
	file_name_ = stem;
	file_.full_path = path;
	file_ = ParquetFileWriter::Write(
	    *duck_, "SELECT " + list + " FROM (" + InlinedDataReader::RowsQuery(table_) + ") __dp_live", path,
	    table_.columns);
	if (file_.record_count != rows) {
		throw Error(ErrorKind::Internal, "flushing the inlined rows of " + table_.schema_name + "." + table_.name +
		                                     " wrote " + std::to_string(file_.record_count) + " rows of " +
		                                     std::to_string(rows));
	}
	return true;
}

void InlinedDataFlush::CheckConflicts(PgConnection &conn, int64_t head) {
	auto r = conn.Exec("SELECT snapshot_id, changes_made FROM " + conn.QuoteIdent(writer_.Config().catalog_schema) +
	                       ".ducklake_snapshot_changes WHERE snapshot_id > $1 AND snapshot_id <= $2 "
	                       "ORDER BY snapshot_id",
	                   {std::to_string(state_.snapshot.snapshot_id), std::to_string(head)});
	static const std::set<std::string> kConflicting = {"dropped_table",  "altered_table", "deleted_from_table",
	                                                   "inlined_delete", "inline_flush",  "flushed_inlined"};
	const auto id = std::to_string(table_id_);
	for (int i = 0; i < r.Rows(); i++) {
		if (r.IsNull(i, 1)) {
			continue;
		}
		for (const auto &[type, value] : CommitApplier::ParseChanges(std::string(r.Get(i, 1)))) {
			if (value == id && kConflicting.count(type)) {
				throw Error(ErrorKind::Conflict,
				            "lake snapshot " + std::string(r.Get(i, 0)) + " (" + type + ":" + value +
				                ") conflicts with flushing the inlined rows of " + table_.schema_name + "." +
				                table_.name,
				            {.table = table_.schema_name + "." + table_.name,
				             .hint = "another writer changed the table; run the flush again"});
			}
		}
	}
}

int64_t InlinedDataFlush::Attempt() {
	auto &conn = *conn_;
	const auto &schema = writer_.Config().catalog_schema;
	const auto qs = conn.QuoteIdent(schema) + ".";
	PgTransaction txn(conn, "REPEATABLE READ");
	auto h = conn.Exec("SELECT snapshot_id, schema_version, next_catalog_id, next_file_id FROM " + qs +
	                   "ducklake_snapshot ORDER BY snapshot_id DESC LIMIT 1");
	int64_t head = h.GetInt(0, 0);
	if (head != state_.snapshot.snapshot_id) {
		CheckConflicts(conn, head);
	}
	const auto S = std::to_string(head + 1);
	const auto T = std::to_string(table_id_);
	const auto name = table_.schema_name + "." + table_.name;
	std::string sql;
	// The flushed rows end at S; each must still be live (a concurrent delete would be lost).
	for (const auto &i : table_.inlined) {
		std::string ids;
		for (auto id : i.row_ids) {
			ids += (ids.empty() ? "" : ",") + std::to_string(id);
		}
		auto ended = conn.Exec(
		    "UPDATE " + qs + conn.QuoteIdent(i.table_name) + " SET end_snapshot = " + S + " WHERE row_id IN (" + ids +
		    ") AND end_snapshot IS NULL AND begin_snapshot <= " + std::to_string(state_.snapshot.snapshot_id));
		if (ended.AffectedRows() != static_cast<int64_t>(i.row_ids.size())) {
			throw Error(ErrorKind::Conflict,
			            "inlined rows of " + name + " in " + i.table_name + " changed since snapshot " +
			                std::to_string(state_.snapshot.snapshot_id),
			            {.table = name, .hint = "another writer deleted inlined rows; run the flush again"});
		}
	}
	auto stats = conn.Exec("SELECT next_row_id FROM " + qs + "ducklake_table_stats WHERE table_id = $1", {T});
	const auto rows = std::to_string(file_.record_count);
	const auto size = std::to_string(file_.file_size_bytes);
	int64_t row_id_start = 0;
	if (stats.Rows() == 0) {
		sql += "INSERT INTO " + qs + "ducklake_table_stats(table_id, record_count, next_row_id, file_size_bytes) " +
		       "VALUES (" + T + ", " + rows + ", " + rows + ", " + size + ");\n";
	} else {
		// record_count already counts the rows (inserted inline): it stays the gross count.
		row_id_start = stats.GetInt(0, 0);
		sql += "UPDATE " + qs + "ducklake_table_stats SET next_row_id = next_row_id + " + rows +
		       ", file_size_bytes = file_size_bytes + " + size + " WHERE table_id = " + T + ";\n";
	}
	sql += "INSERT INTO " + qs +
	       "ducklake_snapshot(snapshot_id, snapshot_time, schema_version, next_catalog_id, next_file_id) VALUES (" + S +
	       ", now(), " + std::string(h.Get(0, 1)) + ", " + std::string(h.Get(0, 2)) + ", " +
	       std::to_string(h.GetInt(0, 3) + 1) + ");\n";
	sql += "INSERT INTO " + qs +
	       "ducklake_snapshot_changes(snapshot_id, changes_made, author, commit_message, commit_extra_info) "
	       "VALUES (" +
	       S + ", 'inline_flush:" + T + "', NULL, 'pg_duckpipe inlined data flush', NULL);\n";
	DataFileRows file_rows(conn);
	file_rows.Add(h.GetInt(0, 3), table_id_, head + 1, file_name_, file_, row_id_start);
	sql += file_rows.Sql(qs);
	sql += PendingFiles(conn, schema).CommittedSql(token_, head + 1);
	conn.Exec(sql);
	try {
		txn.Commit();
	} catch (const Error &e) {
		if (e.Kind() == ErrorKind::Connection) {
			keep_files_ = true; // the answer was lost: the catalog may reference the file
		}
		throw;
	}
	return head + 1;
}

InlinedFlushResult InlinedDataFlush::Commit() {
	if (done_) {
		throw Error(ErrorKind::Internal, "InlinedDataFlush::Commit called twice");
	}
	InlinedFlushResult result;
	if (file_name_.empty()) {
		done_ = true;
		return result;
	}
	std::mt19937 rng(std::random_device{}());
	const auto &cfg = writer_.Config();
	for (int attempt = 0;; attempt++) {
		try {
			result.snapshot_id = Attempt();
			break;
		} catch (const Error &e) {
			const auto &code = e.Context().sqlstate;
			if (keep_files_ || (code != "23505" && code != "40001" && code != "40P01") ||
			    attempt >= cfg.max_commit_retries) {
				Cleanup();
				done_ = true;
				throw;
			}
			double ms =
			    cfg.retry_base_ms * std::pow(1.5, attempt) * std::uniform_real_distribution<double>(0.5, 1.0)(rng);
			std::this_thread::sleep_for(std::chrono::microseconds(static_cast<int64_t>(ms * 1000)));
		}
	}
	done_ = true;
	file_name_.clear(); // committed: the file is the lake's now
	Cleanup();          // the registration only
	result.rows = file_.record_count;
	log::Info("lake.inlined_data_flushed", "table", table_.schema_name + "." + table_.name, "snapshot",
	          *result.snapshot_id, "rows", result.rows);
	return result;
}

InlinedFlushResult FlushInlinedData(LakeWriter &writer, int64_t table_id) {
	InlinedDataFlush flush(writer, table_id);
	if (!flush.Prepare()) {
		return {};
	}
	return flush.Commit();
}

} // namespace duckpipe::lake
