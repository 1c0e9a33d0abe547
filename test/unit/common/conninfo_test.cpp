#include "core/common/error.hpp"
#include "core/pg/conninfo.hpp"

#include <gtest/gtest.h>

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
