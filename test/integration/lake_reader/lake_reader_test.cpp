#include "core/common/error.hpp"
#include "harness/lake_text.hpp"
#include "harness/pg_cluster.hpp"

#include <gtest/gtest.h>
#include <libpq-fe.h>

#include <algorithm>
#include <map>

using namespace duckpipe;
using namespace duckpipe::test;
using lake::SnapshotSelector;

namespace {

void ExpectMatches(const std::string &expected_file, const Table &actual) {
	auto expected = ParseCsv(GoldenLake::Expected(expected_file));
	ASSERT_EQ(expected.size(), actual.size()) << expected_file << "\nactual:\n" << Dump(actual);
	for (size_t i = 0; i < expected.size(); i++) {
		ASSERT_EQ(expected[i], actual[i]) << expected_file << " line " << i + 1;
	}
}

// ducklake_snapshots() renders changes_made as a map: created_table:"public"."t" ->
// {tables_created=[public.t]}, keys in order of appearance.
std::string RenderChanges(const std::string &changes_made) {
	static const std::map<std::string, std::string> kKeys = {{"created_schema", "schemas_created"},
	                                                         {"created_table", "tables_created"},
	                                                         {"inserted_into_table", "tables_inserted_into"},
	                                                         {"deleted_from_table", "tables_deleted_from"},
	                                                         {"altered_table", "tables_altered"},
	                                                         {"dropped_table", "tables_dropped"},
	                                                         {"dropped_schema", "schemas_dropped"}};
	std::vector<std::pair<std::string, std::vector<std::string>>> groups;
	size_t pos = 0;
	while (pos < changes_made.size()) {
		auto colon = changes_made.find(':', pos);
		std::string type = changes_made.substr(pos, colon - pos);
		std::string value;
		bool quoted = false;
		size_t i = colon + 1;
		for (; i < changes_made.size(); i++) {
			char c = changes_made[i];
			if (c == '"') {
				if (quoted && i + 1 < changes_made.size() && changes_made[i + 1] == '"') {
					value += '"';
					i++;
				} else {
					quoted = !quoted;
				}
			} else if (c == ',' && !quoted) {
				break;
			} else {
				value += c;
			}
		}
		pos = i + 1;
		auto key = kKeys.at(type);
		auto it = std::find_if(groups.begin(), groups.end(), [&](auto &g) { return g.first == key; });
		if (it == groups.end()) {
			groups.push_back({key, {value}});
		} else {
			it->second.push_back(value);
		}
	}
	std::string out = "{";
	for (size_t g = 0; g < groups.size(); g++) {
		out += (g ? ", " : "") + groups[g].first + "=[";
		for (size_t v = 0; v < groups[g].second.size(); v++) {
			out += (v ? ", " : "") + groups[g].second[v];
		}
		out += "]";
	}
	return out + "}";
}

} // namespace

TEST(LakeReader, AllTypesMatchReference) {
	AttachedLake lake(SharedGolden().Conninfo(), SnapshotSelector::Latest());
	ExpectMatches("all_types.csv", QueryAsText(*lake.duck, "SELECT * FROM public.all_types ORDER BY id"));
}

TEST(LakeReader, OrdersAtLatestMatchReference) {
	AttachedLake lake(SharedGolden().Conninfo(), SnapshotSelector::Latest());
	EXPECT_EQ(lake.state.snapshot.snapshot_id, 17);
	ExpectMatches("orders.csv", QueryAsText(*lake.duck, "SELECT * FROM public.orders ORDER BY id"));
	// Arbitrary DuckDB SQL over the views.
	auto r = lake.duck->Query("SELECT count(*), sum(total), count(*) FILTER (status = 'shipped') FROM public.orders");
	EXPECT_EQ(r.GetString(0, 0), "1000"); // 1000 - 10 (id % 100) - 1 (id 5) + 10 + 1
	EXPECT_EQ(r.GetString(2, 0), "1");
}

// DuckDB's join order optimizer sizes each view's scan from its estimate: with schema= DuckDB opens
// no file at bind time and estimated one row per file, so a 3-table join built its hash table on the
// 10M-row table (bench/README.md, Optimizations). The views carry the catalog's live row count.
TEST(LakeReader, ViewsGiveDuckDBTheCatalogRowCount) {
	AttachedLake lake(SharedGolden().Conninfo(), SnapshotSelector::Latest());
	for (const char *name : {"orders", "all_types"}) {
		SCOPED_TRACE(name);
		const auto *table = lake.state.FindTable("public", name);
		ASSERT_NE(table, nullptr);
		int64_t live = 0;
		for (const auto &f : table->files) {
			live += f.record_count - f.delete_count;
		}
		ASSERT_GT(table->files.size(), 0u);
		auto plan = lake.duck->Query(std::string("EXPLAIN (FORMAT json) SELECT * FROM public.") + name);
		std::string text = *plan.GetString(1, 0);
		EXPECT_NE(text.find("\"Estimated Cardinality\": \"" + std::to_string(live) + "\""), std::string::npos)
		    << table->files.size() << " files, " << live << " live rows; plan:\n"
		    << text;
	}
}

TEST(LakeReader, TimeTravelBySnapshotIdMatchesReference) {
	for (int n = 5; n <= 13; n++) {
		SCOPED_TRACE("snapshot " + std::to_string(n));
		AttachedLake lake(SharedGolden().Conninfo(), SnapshotSelector::Id(n));
		EXPECT_EQ(lake.state.snapshot.snapshot_id, n);
		ExpectMatches("orders_at_snapshot_" + std::to_string(n) + ".csv",
		              QueryAsText(*lake.duck, "SELECT * FROM public.orders ORDER BY id"));
	}
}

TEST(LakeReader, TimeTravelByTimestamp) {
	PgConnection conn(SharedGolden().Conninfo());
	auto snapshots = lake::ListSnapshots(conn, "ducklake");
	ASSERT_EQ(snapshots.size(), 18u);
	for (int n : {5, 7, 9, 12, 17}) {
		SCOPED_TRACE("snapshot " + std::to_string(n));
		const auto &time = snapshots[n].snapshot_time;
		AttachedLake lake(SharedGolden().Conninfo(), SnapshotSelector::AsOf(time));
		EXPECT_EQ(lake.state.snapshot.snapshot_id, n);
		EXPECT_EQ(lake.state.snapshot.snapshot_time, time);
		std::string file = n == 17 ? "orders.csv" : "orders_at_snapshot_" + std::to_string(n) + ".csv";
		ExpectMatches(file, QueryAsText(*lake.duck, "SELECT * FROM public.orders ORDER BY id"));
	}
	// Between two snapshots: the earlier one.
	auto between = conn.Exec("SELECT ($1::timestamptz + interval '1 microsecond')::text", {snapshots[9].snapshot_time});
	auto state = lake::LoadCatalog(conn, "ducklake", SnapshotSelector::AsOf(std::string(between.Get(0, 0))));
	EXPECT_EQ(state.snapshot.snapshot_id, 9);
	// Before the first snapshot: a clear error.
	try {
		lake::LoadCatalog(conn, "ducklake", SnapshotSelector::AsOf("2000-01-01 00:00:00+00"));
		FAIL() << "expected an error";
	} catch (const Error &e) {
		EXPECT_EQ(e.Kind(), ErrorKind::Config);
		EXPECT_NE(std::string(e.what()).find("no snapshot at or before 2000-01-01"), std::string::npos) << e.what();
	}
	try {
		lake::LoadCatalog(conn, "ducklake", SnapshotSelector::AsOf("yesterday-ish"));
		FAIL() << "expected an error";
	} catch (const Error &e) {
		EXPECT_EQ(e.Kind(), ErrorKind::Config) << e.what();
	}
}

TEST(LakeReader, ColumnsMatchReference) {
	AttachedLake lake(SharedGolden().Conninfo(), SnapshotSelector::Latest());
	ExpectMatches("columns.csv", QueryAsText(*lake.duck, "SELECT table_name, column_name, data_type FROM "
	                                                     "duckdb_columns() WHERE schema_name = 'public' "
	                                                     "ORDER BY table_name, column_index"));
	const auto *orders = lake.state.FindTable("public", "orders");
	ASSERT_NE(orders, nullptr);
	EXPECT_EQ(lake.state.FindTable(orders->table_id), orders);
	ASSERT_EQ(orders->columns.size(), 4u);
	EXPECT_EQ(orders->columns[2].name, "comment");
	EXPECT_EQ(orders->columns[2].column_id, 4);
	EXPECT_EQ(orders->columns[3].initial_default, "new");
	const auto *all = lake.state.FindTable("public", "all_types");
	ASSERT_NE(all, nullptr);
	const auto &ai = all->columns[16];
	EXPECT_EQ(ai.name, "ai");
	ASSERT_EQ(ai.children.size(), 1u);
	EXPECT_EQ(ai.children[0].name, "element");
	EXPECT_EQ(ai.children[0].column_id, 18);
	EXPECT_EQ(lake::LakeReader::DuckType(ai), "INTEGER[]");
	// Paths resolve file -> table -> schema -> data_path.
	ASSERT_EQ(orders->files.size(), 4u);
	EXPECT_EQ(orders->full_path, SharedGolden().DataPath() + "public/orders/");
	EXPECT_EQ(orders->files[0].full_path,
	          SharedGolden().DataPath() + "public/orders/ducklake-01a20cc6-eb24-7d50-b32d-cf106be41ca3.parquet");
	EXPECT_EQ(orders->files[0].delete_count, 15);
	EXPECT_EQ(orders->files[0].delete_full_path,
	          SharedGolden().DataPath() + "public/orders/ducklake-01a20cc6-eb6c-7a12-b568-59482dc8668e-delete.parquet");
}

TEST(LakeReader, SnapshotsMatchReference) {
	PgConnection conn(SharedGolden().Conninfo());
	auto snapshots = lake::ListSnapshots(conn, "ducklake");
	Table actual{{"snapshot_id", "changes"}};
	for (const auto &s : snapshots) {
		actual.push_back({std::to_string(s.snapshot_id), RenderChanges(s.changes_made)});
	}
	ExpectMatches("snapshots.csv", actual);
	EXPECT_EQ(snapshots[17].schema_version, 9);
	EXPECT_EQ(snapshots[13].schema_version, 7);
	auto state = lake::LoadCatalog(conn, "ducklake", SnapshotSelector::Id(13));
	EXPECT_EQ(state.snapshot.schema_version, 7);
	EXPECT_EQ(state.snapshot.next_catalog_id, 4);
	EXPECT_EQ(state.snapshot.next_file_id, 7);
	EXPECT_EQ(state.snapshot.snapshot_time, snapshots[13].snapshot_time);
	EXPECT_EQ(state.version, "1.0");
	EXPECT_EQ(state.data_path, SharedGolden().DataPath());
}

TEST(LakeReader, DroppedTableOnlyWhileItExisted) {
	AttachedLake latest(SharedGolden().Conninfo(), SnapshotSelector::Latest());
	EXPECT_EQ(latest.state.FindTable("public", "dropped"), nullptr);
	EXPECT_THROW(latest.duck->Query("SELECT * FROM public.dropped"), Error);

	AttachedLake at16(SharedGolden().Conninfo(), SnapshotSelector::Id(16));
	ASSERT_NE(at16.state.FindTable("public", "dropped"), nullptr);
	auto rows = QueryAsText(*at16.duck, "SELECT * FROM public.dropped");
	EXPECT_EQ(rows, (Table{{"a"}, {"1"}}));

	// Created but not yet filled: selectable, typed and empty.
	AttachedLake at15(SharedGolden().Conninfo(), SnapshotSelector::Id(15));
	EXPECT_EQ(QueryAsText(*at15.duck, "SELECT * FROM public.dropped"), (Table{{"a"}}));
	auto type = at15.duck->Query("SELECT data_type FROM duckdb_columns() WHERE table_name = 'dropped'");
	EXPECT_EQ(type.GetString(0, 0), "INTEGER");

	// Before the table existed.
	AttachedLake at3(SharedGolden().Conninfo(), SnapshotSelector::Id(3));
	EXPECT_EQ(at3.state.FindTable("public", "orders"), nullptr);
	EXPECT_EQ(QueryAsText(*at3.duck, "SELECT count(*) AS n FROM public.all_types"), (Table{{"n"}, {"4"}}));
	AttachedLake at4(SharedGolden().Conninfo(), SnapshotSelector::Id(4));
	EXPECT_EQ(QueryAsText(*at4.duck, "SELECT count(*) AS n FROM public.orders"), (Table{{"n"}, {"0"}}));
}

TEST(LakeReader, MissingSnapshotIsAConfigError) {
	PgConnection conn(SharedGolden().Conninfo());
	try {
		lake::LoadCatalog(conn, "ducklake", SnapshotSelector::Id(99));
		FAIL() << "expected an error";
	} catch (const Error &e) {
		EXPECT_EQ(e.Kind(), ErrorKind::Config);
		EXPECT_NE(std::string(e.what()).find("snapshot 99 does not exist"), std::string::npos) << e.what();
		EXPECT_NE(std::string(e.what()).find("0..17"), std::string::npos) << e.what();
	}
}

TEST(LakeReader, OtherFormatVersionIsRefused) {
	GoldenLake golden(PgCluster::Shared());
	PgCluster::Shared().Psql(golden.Database(),
	                         "UPDATE ducklake.ducklake_metadata SET value = '0.3' WHERE key = 'version'");
	PgConnection conn(golden.Conninfo());
	try {
		lake::LoadCatalog(conn, "ducklake");
		FAIL() << "expected an error";
	} catch (const Error &e) {
		EXPECT_EQ(e.Kind(), ErrorKind::Lake);
		std::string msg = e.what();
		EXPECT_NE(msg.find("format version '0.3'"), std::string::npos) << msg;
		EXPECT_NE(msg.find("'1.0'"), std::string::npos) << msg;
		EXPECT_NE(msg.find("\"ducklake\""), std::string::npos) << msg;
	}
}

TEST(LakeReader, MissingCatalogSchemaIsAClearError) {
	auto &cluster = PgCluster::Shared();
	auto conninfo = cluster.Conninfo(SharedGolden().Database()) + " password=sekrit";
	PgConnection conn(conninfo);
	try {
		lake::LoadCatalog(conn, "no_such_lake");
		FAIL() << "expected an error";
	} catch (const Error &e) {
		EXPECT_EQ(e.Kind(), ErrorKind::Lake);
		std::string msg = e.what();
		EXPECT_NE(msg.find("no DuckLake catalog in schema \"no_such_lake\" of "), std::string::npos) << msg;
		EXPECT_NE(msg.find(SharedGolden().Database()), std::string::npos) << msg;
		EXPECT_NE(msg.find("--lake-catalog"), std::string::npos) << msg;
		EXPECT_EQ(msg.find("sekrit"), std::string::npos) << msg;
	}
}

TEST(LakeReader, LoadInsideCallersTransactionLeavesItOpen) {
	PgConnection conn(SharedGolden().Conninfo());
	PgTransaction txn(conn, "REPEATABLE READ");
	auto state = lake::LoadCatalog(conn, "ducklake", SnapshotSelector::Id(14));
	EXPECT_EQ(state.snapshot.snapshot_id, 14);
	EXPECT_EQ(PQtransactionStatus(conn.Raw()), PQTRANS_INTRANS);
	EXPECT_EQ(lake::ListSnapshots(conn, "ducklake").size(), 18u);
	EXPECT_EQ(PQtransactionStatus(conn.Raw()), PQTRANS_INTRANS);
	txn.Commit();
	EXPECT_EQ(PQtransactionStatus(conn.Raw()), PQTRANS_IDLE);
}
