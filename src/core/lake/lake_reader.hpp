#pragma once

#include "core/lake/catalog_model.hpp"

#include <string>
#include <vector>

namespace duckpipe {
class DuckConnection;
}

namespace duckpipe::lake {

// Exposes a loaded DuckLake snapshot to DuckDB SQL: one DuckDB schema per lake schema and one view
// per table under the lake's own names, reading the table's live Parquet files by field id (so
// renames, added, dropped and widened columns read as the snapshot defines them) minus the
// positions in each file's visible delete file.
class LakeReader {
public:
	// Creates the schemas (IF NOT EXISTS) and views (OR REPLACE) in `duck`, and sets its TimeZone to
	// UTC. Views of tables absent from `state` are not removed: attach one snapshot per database.
	static void Attach(DuckConnection &duck, const CatalogState &state);

	// The SELECT behind a table's view: the table's rows at the loaded snapshot, columns named and
	// typed as the catalog says.
	static std::string TableQuery(const CatalogState &state, const LakeTable &table);

	// DuckDB SQL type of a catalog column, nested types composed from its children
	// ("list" of int32 -> "INTEGER[]").
	static std::string DuckType(const LakeColumn &column);

	// Every file the views of `state` read (data and delete files): what a sandboxed DuckDB must be
	// allowed to open (DuckSandbox::paths).
	static std::vector<std::string> Files(const CatalogState &state);
};

} // namespace duckpipe::lake
