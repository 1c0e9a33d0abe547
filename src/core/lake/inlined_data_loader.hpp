#pragma once

#include "core/lake/catalog_model.hpp"

#include <string>

namespace duckpipe {
class PgConnection;
}

namespace duckpipe::lake {

// Loads the inlined data of `state`'s tables at its snapshot (digest section 7): the rows of every
// registered ducklake_inlined_data_<T>_<V> table alive at the snapshot, each user column mapped
// to the lake column it held at schema version V, and the file positions deleted inline in
// ducklake_inlined_delete_<T>. Runs inside the caller's transaction (LoadCatalog's), so rows
// flushed to Parquet concurrently are seen either inlined or as the new file, never neither.
void LoadInlinedData(PgConnection &conn, const std::string &schema, CatalogState &state);

} // namespace duckpipe::lake
