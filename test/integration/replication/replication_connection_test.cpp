#include "harness/daemon_process.hpp"
#include "replication_fixture.hpp"

#include "core/common/error.hpp"

#include <variant>

using namespace duckpipe;
using namespace duckpipe::test;

namespace {

// Runs f, expects an Error and returns it.
template <class F>
Error Expect(F &&f) {
	try {
		f();
	} catch (const Error &e) {
		return e;
	}
	ADD_FAILURE() << "no error";
	return Error(ErrorKind::Internal, "none");
}

} // namespace

TEST(ReplicationConnection, IdentifySystem) {
	auto &cluster = PgCluster::Shared();
	auto db = cluster.CreateDatabase("ident");
	ReplicationConnection repl(cluster.Conninfo(db));
	auto id = repl.IdentifySystem();
	EXPECT_EQ(id.dbname, db);
	EXPECT_EQ(id.timeline, 1u);
	EXPECT_TRUE(id.xlogpos.IsValid());
	EXPECT_GT(id.system_id.size(), 10u);
	EXPECT_EQ(id.system_id,
	          cluster.Psql(db, "SELECT system_identifier FROM pg_control_system()").substr(0, id.system_id.size()));
	repl.CheckWalLevel();
}

TEST(ReplicationConnection, SlotLifecycleAndExportedSnapshot) {
	auto &cluster = PgCluster::Shared();
	auto db = cluster.CreateDatabase("slots");
	PgConnection sql(cluster.Conninfo(db));
	sql.Exec("CREATE TABLE t (id int PRIMARY KEY); INSERT INTO t VALUES (1)");
	ReplicationConnection repl(cluster.Conninfo(db));
	auto slot = repl.CreateSlot("lifecycle_slot", false, SlotSnapshot::Export);
	EXPECT_EQ(slot.slot_name, "lifecycle_slot");
	EXPECT_EQ(slot.output_plugin, "pgoutput");
	EXPECT_TRUE(slot.consistent_point.IsValid());
	ASSERT_FALSE(slot.snapshot_name.empty());
	// The exported snapshot predates this insert: the initial copy sees exactly the slot's start.
	sql.Exec("INSERT INTO t VALUES (2)");
	{
		PgConnection copy(cluster.Conninfo(db));
		PgTransaction tx(copy, "REPEATABLE READ");
		copy.Exec("SET TRANSACTION SNAPSHOT " + copy.QuoteLiteral(slot.snapshot_name));
		EXPECT_EQ(copy.Exec("SELECT count(*) FROM t").GetInt(0, 0), 1);
	}
	auto state = repl.QuerySlot("lifecycle_slot");
	ASSERT_TRUE(state.has_value());
	EXPECT_EQ(state->plugin, "pgoutput");
	EXPECT_EQ(state->slot_type, "logical");
	EXPECT_EQ(state->database, db);
	EXPECT_FALSE(state->temporary);
	EXPECT_EQ(state->confirmed_flush_lsn, slot.consistent_point);

	auto dup = Expect([&] { repl.CreateSlot("lifecycle_slot", false, SlotSnapshot::Nothing); });
	EXPECT_EQ(dup.Context().sqlstate, "42710");
	EXPECT_FALSE(dup.Context().hint.empty());

	repl.DropSlot("lifecycle_slot");
	EXPECT_FALSE(repl.QuerySlot("lifecycle_slot").has_value());
	auto gone = Expect([&] { repl.DropSlot("lifecycle_slot"); });
	EXPECT_EQ(gone.Context().sqlstate, "42704");
	EXPECT_NE(gone.Context().hint.find("pg_replication_slots"), std::string::npos) << gone.what();

	// A temporary slot lives as long as its connection.
	{
		ReplicationConnection temp(cluster.Conninfo(db));
		temp.CreateSlot("temp_slot", true, SlotSnapshot::Nothing);
		EXPECT_TRUE(repl.QuerySlot("temp_slot").has_value());
	}
	EXPECT_TRUE(WaitFor([&] { return !repl.QuerySlot("temp_slot").has_value(); }, std::chrono::seconds(5),
	                    std::chrono::milliseconds(50)));
}

TEST(ReplicationConnection, CommandsAreRefusedWhileStreaming) {
	auto &cluster = PgCluster::Shared();
	auto db = cluster.CreateDatabase("busy");
	PgConnection sql(cluster.Conninfo(db));
	sql.Exec("CREATE PUBLICATION pub FOR ALL TABLES");
	ReplicationConnection repl(cluster.Conninfo(db));
	auto slot = repl.CreateSlot("busy_slot", true, SlotSnapshot::Nothing);
	StreamOptions o;
	o.slot_name = slot.slot_name;
	o.publications = {"pub"};
	ReplicationStream stream(repl, o);
	EXPECT_TRUE(repl.Streaming());
	EXPECT_EQ(Expect([&] { repl.IdentifySystem(); }).Kind(), ErrorKind::Internal);
	EXPECT_EQ(Expect([&] { ReplicationStream second(repl, o); }).Kind(), ErrorKind::Internal);
	stream.Stop();
	EXPECT_FALSE(repl.Streaming());
	repl.IdentifySystem();
}

// A stop while the server is still sending a large transaction: StopOrAbandon gives up at its
// deadline instead of reading all of it, the connection refuses commands until it is closed, and
// once it is the slot is free and the next stream sends the transaction again from its start.
TEST(ReplicationConnection, StopOrAbandonLeavesALargeTransactionToTheNextStream) {
	auto &cluster = PgCluster::Shared();
	auto db = cluster.CreateDatabase("abandon");
	PgConnection sql(cluster.Conninfo(db));
	sql.Exec("CREATE TABLE t (id int PRIMARY KEY, v text); CREATE PUBLICATION pub FOR TABLE t");
	StreamOptions o;
	o.slot_name = "abandon_slot";
	o.publications = {"pub"};
	o.proto_version = 1;
	o.streaming = false;
	{
		ReplicationConnection repl(cluster.Conninfo(db));
		repl.CreateSlot(o.slot_name, false, SlotSnapshot::Nothing);
		// Idle: the server ends the command, the connection runs commands again.
		ReplicationStream idle(repl, o);
		EXPECT_TRUE(idle.StopOrAbandon(5000));
		EXPECT_FALSE(repl.Streaming());
		repl.IdentifySystem();
	}
	// 13 MB of pgoutput: far more than the socket buffers hold, so the server is still sending when
	// the stop comes.
	constexpr int kRows = 100000;
	sql.Exec("INSERT INTO t SELECT g, repeat('x', 100) FROM generate_series(1, " + std::to_string(kRows) + ") g");
	auto begin_of_transaction = [&](ReplicationStream &stream) {
		auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(60);
		while (std::chrono::steady_clock::now() < deadline) {
			auto event = stream.Next(200);
			if (auto *data = std::get_if<XLogData>(&event); data && data->payload.at(0) == 'B') {
				return true;
			}
		}
		return false;
	};
	{
		ReplicationConnection repl(cluster.Conninfo(db));
		ReplicationStream stream(repl, o);
		ASSERT_TRUE(begin_of_transaction(stream));
		// A deadline already past: how fast the server answers the CopyDone does not matter.
		EXPECT_FALSE(stream.StopOrAbandon(0));
		EXPECT_FALSE(stream.Active());
		EXPECT_TRUE(repl.Streaming()); // still in the COPY: nothing else may run on it
		EXPECT_EQ(Expect([&] { repl.IdentifySystem(); }).Kind(), ErrorKind::Internal);
	}
	ReplicationConnection repl(cluster.Conninfo(db));
	ASSERT_TRUE(WaitFor(
	    [&] {
		    auto slot = repl.QuerySlot(o.slot_name);
		    return slot && !slot->active;
	    },
	    std::chrono::seconds(30), std::chrono::milliseconds(50)));
	ReplicationStream stream(repl, o);
	ASSERT_TRUE(begin_of_transaction(stream));
	int inserts = 0;
	bool committed = false;
	auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(120);
	while (!committed && std::chrono::steady_clock::now() < deadline) {
		auto event = stream.Next(200);
		if (auto *data = std::get_if<XLogData>(&event)) {
			inserts += data->payload.at(0) == 'I' ? 1 : 0;
			committed = data->payload.at(0) == 'C';
		}
	}
	EXPECT_TRUE(committed);
	EXPECT_EQ(inserts, kRows);
	stream.Stop();
	repl.DropSlot(o.slot_name);
}

TEST(ReplicationConnection, RoleWithoutReplicationPrivilege) {
	auto &cluster = PgCluster::Shared();
	cluster.Psql("postgres", "DO $$ BEGIN CREATE ROLE no_repl LOGIN NOREPLICATION; EXCEPTION WHEN duplicate_object "
	                         "THEN NULL; END $$");
	auto e = Expect([&] { ReplicationConnection repl(cluster.Conninfo() + " user=no_repl"); });
	EXPECT_EQ(e.Kind(), ErrorKind::Source) << e.what();
	EXPECT_NE(e.Context().hint.find("REPLICATION"), std::string::npos) << e.what();
	EXPECT_FALSE(e.Retryable());
}

TEST(ReplicationConnection, UnreachableServer) {
	auto e = Expect([] { ReplicationConnection repl("host=127.0.0.1 port=1 user=x password=secret123 dbname=x"); });
	EXPECT_EQ(e.Kind(), ErrorKind::Connection);
	EXPECT_TRUE(e.Retryable());
	EXPECT_EQ(std::string(e.what()).find("secret123"), std::string::npos) << e.what();
}

TEST(ReplicationConnection, MissingSlotAtStart) {
	auto &cluster = PgCluster::Shared();
	auto db = cluster.CreateDatabase("noslot");
	ReplicationConnection repl(cluster.Conninfo(db));
	StreamOptions o;
	o.slot_name = "never_created";
	o.publications = {"pub"};
	auto e = Expect([&] { ReplicationStream stream(repl, o); });
	EXPECT_EQ(e.Kind(), ErrorKind::Source) << e.what();
	EXPECT_EQ(e.Context().sqlstate, "42704");
	EXPECT_NE(e.Context().hint.find("create the slot"), std::string::npos) << e.what();
	EXPECT_FALSE(repl.Streaming());
	repl.IdentifySystem(); // still usable
}

TEST_F(ReplicationFixture, MissingPublicationFailsTheStream) {
	sql_->Exec("CREATE TABLE t (id int PRIMARY KEY)");
	Prepare("CREATE PUBLICATION other FOR ALL TABLES");
	StreamOptions o;
	o.slot_name = slot_.slot_name;
	o.publications = {"pub"}; // does not exist
	stream_ = std::make_unique<ReplicationStream>(*repl_, o);
	sql_->Exec("INSERT INTO t VALUES (1)");
	auto e = Expect([&] {
		auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(20);
		while (std::chrono::steady_clock::now() < deadline) {
			stream_->Next(200);
		}
	});
	EXPECT_EQ(e.Kind(), ErrorKind::Source) << e.what();
	EXPECT_EQ(e.Context().sqlstate, "42704") << e.what();
	EXPECT_NE(e.Message().find("publication \"pub\" does not exist"), std::string::npos) << e.what();
	EXPECT_NE(e.Context().hint.find("CREATE PUBLICATION"), std::string::npos) << e.what();
	EXPECT_FALSE(stream_->Active());
}

TEST(ReplicationConnection, WalLevelReplicaIsRefusedWithHint) {
	PgCluster replica(PgCluster::Options{.settings = {{"wal_level", "replica"}}});
	ReplicationConnection repl(replica.Conninfo());
	auto e = Expect([&] { repl.CheckWalLevel(); });
	EXPECT_EQ(e.Kind(), ErrorKind::Source);
	EXPECT_NE(e.Message().find("wal_level = replica"), std::string::npos) << e.what();
	EXPECT_NE(e.Context().hint.find("wal_level = logical"), std::string::npos) << e.what();
	auto create = Expect([&] { repl.CreateSlot("s", false, SlotSnapshot::Nothing); });
	EXPECT_EQ(create.Kind(), ErrorKind::Source) << create.what();
	EXPECT_NE(create.Context().hint.find("wal_level = logical"), std::string::npos) << create.what();
}

TEST(ReplicationConnection, NoFreeReplicationSlot) {
	PgCluster small(PgCluster::Options{.settings = {{"max_replication_slots", "1"}}});
	ReplicationConnection repl(small.Conninfo());
	repl.CreateSlot("only_one", true, SlotSnapshot::Nothing);
	auto e = Expect([&] { repl.CreateSlot("one_too_many", true, SlotSnapshot::Nothing); });
	EXPECT_EQ(e.Kind(), ErrorKind::Source) << e.what();
	EXPECT_EQ(e.Context().sqlstate, "53400");
	EXPECT_NE(e.Context().hint.find("max_replication_slots"), std::string::npos) << e.what();
}
