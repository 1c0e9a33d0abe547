// The module's entry points: _PG_init (settings, shared memory, background workers, hooks) and the
// SQL-callable basics. Each concern registers itself from its own file.
#include "extension/lake_am.hpp"
#include "extension/pg_boundary.hpp"

#include <string>

#include "extension/pg_includes.hpp"

extern "C" {
PG_MODULE_MAGIC;

void _PG_init(void);
PG_FUNCTION_INFO_V1(duckpipe_version);
}

void _PG_init(void) {
	duckpipe::ext::RegisterLakeRelation();
}

// duckpipe.version(): the module's version, which may differ from the installed SQL's
// (pg_extension.extversion) between a package upgrade and ALTER EXTENSION UPDATE.
Datum duckpipe_version(PG_FUNCTION_ARGS) {
	return duckpipe::ext::PgBoundary([&] {
		std::string version = DUCKPIPE_VERSION;
		return PointerGetDatum(cstring_to_text_with_len(version.data(), static_cast<int>(version.size())));
	});
}
