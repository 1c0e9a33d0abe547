// The SQL API on metadata the daemon made before the extension existed, and the errors that need a
// server setting the pg_regress cluster cannot have (wal_level).
#include "core/common/error.hpp"
#include "core/meta/migrations.hpp"
#include "core/pg/pg_connection.hpp"
#include "core/pg/replication_connection.hpp"
#include "core/pg/replication_stream.hpp"
#include "harness/daemon_process.hpp"
#include "harness/pg_cluster.hpp"

#include <gtest/gtest.h>

#include <memory>
#include <string>

using namespace duckpipe;
using duckpipe::test::PgCluster;
using duckpipe::test::WaitFor;

namespace {

class ExtensionApiTest : public ::testing::Test {
protected:
	static void SetUpTestSuite() { cluster_ = new PgCluster(PgCluster::Options{.extension = true}); }
	static void TearDownTestSuite() {
		delete cluster_;
		cluster_ = nullptr;
	}
	static PgCluster *cluster_;
};
PgCluster *ExtensionApiTest::cluster_ = nullptr;

// The error a statement raises (message, hint), or fails the test when it succeeds.
std::pair<std::string, std::string> ErrorOf(PgConnection &conn, const std::string &sql) {
	try {
		conn.Exec(sql);
	} catch (const Error &e) {
		return {e.Message(), e.Context().hint};
	}
	ADD_FAILURE() << "no error from: " << sql;
	return {};
}

// Metadata as a daemon of metadata version 5 (the last before the extension layout) wrote it: the
// same migrations, recorded the same way, a group of its own and a table it streams.
void WriteVersion5DaemonMetadata(PgConnection &conn) {
	conn.Exec("CREATE SCHEMA duckpipe; CREATE TABLE duckpipe.schema_migrations (version integer PRIMARY KEY, "
	          "name text NOT NULL, applied_at timestamptz NOT NULL DEFAULT now())");
	for (const auto &m : meta::AllMigrations()) {
		if (m.version <= 5) {
			conn.Exec(m.sql);
			conn.Exec("INSERT INTO duckpipe.schema_migrations(version, name) VALUES ($1, $2)",
			          {std::to_string(m.version), std::string(m.name)});
		}
	}
	conn.Exec("INSERT INTO duckpipe.sync_groups(name, publication, slot_name) VALUES "
	          "('default', 'duckpipe_pub_default', 'duckpipe_slot_default'), "
	          "('nightly', 'nightly_pub', 'nightly_slot')");
	conn.Exec(
	    "INSERT INTO duckpipe.table_mappings(group_name, source_oid, source_schema, source_table, "
	    "target_schema, target_table, state, rows_synced) VALUES "
	    "('nightly', 'public.orders'::regclass, 'public', 'orders', 'public', 'orders_ducklake', 'STREAMING', 7)");
}

} // namespace

TEST_F(ExtensionApiTest, CreateExtensionAdoptsDaemonMetadataAndTheApiWorksOnIt) {
	auto db = cluster_->CreateDatabase("adopt");
	PgConnection conn(cluster_->Conninfo(db));
	conn.Exec(
	    "CREATE TABLE public.orders (id integer PRIMARY KEY); CREATE TABLE public.items (id integer PRIMARY KEY)");
	WriteVersion5DaemonMetadata(conn);

	conn.Exec("CREATE EXTENSION pg_duckpipe");

	// The daemon's groups keep running under the daemon; no second default group appears.
	auto groups = conn.Exec("SELECT string_agg(name || ':' || mode || ':' || table_count, ',' ORDER BY name) "
	                        "FROM duckpipe.groups()");
	EXPECT_EQ(groups.Get(0, 0), "default:daemon:0,nightly:daemon:1");
	auto tables = conn.Exec("SELECT string_agg(source_table || '>' || target_table || '@' || sync_group || '#' || "
	                        "rows_synced, ',') FROM duckpipe.tables()");
	EXPECT_EQ(tables.Get(0, 0), "public.orders>public.orders_ducklake@nightly#7");
	auto state = conn.Exec("SELECT m.state, g.name FROM duckpipe.table_mappings m "
	                       "JOIN duckpipe.sync_groups g ON g.id = m.group_id");
	ASSERT_EQ(state.Rows(), 1);
	EXPECT_EQ(state.Get(0, 0), "STREAMING");
	EXPECT_EQ(state.Get(0, 1), "nightly");
	// Every metadata table is the extension's now (DROP EXTENSION and pg_dump treat it so).
	auto strays = conn.Exec("SELECT count(*) FROM pg_class c WHERE c.relnamespace = 'duckpipe'::regnamespace "
	                        "AND c.relkind = 'r' AND NOT EXISTS (SELECT 1 FROM pg_depend d WHERE d.objid = c.oid "
	                        "AND d.classid = 'pg_class'::regclass AND d.refclassid = 'pg_extension'::regclass "
	                        "AND d.deptype = 'e')");
	EXPECT_EQ(strays.GetInt(0, 0), 0);

	// The API manages the adopted metadata like its own.
	conn.Exec("SELECT duckpipe.add_table('public.items', sync_group => 'nightly')");
	conn.Exec("SELECT duckpipe.move_table('public.orders', 'default')");
	auto after = conn.Exec("SELECT string_agg(g.name || ':' || m.source_table || ':' || m.state, ',' ORDER BY m.id) "
	                       "FROM duckpipe.table_mappings m JOIN duckpipe.sync_groups g ON g.id = m.group_id");
	EXPECT_EQ(after.Get(0, 0), "default:orders:PENDING,nightly:items:PENDING");
	auto [message, hint] = ErrorOf(conn, "SELECT duckpipe.add_table('public.orders')");
	EXPECT_EQ(message, "table public.orders is already synced (to public.orders_ducklake in group 'default')");
}

// Waits for the merge: the daemon of this branch still writes table_mappings.group_name while the
// provisional migration 0006 has replaced it with group_id. After the merge the daemon writes the
// extension layout itself and this test runs the real `duckpipe add-table` before CREATE EXTENSION.
TEST_F(ExtensionApiTest, CreateExtensionAdoptsWhatTheDaemonBinaryWrote) {
	auto db = cluster_->CreateDatabase("adoptd");
	PgConnection conn(cluster_->Conninfo(db));
	conn.Exec("CREATE TABLE public.orders (id integer PRIMARY KEY)");
	auto added = test::RunDuckpipe({"--source", cluster_->Conninfo(db), "add-table", "public.orders"});
	ASSERT_EQ(added.exit_code, 0) << added.output;
	conn.Exec("CREATE EXTENSION pg_duckpipe");
	auto tables = conn.Exec("SELECT string_agg(source_table || '>' || target_table || '@' || sync_group, ',') "
	                        "FROM duckpipe.tables()");
	EXPECT_EQ(tables.Get(0, 0), "public.orders>public.orders_ducklake@default");
	EXPECT_EQ(conn.Exec("SELECT mode FROM duckpipe.sync_groups WHERE name = 'default'").Get(0, 0), "daemon");
}

// A group's slot is in use while its pipeline streams: drop_group cuts the stream off and drops the
// slot and publication all the same (the pipeline sees the group gone when the drop commits).
TEST_F(ExtensionApiTest, DropGroupDropsTheSlotItsPipelineStreamsFrom) {
	auto db = cluster_->CreateDatabase("dropbusy");
	PgConnection conn(cluster_->Conninfo(db));
	conn.Exec("CREATE EXTENSION pg_duckpipe");
	conn.Exec("SELECT duckpipe.create_group('busy', mode => 'daemon')");
	conn.Exec("CREATE PUBLICATION duckpipe_pub_busy");
	ReplicationConnection repl(cluster_->Conninfo(db));
	repl.CreateSlot("duckpipe_slot_busy", false, SlotSnapshot::Nothing);
	auto stream = std::make_unique<ReplicationStream>(
	    repl, StreamOptions{.slot_name = "duckpipe_slot_busy", .publications = {"duckpipe_pub_busy"}});
	ASSERT_TRUE(WaitFor(
	    [&] {
		    return conn.Exec("SELECT active FROM pg_replication_slots WHERE slot_name = 'duckpipe_slot_busy'")
		        .GetBool(0, 0);
	    },
	    std::chrono::seconds(10)));

	conn.Exec("SELECT duckpipe.drop_group('busy')");

	EXPECT_EQ(
	    conn.Exec("SELECT count(*) FROM pg_replication_slots WHERE slot_name = 'duckpipe_slot_busy'").GetInt(0, 0), 0);
	EXPECT_EQ(conn.Exec("SELECT count(*) FROM pg_publication WHERE pubname = 'duckpipe_pub_busy'").GetInt(0, 0), 0);
	EXPECT_EQ(conn.Exec("SELECT count(*) FROM duckpipe.sync_groups WHERE name = 'busy'").GetInt(0, 0), 0);
	EXPECT_THROW(
	    {
		    for (int i = 0; i < 100; i++) {
			    stream->Next(100);
		    }
	    },
	    Error);
}

TEST(ExtensionApiWalLevelTest, AddTableAndCreateGroupNameTheSettingToChange) {
	PgCluster cluster(PgCluster::Options{.settings = {{"wal_level", "replica"}}, .extension = true});
	auto db = cluster.CreateDatabase("wal");
	PgConnection conn(cluster.Conninfo(db));
	conn.Exec("CREATE EXTENSION pg_duckpipe; CREATE TABLE public.orders (id integer PRIMARY KEY)");

	auto [message, hint] = ErrorOf(conn, "SELECT duckpipe.add_table('public.orders')");
	EXPECT_EQ(message, "this server runs with wal_level = replica, logical decoding needs wal_level = logical");
	EXPECT_EQ(hint, "set wal_level = logical (ALTER SYSTEM SET wal_level = logical) and restart that server");
	EXPECT_EQ(conn.Exec("SELECT count(*) FROM duckpipe.table_mappings").GetInt(0, 0), 0);

	// A group whose source is another server: checked there, over its conninfo.
	auto [remote_message, remote_hint] = ErrorOf(conn, "SELECT duckpipe.create_group('far', conninfo => " +
	                                                       conn.QuoteLiteral(cluster.TcpConninfo(db)) + ")");
	EXPECT_EQ(
	    remote_message,
	    "the source server of group 'far' runs with wal_level = replica, logical decoding needs wal_level = logical");
	EXPECT_EQ(conn.Exec("SELECT count(*) FROM duckpipe.sync_groups WHERE name = 'far'").GetInt(0, 0), 0);
}
