// Migration 0006 (the layout shared with the extension) and the stored settings.
#include "core/common/error.hpp"
#include "core/meta/metadata_store.hpp"
#include "core/meta/migrations.hpp"
#include "core/pg/pg_connection.hpp"
#include "harness/pg_cluster.hpp"

#include <gtest/gtest.h>

using namespace duckpipe;
using namespace duckpipe::meta;
using duckpipe::test::PgCluster;

class ExtensionLayoutTest : public ::testing::Test {
protected:
	void SetUp() override {
		db_ = PgCluster::Shared().CreateDatabase("layout");
		conn_ = std::make_unique<PgConnection>(PgCluster::Shared().Conninfo(db_));
	}
	void MigrateTo(int version) {
		conn_->Exec("CREATE SCHEMA duckpipe");
		conn_->Exec("CREATE TABLE duckpipe.schema_migrations (version integer PRIMARY KEY, name text NOT NULL, "
		            "applied_at timestamptz NOT NULL DEFAULT now())");
		for (const auto &m : AllMigrations()) {
			if (m.version <= version) {
				conn_->Exec(m.sql);
				conn_->Exec("INSERT INTO duckpipe.schema_migrations(version, name) VALUES ($1, $2)",
				            {std::to_string(m.version), std::string(m.name)});
			}
		}
	}
	std::string Scalar(const std::string &sql) { return std::string(conn_->Exec(sql).Get(0, 0)); }
	template <class F>
	std::string ErrorOf(F f) {
		try {
			f();
		} catch (const Error &e) {
			return e.what();
		}
		return "";
	}

	std::string db_;
	std::unique_ptr<PgConnection> conn_;
};

// Daemon metadata made before 0006 moves over: groups get ids and mode 'daemon', tables their
// group's id; the groups made afterwards default to bgworker (the extension's API).
TEST_F(ExtensionLayoutTest, MigrationMovesDaemonMetadataOver) {
	MigrateTo(5);
	conn_->Exec("INSERT INTO duckpipe.sync_groups(name, publication, slot_name) VALUES ('default', 'p1', 's1'), "
	            "('g2', 'p2', 's2')");
	conn_->Exec("INSERT INTO duckpipe.table_mappings(group_name, source_oid, source_schema, source_table, "
	            "target_schema, target_table) VALUES ('g2', 1, 'public', 'a', 'public', 'a_l'), "
	            "('default', 2, 'public', 'b', 'public', 'b_l'), ('g2', 3, 'public', 'c', 'public', 'c_l')");
	EXPECT_EQ(Migrate(*conn_), (std::vector<int>{6, 7})); // 7: compaction figures
	EXPECT_EQ(Scalar("SELECT string_agg(name || ':' || mode || ':' || config::text, ',' ORDER BY id) "
	                 "FROM duckpipe.sync_groups"),
	          "default:daemon:{},g2:daemon:{}");
	EXPECT_EQ(Scalar("SELECT count(DISTINCT id) FROM duckpipe.sync_groups WHERE id IS NOT NULL"), "2");
	EXPECT_EQ(Scalar("SELECT string_agg(m.source_table || ':' || g.name, ',' ORDER BY m.source_table) FROM "
	                 "duckpipe.table_mappings m JOIN duckpipe.sync_groups g ON g.id = m.group_id"),
	          "a:g2,b:default,c:g2");
	EXPECT_EQ(Scalar("SELECT count(*) FROM information_schema.columns WHERE table_schema = 'duckpipe' AND "
	                 "table_name = 'table_mappings' AND column_name = 'group_name'"),
	          "0");
	// The index on the group column is kept, the key is the id, the name stays unique.
	EXPECT_EQ(Scalar("SELECT count(*) FROM pg_indexes WHERE schemaname = 'duckpipe' AND tablename = "
	                 "'table_mappings' AND indexdef LIKE '%(group_id)%'"),
	          "1");
	EXPECT_THROW(conn_->Exec("INSERT INTO duckpipe.sync_groups(name, publication, slot_name) VALUES ('g2', 'x', 'y')"),
	             Error);
	EXPECT_THROW(conn_->Exec("INSERT INTO duckpipe.table_mappings(group_id, source_oid, source_schema, source_table, "
	                         "target_schema, target_table) VALUES (999, 9, 'public', 'z', 'public', 'z_l')"),
	             Error);
	conn_->Exec("INSERT INTO duckpipe.sync_groups(name, publication, slot_name) VALUES ('g3', 'p3', 's3')");
	EXPECT_EQ(Scalar("SELECT mode FROM duckpipe.sync_groups WHERE name = 'g3'"), "bgworker");
	EXPECT_THROW(conn_->Exec("UPDATE duckpipe.sync_groups SET mode = 'other' WHERE name = 'g3'"), Error);

	MetadataStore store(*conn_);
	auto g2 = store.GetGroup("g2");
	EXPECT_EQ(g2.mode, GroupMode::Daemon);
	auto tables = store.ListTables("g2");
	ASSERT_EQ(tables.size(), 2u);
	EXPECT_EQ(tables[0].group_id, g2.id);
	EXPECT_EQ(tables[0].group_name, "g2");
}

// Inside CREATE EXTENSION every migration runs in the one transaction of the script.
TEST_F(ExtensionLayoutTest, EveryMigrationRunsInOneTransaction) {
	PgTransaction tx(*conn_);
	conn_->Exec("CREATE SCHEMA duckpipe");
	for (const auto &m : AllMigrations()) {
		conn_->Exec(m.sql);
	}
	tx.Commit();
	EXPECT_EQ(Scalar("SELECT count(*) FROM duckpipe.global_config"), "0");
}

TEST_F(ExtensionLayoutTest, DaemonGroupsAreOfModeDaemon) {
	MetadataStore store(*conn_);
	EXPECT_EQ(store.EnsureDefaultGroup().mode, GroupMode::Daemon);
	EXPECT_EQ(store.CreateGroup("w", {}, {}, {}, GroupMode::Bgworker).mode, GroupMode::Bgworker);
	EXPECT_GT(store.GetGroup("w").id, store.GetGroup("default").id);
}

TEST_F(ExtensionLayoutTest, ConfigAtEveryScopeIsValidatedAndStored) {
	MetadataStore store(*conn_);
	conn_->Exec("CREATE TABLE t(id int PRIMARY KEY)");
	store.CreateGroup("g");
	auto m = store.AddTable({.source = "t", .group = "g"});

	store.SetGlobalConfig("flush_interval_ms", "2000");
	store.SetGlobalConfig("flush_interval_ms", "+3000");
	store.SetGroupConfig("g", "max_queued_bytes", "4194304");
	store.SetTableConfig(m.id, "flush_batch_threshold", "10");
	EXPECT_EQ(store.GlobalConfig(), (ConfigMap{{"flush_interval_ms", "3000"}}));
	EXPECT_EQ(store.GetGroup("g").config, (ConfigMap{{"max_queued_bytes", "4194304"}}));
	EXPECT_EQ(store.FindTableById(m.id)->config, (ConfigMap{{"flush_batch_threshold", "10"}}));
	// A number written as JSON by hand reads the same.
	conn_->Exec("UPDATE duckpipe.sync_groups SET config = config || '{\"flush_interval_ms\": 250}' WHERE name = 'g'");
	EXPECT_EQ(store.GetGroup("g").config.at("flush_interval_ms"), "250");

	// Refused, saying what to do; nothing stored.
	auto unknown = ErrorOf([&] { store.SetGlobalConfig("flush_intervall", "1"); });
	EXPECT_NE(unknown.find("unknown configuration key 'flush_intervall'"), std::string::npos) << unknown;
	EXPECT_NE(unknown.find("flush_interval_ms"), std::string::npos) << unknown;
	auto scope = ErrorOf([&] { store.SetTableConfig(m.id, "max_queued_bytes", "4194304"); });
	EXPECT_NE(scope.find("cannot be set per table"), std::string::npos) << scope;
	EXPECT_NE(scope.find("global or group"), std::string::npos) << scope;
	auto range = ErrorOf([&] { store.SetGroupConfig("g", "duckdb_threads", "0"); });
	EXPECT_NE(range.find("duckdb_threads"), std::string::npos) << range;
	EXPECT_NE(range.find("from 1 to 256"), std::string::npos) << range;
	EXPECT_NE(ErrorOf([&] { store.SetGroupConfig("nope", "duckdb_threads", "2"); }).find("no sync group named 'nope'"),
	          std::string::npos);
	EXPECT_EQ(store.GetGroup("g").config.count("duckdb_threads"), 0u);

	// Unset: the lower layer applies again.
	store.SetGlobalConfig("flush_interval_ms", std::nullopt);
	store.SetTableConfig(m.id, "flush_batch_threshold", std::nullopt);
	EXPECT_TRUE(store.GlobalConfig().empty());
	EXPECT_TRUE(store.FindTableById(m.id)->config.empty());
}

TEST_F(ExtensionLayoutTest, ConfigChangesNotifyRunningPipelines) {
	MetadataStore store(*conn_);
	conn_->Exec("CREATE TABLE t(id int PRIMARY KEY)");
	auto m = store.AddTable({.source = "t"});
	PgConnection listener(PgCluster::Shared().Conninfo(db_));
	listener.Exec("LISTEN duckpipe_changed");
	auto notified = [&](const std::function<void()> &change) {
		listener.DrainNotifications();
		change();
		for (int i = 0; i < 50; i++) {
			listener.WaitReadable(100);
			if (!listener.DrainNotifications().empty()) {
				return true;
			}
		}
		return false;
	};
	EXPECT_TRUE(notified([&] { store.SetGlobalConfig("flush_interval_ms", "100"); }));
	EXPECT_TRUE(notified([&] { store.SetGroupConfig("default", "flush_interval_ms", "100"); }));
	EXPECT_TRUE(notified([&] { store.SetTableConfig(m.id, "flush_interval_ms", "100"); }));
}

// The snapshot figures are kept per generation, like every other runtime column.
TEST_F(ExtensionLayoutTest, SnapshotStatsAreRecorded) {
	MetadataStore store(*conn_);
	conn_->Exec("CREATE TABLE t(id int PRIMARY KEY)");
	auto m = store.AddTable({.source = "t"});
	EXPECT_FALSE(m.snapshot_duration_ms.has_value());
	store.RecordSnapshotStats(m.id, m.generation, 1234, 56);
	store.RecordSnapshotStats(m.id, m.generation + 1, 1, 1); // a newer generation's: not this one
	auto got = *store.FindTableById(m.id);
	EXPECT_EQ(got.snapshot_duration_ms, 1234);
	EXPECT_EQ(got.snapshot_rows, 56);
}

// The daemon never migrates metadata that belongs to the extension (there is no extension in this
// cluster to install, so the decision is tested on its own).
TEST(ExtensionOwnership, OlderExtensionMetadataIsRefused) {
	EXPECT_FALSE(ExtensionOwnsSchema(std::nullopt, 3, 6).has_value());
	EXPECT_FALSE(ExtensionOwnsSchema(std::string("1.0"), 6, 6).has_value());
	auto refusal = ExtensionOwnsSchema(std::string("1.0"), 5, 6);
	ASSERT_TRUE(refusal.has_value());
	std::string text = refusal->what();
	EXPECT_NE(text.find("the duckpipe schema belongs to the pg_duckpipe extension at version 1.0"), std::string::npos)
	    << text;
	EXPECT_NE(text.find("ALTER EXTENSION pg_duckpipe UPDATE"), std::string::npos) << text;
}
