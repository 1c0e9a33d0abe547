// LakeCommit: DuckLake data inlining (digest section 7). Small inserts go into the catalog's inlined
// data tables instead of Parquet files; deletes by key end inlined rows. The SQL is InlinedDataWriter's.
#include "core/common/error.hpp"
#include "core/common/log.hpp"
#include "core/duck/duck_connection.hpp"
#include "core/lake/inlined_data_loader.hpp"
#include "core/lake/lake_writer.hpp"
#include "core/lake/write/commit_state.hpp"
#include "core/lake/write/inlined_data_writer.hpp"
#include "core/lake/write/lake_commit.hpp"
#include "core/pg/pg_connection.hpp"

#include <filesystem>

namespace duckpipe::lake {

namespace {

// The reference's default when a lake does not set data_inlining_row_limit.
constexpr int64_t kReferenceDefaultLimit = 10;
// A changed limit is seen by the writer within this time.
constexpr auto kLimitRefresh = std::chrono::seconds(5);

} // namespace

int64_t LakeWriter::InliningRowLimitLocked(int64_t schema_id, int64_t table_id) {
	auto now = std::chrono::steady_clock::now();
	if (inlining_limits_read_ == std::chrono::steady_clock::time_point{} ||
	    now - inlining_limits_read_ > kLimitRefresh) {
		auto &conn = Conn();
		auto r = conn.Exec("SELECT coalesce(scope, ''), coalesce(scope_id, 0), value FROM " +
		                   conn.QuoteIdent(config_.catalog_schema) +
		                   ".ducklake_metadata WHERE key = 'data_inlining_row_limit'");
		inlining_limits_.clear();
		for (int i = 0; i < r.Rows(); i++) {
			int64_t limit = 0;
			try {
				limit = std::stoll(std::string(r.Get(i, 2)));
			} catch (const std::exception &) {
				limit = 0; // unreadable: do not inline
			}
			inlining_limits_[{std::string(r.Get(i, 0)), r.GetInt(i, 1)}] = limit;
		}
		inlining_limits_read_ = now;
	}
	const std::pair<std::string, int64_t> scopes[] = {{"table", table_id}, {"schema", schema_id}, {"", 0}};
	for (const auto &key : scopes) {
		auto it = inlining_limits_.find(key);
		if (it != inlining_limits_.end()) {
			return it->second;
		}
	}
	return kReferenceDefaultLimit;
}

void LakeCommit::AllowInlining() {
	state_->inlining_allowed = true;
}

bool LakeCommit::StageInlined(int64_t table, DuckConnection &duck, const WrittenFile &file,
                              const std::string &file_name) {
	if (!state_->inlining_allowed || table < 0 || file.record_count <= 0) {
		return false;
	}
	auto &w = Working(table);
	if (!InlinedDataWriter::CanInline(w.table.columns)) {
		return false;
	}
	int64_t limit = 0;
	{
		std::lock_guard guard(writer_->mutex_);
		limit = writer_->InliningRowLimitLocked(w.table.schema_id, table);
	}
	if (file.record_count > limit) {
		return false;
	}
	auto rows = InlinedDataWriter::ReadRows(duck, w.table.columns, file.full_path);
	if (static_cast<int64_t>(rows->rows.size()) != file.record_count) {
		throw Error(ErrorKind::Internal, "inlining the rows of lake table " + w.table.schema_name + "." + w.table.name +
		                                     " read " + std::to_string(rows->rows.size()) + " rows of " +
		                                     std::to_string(file.record_count));
	}
	// The file was only the means to the rows and their column stats (the table stats take them).
	std::error_code ec;
	std::filesystem::remove(file.full_path, ec);
	WrittenFile kept = file;
	kept.file_size_bytes = 0;
	kept.footer_size.reset();
	state_->data_files.push_back({table, file_name, kept, std::move(rows)});
	return true;
}

LakeTable LakeCommit::WithInlinedRows(int64_t table) {
	CatalogState state;
	state.snapshot.snapshot_id = state_->base.snapshot_id;
	state.tables.push_back(Working(table).table);
	{
		std::lock_guard guard(writer_->mutex_);
		LoadInlinedData(writer_->Conn(), writer_->config_.catalog_schema, state);
	}
	return std::move(state.tables.front());
}

int64_t LakeCommit::DeleteInlinedByKey(int64_t table, DuckConnection &duck, const std::vector<const LakeColumn *> &keys,
                                       const LakeTable &loaded) {
	auto &w = Working(table);
	// Positions the lake already deleted inline must not be deleted again by a delete file: the
	// reader subtracts both from the file's count (digest section 7).
	for (const auto &f : loaded.files) {
		auto it = state_->deletes.find(f.data_file_id);
		if (it == state_->deletes.end()) {
			continue;
		}
		for (auto p : f.inlined_deleted_positions) {
			it->second.positions.erase(p);
		}
		if (it->second.positions.empty()) {
			state_->deletes.erase(it);
		}
	}
	int64_t found_rows = 0;
	for (const auto &rows : loaded.inlined) {
		std::vector<size_t> index;
		for (const auto *k : keys) {
			for (size_t i = 0; i < rows.column_ids.size(); i++) {
				if (rows.column_ids[i] == k->column_id) {
					index.push_back(i);
				}
			}
		}
		if (index.size() != keys.size() || rows.row_ids.empty()) {
			continue; // a key column the inlined table lacks reads NULL: no key equals it
		}
		std::string values, names = "rid", join;
		for (size_t j = 0; j < keys.size(); j++) {
			auto v = "v" + std::to_string(j);
			names += ", " + v;
			join += std::string(j ? " AND " : "") + "CAST(i." + v + " AS " + ParquetFileWriter::DuckType(*keys[j]) +
			        ") = k.k" + std::to_string(j);
		}
		for (size_t r = 0; r < rows.row_ids.size(); r++) {
			values += (r ? ", (" : "(") + std::to_string(rows.row_ids[r]) + "::BIGINT";
			for (auto i : index) {
				const auto &v = rows.values[r][i];
				values += ", " + (v ? DuckConnection::QuoteLiteral(*v) : std::string("NULL::VARCHAR"));
			}
			values += ")";
		}
		auto hit =
		    duck.Query("SELECT i.rid FROM (VALUES " + values + ") i(" + names + ") SEMI JOIN __dp_keys k ON " + join);
		if (hit.Rows() == 0) {
			continue;
		}
		auto &staged = state_->inlined_deletes[rows.table_name];
		staged.table_id = table;
		for (uint64_t i = 0; i < hit.Rows(); i++) {
			staged.row_ids.insert(hit.GetInt(0, i));
			found_rows++;
		}
	}
	if (found_rows > 0) {
		log::Debug("lake.inlined_rows_deleted", "table", w.table.schema_name + "." + w.table.name, "rows", found_rows);
	}
	return found_rows;
}

} // namespace duckpipe::lake
