// The core's Pipeline driven from outside, as a PostgreSQL background worker will drive it: Run()
// on its own thread, RequestStop(), Wake() and Reload() from another.
#include "core/meta/metadata_store.hpp"
#include "core/pg/pg_connection.hpp"
#include "core/pipeline/pipeline.hpp"
#include "harness/pipeline_fixture.hpp"

#include <atomic>
#include <csignal>
#include <thread>

namespace duckpipe::test {

class PipelineApiTest : public PipelineTest {
protected:
	pipeline::PipelineConfig Config() const {
		pipeline::PipelineConfig c;
		c.source_conninfo = Source();
		c.data_path = data_path_;
		c.temp_dir = temp_path_;
		c.flush_interval_ms = 300;
		c.shutdown_timeout_ms = 2000;
		return c;
	}
	void Start(const pipeline::PipelineConfig &config) {
		pipeline_ = std::make_unique<pipeline::Pipeline>(config);
		pipeline_->OnReady([this] { ready_.store(true); });
		thread_ = std::thread([this] {
			try {
				pipeline_->Run();
			} catch (const std::exception &e) {
				std::lock_guard guard(mutex_);
				error_ = e.what();
			}
			returned_.store(true);
		});
		ASSERT_TRUE(WaitFor([&] { return ready_.load() || returned_.load(); }, 60s));
		ASSERT_FALSE(returned_.load()) << error_;
	}
	// RequestStop from this thread; returns how long Run() took to return.
	std::chrono::milliseconds Stop() {
		auto start = std::chrono::steady_clock::now();
		pipeline_->RequestStop();
		EXPECT_TRUE(WaitFor([&] { return returned_.load(); }, 30s)) << "Run() did not return after RequestStop()";
		if (thread_.joinable()) {
			thread_.join();
		}
		return std::chrono::duration_cast<std::chrono::milliseconds>(std::chrono::steady_clock::now() - start);
	}
	void TearDown() override {
		if (thread_.joinable()) {
			Stop();
		}
		pipeline_.reset();
		PipelineTest::TearDown();
	}

	std::unique_ptr<pipeline::Pipeline> pipeline_;
	std::thread thread_;
	std::atomic<bool> ready_{false};
	std::atomic<bool> returned_{false};
	std::mutex mutex_;
	std::string error_;
};

TEST_F(PipelineApiTest, RunReturnsSoonAfterRequestStop) {
	Sql("CREATE TABLE public.t (id int PRIMARY KEY, v text)");
	Sql("INSERT INTO public.t SELECT g, 'v' || g FROM generate_series(1, 100) g");
	DuckpipeOk({"add-table", "public.t"});
	Start(Config());
	ASSERT_TRUE(WaitTableState("public.t", "STREAMING")) << TableState("public.t");
	Sql("INSERT INTO public.t VALUES (1000, 'streamed')");
	EXPECT_TRUE(WaitLakeEqualsSource("public.t"));
	Sql("INSERT INTO public.t VALUES (1001, 'maybe buffered at the stop')");
	auto took = Stop();
	EXPECT_LT(took.count(), 5000) << "Run() took " << took.count() << " ms to return";
	EXPECT_TRUE(error_.empty()) << error_;
	// A stop requested before Run() even started makes it return at once too.
	pipeline::Pipeline early(Config());
	early.RequestStop();
	auto start = std::chrono::steady_clock::now();
	early.Run();
	EXPECT_LT(std::chrono::duration_cast<std::chrono::milliseconds>(std::chrono::steady_clock::now() - start).count(),
	          5000);
}

// Metadata written without a notification (triggers off) is picked up on Wake(), not by a poll: the
// periodic check is ten minutes away.
TEST_F(PipelineApiTest, WakeStartsAJustAddedGroupAndTable) {
	Sql("CREATE TABLE public.w (id int PRIMARY KEY, v text)");
	Sql("INSERT INTO public.w SELECT g, 'w' || g FROM generate_series(1, 50) g");
	auto config = Config();
	config.groups = {"later"};
	config.reconcile_interval_ms = 600000;
	Start(config);
	{
		auto quiet = Connect();
		quiet->Exec("SET session_replication_role = replica"); // no trigger, so no NOTIFY
		meta::MetadataStore store(*quiet);
		store.CreateGroup("later");
		meta::MetadataStore::AddTableRequest request;
		request.source = "public.w";
		request.group = "later";
		store.AddTable(request);
	}
	EXPECT_FALSE(WaitFor([&] { return TableState("public.w") != "PENDING"; }, 1500ms))
	    << "the table started without Wake(): the test cannot tell Wake() from a poll";
	pipeline_->Wake();
	EXPECT_TRUE(WaitTableState("public.w", "STREAMING", 30s)) << TableState("public.w");
	EXPECT_TRUE(WaitLakeEqualsSource("public.w", 30s, "public.w_ducklake"));
	Stop();
}

// A long flush interval reloaded to a short one: the row the worker buffers lands.
TEST_F(PipelineApiTest, ReloadedFlushIntervalTakesEffect) {
	Sql("CREATE TABLE public.r (id int PRIMARY KEY, v text)");
	Sql("INSERT INTO public.r SELECT g, 'r' || g FROM generate_series(1, 10) g");
	DuckpipeOk({"add-table", "public.r"});
	auto config = Config();
	config.flush_interval_ms = 600000;
	Start(config);
	ASSERT_TRUE(WaitTableState("public.r", "STREAMING")) << TableState("public.r");
	ASSERT_TRUE(WaitLakeCount("public.r_ducklake", 10));
	Sql("INSERT INTO public.r VALUES (11, 'buffered')");
	EXPECT_FALSE(WaitFor([&] { return LakeCount("public.r_ducklake") == 11; }, 2s, 250ms))
	    << "flushed before the reload: the interval was not in force";
	config.flush_interval_ms = 200;
	config.max_queued_bytes = 1 << 20;
	pipeline_->Reload(config);
	EXPECT_TRUE(WaitLakeEqualsSource("public.r", 20s));
	Stop();
}

// The daemon maps SIGHUP to a reload and keeps running; SIGTERM to a stop.
TEST_F(PipelineApiTest, DaemonReloadsOnSighup) {
	Sql("CREATE TABLE public.h (id int PRIMARY KEY, v text)");
	DuckpipeOk({"add-table", "public.h"});
	auto daemon = StartDaemon();
	ASSERT_TRUE(WaitTableState("public.h", "STREAMING")) << TableState("public.h");
	kill(daemon->Pid(), SIGHUP);
	ASSERT_TRUE(WaitFor([&] { return CountLog("event=pipeline.reloaded") == 1; }, 10s)) << LogTail(10);
	Sql("INSERT INTO public.h VALUES (1, 'after reload')");
	EXPECT_TRUE(WaitLakeEqualsSource("public.h"));
	EXPECT_TRUE(daemon->IsRunning());
	EXPECT_EQ(daemon->Terminate(), 0);
}

} // namespace duckpipe::test
