#include "core/pg/source_table.hpp"

#include "core/common/error.hpp"
#include "core/pg/pg_connection.hpp"

#include <algorithm>
#include <cctype>

namespace duckpipe {

namespace {

struct TypeRow {
	std::string name;
	char typtype = 'b';
	char typcategory = 'U';
	uint32_t basetype = 0;
	int32_t typtypmod = -1;
	uint32_t elem = 0;
};

TypeRow LoadType(PgConnection &conn, uint32_t oid) {
	auto r = conn.Exec("SELECT typname, typtype, typcategory, typbasetype, typtypmod, typelem FROM pg_type "
	                   "WHERE oid = $1",
	                   {std::to_string(oid)});
	if (r.Rows() != 1) {
		throw Error(ErrorKind::Source, "type oid " + std::to_string(oid) + " not found in pg_type");
	}
	TypeRow t;
	t.name = r.Get(0, 0);
	t.typtype = r.Get(0, 1).empty() ? 'b' : r.Get(0, 1)[0];
	t.typcategory = r.Get(0, 2).empty() ? 'U' : r.Get(0, 2)[0];
	t.basetype = static_cast<uint32_t>(r.GetInt(0, 3));
	t.typtypmod = static_cast<int32_t>(r.GetInt(0, 4));
	t.elem = static_cast<uint32_t>(r.GetInt(0, 5));
	return t;
}

// Follows a domain chain to its base type; typmod becomes the innermost domain's when it sets one.
TypeRow ResolveBase(PgConnection &conn, uint32_t &oid, int32_t &typmod) {
	auto t = LoadType(conn, oid);
	for (int depth = 0; t.typtype == 'd' && depth < 32; depth++) {
		if (t.typtypmod != -1) {
			typmod = t.typtypmod;
		}
		oid = t.basetype;
		t = LoadType(conn, oid);
	}
	return t;
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

PgTableDescription DescribeTable(PgConnection &conn, const std::string &table) {
	std::string regclass;
	if (!table.empty() && std::all_of(table.begin(), table.end(), [](char c) { return std::isdigit(c); })) {
		regclass = table;
	} else {
		auto dot = table.find('.');
		regclass = dot == std::string::npos ? conn.QuoteIdent(table)
		                                    : conn.QuoteQualified(table.substr(0, dot), table.substr(dot + 1));
	}
	auto rel = conn.Exec("SELECT c.oid, n.nspname, c.relname, c.relreplident FROM pg_class c "
	                     "JOIN pg_namespace n ON n.oid = c.relnamespace "
	                     "WHERE c.oid = CASE WHEN $1 ~ '^[0-9]+$' THEN $1::oid ELSE to_regclass($1)::oid END",
	                     {regclass});
	if (rel.Rows() != 1) {
		throw Error(ErrorKind::Source, "table " + table + " does not exist in the source database",
		            {.table = table, .hint = "check the table name (schema.table) and the search path"});
	}
	PgTableDescription out;
	out.oid = static_cast<uint32_t>(rel.GetInt(0, 0));
	out.schema = rel.Get(0, 1);
	out.name = rel.Get(0, 2);
	out.replica_identity = rel.Get(0, 3).empty() ? 'd' : rel.Get(0, 3)[0];
	auto oid = std::to_string(out.oid);
	auto cols = conn.Exec("SELECT attname, attnum, atttypid, atttypmod, attndims, attnotnull, "
	                      "format_type(atttypid, atttypmod) FROM pg_attribute "
	                      "WHERE attrelid = $1 AND attnum > 0 AND NOT attisdropped ORDER BY attnum",
	                      {oid});
	auto key = conn.Exec("SELECT indkey::text FROM pg_index WHERE indrelid = $1 AND "
	                     "CASE WHEN $2 = 'i' THEN indisreplident ELSE indisprimary END LIMIT 1",
	                     {oid, std::string(1, out.replica_identity)});
	std::vector<int> key_attnums;
	if (key.Rows() == 1) {
		std::string k(key.Get(0, 0)); // int2vector prints as "2 1"
		k += ' ';
		std::string num;
		for (char c : k) {
			if (std::isdigit(static_cast<unsigned char>(c))) {
				num += c;
			} else if (!num.empty()) {
				key_attnums.push_back(std::stoi(num));
				num.clear();
			}
		}
	}
	for (int i = 0; i < cols.Rows(); i++) {
		PgColumn c;
		c.name = cols.Get(i, 0);
		c.attnum = static_cast<int>(cols.GetInt(i, 1));
		uint32_t type_oid = static_cast<uint32_t>(cols.GetInt(i, 2));
		int32_t typmod = static_cast<int32_t>(cols.GetInt(i, 3));
		c.type.ndims = static_cast<int>(cols.GetInt(i, 4));
		c.not_null = cols.GetBool(i, 5);
		c.type.format = cols.Get(i, 6);
		c.type.typtype = LoadType(conn, type_oid).typtype;
		auto base = ResolveBase(conn, type_oid, typmod);
		c.type.oid = type_oid;
		c.type.name = base.name;
		c.type.typmod = typmod;
		c.type.typcategory = base.typcategory;
		if (base.typtype == 'e') {
			c.type.typtype = 'e';
		}
		if (base.typcategory == 'A' && base.elem != 0) {
			uint32_t elem_oid = base.elem;
			int32_t elem_typmod = typmod;
			auto declared = LoadType(conn, elem_oid);
			auto elem = ResolveBase(conn, elem_oid, elem_typmod);
			c.type.elem_oid = elem_oid;
			c.type.elem_name = elem.name;
			c.type.elem_typtype = elem.typtype == 'e' ? 'e' : declared.typtype;
			c.type.elem_typmod = elem_typmod;
		}
		auto pos = std::find(key_attnums.begin(), key_attnums.end(), c.attnum);
		if (pos != key_attnums.end()) {
			c.key_position = static_cast<int>(pos - key_attnums.begin()) + 1;
		}
		out.columns.push_back(std::move(c));
	}
	return out;
}

} // namespace duckpipe
