// LakeCommit::DeleteMatchingRows: deletes by full-row value, for tables without a key.
#include "core/common/error.hpp"
#include "core/duck/duck_connection.hpp"
#include "core/lake/lake_reader.hpp"
#include "core/lake/lake_writer.hpp"
#include "core/lake/write/catalog_reads.hpp"
#include "core/lake/write/commit_state.hpp"
#include "core/lake/write/lake_commit.hpp"

#include <cctype>
#include <map>

namespace duckpipe::lake {

namespace {

using Q = DuckConnection;

bool SameName(const std::string &a, const std::string &b) {
	if (a.size() != b.size()) {
		return false;
	}
	for (size_t i = 0; i < a.size(); i++) {
		if (std::tolower(static_cast<unsigned char>(a[i])) != std::tolower(static_cast<unsigned char>(b[i]))) {
			return false;
		}
	}
	return true;
}

// Types whose min/max stats strings cast back exactly (no time zone, no truncation): file pruning.
bool PrunableForMatch(const std::string &type) {
	return type.starts_with("int") || type.starts_with("uint") || type.starts_with("decimal(") || type == "date" ||
	       type == "timestamp" || type == "timestamp_s" || type == "timestamp_ms" || type == "timestamp_ns";
}

// Temp tables live in the caller's connection: drop them whatever happens.
struct DropTemps {
	DuckConnection &duck;
	~DropTemps() {
		for (const char *t : {"__dp_match_rows", "__dp_match_found"}) {
			try {
				duck.Execute(std::string("DROP TABLE IF EXISTS ") + t);
			} catch (...) {
			}
		}
	}
};

} // namespace

// Rows match under DuckDB's IS NOT DISTINCT FROM: NULL-safe, NaN equals NaN, nested values compare
// element-wise. It is looser than identity for -0.0 vs 0.0, INTERVAL '1 month' vs '30 days' and
// TIMETZ, but so is the lake itself: DuckDB's Parquet writer collapses such values within a file
// (verified with 1.4.4), so a finer match would report divergences the lake cannot avoid.
int64_t LakeCommit::DeleteMatchingRows(int64_t table, DuckConnection &duck, const std::vector<std::string> &columns,
                                       const std::string &rows_sql) {
	auto &w = Working(table);
	std::string name = w.table.schema_name + "." + w.table.name;
	if (columns.empty()) {
		throw Error(ErrorKind::Internal, "DeleteMatchingRows needs at least one column", {.table = name});
	}
	std::vector<const LakeColumn *> cols;
	for (const auto &c : columns) {
		const LakeColumn *found = nullptr;
		for (const auto &lc : w.table.columns) {
			if (SameName(lc.name, c)) {
				found = &lc;
			}
		}
		if (!found) {
			std::string message = "column '";
			message.append(c).append("' is not a column of lake table ").append(name);
			throw Error(ErrorKind::Config, message,
			            {.table = name, .hint = "match rows on the lake table's own columns"});
		}
		cols.push_back(found);
	}
	std::string target_list, match;
	for (size_t i = 0; i < cols.size(); i++) {
		auto m = "m" + std::to_string(i);
		target_list += "CAST(__dp_rows_src." + Q::QuoteIdent(columns[i]) + " AS " + LakeReader::DuckType(*cols[i]) +
		               ") AS " + m + ", ";
		match += (i ? " AND " : "") + std::string("l.") + Q::QuoteIdent(cols[i]->name) + " IS NOT DISTINCT FROM r." + m;
	}
	DropTemps drop{duck};
	duck.Execute("CREATE OR REPLACE TEMP TABLE __dp_match_rows AS SELECT row_number() OVER () AS __dp_tid, " +
	             target_list + "CAST(__dp_rows_src." + kMatchCountColumn + " AS BIGINT) AS __dp_n FROM (" + rows_sql +
	             ") __dp_rows_src WHERE __dp_rows_src." + kMatchCountColumn + " > 0");
	auto wanted = duck.Query("SELECT count(*), coalesce(sum(__dp_n), 0) FROM __dp_match_rows");
	int64_t wanted_rows = wanted.GetInt(0, 0);
	int64_t wanted_total = wanted.GetInt(1, 0);
	if (wanted_total == 0) {
		return 0;
	}
	auto diverged = [&](int64_t rows, int64_t missing) {
		return Error(ErrorKind::Lake,
		             "lake table " + name + " diverged from its source: " + std::to_string(rows) +
		                 " row value(s) to delete have " + std::to_string(missing) +
		                 " fewer live copies in the lake than the source deleted",
		             {.table = name,
		              .hint = "the lake was changed outside pg_duckpipe or missed changes; run `duckpipe "
		                      "resync-table` for the source table to copy it again"});
	};
	if (w.table.files.empty()) {
		throw diverged(wanted_rows, wanted_total);
	}

	// Prune files with min/max stats of the columns whose stats compare exactly.
	std::vector<std::pair<const LakeColumn *, std::string>> bounds;
	for (size_t i = 0; i < cols.size(); i++) {
		if (PrunableForMatch(cols[i]->type)) {
			bounds.emplace_back(cols[i], "r.m" + std::to_string(i));
		}
	}
	auto candidates = FilesAdmitting(table, duck, bounds, "__dp_match_rows r");
	if (candidates.empty()) {
		throw diverged(wanted_rows, wanted_total);
	}

	// The live rows of the candidate files (their visible delete files applied by the reader), with
	// their positions, minus positions this commit already deletes.
	CatalogState snapshot;
	snapshot.snapshot.snapshot_id = state_->base.snapshot_id;
	LakeTable subset = w.table;
	subset.files.clear();
	std::map<std::string, int64_t> path_to_id;
	std::map<int64_t, const LakeDataFile *> by_id;
	std::string staged;
	for (const auto *f : candidates) {
		subset.files.push_back(*f);
		path_to_id[f->full_path] = f->data_file_id;
		by_id[f->data_file_id] = f;
		auto it = state_->deletes.find(f->data_file_id);
		if (it != state_->deletes.end()) {
			for (auto p : it->second.positions) {
				staged += std::string(staged.empty() ? "" : ", ") + "(" + Q::QuoteLiteral(f->full_path) + ", " +
				          std::to_string(p) + ")";
			}
		}
	}
	std::string lake = LakeReader::TableQuery(snapshot, subset);
	constexpr std::string_view kSelect = "SELECT ";
	if (!lake.starts_with(kSelect)) {
		throw Error(ErrorKind::Internal, "unexpected lake table query shape for " + name);
	}
	lake = "SELECT __d.filename AS __dp_file, __d.file_row_number AS __dp_pos, " + lake.substr(kSelect.size());
	std::string live = "SELECT * FROM (" + lake + ") __dp_l";
	if (!staged.empty()) {
		live += " ANTI JOIN (VALUES " + staged +
		        ") __dp_s(file, pos) ON __dp_l.__dp_file = __dp_s.file AND __dp_l.__dp_pos = __dp_s.pos";
	}
	// Each wanted row takes its first __dp_n equal live rows; rows are distinct, so no position is
	// claimed twice (checked below, as a caller passing duplicates would otherwise undercount).
	duck.Execute("CREATE OR REPLACE TEMP TABLE __dp_match_found AS SELECT __dp_file, __dp_pos, __dp_tid FROM (SELECT "
	             "l.__dp_file, l.__dp_pos, r.__dp_tid, r.__dp_n, row_number() OVER (PARTITION BY r.__dp_tid ORDER BY "
	             "l.__dp_file, l.__dp_pos) AS __dp_rn FROM (" +
	             live + ") l JOIN __dp_match_rows r ON " + match + ") WHERE __dp_rn <= __dp_n");
	auto check = duck.Query("SELECT count(*), count(DISTINCT (__dp_file, __dp_pos)) FROM __dp_match_found");
	if (check.GetInt(0, 0) != check.GetInt(1, 0)) {
		throw Error(ErrorKind::Internal, "DeleteMatchingRows on " + name + " got duplicate rows to match",
		            {.table = name, .hint = "pass each distinct row once with its count"});
	}
	if (check.GetInt(0, 0) < wanted_total) {
		auto short_rows = duck.Query("SELECT count(*), coalesce(sum(r.__dp_n - coalesce(f.n, 0)), 0) FROM "
		                             "__dp_match_rows r LEFT JOIN (SELECT __dp_tid, count(*) AS n FROM "
		                             "__dp_match_found GROUP BY __dp_tid) f USING (__dp_tid) WHERE "
		                             "coalesce(f.n, 0) < r.__dp_n");
		throw diverged(short_rows.GetInt(0, 0), short_rows.GetInt(1, 0));
	}
	auto found = duck.Query("SELECT __dp_file, __dp_pos FROM __dp_match_found");
	for (uint64_t i = 0; i < found.Rows(); i++) {
		auto fid = path_to_id.at(*found.GetString(0, i));
		auto &s = state_->deletes[fid];
		s.table_id = table;
		s.data_file = *by_id.at(fid);
		s.positions.insert(found.GetInt(1, i));
	}
	return static_cast<int64_t>(found.Rows());
}

} // namespace duckpipe::lake
