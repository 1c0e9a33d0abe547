#pragma once

#include "core/duck/duck_connection.hpp"
#include "core/duck/duck_database.hpp"
#include "core/lake/catalog_loader.hpp"
#include "core/lake/lake_reader.hpp"
#include "core/pg/pg_connection.hpp"
#include "harness/golden_lake.hpp"

#include <memory>
#include <string>
#include <vector>

namespace duckpipe::test {

using Table = std::vector<std::vector<std::string>>; // first row = header

// RFC 4180 parse of the golden CSVs: quoting is presentation, field text is compared exactly.
Table ParseCsv(const std::string &text);

// Runs sql and returns header + rows, every value in DuckDB's VARCHAR text form, SQL NULL as "NULL"
// (how the golden CSVs print it).
Table QueryAsText(DuckConnection &duck, const std::string &sql);

// Renders a table as CSV-ish text for readable failure output.
std::string Dump(const Table &table, size_t max_rows = 20);

// One golden lake per test binary (read-only tests share it).
GoldenLake &SharedGolden();

// A DuckDB with the golden lake attached at one snapshot.
struct AttachedLake {
	lake::CatalogState state;
	std::unique_ptr<DuckDatabase> db;
	std::unique_ptr<DuckConnection> duck;

	AttachedLake(const std::string &conninfo, const lake::SnapshotSelector &selector);
};

} // namespace duckpipe::test
