// Transparent query routing against the group's lag, with the worker running: a table whose changes
// stay buffered (a long flush interval) makes the lag pass a small duckpipe.query_routing_max_lag
// and queries read the source; once flushed, they read the lake again and agree with the source. A
// stopped worker stops routing until it is started and has caught up. Whether a query is routed is
// read from its plan (EXPLAIN names the relation it scans).
#include "core/pg/pg_connection.hpp"
#include "harness/daemon_process.hpp"
#include "harness/extension_fixture.hpp"

#include <gtest/gtest.h>

#include <string>

namespace duckpipe::test {
namespace {

using namespace std::chrono_literals;

class ExtensionRoutingTest : public ExtensionTest {
protected:
	ExtensionRoutingTest() : ExtensionTest("ext_routing") {}

	void SetUp() override {
		ExtensionTest::SetUp();
		Sql("CREATE TABLE public.t (id bigint PRIMARY KEY, gone int, grp int, v text)");
		Sql("ALTER TABLE public.t DROP COLUMN gone");
		Sql("INSERT INTO public.t SELECT g, g % 4, 'v' || g FROM generate_series(1, 200) g");
		Sql("SELECT duckpipe.add_table('public.t')");
		Sql("ALTER DATABASE \"" + Db() + "\" SET duckpipe.query_routing = 'auto'");
		Sql("ALTER DATABASE \"" + Db() + "\" SET duckpipe.query_routing_max_lag = '1s'");
	}

	bool Routed(const std::string &query) {
		for (const auto &row : Sql("EXPLAIN (COSTS OFF) " + query)) {
			if (row.at(0).find("t_ducklake") != std::string::npos) {
				return true;
			}
		}
		return false;
	}

	// The routed query's rows equal the source's (read with routing off).
	::testing::AssertionResult Agrees(const std::string &query) {
		if (!Routed(query)) {
			return ::testing::AssertionFailure() << "not routed: " << query;
		}
		auto lake = Sql(query);
		auto heap = Sql("SET duckpipe.query_routing = off; " + query);
		if (lake != heap) {
			return ::testing::AssertionFailure() << "routed and source results differ: " << query << " (" << lake.size()
			                                     << " and " << heap.size() << " rows)";
		}
		return ::testing::AssertionSuccess();
	}

	bool LakeEqualsSource() {
		return Scalar("SELECT (SELECT count(*) FROM (SELECT * FROM public.t EXCEPT ALL "
		              "SELECT * FROM public.t_ducklake) a) + (SELECT count(*) FROM (SELECT * FROM public.t_ducklake "
		              "EXCEPT ALL SELECT * FROM public.t) b) = 0 AND (SELECT state FROM duckpipe.status() "
		              "WHERE source_table = 'public.t') = 'STREAMING'") == "t";
	}

	// The group's lag as routing sees it ("<null>" without a worker).
	std::string Lag() { return Scalar("SELECT lag_ms FROM duckpipe.routing_lag() WHERE sync_group = 'default'"); }

	static constexpr const char *kAggregate = "SELECT grp, count(*), max(v) FROM public.t GROUP BY grp ORDER BY grp";
};

TEST_F(ExtensionRoutingTest, LagOverTheLimitStopsRoutingUntilTheLakeCatchesUp) {
	// Changes are buffered for ten minutes (set first, so the worker has it before the writes below).
	Sql("SELECT duckpipe.set_table_config('public.t', 'flush_interval_ms', '600000')");
	// The comparison reads the source: routing off while waiting for the copy.
	Sql("ALTER DATABASE \"" + Db() + "\" SET duckpipe.query_routing = 'off'");
	ASSERT_TRUE(WaitFor([&] { return LakeEqualsSource(); }, 60s));
	Sql("ALTER DATABASE \"" + Db() + "\" SET duckpipe.query_routing = 'auto'");
	ASSERT_TRUE(WaitFor([&] { return Routed(kAggregate); }, 30s)) << "an idle, caught-up group is routed";
	EXPECT_TRUE(Agrees(kAggregate));
	// Idle and caught up, the lag is 0.
	EXPECT_TRUE(WaitFor([&] { return Lag() == "0"; }, 30s)) << "lag " << Lag();

	// The new rows stay buffered: the lake lags, more than 1 s after the write.
	Sql("INSERT INTO public.t SELECT g, g % 4, 'late' || g FROM generate_series(201, 250) g");
	ASSERT_TRUE(WaitFor([&] { return Lag() != "<null>" && std::stol(Lag()) > 1000; }, 30s)) << "lag " << Lag();
	EXPECT_FALSE(Routed(kAggregate)) << "a lake lagging more than 1 s is routed";
	EXPECT_EQ(Scalar("SELECT count(*) FROM public.t"), "250") << "the source's rows";
	EXPECT_EQ(Scalar("SELECT count(*) FROM duckpipe.worker_status() WHERE running"), "1");
	// A larger limit routes it again, and reads the lake's older rows.
	EXPECT_EQ(Scalar("SET duckpipe.query_routing_max_lag = '1h'; SELECT count(*) FROM public.t"), "200");

	// Flushed: routed again, and the routed rows are the source's.
	Sql("SELECT duckpipe.set_table_config('public.t', 'flush_interval_ms', '200')");
	ASSERT_TRUE(WaitFor(
	    [&] { return Scalar("SET duckpipe.query_routing_max_lag = '1h'; SELECT count(*) FROM public.t") == "250"; },
	    60s));
	ASSERT_TRUE(WaitFor([&] { return Routed(kAggregate); }, 30s));
	EXPECT_TRUE(Agrees(kAggregate));
	EXPECT_TRUE(Agrees("SELECT count(*), sum(id), max(v) FROM public.t WHERE v LIKE 'late%'"));
}

TEST_F(ExtensionRoutingTest, StoppedWorkerStopsRoutingUntilStartedAndCaughtUp) {
	ASSERT_TRUE(WaitFor([&] { return Routed(kAggregate); }, 60s));
	Sql("SELECT duckpipe.stop_worker()");
	ASSERT_TRUE(WaitFor([&] { return Workers() == 0; }, 30s));
	Sql("UPDATE public.t SET v = 'stopped' WHERE id <= 10");
	EXPECT_EQ(Scalar("SELECT worker_running::text || coalesce(lag_ms::text, '/no lag') FROM duckpipe.routing_lag()"),
	          "false/no lag");
	EXPECT_FALSE(Routed(kAggregate));
	EXPECT_EQ(Scalar("SELECT count(*) FROM public.t WHERE v = 'stopped'"), "10") << "read from the source";

	Sql("SELECT duckpipe.start_worker()");
	ASSERT_TRUE(WaitFor([&] { return Routed(kAggregate); }, 60s));
	// Routed only once caught up: the lake already holds the update made while it was stopped.
	EXPECT_EQ(Scalar("SELECT count(*) FROM public.t_ducklake WHERE v = 'stopped'"), "10");
	EXPECT_TRUE(Agrees(kAggregate));
}

// A cached plan (a prepared statement) is routed as the group's state says at each execution, also
// while an open transaction holds back the oldest xmin (whose moving otherwise re-plans the plans
// of routing's statements): not routed once the group is disabled, routed again once it is enabled
// and caught up. Read from the plan EXPLAIN EXECUTE shows, and from the rows.
TEST_F(ExtensionRoutingTest, CachedPlanFollowsTheGroupsState) {
	ASSERT_TRUE(WaitFor([&] { return LakeEqualsSource() && Routed(kAggregate); }, 60s));
	PgConnection session(Conninfo());
	session.Exec(std::string("PREPARE q AS ") + kAggregate);
	auto routed = [&] {
		for (const auto &row : RowsOf(session, "EXPLAIN (COSTS OFF) EXECUTE q")) {
			if (row.at(0).find("t_ducklake") != std::string::npos) {
				return true;
			}
		}
		return false;
	};
	EXPECT_TRUE(routed());
	auto source = Sql(std::string("SET duckpipe.query_routing = off; ") + kAggregate);
	EXPECT_EQ(RowsOf(session, "EXECUTE q"), source);

	PgConnection holder(Conninfo());
	holder.Exec("BEGIN");
	holder.Exec("SELECT txid_current()");
	Sql("SELECT duckpipe.disable_group('default')");
	EXPECT_FALSE(routed()) << "the cached plan reads the lake of a disabled group";
	EXPECT_EQ(RowsOf(session, "EXECUTE q"), source);
	Sql("SELECT duckpipe.enable_group('default')");
	EXPECT_TRUE(WaitFor(routed, 60s)) << "not routed again once the group is enabled and caught up";
	EXPECT_EQ(RowsOf(session, "EXECUTE q"), source);
	holder.Exec("ROLLBACK");
}

} // namespace
} // namespace duckpipe::test
