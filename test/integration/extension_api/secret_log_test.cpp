// A password given to the SQL API (create_group's conninfo) never reaches the server log: not in the
// STATEMENT line PostgreSQL adds to an error, not in a statement logged by log_statement or
// log_min_duration_statement, in either the keyword=value or the URI form.
#include "core/common/error.hpp"
#include "core/pg/pg_connection.hpp"
#include "harness/daemon_process.hpp"
#include "harness/extension_fixture.hpp"

#include <gtest/gtest.h>

#include <string>

namespace duckpipe::test {
namespace {

using namespace std::chrono_literals;

class SecretLogTest : public ExtensionTest {
protected:
	SecretLogTest() : ExtensionTest("ext_secret") {}

	// The server log written since `from` (a size of it taken before).
	static std::string LogSince(size_t from) { return Cluster().ServerLog().substr(from); }
	// The error `sql` raises on a session of its own with `setup` run first.
	std::string ErrorOf(const std::string &setup, const std::string &sql) const {
		PgConnection conn(Conninfo());
		if (!setup.empty()) {
			conn.Exec(setup);
		}
		try {
			conn.Exec(sql);
		} catch (const Error &e) {
			return e.Message();
		}
		ADD_FAILURE() << "no error from: " << sql;
		return "";
	}
	std::string Literal(const std::string &text) const { return PgConnection(Conninfo()).QuoteLiteral(text); }
};

TEST_F(SecretLogTest, AFailingCreateGroupLogsNoPassword) {
	size_t from = Cluster().ServerLog().size();
	// Nothing listens on port 1: the check of the source fails.
	auto kv = ErrorOf("", "SELECT duckpipe.create_group('far', conninfo => " +
	                          Literal("host=127.0.0.1 port=1 dbname=x user=postgres password='kv secret 1'") + ")");
	auto uri =
	    ErrorOf("SET log_statement = 'all'", "SELECT duckpipe.create_group('far2', conninfo => " +
	                                             Literal("postgresql://postgres:urisecret2@127.0.0.1:1/x") + ")");
	EXPECT_EQ(kv.find("kv secret 1"), std::string::npos) << kv;
	EXPECT_EQ(uri.find("urisecret2"), std::string::npos) << uri;
	// The server log holds the errors and the logged statement, without the passwords.
	ASSERT_TRUE(WaitFor([&] { return LogSince(from).find("far2") != std::string::npos; }, 10s));
	auto log = LogSince(from);
	EXPECT_NE(log.find("ERROR"), std::string::npos) << log;
	EXPECT_EQ(log.find("kv secret 1"), std::string::npos) << log;
	EXPECT_EQ(log.find("urisecret2"), std::string::npos) << log;
	EXPECT_EQ(log.find("secret"), std::string::npos) << log;
}

TEST_F(SecretLogTest, ALoggedStatementShowsTheConninfoWithoutItsPassword) {
	size_t from = Cluster().ServerLog().size();
	auto tcp = "host=127.0.0.1 port=" + std::to_string(Cluster().Port()) + " dbname=" + db_ +
	           " user=postgres password=ok_secret_3";
	PgConnection conn(Conninfo());
	conn.Exec("SET log_min_duration_statement = 0");
	EXPECT_EQ(conn.Exec("SELECT duckpipe.create_group('near', conninfo => " + Literal(tcp) + ")").Get(0, 0), "near");
	conn.Exec("SELECT duckpipe.drop_group('near')");
	ASSERT_TRUE(WaitFor([&] { return LogSince(from).find("drop_group") != std::string::npos; }, 10s));
	auto log = LogSince(from);
	EXPECT_EQ(log.find("ok_secret_3"), std::string::npos) << log;
	// The rest of the statement stays, for the audit trail.
	EXPECT_NE(log.find("duckpipe.create_group('near', conninfo => 'host=127.0.0.1"), std::string::npos) << log;
	EXPECT_NE(log.find("password=********"), std::string::npos) << log;
}

} // namespace
} // namespace duckpipe::test
