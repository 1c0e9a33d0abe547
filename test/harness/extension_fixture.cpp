#include "harness/extension_fixture.hpp"

#include "core/duck/duck_database.hpp"
#include "core/lake/catalog_loader.hpp"
#include "core/lake/lake_reader.hpp"
#include "core/pg/pg_connection.hpp"
#include "harness/daemon_process.hpp"
#include "harness/lake_text.hpp"

#include <chrono>

namespace duckpipe::test {

using namespace std::chrono_literals;

PgCluster &ExtensionTest::Cluster() {
	static PgCluster cluster(PgCluster::Options{
	    .settings = {{"duckpipe.flush_interval", "'200ms'"}, {"max_worker_processes", "32"}}, .extension = true});
	return cluster;
}

void ExtensionTest::SetUp() {
	db_ = Cluster().CreateDatabase(prefix_);
	Cluster().Psql(db_, "CREATE EXTENSION pg_duckpipe");
}

void ExtensionTest::TearDown() {
	try {
		Sql("UPDATE duckpipe.sync_groups SET enabled = false");
		Sql("SELECT duckpipe.stop_worker()");
		WaitFor([&] { return Workers() == 0; }, 30s);
		// Slot names are per cluster: the next test's default group needs the name (a remote group's
		// slot lives in its source's database).
		Sql("SELECT pg_drop_replication_slot(slot_name) FROM pg_replication_slots WHERE NOT active AND (database = "
		    "current_database() OR slot_name LIKE 'duckpipe_slot_%')");
	} catch (const std::exception &e) {
		ADD_FAILURE() << "teardown: " << e.what();
	}
	EXPECT_FALSE(Cluster().LogHasCrash()) << Cluster().ServerLog();
}

ExtensionTest::Rows ExtensionTest::Query(const std::string &conninfo, const std::string &sql) {
	PgConnection conn(conninfo);
	return RowsOf(conn, sql);
}

ExtensionTest::Rows ExtensionTest::RowsOf(PgConnection &conn, const std::string &sql) {
	return RowsOf(conn.Exec(sql));
}

ExtensionTest::Rows ExtensionTest::RowsOf(const PgResult &r) {
	Rows out;
	for (int i = 0; i < r.Rows(); i++) {
		std::vector<std::string> row;
		for (int j = 0; j < r.Columns(); j++) {
			row.push_back(r.IsNull(i, j) ? std::string("<null>") : std::string(r.Get(i, j)));
		}
		out.push_back(std::move(row));
	}
	return out;
}

int ExtensionTest::Workers() const {
	return std::stoi(Scalar("SELECT count(*) FROM pg_stat_activity WHERE backend_type LIKE 'pg_duckpipe:%' AND "
	                        "datname = current_database()"));
}

ExtensionTest::Rows ExtensionTest::Lake(const std::string &sql, const std::string &db) const {
	PgConnection catalog(Conninfo(db));
	if (catalog.Exec("SELECT 1 FROM pg_tables WHERE schemaname = 'ducklake' AND tablename = 'ducklake_snapshot'")
	        .Rows() == 0) {
		throw NotYet("no lake yet");
	}
	auto state = lake::LoadCatalog(catalog, "ducklake");
	DuckDatabase duck_db("", {{"threads", "1"}, {"memory_limit", "256MB"}});
	auto duck = duck_db.Connect();
	lake::LakeReader::Attach(*duck, state);
	Table table;
	try {
		table = QueryAsText(*duck, sql);
	} catch (const std::exception &e) {
		if (std::string(e.what()).find("does not exist") != std::string::npos) {
			throw NotYet(e.what());
		}
		throw;
	}
	return Rows(table.begin() + 1, table.end());
}

} // namespace duckpipe::test
