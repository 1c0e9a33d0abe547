// duckpipe.table_progress keyed by source: mapping ids are only unique per metadata database.
#include "core/common/error.hpp"
#include "core/meta/migrations.hpp"
#include "core/meta/progress_store.hpp"
#include "core/pg/pg_connection.hpp"
#include "harness/pg_cluster.hpp"

#include <gtest/gtest.h>

using namespace duckpipe;
using namespace duckpipe::meta;
using duckpipe::test::PgCluster;

class ProgressStoreTest : public ::testing::Test {
protected:
	void SetUp() override {
		db_ = PgCluster::Shared().CreateDatabase("progress");
		conn_ = std::make_unique<PgConnection>(PgCluster::Shared().Conninfo(db_));
	}
	// The duckpipe schema as a release before migration 3 left it.
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
	static TableMapping Mapping(SourceIdentity source, int64_t id, int generation = 1) {
		TableMapping m;
		m.id = id;
		m.generation = generation;
		m.source_schema = "public";
		m.source_table = "t" + std::to_string(id);
		m.source_identity = source;
		return m;
	}
	std::string db_;
	std::unique_ptr<PgConnection> conn_;
};

TEST_F(ProgressStoreTest, RowsWrittenBeforeMigration3BelongToThisDatabase) {
	MigrateTo(2);
	conn_->Exec("INSERT INTO duckpipe.table_progress(mapping_id, generation, applied_lsn, rows_synced, source_columns) "
	            "VALUES (7, 2, '0/1234', 10, '[]'), (8, 1, '0/99', 5, NULL)");
	auto applied = Migrate(*conn_);
	ASSERT_FALSE(applied.empty());
	EXPECT_EQ(applied.front(), 3);
	auto local = ProgressStore::LocalIdentity(*conn_);
	ASSERT_TRUE(local.IsValid());
	EXPECT_EQ(local.database_oid,
	          static_cast<uint32_t>(
	              conn_->Exec("SELECT oid FROM pg_database WHERE datname = current_database()").GetInt(0, 0)));

	ProgressStore store(*conn_);
	auto p = store.Load(Mapping(local, 7, 2));
	ASSERT_TRUE(p.has_value());
	EXPECT_EQ(p->applied.ToString(), "0/1234");
	EXPECT_EQ(p->source_columns.value_or(""), "[]");
	EXPECT_FALSE(store.Load(Mapping(local, 7, 1)).has_value()); // an older generation is not this one's
	EXPECT_EQ(store.Load(Mapping(local, 8)).value().applied.ToString(), "0/99");
	EXPECT_FALSE(
	    store
	        .Load(Mapping({.system_identifier = local.system_identifier + 1, .database_oid = local.database_oid}, 7, 2))
	        .has_value());
}

TEST_F(ProgressStoreTest, EqualMappingIdsOfTwoSourcesKeepTheirOwnRows) {
	Migrate(*conn_);
	auto local = ProgressStore::LocalIdentity(*conn_);
	SourceIdentity other{.system_identifier = 42, .database_oid = 16384};
	ProgressStore store(*conn_);
	store.Record(Mapping(local, 1), Lsn::Parse("0/100"), 3, true, "[]");
	store.Record(Mapping(other, 1), Lsn::Parse("5/0"), 4, true, "[]");
	store.Record(Mapping(local, 1), Lsn::Parse("0/200"), 2, false, "[]");
	EXPECT_EQ(store.Load(Mapping(local, 1)).value().applied.ToString(), "0/200");
	EXPECT_EQ(store.Load(Mapping(other, 1)).value().applied.ToString(), "5/0");
	EXPECT_EQ(conn_->Exec("SELECT rows_synced FROM duckpipe.table_progress WHERE source_system_id = 42").GetInt(0, 0),
	          4);
	EXPECT_EQ(conn_->Exec("SELECT rows_synced FROM duckpipe.table_progress WHERE source_system_id <> 42").GetInt(0, 0),
	          5);

	// remove-table/resync-table in this database forget its own mapping 1, not the other source's.
	store.ForgetLocal({1});
	EXPECT_FALSE(store.Load(Mapping(local, 1)).has_value());
	EXPECT_TRUE(store.Load(Mapping(other, 1)).has_value());

	TableMapping without_identity = Mapping({}, 1);
	EXPECT_THROW(store.Load(without_identity), duckpipe::Error);
}

TEST_F(ProgressStoreTest, ALakeCatalogOfItsOwnHandsOldRowsToItsSource) {
	MigrateTo(2);
	conn_->Exec("INSERT INTO duckpipe.table_progress(mapping_id, generation, applied_lsn) VALUES (1, 1, '0/500')");
	Migrate(*conn_);
	SourceIdentity owner{.system_identifier = 77, .database_oid = 16999};
	ProgressStore store(*conn_);
	EXPECT_EQ(store.AdoptLegacyRows(owner), 1);
	EXPECT_EQ(store.Load(Mapping(owner, 1)).value().applied.ToString(), "0/500");
	EXPECT_FALSE(store.Load(Mapping(ProgressStore::LocalIdentity(*conn_), 1)).has_value());
}

TEST_F(ProgressStoreTest, ACatalogThatIsAlsoAMetadataDatabaseKeepsItsRows) {
	MigrateTo(2);
	conn_->Exec("INSERT INTO duckpipe.sync_groups(name, publication, slot_name) VALUES ('g', 'p', 's')");
	conn_->Exec("INSERT INTO duckpipe.table_mappings(group_name, source_oid, source_schema, source_table, "
	            "target_schema, target_table) VALUES ('g', 1, 'public', 't', 'public', 't_ducklake')");
	conn_->Exec("INSERT INTO duckpipe.table_progress(mapping_id, generation, applied_lsn) VALUES (1, 1, '0/500')");
	Migrate(*conn_);
	ProgressStore store(*conn_);
	EXPECT_EQ(store.AdoptLegacyRows({.system_identifier = 77, .database_oid = 16999}), 0);
	EXPECT_TRUE(store.Load(Mapping(ProgressStore::LocalIdentity(*conn_), 1)).has_value());
}
