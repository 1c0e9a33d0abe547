#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

namespace duckpipe {

class PgConnection;

// What PostgreSQL says about a column's type (pg_attribute + pg_type), with domains already
// resolved to their base type by DescribeTable.
struct PgColumnType {
	uint32_t oid = 0;         // the (base) type oid
	std::string name;         // pg_type.typname of the base type, e.g. "int4", "_int4", "numeric"
	std::string format;       // format_type(oid, typmod) of the declared type, e.g. "numeric(12,2)"
	int32_t typmod = -1;      // of the base type (a domain's typtypmod when the column is a domain)
	char typtype = 'b';       // of the declared type: b base, e enum, d domain, c composite, r range, m multirange
	char typcategory = 'U';   // of the base type: 'A' for arrays
	int ndims = 0;            // pg_attribute.attndims (0 when PostgreSQL does not know)
	uint32_t elem_oid = 0;    // arrays: element base type oid
	std::string elem_name;    // arrays: element base typname
	char elem_typtype = 'b';  // arrays: element declared typtype (e = enum, d = domain)
	int32_t elem_typmod = -1; // arrays: typmod that applies to elements (the column's)
};

// One source column.
struct PgColumn {
	std::string name;
	int attnum = 0;
	PgColumnType type;
	bool not_null = false;
	int key_position = 0;         // 1-based position in the replica identity / primary key, 0 if not a key column
	bool generated = false;       // a generated column (pgoutput of PostgreSQL 15 does not send it)
	uint32_t declared_oid = 0;    // pg_attribute.atttypid (a domain's own oid)
	int32_t declared_typmod = -1; // pg_attribute.atttypmod
};

// A source table as its catalog describes it.
struct PgTableDescription {
	uint32_t oid = 0;
	std::string schema;
	std::string name;
	char replica_identity = 'd';                 // d default (pk), f full, i index, n nothing
	char relkind = 'r';                          // 'p' for a partitioned table
	std::vector<PgColumn> columns;               // in attnum order, dropped columns skipped
	std::vector<std::string> KeyColumns() const; // in key order
};

// Reads a table's columns (with key flags: the replica identity index, else the primary key).
// `table` is "schema.name" (unquoted parts, split at the first unquoted dot) or a numeric oid.
// Throws Error(Source) when the table does not exist.
PgTableDescription DescribeTable(PgConnection &conn, const std::string &table);

// DescribeTable in two halves, so that a caller with another way to run SQL (the extension, through
// SPI in its own transaction) describes a table exactly alike: the one catalog query, whose $1 (text)
// is a table's oid or its regclass text, and the parser of its rows (text values, NULL as nullopt).
// The query returns a row per column (the relation's fields repeated; one row without column fields
// for a table without columns), none when the table does not exist.
const char *DescribeTableSql();
using CatalogRow = std::vector<std::optional<std::string>>;
// Throws Error(Source) naming `table` when `rows` is empty, Error(Internal) for rows of another shape.
PgTableDescription ParseTableDescription(const std::vector<CatalogRow> &rows, const std::string &table);

} // namespace duckpipe
