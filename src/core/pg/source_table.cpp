#include "core/pg/source_table.hpp"

#include "core/common/error.hpp"
#include "core/pg/pg_connection.hpp"

#include <algorithm>
#include <cctype>

namespace duckpipe {

namespace {

// The columns of DescribeTableSql's rows.
enum Field : size_t {
	kRelOid,
	kSchema,
	kRelName,
	kReplicaIdentity,
	kRelKind,
	kKeyAttnums, // the key index's indkey (int2vector text "2 1"), NULL without one
	kAttName,    // NULL (and every field below) for a table without columns
	kAttNum,
	kDeclaredOid,
	kDeclaredTypmod,
	kNdims,
	kNotNull,
	kGenerated,
	kFormat,
	kDeclaredTyptype,
	kBaseOid, // the declared type followed down its domain chain
	kBaseName,
	kBaseTypmod, // the innermost domain's typmod that sets one, else the column's
	kBaseTyptype,
	kBaseCategory,
	kElemOid, // arrays: the element type followed down its domain chain (NULL otherwise)
	kElemName,
	kElemTyptype,
	kElemDeclaredTyptype,
	kElemTypmod,
	kFieldCount
};

constexpr const char *kDescribeSql = R"sql(
WITH RECURSIVE rel AS (
    SELECT c.oid, n.nspname, c.relname, c.relreplident, c.relkind
    FROM pg_catalog.pg_class c JOIN pg_catalog.pg_namespace n ON n.oid = c.relnamespace
    WHERE c.oid = CASE WHEN $1 ~ '^[0-9]+$' THEN $1::pg_catalog.oid
                       ELSE pg_catalog.to_regclass($1)::pg_catalog.oid END),
att AS (
    SELECT a.attname, a.attnum, a.atttypid, a.atttypmod, a.attndims, a.attnotnull, a.attgenerated,
           pg_catalog.format_type(a.atttypid, a.atttypmod) AS format
    FROM pg_catalog.pg_attribute a JOIN rel ON a.attrelid = rel.oid
    WHERE a.attnum > 0 AND NOT a.attisdropped),
-- Each column's type down its domain chain, then (an array) its element's: one step per row.
chain(attnum, is_elem, depth, oid, typmod) AS (
    SELECT attnum, false, 0, atttypid, atttypmod FROM att
    UNION ALL
    SELECT c.attnum, c.is_elem OR t.typtype <> 'd', c.depth + 1,
           CASE WHEN t.typtype = 'd' THEN t.typbasetype ELSE t.typelem END,
           CASE WHEN t.typtype = 'd' AND t.typtypmod <> -1 THEN t.typtypmod ELSE c.typmod END
    FROM chain c JOIN pg_catalog.pg_type t ON t.oid = c.oid
    WHERE c.depth < 64 AND (t.typtype = 'd' OR (NOT c.is_elem AND t.typcategory = 'A' AND t.typelem <> 0)))
SELECT r.oid, r.nspname, r.relname, r.relreplident, r.relkind,
       (SELECT i.indkey::text FROM pg_catalog.pg_index i WHERE i.indrelid = r.oid
        AND CASE WHEN r.relreplident = 'i' THEN i.indisreplident ELSE i.indisprimary END LIMIT 1),
       a.attname, a.attnum, a.atttypid, a.atttypmod, a.attndims, a.attnotnull, a.attgenerated <> '', a.format,
       dt.typtype, b.oid, bt.typname, b.typmod, bt.typtype, bt.typcategory,
       e.oid, et.typname, et.typtype, edt.typtype, e.typmod
FROM rel r
LEFT JOIN att a ON true
LEFT JOIN pg_catalog.pg_type dt ON dt.oid = a.atttypid
LEFT JOIN LATERAL (SELECT oid, typmod FROM chain WHERE chain.attnum = a.attnum AND NOT is_elem
                   ORDER BY depth DESC LIMIT 1) b ON true
LEFT JOIN pg_catalog.pg_type bt ON bt.oid = b.oid
LEFT JOIN LATERAL (SELECT oid, typmod FROM chain WHERE chain.attnum = a.attnum AND is_elem
                   ORDER BY depth DESC LIMIT 1) e ON true
LEFT JOIN pg_catalog.pg_type et ON et.oid = e.oid
LEFT JOIN LATERAL (SELECT oid FROM chain WHERE chain.attnum = a.attnum AND is_elem ORDER BY depth LIMIT 1) ed ON true
LEFT JOIN pg_catalog.pg_type edt ON edt.oid = ed.oid
ORDER BY a.attnum)sql";

const std::string &Text(const CatalogRow &row, Field field) {
	static const std::string empty;
	return row[field] ? *row[field] : empty;
}

char Char(const CatalogRow &row, Field field, char fallback) {
	return Text(row, field).empty() ? fallback : Text(row, field)[0];
}

int64_t Int(const CatalogRow &row, Field field, int64_t fallback) {
	return row[field] && !row[field]->empty() ? std::stoll(*row[field]) : fallback;
}

std::vector<int> ParseAttnums(const std::string &int2vector) {
	std::vector<int> out;
	std::string num;
	for (char c : int2vector + ' ') {
		if (std::isdigit(static_cast<unsigned char>(c))) {
			num += c;
		} else if (!num.empty()) {
			out.push_back(std::stoi(num));
			num.clear();
		}
	}
	return out;
}

} // namespace

std::vector<std::string> PgTableDescription::KeyColumns() const {
	std::vector<const PgColumn *> keys;
	for (const auto &c : columns) {
		if (c.key_position > 0) {
			keys.push_back(&c);
		}
	}
	std::sort(keys.begin(), keys.end(), [](auto *a, auto *b) { return a->key_position < b->key_position; });
	std::vector<std::string> out;
	out.reserve(keys.size());
	for (auto *c : keys) {
		out.push_back(c->name);
	}
	return out;
}

const char *DescribeTableSql() {
	return kDescribeSql;
}

PgTableDescription ParseTableDescription(const std::vector<CatalogRow> &rows, const std::string &table) {
	if (rows.empty()) {
		throw Error(ErrorKind::Source, "table " + table + " does not exist in the source database",
		            {.table = table, .hint = "check the table name (schema.table) and the search path"});
	}
	for (const auto &row : rows) {
		if (row.size() != kFieldCount) {
			throw Error(ErrorKind::Internal, "table description of " + table + ": rows of " +
			                                     std::to_string(row.size()) + " fields, expected " +
			                                     std::to_string(kFieldCount));
		}
	}
	const auto &first = rows[0];
	PgTableDescription out;
	out.oid = static_cast<uint32_t>(Int(first, kRelOid, 0));
	out.schema = Text(first, kSchema);
	out.name = Text(first, kRelName);
	out.replica_identity = Char(first, kReplicaIdentity, 'd');
	out.relkind = Char(first, kRelKind, 'r');
	auto key_attnums = ParseAttnums(Text(first, kKeyAttnums));
	for (const auto &row : rows) {
		if (!row[kAttName]) {
			continue; // a table without columns
		}
		PgColumn c;
		c.name = Text(row, kAttName);
		c.attnum = static_cast<int>(Int(row, kAttNum, 0));
		c.declared_oid = static_cast<uint32_t>(Int(row, kDeclaredOid, 0));
		c.declared_typmod = static_cast<int32_t>(Int(row, kDeclaredTypmod, -1));
		c.type.ndims = static_cast<int>(Int(row, kNdims, 0));
		c.not_null = Text(row, kNotNull) == "t";
		c.generated = Text(row, kGenerated) == "t";
		c.type.format = Text(row, kFormat);
		c.type.oid = static_cast<uint32_t>(Int(row, kBaseOid, c.declared_oid));
		c.type.name = Text(row, kBaseName);
		c.type.typmod = static_cast<int32_t>(Int(row, kBaseTypmod, c.declared_typmod));
		c.type.typcategory = Char(row, kBaseCategory, 'U');
		c.type.typtype = Char(row, kBaseTyptype, 'b') == 'e' ? 'e' : Char(row, kDeclaredTyptype, 'b');
		if (row[kElemOid]) {
			c.type.elem_oid = static_cast<uint32_t>(Int(row, kElemOid, 0));
			c.type.elem_name = Text(row, kElemName);
			c.type.elem_typtype = Char(row, kElemTyptype, 'b') == 'e' ? 'e' : Char(row, kElemDeclaredTyptype, 'b');
			c.type.elem_typmod = static_cast<int32_t>(Int(row, kElemTypmod, -1));
		}
		auto pos = std::find(key_attnums.begin(), key_attnums.end(), c.attnum);
		if (pos != key_attnums.end()) {
			c.key_position = static_cast<int>(pos - key_attnums.begin()) + 1;
		}
		out.columns.push_back(std::move(c));
	}
	return out;
}

PgTableDescription DescribeTable(PgConnection &conn, const std::string &table) {
	std::string regclass;
	if (!table.empty() && std::all_of(table.begin(), table.end(), [](char c) { return std::isdigit(c); })) {
		regclass = table;
	} else {
		auto dot = table.find('.');
		regclass = dot == std::string::npos ? conn.QuoteIdent(table)
		                                    : conn.QuoteQualified(table.substr(0, dot), table.substr(dot + 1));
	}
	auto r = conn.Exec(kDescribeSql, {regclass});
	std::vector<CatalogRow> rows(static_cast<size_t>(r.Rows()));
	for (int i = 0; i < r.Rows(); i++) {
		for (int f = 0; f < static_cast<int>(kFieldCount); f++) {
			rows[static_cast<size_t>(i)].push_back(r.GetOptional(i, f));
		}
	}
	return ParseTableDescription(rows, table);
}

} // namespace duckpipe
