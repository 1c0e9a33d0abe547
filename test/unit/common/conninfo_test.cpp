#include "core/common/error.hpp"
#include "core/pg/conninfo.hpp"

#include <gtest/gtest.h>

#include <string>
#include <vector>

using duckpipe::Conninfo;

TEST(Conninfo, RedactsPasswordInKeywordForm) {
	auto c = Conninfo::Parse("host=db.example port=5433 user=app password=s3cret dbname=shop");
	EXPECT_EQ(c.Get("password"), "s3cret");
	auto red = c.Redacted();
	EXPECT_EQ(red.find("s3cret"), std::string::npos);
	EXPECT_NE(red.find("password=********"), std::string::npos);
	EXPECT_NE(red.find("host=db.example"), std::string::npos);
}

TEST(Conninfo, RedactsPasswordInUriForm) {
	auto red = Conninfo::Redact("postgresql://app:s3cret@db.example:5433/shop?sslmode=disable");
	EXPECT_EQ(red.find("s3cret"), std::string::npos);
	EXPECT_NE(red.find("dbname=shop"), std::string::npos);
}

TEST(Conninfo, InvalidStringIsAConfigErrorWithoutTheSecret) {
	try {
		Conninfo::Parse("host=x password=s3cret bogus_key=1");
		FAIL() << "expected an error";
	} catch (const duckpipe::Error &e) {
		EXPECT_EQ(e.Kind(), duckpipe::ErrorKind::Config);
		EXPECT_EQ(std::string(e.what()).find("s3cret"), std::string::npos) << e.what();
		EXPECT_NE(std::string(e.what()).find("bogus_key"), std::string::npos) << e.what();
	}
}

TEST(Conninfo, RewritesKeys) {
	auto c = Conninfo::Parse("dbname=a").With("application_name", "x y").Without("dbname");
	EXPECT_EQ(c.Get("dbname"), "");
	EXPECT_NE(c.ToString().find("application_name='x y'"), std::string::npos) << c.ToString();
	EXPECT_EQ(Conninfo::Parse(c.ToString()).Get("application_name"), "x y");
}

// Statements and log lines as the server writes them, with each form a connection string can take.
TEST(Conninfo, RedactsPasswordsWrittenInsideText) {
	struct Case {
		std::string text;
		std::string want;
	};
	std::vector<Case> cases{
	    {"SELECT f('host=h password=s3cret dbname=d')", "SELECT f('host=h password=******** dbname=d')"},
	    {"SELECT f('host=h password=s3cret')", "SELECT f('host=h password=********')"},
	    {"SELECT f('host=h PassWord = ''two words'' user=u')", "SELECT f('host=h PassWord = ''********'' user=u')"},
	    {"SELECT f($$host=h password='it\\'s' user=u$$)", "SELECT f($$host=h password='********' user=u$$)"},
	    {"SELECT f('sslpassword=k1 password=k2')", "SELECT f('sslpassword=******** password=********')"},
	    {"SELECT f('postgresql://app:s3cret@db:5432/shop')", "SELECT f('postgresql://app:********@db:5432/shop')"},
	    {"SELECT f('postgres://app:p@ss@db/shop?password=x2')",
	     "SELECT f('postgres://app:********@db/shop?password=********')"},
	    // Nothing secret: unchanged.
	    {"SELECT f('postgresql://app@db/shop'), 'password', 'a=b'",
	     "SELECT f('postgresql://app@db/shop'), 'password', 'a=b'"},
	    {"ALTER ROLE r PASSWORD 'kept as PostgreSQL logs it'", "ALTER ROLE r PASSWORD 'kept as PostgreSQL logs it'"},
	    {"password=", "password="},
	};
	for (const auto &c : cases) {
		EXPECT_EQ(Conninfo::RedactInText(c.text), c.want) << c.text;
	}
}
