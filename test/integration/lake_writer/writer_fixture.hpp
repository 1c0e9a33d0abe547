#pragma once

#include "core/duck/duck_connection.hpp"
#include "core/duck/duck_database.hpp"
#include "core/lake/lake_config.hpp"
#include "core/lake/lake_writer.hpp"
#include "core/pg/pg_connection.hpp"
#include "harness/pg_cluster.hpp"

#include <memory>
#include <string>
#include <vector>

namespace duckpipe::test {

using Rows = std::vector<std::string>; // one "a|b|c" line per row, SQL NULL as "NULL"

// A fresh database + data dir for one lake.
struct TestLake {
	std::string db;
	std::unique_ptr<TempDir> dir;
	lake::LakeConfig config;

	explicit TestLake(const std::string &prefix);
	std::string Conninfo() const { return config.catalog_conninfo; }
};

// PostgreSQL query as lines.
Rows PgRows(const std::string &conninfo, const std::string &sql);
// DuckDB query as lines.
Rows DuckRows(DuckConnection &duck, const std::string &sql);
// The lake's tables at its latest snapshot as DuckDB views (via LakeReader), queried as lines.
Rows LakeRows(const std::string &conninfo, const std::string &sql, const std::string &catalog_schema = "ducklake");
// The same at an older snapshot (time travel).
Rows LakeRowsAt(const std::string &conninfo, int64_t snapshot, const std::string &sql);
// Files directly under dir (recursive), relative names.
std::vector<std::string> ListFiles(const std::string &dir);
std::string Join(const Rows &rows);

// A small DuckDB for staging rows, as the pipeline's flush thread has.
struct Staging {
	std::unique_ptr<DuckDatabase> db;
	std::unique_ptr<DuckConnection> duck;
	Staging();
};

// A lake column definition as a test writes it (ids are assigned by the writer).
lake::LakeColumn Col(const std::string &name, const std::string &type, std::vector<lake::LakeColumn> children = {});

} // namespace duckpipe::test
