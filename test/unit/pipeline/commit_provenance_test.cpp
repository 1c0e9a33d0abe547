#include "core/pipeline/commit_provenance.hpp"

#include <gtest/gtest.h>

namespace duckpipe::pipeline {

// duckpipe.snapshot_at reads these keys back (sql/extension/42_time_travel.sql): their names and
// formats (LSNs as PostgreSQL writes them, times as UTC timestamptz text) are the contract.
TEST(CommitProvenanceTest, FlushRecordsItsBatch) {
	CommitProvenance p{.kind = CommitProvenance::Kind::Flush,
	                   .group = "g\"1",
	                   .source_table = "public.orders",
	                   .target_table = "public.orders_ducklake",
	                   .from_lsn = Lsn(0x1A2C000),
	                   .source_lsn = Lsn((uint64_t(0x16) << 32) | 0xB374D848),
	                   .from_time_us = 1777636800123456, // 2026-05-01 12:00:00.123456 UTC
	                   .source_time_us = 1777636801000000};
	EXPECT_EQ(p.ToJson(),
	          R"({"duckpipe":{"kind":"flush","group":"g\"1","table":"public.orders",)"
	          R"("target":"public.orders_ducklake","from_lsn":"0/1A2C000","source_lsn":"16/B374D848",)"
	          R"("from_time":"2026-05-01 12:00:00.123456+00","source_time":"2026-05-01 12:00:01.000000+00"}})");
}

TEST(CommitProvenanceTest, CopyRecordsItsConsistentPointOnly) {
	CommitProvenance p{.kind = CommitProvenance::Kind::Copy,
	                   .group = "default",
	                   .source_table = "s.t",
	                   .target_table = "s.t_ducklake",
	                   .source_lsn = Lsn(0x3000028)};
	EXPECT_EQ(p.ToJson(), R"({"duckpipe":{"kind":"copy","group":"default","table":"s.t","target":"s.t_ducklake",)"
	                      R"("source_lsn":"0/3000028"}})");
}

// A table name that is not valid UTF-8 (a LATIN1 source) is recorded, not a failed flush.
TEST(CommitProvenanceTest, InvalidUtf8NameDoesNotThrow) {
	CommitProvenance p{.kind = CommitProvenance::Kind::Copy, .group = "g", .source_table = "s.caf\xe9"};
	std::string json;
	EXPECT_NO_THROW(json = p.ToJson());
	EXPECT_NE(json.find("s.caf\xef\xbf\xbd"), std::string::npos) << json;
}

} // namespace duckpipe::pipeline
