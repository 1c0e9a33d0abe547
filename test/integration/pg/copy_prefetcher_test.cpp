// The snapshot's COPY read on its own thread: every message in order, the server's error on the
// consumer's thread, a bound on what is held, and no hang when the consumer goes away mid-copy.
#include "core/common/error.hpp"
#include "core/pg/pg_connection.hpp"
#include "core/pipeline/copy_prefetcher.hpp"
#include "harness/daemon_process.hpp"
#include "harness/pg_cluster.hpp"

#include <gtest/gtest.h>

#include <chrono>
#include <optional>
#include <thread>

using namespace duckpipe;
using duckpipe::pipeline::CopyPrefetcher;
using duckpipe::test::PgCluster;
using duckpipe::test::WaitFor;
using namespace std::chrono_literals;

namespace {

// The wait event of the backend running the COPY, seen from another connection.
std::string CopyWaitEvent(PgConnection &observer) {
	auto r = observer.Exec("SELECT coalesce(wait_event, '') FROM pg_stat_activity WHERE query LIKE 'COPY (SELECT g%' "
	                       "AND pid <> pg_backend_pid()");
	return r.Rows() == 1 ? std::string(r.Get(0, 0)) : std::string();
}

} // namespace

TEST(CopyPrefetcher, EveryMessageInOrderThenTheConnectionIsIdle) {
	auto &cluster = PgCluster::Shared();
	PgConnection conn(cluster.Conninfo());
	std::atomic<bool> stop{false};
	int64_t expected = 1;
	bool in_order = true;
	{
		CopyPrefetcher copy(conn, "COPY (SELECT g FROM generate_series(1, 200000) g) TO STDOUT", "public.t", 1 << 20,
		                    stop);
		std::string_view m;
		while (copy.Next(m)) {
			in_order = in_order && m == std::to_string(expected) + "\n";
			expected++;
		}
		EXPECT_FALSE(copy.Next(m)); // the end stays the end
	}
	EXPECT_TRUE(in_order);
	EXPECT_EQ(expected - 1, 200000);
	// The COPY's final result was read: the connection takes the next statement.
	EXPECT_EQ(conn.Exec("SELECT 7").GetInt(0, 0), 7);
}

TEST(CopyPrefetcher, TheServersErrorReachesTheConsumerAfterTheRowsBeforeIt) {
	auto &cluster = PgCluster::Shared();
	PgConnection conn(cluster.Conninfo());
	std::atomic<bool> stop{false};
	CopyPrefetcher copy(conn, "COPY (SELECT 1 / (100000 - g) FROM generate_series(1, 200000) g) TO STDOUT", "public.t",
	                    1 << 20, stop);
	int64_t rows = 0;
	try {
		std::string_view m;
		while (copy.Next(m)) {
			rows++;
		}
		FAIL() << "the COPY's division by zero was not reported";
	} catch (const Error &e) {
		EXPECT_EQ(e.Context().sqlstate, "22012") << e.what();
	}
	EXPECT_LT(rows, 100000);
}

// The reader holds at most its bound: once the consumer stops taking messages, the server's backend
// ends up waiting to write (ClientWrite) instead of the whole result piling up in the daemon.
TEST(CopyPrefetcher, HoldsAtMostItsBoundAndLeavesWhenTheConsumerDoes) {
	auto &cluster = PgCluster::Shared();
	PgConnection conn(cluster.Conninfo());
	PgConnection observer(cluster.Conninfo());
	std::atomic<bool> stop{false};
	{
		// ~2 GB of COPY text: far more than the 1 MB bound plus the socket buffers.
		CopyPrefetcher copy(conn, "COPY (SELECT g, repeat('x', 1000) FROM generate_series(1, 2000000) g) TO STDOUT",
		                    "public.t", 1 << 20, stop);
		std::string_view m;
		ASSERT_TRUE(copy.Next(m));
		EXPECT_TRUE(m.starts_with("1\t"));
		// The reader filled its bound and the server waits to write: that state is reached, and in it
		// the reader holds no more than the bound and the block it was filling.
		EXPECT_TRUE(WaitFor([&] { return copy.HeldBytes() >= (1u << 20) && CopyWaitEvent(observer) == "ClientWrite"; },
		                    60s, 20ms))
		    << copy.HeldBytes() << " bytes held, server: " << CopyWaitEvent(observer);
		EXPECT_LE(copy.HeldBytes(), (2u << 20) + 64 * 1024);
		// Leaving now (a failed Parquet write, a shutdown) must not wait for the rest of the COPY.
	}
	SUCCEED();
}

// A server that sends nothing (here a sleep; in life a lock wait): a stop wakes the consumer with an
// error naming the table, and leaving cancels the COPY instead of waiting for it.
TEST(CopyPrefetcher, AStopWakesTheConsumerAndLeavingCancelsAStalledCopy) {
	auto &cluster = PgCluster::Shared();
	PgConnection conn(cluster.Conninfo());
	std::atomic<bool> stop{false};
	auto started = std::chrono::steady_clock::now();
	std::optional<std::string> error;
	{
		CopyPrefetcher copy(conn, "COPY (SELECT g FROM generate_series(1, 2) g, pg_sleep(60)) TO STDOUT", "public.t",
		                    1 << 20, stop);
		PgConnection observer(cluster.Conninfo());
		// Stops once the server is inside its sleep, i.e. while the consumer waits for data.
		std::thread stopper([&] {
			WaitFor([&] { return CopyWaitEvent(observer) == "PgSleep"; }, 60s, 20ms);
			stop = true;
		});
		try {
			std::string_view m;
			copy.Next(m);
		} catch (const Error &e) {
			error = e.what();
		}
		stopper.join();
	}
	ASSERT_TRUE(error.has_value());
	EXPECT_NE(error->find("public.t"), std::string::npos) << *error;
	EXPECT_NE(error->find("shutdown"), std::string::npos) << *error;
	// Well under the server's 60 s sleep.
	EXPECT_LT(std::chrono::steady_clock::now() - started, std::chrono::seconds(30));
}
