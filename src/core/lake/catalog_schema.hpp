#pragma once

#include "core/lake/lake_config.hpp"

#include <string>
#include <string_view>
#include <vector>

namespace duckpipe {
class PgConnection;
}

namespace duckpipe::lake {

// What OpenLake found (or created).
struct LakeInfo {
	std::string version;    // always kFormatVersion once OpenLake returned
	std::string data_path;  // from ducklake_metadata, ends in '/'
	std::string created_by; // who created the lake
	bool created = false;   // true when this call bootstrapped it
};

// The DuckLake 1.0 catalog tables: the exact DDL the reference issues (digest §1), the bootstrap
// rows (§2) and the version check.
class CatalogSchema {
public:
	static constexpr std::string_view kFormatVersion = "1.0";

	// The 28 table names in DDL order.
	static const std::vector<std::string_view> &TableNames();
	// CREATE TABLE IF NOT EXISTS statements for every table, qualified with `schema`.
	static std::string CreateTablesSql(PgConnection &conn, std::string_view schema);

	// Creates the schema, tables and bootstrap rows if absent (safe when processes race: an advisory
	// lock serialises creators), then checks the format version. Throws Error(Lake) for a catalog of
	// another version and Error(Config) when the stored data path differs from config.data_path.
	static LakeInfo Ensure(PgConnection &conn, const LakeConfig &config);
	// Inside a transaction of `conn`: waits for any other process creating or extending the lake's
	// catalog in `schema` to commit, so IF NOT EXISTS then sees what it made.
	static void LockForCreation(PgConnection &conn, std::string_view schema);
	// Reads and checks an existing catalog without creating anything; Error(Lake) if absent.
	static LakeInfo Check(PgConnection &conn, std::string_view schema);
};

// Opens (creating if needed) the lake described by config: catalog + data directory.
LakeInfo OpenLake(const LakeConfig &config);

} // namespace duckpipe::lake
