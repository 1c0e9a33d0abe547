#include "core/common/error.hpp"
#include "core/meta/metadata_store.hpp"
#include "core/meta/migrations.hpp"
#include "core/pg/pg_connection.hpp"
#include "harness/daemon_process.hpp"
#include "harness/pg_cluster.hpp"

#include <gtest/gtest.h>

using namespace duckpipe;
using namespace duckpipe::meta;
using duckpipe::test::PgCluster;
using duckpipe::test::WaitFor;

class MetadataStoreTest : public ::testing::Test {
protected:
	void SetUp() override {
		db_ = PgCluster::Shared().CreateDatabase("meta");
		conn_ = std::make_unique<PgConnection>(PgCluster::Shared().Conninfo(db_));
	}
	std::string db_;
	std::unique_ptr<PgConnection> conn_;
};

TEST_F(MetadataStoreTest, MigrationsCreateTheSchemaOnceAndAreIdempotent) {
	EXPECT_EQ(CurrentMetadataVersion(*conn_), 0);
	auto applied = Migrate(*conn_);
	ASSERT_EQ(applied.size(), AllMigrations().size());
	EXPECT_EQ(CurrentMetadataVersion(*conn_), LatestMigrationVersion());
	EXPECT_TRUE(Migrate(*conn_).empty());
	auto tables = conn_->Exec("SELECT string_agg(table_name, ',' ORDER BY table_name) FROM information_schema.tables "
	                          "WHERE table_schema = 'duckpipe'");
	EXPECT_EQ(tables.Get(0, 0), "global_config,schema_migrations,sync_groups,table_mappings,table_progress");
}

TEST_F(MetadataStoreTest, ConcurrentMigrationsDoNotCollide) {
	PgConnection other(PgCluster::Shared().Conninfo(db_));
	PgTransaction hold(other);
	other.Exec("SELECT pg_advisory_xact_lock(7491550217301)");
	std::thread t([&] { Migrate(*conn_); });
	// Blocked behind the lock: the migrating session waits on the advisory lock.
	PgConnection watch(PgCluster::Shared().Conninfo(db_));
	EXPECT_TRUE(WaitFor(
	    [&] {
		    return watch
		               .Exec("SELECT count(*) FROM pg_stat_activity WHERE datname = current_database() AND "
		                     "wait_event_type = 'Lock' AND wait_event = 'advisory'")
		               .GetInt(0, 0) == 1;
	    },
	    std::chrono::seconds(10)));
	EXPECT_EQ(CurrentMetadataVersion(other), 0);
	hold.Commit();
	t.join();
	EXPECT_EQ(CurrentMetadataVersion(other), LatestMigrationVersion());
	EXPECT_TRUE(Migrate(other).empty());
}

TEST_F(MetadataStoreTest, NewerSchemaIsRefused) {
	Migrate(*conn_);
	conn_->Exec("INSERT INTO duckpipe.schema_migrations VALUES (999, 'future')");
	try {
		Migrate(*conn_);
		FAIL();
	} catch (const Error &e) {
		EXPECT_EQ(e.Kind(), ErrorKind::Config);
		EXPECT_NE(std::string(e.what()).find("version 999"), std::string::npos) << e.what();
		EXPECT_NE(std::string(e.what()).find("upgrade duckpipe"), std::string::npos) << e.what();
	}
}

TEST_F(MetadataStoreTest, GroupsAndTablesRoundTrip) {
	MetadataStore store(*conn_);
	conn_->Exec("CREATE SCHEMA sales; CREATE TABLE sales.orders(id int primary key, v text)");
	auto mapping = store.AddTable({.source = "sales.orders"});
	EXPECT_EQ(mapping.group_name, "default");
	EXPECT_EQ(mapping.target_schema, "sales");
	EXPECT_EQ(mapping.target_table, "orders_ducklake");
	EXPECT_EQ(mapping.state, TableState::Pending);
	EXPECT_EQ(mapping.source_oid,
	          static_cast<uint32_t>(conn_->Exec("SELECT 'sales.orders'::regclass::oid").GetInt(0, 0)));

	auto group = store.GetGroup("default");
	EXPECT_EQ(group.publication, "duckpipe_pub_default");
	EXPECT_EQ(group.slot_name, "duckpipe_slot_default");

	// The same source twice is refused with a pointer to resync.
	try {
		store.AddTable({.source = "sales.orders"});
		FAIL();
	} catch (const Error &e) {
		EXPECT_NE(std::string(e.what()).find("resync-table"), std::string::npos) << e.what();
	}
	// A missing table names itself.
	try {
		store.AddTable({.source = "sales.nope"});
		FAIL();
	} catch (const Error &e) {
		EXPECT_NE(std::string(e.what()).find("sales.nope"), std::string::npos) << e.what();
	}

	store.CreateGroup("analytics", std::nullopt, std::string("my_slot"));
	conn_->Exec("CREATE TABLE \"Mixed Case\"(id int primary key)");
	auto m2 = store.AddTable({.source = "\"Mixed Case\"", .target = "lake.mc", .group = "analytics"});
	EXPECT_EQ(m2.source_table, "Mixed Case");
	EXPECT_EQ(m2.target_schema, "lake");
	EXPECT_EQ(m2.target_table, "mc");
	EXPECT_EQ(store.ListTables("analytics").size(), 1u);
	EXPECT_EQ(store.ListTables().size(), 2u);
	EXPECT_EQ(store.FindTable("lake.mc")->id, m2.id);
	EXPECT_EQ(store.FindTable("sales.orders")->id, mapping.id);

	EXPECT_THROW(store.DropGroup("analytics"), Error);
	store.DropGroup("analytics", true);
	EXPECT_EQ(store.ListTables().size(), 1u);
}

TEST_F(MetadataStoreTest, StateErrorsBackoffAndResync) {
	MetadataStore store(*conn_);
	conn_->Exec("CREATE TABLE t(id int primary key)");
	auto m = store.AddTable({.source = "t"});
	store.SetState(m.id, m.generation, TableState::Snapshot);
	store.SetSnapshotLsn(m.id, m.generation, Lsn::Parse("0/16B3748"));
	store.RecordProgress(m.id, m.generation, Lsn::Parse("0/16B3800"), 42);
	auto got = *store.FindTableById(m.id);
	EXPECT_EQ(got.state, TableState::Snapshot);
	EXPECT_EQ(got.snapshot_lsn->ToString(), "0/16B3748");
	EXPECT_EQ(got.applied_lsn->ToString(), "0/16B3800");
	EXPECT_EQ(got.rows_synced, 42);

	store.RecordError(m.id, m.generation, "boom");
	store.RecordError(m.id, m.generation, "boom again");
	got = *store.FindTableById(m.id);
	EXPECT_EQ(got.state, TableState::Errored);
	EXPECT_EQ(got.failure_count, 2);
	EXPECT_EQ(*got.error_message, "boom again");
	// Second failure waits 2 s (2^1), growing exponentially.
	auto wait = conn_->Exec("SELECT round(extract(epoch FROM retry_at - error_at)) FROM duckpipe.table_mappings "
	                        "WHERE id = " +
	                        std::to_string(m.id));
	EXPECT_EQ(wait.Get(0, 0), "2");

	// An update from an older generation is ignored after a resync.
	store.ResyncTable(m.id);
	store.SetState(m.id, m.generation, TableState::Streaming);
	got = *store.FindTableById(m.id);
	EXPECT_EQ(got.generation, m.generation + 1);
	EXPECT_EQ(got.state, TableState::Pending);
	EXPECT_FALSE(got.error_message.has_value());
	EXPECT_EQ(got.rows_synced, 0);
}

TEST_F(MetadataStoreTest, ChangesNotifyListeners) {
	MetadataStore store(*conn_);
	PgConnection listener(PgCluster::Shared().Conninfo(db_));
	listener.Exec("LISTEN duckpipe_changed");
	conn_->Exec("CREATE TABLE t(id int primary key)");
	store.AddTable({.source = "t"});
	std::vector<PgNotification> got;
	for (int i = 0; i < 50 && got.empty(); i++) {
		listener.WaitReadable(100);
		got = listener.DrainNotifications();
	}
	ASSERT_FALSE(got.empty());
	EXPECT_EQ(got[0].channel, "duckpipe_changed");
}
