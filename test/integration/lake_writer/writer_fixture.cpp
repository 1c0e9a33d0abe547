#include "writer_fixture.hpp"

#include "core/lake/catalog_loader.hpp"
#include "core/lake/lake_reader.hpp"

#include <algorithm>
#include <filesystem>

namespace duckpipe::test {

TestLake::TestLake(const std::string &prefix) {
	auto &cluster = PgCluster::Shared();
	db = cluster.CreateDatabase(prefix);
	dir = std::make_unique<TempDir>("duckpipe-lakew");
	config.catalog_conninfo = cluster.Conninfo(db);
	config.data_path = dir->Path() + "/lake/";
}

Rows PgRows(const std::string &conninfo, const std::string &sql) {
	PgConnection conn(conninfo);
	auto r = conn.Exec(sql);
	Rows out;
	for (int i = 0; i < r.Rows(); i++) {
		std::string line;
		for (int c = 0; c < r.Columns(); c++) {
			line += (c ? "|" : "") + (r.IsNull(i, c) ? std::string("NULL") : std::string(r.Get(i, c)));
		}
		out.push_back(line);
	}
	return out;
}

Rows DuckRows(DuckConnection &duck, const std::string &sql) {
	// Text of every value, nested and BLOB included (the deprecated value API cannot read those).
	auto r = duck.Query("SELECT COLUMNS(*)::VARCHAR FROM (" + sql + ")");
	Rows out;
	for (uint64_t i = 0; i < r.Rows(); i++) {
		std::string line;
		for (uint64_t c = 0; c < r.Columns(); c++) {
			auto v = r.GetString(c, i);
			line += (c ? "|" : "") + (v ? *v : std::string("NULL"));
		}
		out.push_back(line);
	}
	return out;
}

Rows LakeRows(const std::string &conninfo, const std::string &sql, const std::string &catalog_schema) {
	PgConnection conn(conninfo);
	auto state = lake::LoadCatalog(conn, catalog_schema);
	DuckDatabase db;
	auto duck = db.Connect();
	lake::LakeReader::Attach(*duck, state);
	return DuckRows(*duck, sql);
}

Rows LakeRowsAt(const std::string &conninfo, int64_t snapshot, const std::string &sql) {
	PgConnection conn(conninfo);
	auto state = lake::LoadCatalog(conn, "ducklake", lake::SnapshotSelector::Id(snapshot));
	DuckDatabase db;
	auto duck = db.Connect();
	lake::LakeReader::Attach(*duck, state);
	return DuckRows(*duck, sql);
}

std::vector<std::string> ListFiles(const std::string &dir) {
	std::vector<std::string> out;
	if (!std::filesystem::exists(dir)) {
		return out;
	}
	for (const auto &e : std::filesystem::recursive_directory_iterator(dir)) {
		if (e.is_regular_file()) {
			out.push_back(std::filesystem::relative(e.path(), dir).string());
		}
	}
	std::sort(out.begin(), out.end());
	return out;
}

std::string Join(const Rows &rows) {
	std::string out;
	for (const auto &r : rows) {
		out += r + "\n";
	}
	return out;
}

Staging::Staging() {
	db = std::make_unique<DuckDatabase>("", std::map<std::string, std::string>{{"threads", "1"}});
	duck = db->Connect();
}

lake::LakeColumn Col(const std::string &name, const std::string &type, std::vector<lake::LakeColumn> children) {
	lake::LakeColumn c;
	c.name = name;
	c.type = type;
	c.default_value = "NULL";
	c.children = std::move(children);
	return c;
}

} // namespace duckpipe::test
