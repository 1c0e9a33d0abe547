// Randomized differential test: a seeded random workload runs against the source while the daemon
// streams it; at the end the lake must equal the source row by row. The seed is printed (and
// recorded as a test property); replay a failure with DUCKPIPE_TEST_SEED=<seed>. DUCKPIPE_TEST_OPS
// changes the number of operations (default 3000).
#include "random_workload.hpp"

#include "harness/pipeline_fixture.hpp"

#include <algorithm>
#include <chrono>
#include <cstdlib>
#include <fstream>
#include <random>
#include <thread>

namespace duckpipe::test {

namespace {

uint64_t SeedFromEnv() {
	if (const char *s = std::getenv("DUCKPIPE_TEST_SEED"); s && *s) {
		return std::strtoull(s, nullptr, 10);
	}
	std::random_device rd;
	return (static_cast<uint64_t>(rd()) << 20) ^
	       static_cast<uint64_t>(std::chrono::system_clock::now().time_since_epoch().count());
}

int OpsFromEnv() {
	if (const char *s = std::getenv("DUCKPIPE_TEST_OPS"); s && *s) {
		return std::atoi(s);
	}
	return 3000;
}

std::string LakeName(const std::string &table) {
	return table + "_ducklake";
}

std::string Short(const std::string &s) {
	return s.size() > 400 ? s.substr(0, 400) + "...(" + std::to_string(s.size()) + " chars)" : s;
}

} // namespace

class DifferentialTest : public PipelineTest {
protected:
	void SetUp() override {
		PipelineTest::SetUp();
		seed_ = SeedFromEnv();
		RecordProperty("seed", std::to_string(seed_));
		std::printf("[ differential ] seed %llu (replay with DUCKPIPE_TEST_SEED=%llu)\n",
		            static_cast<unsigned long long>(seed_), static_cast<unsigned long long>(seed_));
	}

	std::string Replay() const { return "replay with DUCKPIPE_TEST_SEED=" + std::to_string(seed_); }

	// One canonical text line per row (columns joined by a unit separator), both sides alike.
	static std::string LineSql(const WorkloadTable &t, bool duck, const std::string &relation) {
		std::string cols;
		for (size_t i = 0; i < t.columns.size(); i++) {
			cols += ", c" + std::to_string(i);
		}
		return "SELECT concat_ws(chr(31)" + cols + ") AS l FROM (" + t.CanonicalSelect(duck, relation) + ") s";
	}

	std::pair<std::string, std::string> Digests(const WorkloadTable &t) {
		auto src = Sql("SELECT count(*)::text || ':' || coalesce(md5(string_agg(l, chr(10) ORDER BY l COLLATE \"C\")), "
		               "'') FROM (" +
		               LineSql(t, false, t.name) + ") x");
		auto lake = LakeQuery("SELECT CAST(count(*) AS VARCHAR) || ':' || coalesce(md5(string_agg(l, chr(10) ORDER "
		                      "BY l)), '') FROM (" +
		                      LineSql(t, true, LakeName(t.name)) + ") x");
		return {src.at(0).at(0), lake.at(0).at(0)};
	}

	::testing::AssertionResult LakeMatches(const WorkloadTable &t) {
		try {
			auto [src, lake] = Digests(t);
			if (src == lake) {
				return ::testing::AssertionSuccess();
			}
		} catch (const std::exception &e) {
			return ::testing::AssertionFailure()
			       << "cannot read " << LakeName(t.name) << ": " << e.what() << "; " << Replay();
		}
		std::vector<std::string> src_lines;
		for (auto &r : Sql(LineSql(t, false, t.name))) {
			src_lines.push_back(r[0]);
		}
		std::vector<std::string> lake_lines;
		for (auto &r : LakeQuery(LineSql(t, true, LakeName(t.name)))) {
			lake_lines.push_back(r[0]);
		}
		std::sort(src_lines.begin(), src_lines.end());
		std::sort(lake_lines.begin(), lake_lines.end());
		auto result = ::testing::AssertionFailure();
		result << LakeName(t.name) << " differs from " << t.name << " (" << Replay() << "): lake " << lake_lines.size()
		       << " rows, source " << src_lines.size() << " rows";
		std::vector<std::string> missing;
		std::vector<std::string> extra;
		std::set_difference(src_lines.begin(), src_lines.end(), lake_lines.begin(), lake_lines.end(),
		                    std::back_inserter(missing));
		std::set_difference(lake_lines.begin(), lake_lines.end(), src_lines.begin(), src_lines.end(),
		                    std::back_inserter(extra));
		result << "; " << missing.size() << " missing, " << extra.size() << " extra";
		for (size_t i = 0; i < std::min<size_t>(missing.size(), 5); i++) {
			result << "\n  missing from lake: [" << Short(missing[i]) << "]";
		}
		for (size_t i = 0; i < std::min<size_t>(extra.size(), 5); i++) {
			result << "\n  extra in lake:     [" << Short(extra[i]) << "]";
		}
		return result;
	}

	::testing::AssertionResult WaitLakeMatches(const WorkloadTable &t, std::chrono::milliseconds timeout) {
		bool ok = WaitFor(
		    [&] {
			    auto [src, lake] = Digests(t);
			    return src == lake;
		    },
		    timeout, 500ms);
		if (ok) {
			return ::testing::AssertionSuccess();
		}
		return LakeMatches(t) << "\n  (after waiting " << timeout.count() << " ms; state " << TableState(t.name) << " "
		                      << TableError(t.name) << ")";
	}

	// Runs the workload while the daemon streams; with restarts, the daemon is stopped (SIGTERM)
	// twice and killed (SIGKILL) once at points drawn from the seed.
	void Run(bool restarts) {
		int ops = OpsFromEnv();
		auto wait = std::chrono::seconds(
		    std::getenv("DUCKPIPE_TEST_WAIT_S") ? std::atoi(std::getenv("DUCKPIPE_TEST_WAIT_S")) : 90);
		RandomWorkload workload(seed_);
		for (const auto &sql : workload.SetupSql()) {
			Sql(sql);
		}
		for (const auto &t : RandomWorkload::Tables()) {
			DuckpipeOk({"add-table", t.name});
		}
		std::mt19937_64 restart_rng(seed_ ^ 0x5eedULL);
		std::vector<std::pair<int, bool>> stops; // (operation count, kill)
		if (restarts) {
			for (int i = 0; i < 3; i++) {
				stops.emplace_back(static_cast<int>(restart_rng() % static_cast<uint64_t>(ops)), i == 0);
			}
			std::sort(stops.begin(), stops.end());
		}
		auto daemon = StartDaemon();
		auto started_at = std::chrono::steady_clock::now();
		auto conn = Connect();
		std::vector<std::string> failures;
		int done = 0;
		int txns = 0;
		int truncates = 0;
		int rollbacks = 0;
		std::mt19937_64 pause_rng(seed_ ^ 0x9a05eULL);
		size_t next_stop = 0;
		auto started = std::chrono::steady_clock::now();
		while (done < ops) {
			auto txn = workload.NextTxn();
			txns++;
			bool in_txn = false;
			for (const auto &sql : txn.statements) {
				try {
					conn->Exec(sql);
					in_txn = in_txn || sql == "BEGIN";
				} catch (const std::exception &e) {
					failures.push_back(Short(sql) + ": " + e.what());
					if (in_txn) {
						conn->Exec("ROLLBACK");
					}
					break;
				}
			}
			done += txn.operations;
			for (const auto &sql : txn.statements) {
				truncates += sql.rfind("TRUNCATE", 0) == 0;
				rollbacks += sql.rfind("ROLLBACK", 0) == 0;
			}
			// Now and then a pause, so flushes fall between the transactions at varied points (drawn
			// from its own generator: the statements stay the same for a seed).
			if (pause_rng() % 20 == 0) {
				std::this_thread::sleep_for(std::chrono::milliseconds(50 + pause_rng() % 250));
			}
			while (next_stop < stops.size() && done >= stops[next_stop].first) {
				bool kill = stops[next_stop].second;
				// A SIGTERM that lands before the daemon has installed its handler ends it by the signal;
				// give each daemon a moment to start.
				std::this_thread::sleep_until(started_at + std::chrono::seconds(1));
				int status = kill ? daemon->Kill() : daemon->Terminate();
				EXPECT_EQ(status, kill ? 128 + 9 : 0) << "daemon stop after " << done << " operations; " << Replay();
				std::printf("[ differential ] %s the daemon after %d operations\n", kill ? "killed" : "stopped", done);
				daemon = StartDaemon();
				started_at = std::chrono::steady_clock::now();
				next_stop++;
			}
			ASSERT_TRUE(daemon->IsRunning())
			    << "the daemon exited after " << done << " operations; " << Replay() << "\n"
			    << LogTail(30);
		}
		auto secs = std::chrono::duration<double>(std::chrono::steady_clock::now() - started).count();
		std::printf("[ differential ] %d operations in %d transactions (%d truncates, %d rollbacks) in %.1f s\n", done,
		            txns, truncates, rollbacks, secs);
		EXPECT_TRUE(failures.empty()) << failures.size()
		                              << " workload statements failed (a generator bug), first: " << failures[0] << "; "
		                              << Replay();
		for (const auto &t : RandomWorkload::Tables()) {
			EXPECT_TRUE(WaitLakeMatches(t, wait)) << Replay();
			EXPECT_TRUE(WaitTableState(t.name, "STREAMING", 30s))
			    << t.name << " is " << TableState(t.name) << ": " << TableError(t.name) << "; " << Replay();
		}
		EXPECT_TRUE(daemon->IsRunning()) << Replay();
		EXPECT_EQ(daemon->Terminate(), 0) << Replay();
		// A table that failed was copied again, which makes it equal whatever streaming got wrong.
		std::ifstream log(log_path_);
		std::vector<std::string> failed;
		for (std::string line; std::getline(log, line);) {
			if (line.find("event=table.failed") != std::string::npos ||
			    line.find("event=snapshot.failed") != std::string::npos ||
			    line.find("event=table.unsupported") != std::string::npos) {
				failed.push_back(Short(line));
			}
		}
		EXPECT_TRUE(failed.empty()) << failed.size()
		                            << " table failures (each followed by a fresh copy), first: " << failed[0] << "; "
		                            << Replay();
	}

	uint64_t seed_ = 0;
};

TEST_F(DifferentialTest, RandomWorkload) {
	Run(false);
}

TEST_F(DifferentialTest, RandomWorkloadWithRestarts) {
	Run(true);
}

} // namespace duckpipe::test
