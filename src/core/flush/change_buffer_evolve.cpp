// ChangeBuffer: source schema changes applied to the rows already buffered.
#include "core/common/error.hpp"
#include "core/common/log.hpp"
#include "core/duck/duck_connection.hpp"
#include "core/flush/change_buffer.hpp"

#include <algorithm>
#include <utility>

namespace duckpipe::flush {

using Q = DuckConnection;

void ChangeBuffer::Evolve(std::vector<BufferColumn> columns, const std::vector<BufferColumnChange> &changes) {
	// Deferred batches have the old columns: into DuckDB with them, then altered with the rest.
	if (!deferred_.empty()) {
		AppendDeferred();
	}
	// Replay the changes on the column names first, so a mismatch is found before DuckDB is touched.
	std::vector<std::string> names;
	for (const auto &c : columns_) {
		names.push_back(c.name);
	}
	auto index_of = [&](const std::string &name) -> size_t {
		auto it = std::find(names.begin(), names.end(), name);
		if (it == names.end()) {
			throw Error(ErrorKind::Internal, "schema change names unknown buffer column \"" + name + "\"",
			            {.table = label_});
		}
		return static_cast<size_t>(it - names.begin());
	};
	std::vector<std::string> statements;
	std::string buffer = kBufferTable;
	auto unchanged = unchanged_columns_;
	for (const auto &ch : changes) {
		switch (ch.kind) {
		case BufferColumnChange::Kind::Add:
			names.push_back(ch.column.name);
			unchanged.push_back(false);
			statements.push_back("ALTER TABLE " + buffer + " ADD COLUMN " + Q::QuoteIdent(ch.column.name) + " " +
			                     ch.column.duck_type);
			if (!ch.fill_sql.empty()) {
				statements.push_back("UPDATE " + buffer + " SET " + Q::QuoteIdent(ch.column.name) + " = CAST((" +
				                     ch.fill_sql + ") AS " + ch.column.duck_type + ")");
			}
			break;
		case BufferColumnChange::Kind::Drop: {
			size_t d = index_of(ch.name);
			names.erase(names.begin() + static_cast<std::ptrdiff_t>(d));
			unchanged.erase(unchanged.begin() + static_cast<std::ptrdiff_t>(d));
			statements.push_back("ALTER TABLE " + buffer + " DROP COLUMN " + Q::QuoteIdent(ch.name));
			// _unchanged holds column positions: the ones after the dropped column move down by one.
			std::string pos = std::to_string(d);
			std::string kept = "list_transform(list_filter(_unchanged, lambda x: x <> ";
			kept.append(pos).append("), lambda x: CAST(CASE WHEN x > ").append(pos);
			kept.append(" THEN x - 1 ELSE x END AS USMALLINT))");
			std::string update = "UPDATE " + buffer + " SET _unchanged = CASE WHEN len(";
			update.append(kept).append(") = 0 THEN NULL ELSE ").append(kept);
			update.append(" END WHERE _unchanged IS NOT NULL");
			statements.push_back(std::move(update));
			break;
		}
		case BufferColumnChange::Kind::Rename:
			names[index_of(ch.name)] = ch.new_name;
			statements.push_back("ALTER TABLE " + buffer + " RENAME COLUMN " + Q::QuoteIdent(ch.name) + " TO " +
			                     Q::QuoteIdent(ch.new_name));
			break;
		case BufferColumnChange::Kind::Retype:
			index_of(ch.name);
			statements.push_back("ALTER TABLE " + buffer + " ALTER COLUMN " + Q::QuoteIdent(ch.name) +
			                     " SET DATA TYPE " + ch.column.duck_type);
			break;
		}
	}
	bool same_names = names.size() == columns.size();
	for (size_t i = 0; same_names && i < names.size(); i++) {
		same_names = names[i] == columns[i].name;
	}
	if (!same_names) {
		throw Error(ErrorKind::Internal, "schema change of " + label_ + " does not lead to the new column list",
		            {.table = label_});
	}
	auto old_columns = std::move(columns_);
	columns_ = std::move(columns);
	try {
		Configure();
	} catch (...) {
		columns_ = std::move(old_columns);
		Configure();
		throw;
	}
	unchanged_columns_ = std::move(unchanged);
	if (!conn_) {
		return;
	}
	for (const auto &sql : statements) {
		conn_->Execute(sql);
	}
	conn_->Execute(StagingTableSql());
	log::Info("flush.buffer_evolved", "table", label_, "changes", changes.size(), "buffered", rows_);
}

void ChangeBuffer::Reconfigure(std::vector<BufferColumn> columns) {
	Clear();
	columns_ = std::move(columns);
	Configure();
	unchanged_columns_.assign(columns_.size(), false);
}

} // namespace duckpipe::flush
