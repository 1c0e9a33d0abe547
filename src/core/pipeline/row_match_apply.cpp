#include "core/pipeline/row_match_apply.hpp"

#include "core/common/error.hpp"
#include "core/common/log.hpp"
#include "core/duck/duck_connection.hpp"
#include "core/lake/write/lake_commit.hpp"

namespace duckpipe::pipeline {

using Q = DuckConnection;

bool RowMatchApply::Applies(const TableSchema &schema) {
	return schema.mode == meta::SyncMode::Upsert && schema.key_columns.empty();
}

int64_t RowMatchApply::Apply(lake::LakeCommit &commit, int64_t table, DuckConnection &duck,
                             const flush::ChangeBuffer::Compacted &c, const TableSchema &schema) {
	std::string name = schema.source.schema + "." + schema.source.name;
	if (!c.append_mode) {
		throw Error(ErrorKind::Internal, "row-match apply of " + name + " got a compacted buffer",
		            {.table = name, .hint = "the buffer of a table without a key must keep every change"});
	}
	auto odd = duck.Query("SELECT count(*) FILTER (WHERE _op NOT IN ('I', 'D')), count(*) FILTER (WHERE _unchanged "
	                      "IS NOT NULL) FROM " +
	                      c.relation);
	if (odd.GetInt(0, 0) > 0 || odd.GetInt(1, 0) > 0) {
		throw Error(
		    ErrorKind::Internal, "a change of " + name + " (no key, matched by full row) lacks its full old or new row",
		    {.table = name,
		     .hint = "the table needs REPLICA IDENTITY FULL; set it and run `duckpipe resync-table " + name + "`"});
	}
	std::string cols;
	for (size_t i = 0; i < schema.column_names.size(); i++) {
		cols += (i ? ", " : "") + Q::QuoteIdent(schema.column_names[i]);
	}
	// GROUP BY uses the same equality as DeleteMatchingRows (NULLs and NaNs group together).
	duck.Execute("CREATE OR REPLACE TEMP TABLE __dp_row_net AS SELECT " + cols +
	             ", CAST(sum(CASE WHEN _op = 'D' THEN -1 ELSE 1 END) AS BIGINT) AS __dp_net FROM " + c.relation +
	             " GROUP BY ALL");
	struct DropNet {
		DuckConnection &duck;
		~DropNet() {
			try {
				duck.Execute("DROP TABLE IF EXISTS __dp_row_net");
			} catch (...) {
			}
		}
	} drop{duck};
	auto counts = duck.Query("SELECT count(*) FILTER (WHERE __dp_net < 0), count(*) FILTER (WHERE __dp_net > 0) "
	                         "FROM __dp_row_net");
	int64_t deleted = 0;
	if (counts.GetInt(0, 0) > 0) {
		deleted = commit.DeleteMatchingRows(table, duck, schema.column_names,
		                                    "SELECT " + cols + ", -__dp_net AS " + lake::LakeCommit::kMatchCountColumn +
		                                        " FROM __dp_row_net WHERE __dp_net < 0");
	}
	int64_t inserted = 0;
	if (counts.GetInt(1, 0) > 0) {
		inserted = commit.Insert(table, duck,
		                         "SELECT " + cols + " FROM (SELECT *, unnest(range(__dp_net)) AS __dp_copy FROM " +
		                             "__dp_row_net WHERE __dp_net > 0)");
	}
	log::Debug("flush.row_match", "table", name, "changes", c.rows, "deleted", deleted, "inserted", inserted);
	return inserted;
}

} // namespace duckpipe::pipeline
