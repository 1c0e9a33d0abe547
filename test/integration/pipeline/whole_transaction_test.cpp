// A source transaction far larger than the change buffer's memory arrives in the lake whole: a
// reader sees either none of it or all of it. The heaviest test of the binary, so it runs last.
#include "harness/pipeline_fixture.hpp"

#include <cstdio>
#include <filesystem>

namespace duckpipe::test {

class WholeTransactionTest : public PipelineTest {
protected:
	static int64_t DirBytes(const std::string &dir) {
		int64_t total = 0;
		std::error_code ec;
		for (auto it = std::filesystem::recursive_directory_iterator(dir, ec);
		     !ec && it != std::filesystem::recursive_directory_iterator(); it.increment(ec)) {
			if (it->is_regular_file(ec)) {
				total += static_cast<int64_t>(it->file_size(ec));
			}
		}
		return total;
	}
};

TEST_F(WholeTransactionTest, MillionRowTransactionArrivesWhole) {
	constexpr int64_t kBase = 1000;
	constexpr int64_t kBig = 1000000;
	Sql("CREATE TABLE public.big (id bigint PRIMARY KEY, payload text, n int)");
	Sql("INSERT INTO public.big SELECT g, md5(g::text), g % 1000 FROM generate_series(1, " + std::to_string(kBase) +
	    ") g");
	DuckpipeOk({"add-table", "public.big"});
	auto daemon = StartDaemon({"--duckdb-buffer-memory-mb", "16"}, {}, 500);
	ASSERT_TRUE(WaitTableState("public.big", "STREAMING"));
	ASSERT_EQ(LakeCount("public.big_ducklake"), kBase);

	auto started = std::chrono::steady_clock::now();
	Sql("INSERT INTO public.big SELECT g, md5(g::text), g % 1000 FROM generate_series(" + std::to_string(kBase + 1) +
	    ", " + std::to_string(kBase + kBig) + ") g");
	auto committed = std::chrono::steady_clock::now();
	// Sample the lake while the transaction travels: only the two whole states may ever show.
	std::vector<int64_t> partial;
	int samples = 0;
	bool arrived = WaitFor(
	    [&] {
		    int64_t n = LakeCount("public.big_ducklake");
		    samples++;
		    if (n != kBase && n != kBase + kBig) {
			    partial.push_back(n);
		    }
		    return n == kBase + kBig;
	    },
	    240s, 250ms);
	auto landed = std::chrono::steady_clock::now();
	auto secs = [](auto d) { return std::chrono::duration<double>(d).count(); };
	std::printf("[ timing ] 1M-row insert committed in %.1f s, in the lake %.1f s later (%d samples)\n",
	            secs(committed - started), secs(landed - committed), samples);
	ASSERT_TRUE(arrived) << "lake count " << LakeCount("public.big_ducklake");
	EXPECT_TRUE(partial.empty()) << "the lake showed a partial transaction: " << partial.size()
	                             << " samples, first count " << partial.front();
	EXPECT_GT(samples, 2);
	EXPECT_TRUE(LakeEqualsSource("public.big"));
	// Whatever the buffer spilled to the temp dir is given back after the flush.
	EXPECT_TRUE(WaitFor([&] { return DirBytes(temp_path_) < (1 << 20); }, 10s))
	    << DirBytes(temp_path_) << " bytes left in " << temp_path_;
	EXPECT_EQ(daemon->Terminate(), 0);
}

} // namespace duckpipe::test
