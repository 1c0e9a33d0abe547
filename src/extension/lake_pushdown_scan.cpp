#include "extension/lake_pushdown_scan.hpp"

#include "core/common/error.hpp"
#include "core/duck/duck_connection.hpp"
#include "core/lake/lake_reader.hpp"
#include "extension/lake_text_rows.hpp"
#include "extension/signal_block.hpp"

#include <duckdb.h>

#include <set>

namespace duckpipe::ext {

namespace {

// The one place a pushed-down scan obtains its DuckDB session: it reads the files of the catalog
// state it gets, through no view.
std::unique_ptr<LakeSession> OpenSession(const LakeSettings &settings) {
	std::vector<std::pair<std::string, std::string>> no_views;
	return std::make_unique<LakeSession>(settings, settings.snapshot, &no_views);
}

std::string Opt(const std::optional<int64_t> &v) {
	return v ? std::to_string(*v) : "CAST(NULL AS BIGINT)";
}

std::string OptText(const std::optional<std::string> &v) {
	return v ? DuckConnection::QuoteLiteral(*v) : "CAST(NULL AS VARCHAR)";
}

} // namespace

LakePushdownScan::LakePushdownScan(const LakeSettings &settings, std::string schema, std::string table)
    : schema_(std::move(schema)), name_(std::move(table)) {
	session_ = OpenSession(settings);
	table_ = session_->HasLake() ? session_->State().FindTable(schema_, name_) : nullptr;
	if (table_) {
		files_total_ = table_->files.size();
	}
}

LakePushdownScan::~LakePushdownScan() {
	rows_.reset(); // before the session that owns its connection
	session_.reset();
}

int64_t LakePushdownScan::SnapshotId() const {
	return session_->HasLake() ? session_->State().snapshot.snapshot_id : 0;
}

std::vector<lake::LakeDataFile> LakePushdownScan::Prune(const LakeFilter &filter) {
	if (!filter.CanPrune() || table_->files.empty()) {
		return table_->files;
	}
	std::vector<int64_t> ids;
	filter.ColumnIds(ids);
	// One row of statistics per file, evaluated by DuckDB: the statistics are text in the lake
	// type's format, which DuckDB's casts read.
	std::string names = "fid";
	for (auto id : ids) {
		for (const char *what : {"min", "max", "nulls", "values", "nan"}) {
			names += ", " + LakeFilter::StatsColumn(what, id);
		}
	}
	std::string rows;
	for (const auto &f : table_->files) {
		std::string row = "(" + std::to_string(f.data_file_id);
		for (auto id : ids) {
			const lake::LakeColumnStats *s = nullptr;
			for (const auto &c : f.column_stats) {
				s = c.column_id == id ? &c : s;
			}
			if (!s) {
				row += ", CAST(NULL AS VARCHAR), CAST(NULL AS VARCHAR), CAST(NULL AS BIGINT), CAST(NULL AS BIGINT), "
				       "CAST(NULL AS BOOLEAN)";
				continue;
			}
			row += ", " + OptText(s->min_value) + ", " + OptText(s->max_value) + ", " + Opt(s->null_count) + ", " +
			       Opt(s->value_count) + ", " +
			       (s->contains_nan ? (*s->contains_nan ? "true" : "false") : "CAST(NULL AS BOOLEAN)");
		}
		rows += (rows.empty() ? "" : ", ") + row + ")";
	}
	std::string sql =
	    "SELECT fid FROM (VALUES " + rows + ") AS __s(" + names + ") WHERE coalesce(" + filter.PruneSql() + ", true)";
	std::set<int64_t> keep;
	{
		SignalBlock blocked;
		auto result = session_->Duck().Query(sql);
		for (uint64_t r = 0; r < result.Rows(); r++) {
			keep.insert(result.GetInt(0, r));
		}
	}
	std::vector<lake::LakeDataFile> out;
	for (const auto &f : table_->files) {
		if (keep.contains(f.data_file_id)) {
			out.push_back(f);
		}
	}
	return out;
}

void LakePushdownScan::Start(const std::vector<std::string> &columns, const std::optional<LakeFilter> &filter,
                             bool plan_only) {
	rows_ = std::make_unique<LakeTextRows>(); // no rows until a query runs
	filter_sql_ = filter ? filter->Sql() : std::string();
	if (!table_) {
		// no lake table (yet): nothing to read
		files_read_ = 0;
		return;
	}
	lake::LakeTable pruned = *table_;
	if (filter) {
		pruned.files = Prune(*filter);
	}
	files_read_ = pruned.files.size();
	if (plan_only) {
		return;
	}
	// The table's rows over the chosen files only; the view of the session reads them all.
	std::string sql = "SELECT " + LakeTextSelectList(*table_, columns) + " FROM (" +
	                  lake::LakeReader::TableQuery(session_->State(), pruned) + ") AS __t";
	if (filter) {
		sql += " WHERE " + filter_sql_;
	}
	// Through the pending API: a cancel interrupts DuckDB before the first row (delete files, pruning).
	rows_ = std::make_unique<LakeTextRows>(session_->Duck(), sql, "reading lake table " + schema_ + "." + name_);
}

bool LakePushdownScan::Next() {
	return rows_->Next();
}

std::optional<std::string_view> LakePushdownScan::Value(size_t col) const {
	return rows_->Value(col);
}

} // namespace duckpipe::ext
