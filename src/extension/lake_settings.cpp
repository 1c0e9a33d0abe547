// LakeSettings::Current / Location: the lake of this database, from the session's settings.
#include "extension/lake_session.hpp"

#include <algorithm>
#include <cctype>
#include <cstdlib>
#include <string>

#include "core/pg/conninfo.hpp"
#include "extension/pg_boundary.hpp"
#include "extension/pg_includes.hpp"
#include "extension/query_settings.hpp"
#include "extension/settings.hpp"
#include "extension/time_travel.hpp"

extern "C" {
#include "catalog/pg_authid.h"
#include "commands/dbcommands.h"
#include "utils/guc.h"
}

namespace duckpipe::ext {

namespace {

std::string Setting(const char *name) {
	const char *value = nullptr;
	PgCall([&] { value = GetConfigOption(name, true, false); });
	return value ? value : "";
}

} // namespace

LakeSettings LakeSettings::Location() {
	LakeSettings settings;
	settings.data_path = Setting("duckpipe.data_path");
	if (settings.data_path.empty()) {
		settings.data_path = DefaultDataPath();
	}
	settings.memory_mb = QueryMemoryMb();
	settings.threads = QueryThreads();
	// Where the query engine makes its DuckDB's spill directory (one of its own per instance, removed
	// when it closes): the directory the extension's group workers sweep when they start.
	settings.temp_directory = std::string(DataDir) + "/pg_duckpipe/tmp";
	// The lake catalog's database (duckpipe.lake_catalog), else this one (through duckpipe.conninfo
	// when set), as the worker writes it.
	settings.catalog_conninfo = Setting("duckpipe.lake_catalog");
	if (settings.catalog_conninfo.empty()) {
		settings.catalog_conninfo = Setting("duckpipe.conninfo");
	}
	if (settings.catalog_conninfo.empty()) {
		// This database over the first Unix socket directory, as the bootstrap superuser (who owns
		// the lake catalog the worker creates); peer or trust authentication as Debian configures it.
		std::string host = SocketDirectory();
		char *database = nullptr;
		char *user = nullptr;
		PgCall([&] {
			database = get_database_name(MyDatabaseId);
			user = GetUserNameFromId(BOOTSTRAP_SUPERUSERID, false);
		});
		settings.catalog_conninfo = "host=" + Conninfo::QuoteValue(host.empty() ? "localhost" : host) +
		                            " port=" + Conninfo::QuoteValue(Setting("port")) +
		                            " dbname=" + Conninfo::QuoteValue(database) + " user=" + Conninfo::QuoteValue(user);
	}
	return settings;
}

LakeSettings LakeSettings::Current() {
	auto settings = Location();
	// duckpipe.as_of_snapshot / duckpipe.as_of_time (time travel), else the latest.
	settings.snapshot = SessionSnapshot();
	return settings;
}

} // namespace duckpipe::ext
