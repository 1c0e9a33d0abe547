#pragma once

#include <cstdint>
#include <string>
#include <vector>

namespace duckpipe {
class PgConnection;
}

namespace duckpipe::pipeline {

// One source column as the stream knows it: pgoutput names columns and their declared types but
// not their attribute numbers, which are what tell a RENAME apart from a DROP + ADD.
struct SourceColumn {
	std::string name;
	int attnum = 0;
	uint32_t type_oid = 0; // declared type (a domain's own oid), as the Relation message sends it
	int32_t typmod = -1;
	bool key = false; // part of the key the lake table is upserted by

	bool operator==(const SourceColumn &) const = default;
};

// The source columns a lake table mirrors, in attnum order. Persisted with every lake commit
// (duckpipe.table_progress.source_columns) so a restart resumes from what the lake holds.
struct SourceLayout {
	std::vector<SourceColumn> columns;

	std::string ToJson() const;
	// Throws Error(Internal) for text that is not a layout this version wrote.
	static SourceLayout FromJson(const std::string &json);
	// The table's published columns right now, as pg_attribute says (key flags left false).
	// Generated columns are left out: pgoutput (PostgreSQL 15) does not send them.
	static SourceLayout Current(PgConnection &conn, uint32_t table_oid);

	bool operator==(const SourceLayout &) const = default;
};

} // namespace duckpipe::pipeline
