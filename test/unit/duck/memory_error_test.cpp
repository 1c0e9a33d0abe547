// DuckDB words both a step that does not fit its memory limit and a full temporary directory as
// "Out of Memory": each becomes an Error(Io) that names the limit actually reached and the setting
// to change, never DuckDB's advice on settings pg_duckpipe chooses (threads, insertion order).
#include "core/common/error.hpp"
#include "core/common/private_dir.hpp"
#include "core/duck/duck_connection.hpp"
#include "core/duck/duck_database.hpp"

#include <gtest/gtest.h>

namespace duckpipe {

namespace {

std::string FailureOf(DuckConnection &duck, const std::string &sql) {
	try {
		duck.Execute(sql);
	} catch (const Error &e) {
		EXPECT_EQ(e.Kind(), ErrorKind::Io) << e.what();
		return e.what();
	}
	ADD_FAILURE() << "no error from " << sql;
	return "";
}

} // namespace

TEST(DuckMemoryError, AStepLargerThanTheMemoryLimitNamesTheLimitAndTheSetting) {
	PrivateDirectory scratch("", "duckpipe-memory-error-", "test");
	const std::string &dir = scratch.Path();
	{
		// The hash table of 2M distinct keys does not fit 16 MB, although the data could spill.
		DuckDatabase db("", {{"memory_limit", "16MB"}, {"threads", "1"}, {"temp_directory", dir + "/spill"}});
		auto duck = db.Connect();
		duck->Execute("CREATE TABLE buf AS SELECT i AS id FROM range(2000000) t(i)");
		auto message = FailureOf(*duck, "CREATE TABLE k AS SELECT DISTINCT id FROM buf");
		EXPECT_NE(message.find("DuckDB needs more memory than its limit of "), std::string::npos) << message;
		EXPECT_NE(message.find("duckdb_flush_memory_mb"), std::string::npos) << message;
		EXPECT_EQ(message.find("is full"), std::string::npos) << message;
		EXPECT_EQ(message.find("SET threads"), std::string::npos) << message;
	}
}

TEST(DuckMemoryError, AFullTemporaryDirectoryNamesTheDirectory) {
	PrivateDirectory scratch("", "duckpipe-memory-error-", "test");
	const std::string &dir = scratch.Path();
	{
		DuckDatabase db("", {{"memory_limit", "16MB"},
		                     {"threads", "1"},
		                     {"temp_directory", dir + "/spill"},
		                     {"max_temp_directory_size", "1MB"}});
		auto duck = db.Connect();
		auto message =
		    FailureOf(*duck, "CREATE TABLE buf AS SELECT i AS id, md5(i::VARCHAR) AS v FROM range(2000000) t(i)");
		EXPECT_NE(message.find("the temporary directory '" + dir + "/spill' is full"), std::string::npos) << message;
		EXPECT_EQ(message.find("needs more memory"), std::string::npos) << message;
	}
}

} // namespace duckpipe
