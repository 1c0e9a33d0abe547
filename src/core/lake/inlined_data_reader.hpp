#pragma once

#include "core/lake/catalog_model.hpp"

#include <string>

namespace duckpipe::lake {

// DuckDB SQL for the inlined parts of a lake table (see LoadInlinedData): the views read them next
// to the Parquet files.
class InlinedDataReader {
public:
	// SELECT of the table's inlined rows at the loaded snapshot, one column per table column named
	// and typed as the view's, or "" when it has none. Columns added after an inlined table was
	// created read as their initial_default (or NULL), as in files that lack them.
	static std::string RowsQuery(const LakeTable &table);

	// SELECT data_file, pos of the positions deleted inline from the table's files, or "".
	static std::string DeletedPositionsQuery(const LakeTable &table);
};

} // namespace duckpipe::lake
