#include "core/lake/write/table_stats_merger.hpp"

#include "core/duck/duck_connection.hpp"
#include "core/lake/lake_type.hpp"
#include "core/pg/pg_connection.hpp"

#include <algorithm>
#include <set>

namespace duckpipe::lake {

namespace {

// Types whose stats strings are compared by value (digest §3.3); the rest compare as strings.
bool ValueOrdered(const std::string &type) {
	static const std::set<std::string> kTypes = {
	    "boolean", "int8",      "int16",       "int32",       "int64",        "int128",      "uint8", "uint16",
	    "uint32",  "uint64",    "uint128",     "float32",     "float64",      "date",        "time",  "time_ns",
	    "timetz",  "timestamp", "timestamptz", "timestamp_s", "timestamp_ms", "timestamp_ns"};
	return kTypes.count(type) || type.starts_with("decimal(");
}

void FlattenTypes(const std::vector<LakeColumn> &cols, std::map<int64_t, std::string> &out) {
	for (const auto &c : cols) {
		out[c.column_id] = c.type;
		FlattenTypes(c.children, out);
	}
}

std::string Bool(const std::optional<bool> &v) {
	return v ? (*v ? "true" : "false") : "NULL";
}

std::optional<bool> Or(std::optional<bool> a, std::optional<bool> b) {
	if ((a && *a) || (b && *b)) {
		return true;
	}
	if (!a || !b) {
		return a || b ? std::optional<bool>(false) : std::nullopt;
	}
	return false;
}

// Resolves min/max jobs; value-ordered types in one DuckDB query.
void ResolveBounds(DuckConnection &duck, std::vector<TableStatsMerger::Bound> &jobs) {
	std::string sql;
	for (size_t i = 0; i < jobs.size(); i++) {
		auto &j = jobs[i];
		if (j.values.empty()) {
			continue;
		}
		if (!ValueOrdered(j.type)) {
			j.result = j.is_min ? *std::min_element(j.values.begin(), j.values.end())
			                    : *std::max_element(j.values.begin(), j.values.end());
			continue;
		}
		auto cast = "TRY_CAST(s AS " + DuckTypeForPrimitive(j.type) + ")";
		std::string values;
		for (const auto &v : j.values) {
			values += (values.empty() ? "(" : ", (") + DuckConnection::QuoteLiteral(v) + ")";
		}
		sql += (sql.empty() ? "" : " UNION ALL ") + std::string("SELECT ") + std::to_string(i) +
		       " AS j, CASE WHEN count(*) FILTER (WHERE " + cast + " IS NULL) > 0 THEN NULL ELSE " +
		       (j.is_min ? "arg_min" : "arg_max") + "(s, " + cast + ") END AS v FROM (VALUES " + values + ") t(s)";
	}
	if (sql.empty()) {
		return;
	}
	auto r = duck.Query(sql);
	for (uint64_t i = 0; i < r.Rows(); i++) {
		jobs[r.GetInt(0, i)].result = r.GetString(1, i);
	}
}

} // namespace

TableStatsMerger::TableStatsMerger(PgConnection &conn, DuckConnection &duck, std::string catalog_schema,
                                   CommitState &state)
    : conn_(conn), duck_(duck), schema_(std::move(catalog_schema)), state_(state) {}

std::string TableStatsMerger::T(const char *table) const {
	return conn_.QuoteIdent(schema_) + "." + table;
}

std::string TableStatsMerger::Lit(const std::optional<std::string> &value) const {
	return value ? conn_.QuoteLiteral(*value) : "NULL";
}

int64_t TableStatsMerger::Resolve(int64_t id_or_handle) const {
	return id_or_handle < 0 ? state_.resolved.at(id_or_handle) : id_or_handle;
}

std::vector<int64_t> TableStatsMerger::TablesWithNewFiles() const {
	std::vector<int64_t> tables;
	for (const auto &f : state_.data_files) {
		auto id = Resolve(f.table_ref);
		if (std::find(tables.begin(), tables.end(), id) == tables.end()) {
			tables.push_back(id);
		}
	}
	return tables;
}

TableStatsMerger::OldStats TableStatsMerger::LoadOldStats(const std::string &table_ids) const {
	OldStats old;
	auto ts = conn_.Exec("SELECT table_id, next_row_id FROM " + T("ducklake_table_stats") + " WHERE table_id IN (" +
	                     table_ids + ")");
	for (int i = 0; i < ts.Rows(); i++) {
		old.next_row_id[ts.GetInt(i, 0)] = ts.IsNull(i, 1) ? 0 : ts.GetInt(i, 1);
	}
	auto tcs = conn_.Exec("SELECT table_id, column_id, contains_null, contains_nan, min_value, max_value FROM " +
	                      T("ducklake_table_column_stats") + " WHERE table_id IN (" + table_ids + ")");
	for (int i = 0; i < tcs.Rows(); i++) {
		OldColumn o;
		if (!tcs.IsNull(i, 2)) {
			o.contains_null = tcs.GetBool(i, 2);
		}
		if (!tcs.IsNull(i, 3)) {
			o.contains_nan = tcs.GetBool(i, 3);
		}
		o.min = tcs.GetOptional(i, 4);
		o.max = tcs.GetOptional(i, 5);
		old.columns[{tcs.GetInt(i, 0), tcs.GetInt(i, 1)}] = o;
	}
	return old;
}

std::string TableStatsMerger::OldStatsSelect() const {
	std::set<int64_t> tables;
	for (const auto &f : state_.data_files) {
		if (f.table_ref >= 0) {
			tables.insert(f.table_ref); // a table created in this commit has no stats yet
		}
	}
	return OldStatsSelectFor(conn_, schema_, tables);
}

std::string TableStatsMerger::OldStatsSelectFor(PgConnection &conn, const std::string &catalog_schema,
                                                const std::set<int64_t> &table_ids) {
	if (table_ids.empty()) {
		return "";
	}
	std::string ids;
	for (auto id : table_ids) {
		ids += (ids.empty() ? "" : ",") + std::to_string(id);
	}
	auto s = conn.QuoteIdent(catalog_schema) + ".";
	return "SELECT 't', table_id, next_row_id, NULL, NULL, NULL, NULL, NULL, NULL FROM " + s +
	       "ducklake_table_stats WHERE table_id IN (" + ids +
	       ") UNION ALL SELECT 'c', table_id, column_id, NULL, NULL, contains_null, contains_nan, min_value, "
	       "max_value FROM " +
	       s + "ducklake_table_column_stats WHERE table_id IN (" + ids + ")";
}

void TableStatsMerger::TakeOldStats(const PgResult &rows) {
	if (!preloaded_) {
		preloaded_.emplace();
	}
	auto &old = *preloaded_;
	for (int i = 0; i < rows.Rows(); i++) {
		auto kind = rows.Get(i, 0);
		if (kind == "t") {
			old.next_row_id[rows.GetInt(i, 1)] = rows.IsNull(i, 2) ? 0 : rows.GetInt(i, 2);
		} else if (kind == "c") {
			OldColumn o;
			if (!rows.IsNull(i, 5)) {
				o.contains_null = rows.GetBool(i, 5);
			}
			if (!rows.IsNull(i, 6)) {
				o.contains_nan = rows.GetBool(i, 6);
			}
			o.min = rows.GetOptional(i, 7);
			o.max = rows.GetOptional(i, 8);
			old.columns[{rows.GetInt(i, 1), rows.GetInt(i, 2)}] = o;
		}
	}
}

TableStatsMerger::NewStats TableStatsMerger::CollectNewStats(int64_t table, int64_t first_row_id,
                                                             std::map<int64_t, int64_t> &row_id_start) const {
	NewStats out;
	for (size_t i = 0; i < state_.data_files.size(); i++) {
		const auto &f = state_.data_files[i];
		if (Resolve(f.table_ref) != table) {
			continue;
		}
		out.working = &state_.working.at(f.table_ref);
		row_id_start[static_cast<int64_t>(i)] = first_row_id + out.rows;
		out.rows += f.file.record_count;
		out.bytes += f.file.file_size_bytes;
		for (const auto &s : f.file.stats) {
			if (!out.columns.count(s.column_id)) {
				out.column_order.push_back(s.column_id);
			}
			auto &n = out.columns[s.column_id];
			if (!s.null_count || *s.null_count > 0) {
				n.contains_null = true;
			}
			if (s.contains_nan) {
				n.contains_nan = Or(n.contains_nan, s.contains_nan);
			}
			if (!s.value_count || *s.value_count > 0) {
				n.has_values = true;
				if (!s.min_value || !s.max_value) {
					// A float file whose only values are NaN has no min/max; contains_nan covers it.
					n.unknown_bound = n.unknown_bound || !(s.contains_nan && *s.contains_nan);
				} else {
					n.mins.push_back(*s.min_value);
					n.maxs.push_back(*s.max_value);
				}
			}
		}
	}
	return out;
}

std::string TableStatsMerger::TableStatsSql(int64_t table, bool exists, const NewStats &stats) const {
	auto t = std::to_string(table);
	auto rows = std::to_string(stats.rows);
	auto bytes = std::to_string(stats.bytes);
	if (exists) {
		return "UPDATE " + T("ducklake_table_stats") + " SET record_count = record_count + " + rows +
		       ", next_row_id = next_row_id + " + rows + ", file_size_bytes = file_size_bytes + " + bytes +
		       " WHERE table_id = " + t + ";\n";
	}
	return "INSERT INTO " + T("ducklake_table_stats") +
	       "(table_id, record_count, next_row_id, file_size_bytes) VALUES (" + t + ", " + rows + ", " + rows + ", " +
	       bytes + ");\n";
}

void TableStatsMerger::PlanColumnBounds(int64_t table, bool exists, const NewStats &stats, const OldStats &old,
                                        ColumnPlan &plan) const {
	std::map<int64_t, std::string> types;
	FlattenTypes(stats.working->table.columns, types);
	for (auto cid : stats.column_order) {
		const auto &n = stats.columns.at(cid);
		PendingColumn p{table, cid, !exists, n.contains_null, n.contains_nan};
		Bound lo{types[cid], n.mins, true, {}}, hi{types[cid], n.maxs, false, {}};
		if (exists) {
			auto it = old.columns.find({table, cid});
			if (it == old.columns.end()) {
				continue; // columns added after the first data have no table-level row (as the reference)
			}
			p.contains_null = Or(it->second.contains_null, n.contains_null);
			if (it->second.contains_nan || n.contains_nan) {
				p.contains_nan = Or(it->second.contains_nan, n.contains_nan);
			}
			if (it->second.min && it->second.max) {
				lo.values.push_back(*it->second.min);
				hi.values.push_back(*it->second.max);
			} else if (n.has_values) {
				p.ambiguous = true;
			}
		}
		if (n.unknown_bound) {
			lo.values.clear();
			hi.values.clear();
		}
		p.min_job = static_cast<int>(plan.jobs.size());
		plan.jobs.push_back(std::move(lo));
		p.max_job = static_cast<int>(plan.jobs.size());
		plan.jobs.push_back(std::move(hi));
		plan.pending.push_back(p);
	}
}

std::string TableStatsMerger::ColumnStatsSql(const ColumnPlan &plan, int64_t first_new_file_id) const {
	std::string sql;
	std::string inserts;
	for (const auto &p : plan.pending) {
		const auto &lo = plan.jobs[p.min_job].result;
		const auto &hi = plan.jobs[p.max_job].result;
		auto t = std::to_string(p.table);
		auto c = std::to_string(p.column);
		if (p.ambiguous && (lo || hi)) {
			// An old NULL bound is unknown unless no earlier file of the column ever held a value: the
			// catalog answers in the statement itself (the commit's own files are not earlier ones).
			auto had_values = "EXISTS (SELECT 1 FROM " + T("ducklake_file_column_stats") + " WHERE table_id = " + t +
			                  " AND column_id = " + c + " AND data_file_id < " + std::to_string(first_new_file_id) +
			                  " AND (value_count IS NULL OR value_count > 0))";
			sql += "UPDATE " + T("ducklake_table_column_stats") + " SET contains_null = " + Bool(p.contains_null) +
			       ", contains_nan = " + Bool(p.contains_nan) + ", min_value = CASE WHEN " + had_values +
			       " THEN NULL ELSE " + Lit(lo) + " END, max_value = CASE WHEN " + had_values + " THEN NULL ELSE " +
			       Lit(hi) + " END WHERE table_id = " + t + " AND column_id = " + c + ";\n";
			continue;
		}
		if (p.insert) {
			inserts += std::string(inserts.empty() ? "" : ", ") + "(" + t + ", " + c + ", " + Bool(p.contains_null) +
			           ", " + Bool(p.contains_nan) + ", " + Lit(lo) + ", " + Lit(hi) + ", NULL)";
		} else {
			sql += "UPDATE " + T("ducklake_table_column_stats") + " SET contains_null = " + Bool(p.contains_null) +
			       ", contains_nan = " + Bool(p.contains_nan) + ", min_value = " + Lit(lo) +
			       ", max_value = " + Lit(hi) + " WHERE table_id = " + t + " AND column_id = " + c + ";\n";
		}
	}
	if (!inserts.empty()) {
		sql += "INSERT INTO " + T("ducklake_table_column_stats") +
		       "(table_id, column_id, contains_null, contains_nan, min_value, max_value, extra_stats) VALUES " +
		       inserts + ";\n";
	}
	return sql;
}

std::string TableStatsMerger::Sql(std::map<int64_t, int64_t> &row_id_start, int64_t first_new_file_id) {
	auto tables = TablesWithNewFiles();
	if (tables.empty()) {
		return "";
	}
	std::string ids;
	for (auto id : tables) {
		ids += (ids.empty() ? "" : ",") + std::to_string(id);
	}
	auto old = preloaded_ ? std::move(*preloaded_) : LoadOldStats(ids);
	preloaded_.reset();
	std::string sql;
	ColumnPlan plan;
	for (auto table : tables) {
		auto next = old.next_row_id.find(table);
		bool exists = next != old.next_row_id.end();
		auto stats = CollectNewStats(table, exists ? next->second : 0, row_id_start);
		sql += TableStatsSql(table, exists, stats);
		PlanColumnBounds(table, exists, stats, old, plan);
	}
	ResolveBounds(duck_, plan.jobs);
	return sql + ColumnStatsSql(plan, first_new_file_id);
}

} // namespace duckpipe::lake
