#include "core/common/log.hpp"
#include "core/common/source_values.hpp"

#include <gtest/gtest.h>

namespace duckpipe {

TEST(SourceValueText, QuotedValuesHiddenUnlessDebug) {
	auto level = log::GetLevel();
	log::SetLevel(log::Level::Info);
	auto conversion = SourceValueText("DuckDB: Conversion Error: Could not convert string 'it's s3cret' to INT32");
	EXPECT_EQ(conversion, "DuckDB: Conversion Error: Could not convert string '...' to INT32 (values from the source "
	                      "are shown only at debug level: duckpipe --log-level debug, or duckpipe.debug_log = on in "
	                      "the extension)");
	auto timestamp =
	    SourceValueText("invalid timestamp field format: \"294270-01-01\", expected format is (YYYY-MM-DD)");
	EXPECT_EQ(timestamp.find("294270"), std::string::npos) << timestamp;
	EXPECT_NE(timestamp.find("expected format is (YYYY-MM-DD)"), std::string::npos) << timestamp;
	EXPECT_EQ(SourceValueText("no value here"), "no value here");

	log::SetLevel(log::Level::Debug);
	EXPECT_EQ(SourceValueText("Could not convert string 'it's s3cret' to INT32"),
	          "Could not convert string 'it's s3cret' to INT32");
	log::SetLevel(level);
}

} // namespace duckpipe
