#pragma once

#include "core/pg/pg_connection.hpp"
#include "harness/pg_cluster.hpp"

#include <gtest/gtest.h>

#include <string>
#include <vector>

namespace duckpipe::test {

// A test on a cluster with pg_duckpipe preloaded (the build's private tree, 200 ms flush interval),
// one fresh database per test with the extension created. TearDown leaves no worker and no
// inactive slot behind, and fails the test on a server crash.
class ExtensionTest : public ::testing::Test {
public:
	using Rows = std::vector<std::vector<std::string>>;

protected:
	// One per test binary.
	static PgCluster &Cluster();

	// prefix: the test database's name prefix.
	explicit ExtensionTest(std::string prefix) : prefix_(std::move(prefix)) {}
	void SetUp() override;
	void TearDown() override;

	const std::string &Db() const { return db_; }
	std::string Conninfo(const std::string &db = "") const { return Cluster().Conninfo(db.empty() ? db_ : db); }
	// Rows as text ("<null>" for NULL) of sql run through conninfo.
	static Rows Query(const std::string &conninfo, const std::string &sql);
	// Every row of `sql` on `conn` (of a result), values as PostgreSQL's text ("<null>" for NULL).
	static Rows RowsOf(PgConnection &conn, const std::string &sql);
	static Rows RowsOf(const PgResult &result);
	// The same on this test's database or on db.
	Rows Sql(const std::string &sql, const std::string &db = "") const { return Query(Conninfo(db), sql); }
	std::string Scalar(const std::string &sql, const std::string &db = "") const { return Sql(sql, db).at(0).at(0); }
	// Background workers of this test's database.
	int Workers() const;
	// SQL over the lake's latest snapshot, read in process (LoadCatalog + LakeReader in DuckDB);
	// throws NotYet while the lake or the queried table does not exist.
	Rows Lake(const std::string &sql, const std::string &db = "") const;

	std::string db_;

private:
	std::string prefix_;
};

} // namespace duckpipe::test
