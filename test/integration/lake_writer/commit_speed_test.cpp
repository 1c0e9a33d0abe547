// The catalog transaction of a small flush (issue 12: median <= 10 ms). 200 flush-shaped commits
// (a few rows, the pipeline's progress row in the same transaction) on a cluster that flushes its
// WAL at COMMIT as the bench's does; prints the median and p99 of LakeCommit's catalog time.
#include "core/lake/lake_writer.hpp"
#include "core/pg/pg_connection.hpp"
#include "writer_fixture.hpp"

#include <gtest/gtest.h>

#include <algorithm>
#include <iostream>

using namespace duckpipe;
using namespace duckpipe::test;

namespace {

double Percentile(std::vector<double> v, double p) {
	std::sort(v.begin(), v.end());
	return v[static_cast<size_t>(p / 100.0 * static_cast<double>(v.size() - 1))];
}

struct Figures {
	std::vector<double> catalog_ms;
	std::vector<double> delete_files_ms;
};

// Commits `n` flushes of `rows` new keys each; with `updates`, each also rewrites that many keys of the
// previous flush (a delete file per flush, as an upsert flush writes).
Figures Flushes(lake::LakeWriter &writer, DuckConnection &duck, const std::string &conninfo, int n, int rows,
                int updates) {
	Figures out;
	int64_t table = 0;
	{
		auto c = writer.Begin();
		auto h = c.CreateTable("main", "t" + std::to_string(updates), {Col("id", "int64"), Col("v", "varchar")});
		c.Commit();
		table = c.ResolveId(h);
	}
	PgRows(conninfo, "CREATE TABLE IF NOT EXISTS progress(id bigint PRIMARY KEY, lsn pg_lsn, rows bigint)");
	int64_t next = 0;
	for (int i = 0; i < n; i++) {
		auto c = writer.Begin();
		c.FindTable("main", "t" + std::to_string(updates));
		auto lo = std::max<int64_t>(0, next - updates);
		if (updates > 0 && next > 0) {
			c.DeleteByKey(table, duck, {"id"},
			              "SELECT i AS id FROM range(" + std::to_string(lo) + ", " + std::to_string(next) + ") r(i)");
		}
		c.Insert(table, duck,
		         "SELECT i AS id, 'v' || i AS v FROM range(" + std::to_string(updates > 0 && next > 0 ? lo : next) +
		             ", " + std::to_string(next + rows) + ") r(i)");
		next += rows;
		c.AddStatement([table, next, rows](PgConnection &conn) {
			return "INSERT INTO progress AS p VALUES (" + std::to_string(table) + ", " +
			       conn.QuoteLiteral("0/" + std::to_string(next)) + ", " + std::to_string(rows) +
			       ") ON CONFLICT (id) DO UPDATE SET lsn = EXCLUDED.lsn, rows = p.rows + EXCLUDED.rows";
		});
		c.Commit({.author = std::string("duckpipe"), .message = "flush " + std::to_string(i)});
		out.catalog_ms.push_back(c.CommitTimes().catalog_ms);
		out.delete_files_ms.push_back(c.CommitTimes().delete_files_ms);
	}
	return out;
}

void Report(const std::string &what, const Figures &f) {
	std::cout << "[ commit speed ] " << what << ": catalog transaction p50 " << Percentile(f.catalog_ms, 50)
	          << " ms, p99 " << Percentile(f.catalog_ms, 99) << " ms; delete files p50 "
	          << Percentile(f.delete_files_ms, 50) << " ms (" << f.catalog_ms.size() << " commits)" << std::endl;
}

} // namespace

TEST(CommitSpeed, SmallFlushesOnADurableCatalog) {
	// The bench's durability: the WAL is flushed at every COMMIT.
	PgCluster cluster({.settings = {{"fsync", "on"}, {"synchronous_commit", "on"}}});
	auto db = cluster.CreateDatabase("commit_speed");
	TempDir dir("duckpipe-commit-speed");
	lake::LakeConfig config;
	config.catalog_conninfo = cluster.Conninfo(db);
	config.data_path = dir.Path() + "/lake/";
	lake::LakeWriter writer(config);
	Staging staging;

	auto inserts = Flushes(writer, *staging.duck, config.catalog_conninfo, 200, 20, 0);
	Report("200 insert flushes of 20 rows", inserts);
	auto upserts = Flushes(writer, *staging.duck, config.catalog_conninfo, 200, 20, 10);
	Report("200 upsert flushes of 20 rows (10 updated)", upserts);
	EXPECT_EQ(PgRows(config.catalog_conninfo, "SELECT count(*), sum(rows) FROM progress"), (Rows{"2|8000"}));
	EXPECT_EQ(LakeRows(config.catalog_conninfo, "SELECT count(*), count(DISTINCT id) FROM main.t10"),
	          (Rows{"4000|4000"}));
	// Generous: the machine is shared; the figure that matters is printed above.
	EXPECT_LT(Percentile(inserts.catalog_ms, 50), 50.0);
}
