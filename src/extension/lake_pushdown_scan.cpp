#include "extension/lake_pushdown_scan.hpp"

#include "core/common/error.hpp"
#include "core/duck/duck_connection.hpp"
#include "core/lake/lake_reader.hpp"
#include "extension/pg_text.hpp"
#include "extension/signal_block.hpp"

#include <duckdb.h>

#include <set>

namespace duckpipe::ext {

namespace {

// The one place a pushed-down scan obtains its DuckDB session.
std::unique_ptr<LakeSession> OpenSession(const LakeSettings &settings) {
	return std::make_unique<LakeSession>(settings, settings.snapshot);
}

std::string Opt(const std::optional<int64_t> &v) {
	return v ? std::to_string(*v) : "CAST(NULL AS BIGINT)";
}

std::string OptText(const std::optional<std::string> &v) {
	return v ? DuckConnection::QuoteLiteral(*v) : "CAST(NULL AS VARCHAR)";
}

} // namespace

// A streaming DuckDB result and its current chunk.
struct LakePushdownScan::Stream {
	duckdb_prepared_statement prepared = nullptr;
	duckdb_result result{};
	bool has_result = false;
	duckdb_data_chunk chunk = nullptr;
	idx_t chunk_rows = 0;
	idx_t row = 0;
	bool done = false;

	~Stream() {
		SignalBlock blocked;
		if (chunk) {
			duckdb_destroy_data_chunk(&chunk);
		}
		if (has_result) {
			duckdb_destroy_result(&result);
		}
		if (prepared) {
			duckdb_destroy_prepare(&prepared);
		}
	}
};

LakePushdownScan::LakePushdownScan(const LakeSettings &settings, std::string schema, std::string table)
    : schema_(std::move(schema)), name_(std::move(table)) {
	session_ = OpenSession(settings);
	table_ = session_->HasLake() ? session_->State().FindTable(schema_, name_) : nullptr;
	if (table_) {
		files_total_ = table_->files.size();
	}
}

LakePushdownScan::~LakePushdownScan() {
	stream_.reset(); // before the session that owns its connection
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
	stream_.reset();
	stream_ = std::make_unique<Stream>();
	filter_sql_ = filter ? filter->Sql() : std::string();
	if (!table_) {
		stream_->done = true; // the lake table is created at the first copy: nothing to read yet
		files_read_ = 0;
		return;
	}
	lake::LakeTable pruned = *table_;
	if (filter) {
		pruned.files = Prune(*filter);
	}
	files_read_ = pruned.files.size();
	if (plan_only) {
		stream_->done = true;
		return;
	}
	std::string select;
	for (size_t i = 0; i < columns.size(); i++) {
		std::string expr = "CAST(NULL AS VARCHAR)";
		for (const auto &c : table_->columns) {
			if (!columns[i].empty() && c.name == columns[i]) {
				expr = PgTextExpression(c, DuckConnection::QuoteIdent(c.name));
			}
		}
		select += (i ? ", " : "") + expr;
	}
	if (select.empty()) {
		select = "NULL"; // no column needed (count(*)): still one row per row
	}
	// The table's rows over the chosen files only; the view of the session reads them all.
	std::string sql =
	    "SELECT " + select + " FROM (" + lake::LakeReader::TableQuery(session_->State(), pruned) + ") AS __t";
	if (filter) {
		sql += " WHERE " + filter_sql_;
	}
	auto &duck = session_->Duck();
	std::string what = "reading lake table " + schema_ + "." + name_;
	{
		SignalBlock blocked;
		if (duckdb_prepare(duck.Raw(), sql.c_str(), &stream_->prepared) == DuckDBError) {
			throw duck.Failure(what, duckdb_prepare_error(stream_->prepared), DUCKDB_ERROR_INVALID);
		}
	}
	// Through the pending API: a cancel interrupts DuckDB before the first row (delete files, pruning).
	stream_->result = duck.ExecutePrepared(stream_->prepared, true, what);
	stream_->has_result = true;
}

bool LakePushdownScan::Next() {
	auto &s = *stream_;
	if (s.done) {
		return false;
	}
	s.row++;
	while (!s.chunk || s.row >= s.chunk_rows) {
		SignalBlock blocked;
		if (s.chunk) {
			duckdb_destroy_data_chunk(&s.chunk);
		}
		s.chunk = duckdb_fetch_chunk(s.result);
		s.row = 0;
		if (!s.chunk) {
			s.done = true;
			const char *error = duckdb_result_error(&s.result);
			if (error) {
				throw session_->Duck().Failure("reading lake table " + schema_ + "." + name_, error,
				                               duckdb_result_error_type(&s.result));
			}
			return false;
		}
		s.chunk_rows = duckdb_data_chunk_get_size(s.chunk);
	}
	return true;
}

std::optional<std::string_view> LakePushdownScan::Value(size_t col) const {
	auto &s = *stream_;
	duckdb_vector vector = duckdb_data_chunk_get_vector(s.chunk, col);
	uint64_t *validity = duckdb_vector_get_validity(vector);
	if (validity && !duckdb_validity_row_is_valid(validity, s.row)) {
		return std::nullopt;
	}
	auto *strings = static_cast<duckdb_string_t *>(duckdb_vector_get_data(vector));
	auto &value = strings[s.row];
	return std::string_view(duckdb_string_t_data(&value), duckdb_string_t_length(value));
}

} // namespace duckpipe::ext
