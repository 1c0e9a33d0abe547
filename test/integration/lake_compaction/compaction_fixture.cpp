#include "compaction_fixture.hpp"

#include <filesystem>

namespace duckpipe::test {

namespace {

lake::LakeColumn Column(const std::string &name, const std::string &type) {
	lake::LakeColumn c;
	c.name = name;
	c.type = type;
	return c;
}

} // namespace

CompactionLake::CompactionLake(const std::string &prefix, int inserts) {
	auto &cluster = PgCluster::Shared();
	db = cluster.CreateDatabase(prefix);
	dir = std::make_unique<TempDir>("duckpipe-compact");
	config.catalog_conninfo = cluster.Conninfo(db);
	config.data_path = dir->Path() + "/lake/";
	writer = std::make_unique<lake::LakeWriter>(config);
	staging_db = std::make_unique<DuckDatabase>("", std::map<std::string, std::string>{{"threads", "1"}});
	staging = staging_db->Connect();
	auto c = writer->Begin();
	c.CreateSchema("s");
	auto handle =
	    c.CreateTable("s", "t", {Column("id", "int64"), Column("name", "varchar"), Column("amount", "float64")});
	c.Commit();
	table_id = c.ResolveId(handle);
	for (int i = 0; i < inserts; i++) {
		Insert(i * 20, i * 20 + 20);
	}
	Delete("SELECT i AS id FROM range(0, " + std::to_string(inserts * 10) + ") t(i) WHERE i % 3 = 0");
	int64_t last = (inserts - 1) * 20;
	Delete("SELECT i AS id FROM range(" + std::to_string(last) + ", " + std::to_string(last + 16) + ") t(i)");
}

void CompactionLake::Insert(int64_t from, int64_t to) {
	auto c = writer->Begin();
	c.Insert(table_id, *staging,
	         "SELECT i AS id, CASE WHEN i % 7 = 0 THEN NULL ELSE 'name ' || i END AS name, i * 1.5 AS amount FROM "
	         "range(" +
	             std::to_string(from) + ", " + std::to_string(to) + ") t(i)");
	c.Commit();
}

void CompactionLake::Delete(const std::string &keys_sql) {
	auto c = writer->Begin();
	c.DeleteByKey(table_id, *staging, {"id"}, keys_sql);
	c.Commit();
}

std::string CompactionLake::Psql(const std::string &sql) const {
	return PgCluster::Shared().Psql(db, sql);
}

int64_t CompactionLake::Head() const {
	return std::stoll(Psql("SELECT max(snapshot_id) FROM ducklake.ducklake_snapshot"));
}

int64_t CompactionLake::LiveDataFiles() const {
	return std::stoll(Psql("SELECT count(*) FROM ducklake.ducklake_data_file WHERE end_snapshot IS NULL AND "
	                       "table_id = " +
	                       std::to_string(table_id)));
}

int64_t CompactionLake::MetadataCount() const {
	auto t = std::to_string(table_id);
	return std::stoll(Psql("SELECT (SELECT coalesce(sum(record_count), 0) FROM ducklake.ducklake_data_file WHERE "
	                       "end_snapshot IS NULL AND table_id = " +
	                       t +
	                       ") - (SELECT coalesce(sum(delete_count), 0) FROM ducklake.ducklake_delete_file WHERE "
	                       "end_snapshot IS NULL AND table_id = " +
	                       t + ")"));
}

Table CompactionLake::Contents(const lake::SnapshotSelector &selector) const {
	AttachedLake lake(Conninfo(), selector);
	return QueryAsText(*lake.duck, "SELECT * FROM s.t ORDER BY id");
}

std::set<std::string> FilesUnder(const std::string &dir, const std::string &extension) {
	std::set<std::string> out;
	if (!std::filesystem::exists(dir)) {
		return out;
	}
	for (const auto &e : std::filesystem::recursive_directory_iterator(dir)) {
		if (e.is_regular_file() && e.path().extension() == extension) {
			out.insert(e.path().string());
		}
	}
	return out;
}

} // namespace duckpipe::test
