#include "core/common/error.hpp"
#include "core/pg/pg_connection.hpp"
#include "harness/pg_cluster.hpp"

#include <gtest/gtest.h>

using namespace duckpipe;
using duckpipe::test::PgCluster;

TEST(PgConnection, QueriesWithParametersAndQuoting) {
	auto &cluster = PgCluster::Shared();
	auto db = cluster.CreateDatabase("pgconn");
	PgConnection conn(cluster.Conninfo(db));
	conn.Exec("CREATE TABLE " + conn.QuoteIdent("Odd \"Name\"") + " (id int primary key, v text)");
	conn.Exec("INSERT INTO \"Odd \"\"Name\"\"\" VALUES ($1, $2), ($3, $4)", {"1", "it's", "2", std::nullopt});
	auto r = conn.Exec("SELECT id, v FROM " + conn.QuoteIdent("Odd \"Name\"") + " ORDER BY id");
	ASSERT_EQ(r.Rows(), 2);
	EXPECT_EQ(r.GetInt(0, 0), 1);
	EXPECT_EQ(r.Get(0, 1), "it's");
	EXPECT_TRUE(r.IsNull(1, 1));
	EXPECT_EQ(conn.Exec("SELECT " + conn.QuoteLiteral("a'b\\c")).Get(0, 0), "a'b\\c");
	EXPECT_EQ(conn.Exec("SHOW TimeZone").Get(0, 0), "UTC");
}

TEST(PgConnection, ErrorsCarrySqlstateAndStatement) {
	auto &cluster = PgCluster::Shared();
	PgConnection conn(cluster.Conninfo());
	try {
		conn.Exec("SELECT * FROM no_such_table");
		FAIL();
	} catch (const Error &e) {
		EXPECT_EQ(e.Context().sqlstate, "42P01");
		EXPECT_EQ(e.Context().statement, "SELECT * FROM no_such_table");
		EXPECT_EQ(e.Kind(), ErrorKind::Source);
	}
}

TEST(PgConnection, CopyOutStreamsRows) {
	auto &cluster = PgCluster::Shared();
	PgConnection conn(cluster.Conninfo());
	std::string all;
	size_t chunks = 0;
	conn.CopyOut("COPY (SELECT g FROM generate_series(1, 1000) g) TO STDOUT", [&](std::string_view c) {
		all.append(c);
		chunks++;
	});
	EXPECT_EQ(chunks, 1000u);
	EXPECT_TRUE(all.starts_with("1\n2\n"));
	EXPECT_TRUE(all.ends_with("999\n1000\n"));
}

TEST(PgConnection, UnreachableServerIsAConnectionErrorWithoutPassword) {
	try {
		PgConnection conn("host=127.0.0.1 port=1 user=x password=hunter2 connect_timeout=2");
		FAIL();
	} catch (const Error &e) {
		EXPECT_EQ(e.Kind(), ErrorKind::Connection);
		std::string msg = e.what();
		EXPECT_EQ(msg.find("hunter2"), std::string::npos) << msg;
		EXPECT_NE(msg.find("127.0.0.1"), std::string::npos) << msg;
		EXPECT_NE(msg.find("Hint"), std::string::npos) << msg;
	}
}

TEST(PgConnection, TransactionRollsBackUnlessCommitted) {
	auto &cluster = PgCluster::Shared();
	auto db = cluster.CreateDatabase("pgtx");
	PgConnection conn(cluster.Conninfo(db));
	conn.Exec("CREATE TABLE t(x int)");
	{
		PgTransaction tx(conn);
		conn.Exec("INSERT INTO t VALUES (1)");
	}
	{
		PgTransaction tx(conn, "REPEATABLE READ");
		conn.Exec("INSERT INTO t VALUES (2)");
		tx.Commit();
	}
	EXPECT_EQ(conn.Exec("SELECT string_agg(x::text, ',') FROM t").Get(0, 0), "2");
}
