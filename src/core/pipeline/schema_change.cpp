#include "core/pipeline/schema_change.hpp"

#include "core/common/error.hpp"
#include "core/duck/duck_connection.hpp"
#include "core/duck/duck_database.hpp"
#include "core/duck/duck_sandbox.hpp"
#include "core/lake/lake_type.hpp"
#include "core/lake/write/lake_commit.hpp"
#include "core/pg/pg_connection.hpp"

#include <algorithm>
#include <map>
#include <optional>
#include <set>

namespace duckpipe::pipeline {

namespace {

// A column of the source table as its catalog says now.
struct CatalogColumn {
	int attnum = 0;
	uint32_t type_oid = 0;
	int32_t typmod = -1;
	bool has_missing = false;           // added with a constant default: old rows read `missing`
	std::optional<std::string> missing; // that value, as PostgreSQL's text
	bool has_default = false;
	bool volatile_default = false; // PostgreSQL rewrote the old rows with per-row values
};

bool SameLakeType(const lake::LakeTypeMapping &a, const lake::LakeTypeMapping &b) {
	if (a.lake_type != b.lake_type || a.children.size() != b.children.size()) {
		return false;
	}
	for (size_t i = 0; i < a.children.size(); i++) {
		if (!SameLakeType(a.children[i], b.children[i])) {
			return false;
		}
	}
	return true;
}

std::string TypeLabel(const lake::LakeTypeMapping &m) {
	return m.lake_type == "list" && !m.children.empty() ? "list of " + TypeLabel(m.children[0]) : m.lake_type;
}

// The lake's text for a PostgreSQL default value (DuckLake stores initial defaults as text that
// DuckDB casts to the column type).
std::string LakeDefault(const lake::LakeTypeMapping &mapping, const std::string &pg_text) {
	DuckDatabase db("", {{"threads", "1"}, {"memory_limit", "64MB"}});
	auto duck = db.Connect();
	// The default is source catalog text: evaluate it with no file access at all.
	DuckSandbox{}.Lock(*duck);
	lake::RegisterPgTextFunctions(*duck);
	auto expr = lake::TextToDuckExpression(mapping, DuckConnection::QuoteLiteral(pg_text));
	auto r = duck->Query("SELECT CAST(CAST((" + expr + ") AS " + mapping.duck_type + ") AS VARCHAR)");
	return r.GetString(0, 0).value_or("NULL");
}

} // namespace

bool SchemaChange::Matches(const TableSchema &schema, const cdc::RelationInfo &rel) {
	const auto &cols = schema.layout.columns;
	if (cols.size() != rel.columns.size()) {
		return false;
	}
	// Key flags mean our key unless the identity is FULL (every column flagged) or the table is a
	// changelog (no key used).
	bool check_keys = schema.mode == meta::SyncMode::Upsert && rel.replica_identity != cdc::ReplicaIdentity::Full;
	for (size_t i = 0; i < cols.size(); i++) {
		const auto &r = rel.columns[i];
		if (cols[i].name != r.name || cols[i].type_oid != r.type_oid || cols[i].typmod != r.typmod ||
		    (check_keys && cols[i].key != r.is_key)) {
			return false;
		}
	}
	return true;
}

SchemaChange SchemaChange::Plan(PgConnection &source, const TableSchema &current, const cdc::RelationInfo &rel) {
	std::string table = rel.QualifiedName();
	std::string resync = "run `duckpipe resync-table " + table + "` to copy it again with its new columns";
	auto unsupported = [&](const std::string &what) {
		return Error(ErrorKind::Unsupported, "source table " + table + " changed: " + what,
		             {.table = table, .hint = resync});
	};

	// The value old rows read for an added column is the fast default (attmissingval) of the table,
	// or of its leaf partitions for a partitioned root (which has no storage, so no missing value).
	// Only a volatile default makes PostgreSQL rewrite the rows instead; a column added without a
	// default and given one later (SET DEFAULT) has NULL in the old rows.
	auto cat = source.Exec(
	    "SELECT a.attname, a.attnum, a.atttypid, a.atttypmod, a.atthasmissing OR m.found IS NOT NULL, "
	    "CASE WHEN a.atthasmissing THEN (a.attmissingval::text::text[])[1] ELSE m.missing END, "
	    "d.oid IS NOT NULL, coalesce(v.volatile, false) "
	    "FROM pg_attribute a LEFT JOIN pg_attrdef d ON d.adrelid = a.attrelid AND d.adnum = a.attnum "
	    "LEFT JOIN LATERAL (SELECT true AS found, (pa.attmissingval::text::text[])[1] AS missing "
	    "FROM pg_partition_tree(a.attrelid) pt JOIN pg_attribute pa ON pa.attrelid = pt.relid "
	    "AND pa.attname = a.attname AND pa.atthasmissing WHERE pt.isleaf ORDER BY pt.level LIMIT 1) m ON true "
	    "LEFT JOIN LATERAL (SELECT bool_or(p.provolatile = 'v') OR d.adbin::text LIKE '%{NEXTVALUEEXPR%' AS volatile "
	    "FROM regexp_matches(d.adbin::text, ':(?:funcid|opfuncid) ([0-9]+)', 'g') f "
	    "JOIN pg_proc p ON p.oid = f[1]::oid) v ON d.oid IS NOT NULL "
	    "WHERE a.attrelid = $1 AND a.attnum > 0 AND NOT a.attisdropped AND a.attgenerated = ''",
	    {std::to_string(rel.oid)});
	std::map<std::string, CatalogColumn> catalog;
	for (int i = 0; i < cat.Rows(); i++) {
		CatalogColumn c;
		c.attnum = static_cast<int>(cat.GetInt(i, 1));
		c.type_oid = static_cast<uint32_t>(cat.GetInt(i, 2));
		c.typmod = static_cast<int32_t>(cat.GetInt(i, 3));
		c.has_missing = cat.GetBool(i, 4);
		c.missing = cat.GetOptional(i, 5);
		c.has_default = cat.GetBool(i, 6);
		c.volatile_default = cat.GetBool(i, 7);
		catalog.emplace(std::string(cat.Get(i, 0)), std::move(c));
	}
	auto described = lake::DescribeTable(source, std::to_string(rel.oid));
	auto describe_column = [&](int attnum) -> const lake::PgColumn & {
		for (const auto &c : described.columns) {
			if (c.attnum == attnum) {
				return c;
			}
		}
		throw unsupported("column " + std::to_string(attnum) + " vanished while the change was read");
	};

	// Which source attribute each streamed column is: pgoutput sends names only. The catalog is read
	// now, possibly after later DDL (a column this message still has may be dropped or renamed
	// since): a column the catalog no longer knows by that name and type is the one of the same name
	// and type the table had, unchanged until then.
	std::vector<CatalogColumn> attrs;
	for (const auto &r : rel.columns) {
		auto it = catalog.find(r.name);
		if (it != catalog.end() && it->second.type_oid == r.type_oid && it->second.typmod == r.typmod) {
			attrs.push_back(it->second);
			continue;
		}
		auto old =
		    std::find_if(current.layout.columns.begin(), current.layout.columns.end(), [&](const SourceColumn &c) {
			    return c.name == r.name && c.type_oid == r.type_oid && c.typmod == r.typmod;
		    });
		if (old == current.layout.columns.end()) {
			throw unsupported("column \"" + r.name +
			                  "\" was changed again before pg_duckpipe read the first change, so the rename, "
			                  "drop or type change cannot be told apart");
		}
		attrs.push_back({.attnum = old->attnum, .type_oid = old->type_oid, .typmod = old->typmod});
	}

	SchemaChange out;
	out.schema.mode = current.mode;
	out.schema.source = current.source;
	out.schema.source.schema = rel.nspname;
	out.schema.source.name = rel.relname;
	out.schema.relkind = current.relkind;
	auto note = [&](const std::string &step) { out.summary += (out.summary.empty() ? "" : "; ") + step; };

	std::set<int> streamed;
	for (const auto &a : attrs) {
		streamed.insert(a.attnum);
	}
	bool upsert = current.mode == meta::SyncMode::Upsert;
	for (const auto &old : current.layout.columns) {
		if (streamed.count(old.attnum)) {
			continue;
		}
		if (old.key && upsert) {
			throw unsupported("key column \"" + old.name + "\" was dropped");
		}
		out.buffer.push_back({.kind = flush::BufferColumnChange::Kind::Drop, .name = old.name});
		out.lake.push_back({.kind = LakeColumnChange::Kind::Drop, .name = old.name});
		note("drop column " + old.name);
	}

	for (size_t i = 0; i < rel.columns.size(); i++) {
		const auto &r = rel.columns[i];
		const auto *attr = &attrs[i];
		auto old = std::find_if(current.layout.columns.begin(), current.layout.columns.end(),
		                        [&](const SourceColumn &c) { return c.attnum == attr->attnum; });
		SourceColumn sc{.name = r.name, .attnum = attr->attnum, .type_oid = r.type_oid, .typmod = r.typmod};
		if (old != current.layout.columns.end()) {
			auto k = static_cast<size_t>(old - current.layout.columns.begin());
			sc.key = old->key;
			auto mapping = current.mappings[k];
			bool not_null = !current.lake_columns[k].nulls_allowed;
			if (old->name != r.name) {
				out.buffer.push_back(
				    {.kind = flush::BufferColumnChange::Kind::Rename, .name = old->name, .new_name = r.name});
				out.lake.push_back({.kind = LakeColumnChange::Kind::Rename, .name = old->name, .new_name = r.name});
				note("rename column " + old->name + " to " + r.name);
			}
			if (old->type_oid != r.type_oid || old->typmod != r.typmod) {
				const auto &pg = describe_column(attr->attnum);
				auto widened = lake::MapPgType(pg.type);
				if (SameLakeType(mapping, widened)) {
					note("column " + r.name + " is now " + pg.type.format + " (same lake type)");
				} else if (mapping.children.empty() && widened.children.empty() &&
				           lake::IsSafeWidening(mapping.lake_type, widened.lake_type)) {
					flush::BufferColumnChange retype{.kind = flush::BufferColumnChange::Kind::Retype, .name = r.name};
					retype.column.name = r.name;
					retype.column.duck_type = widened.duck_type;
					out.buffer.push_back(std::move(retype));
					out.lake.push_back(
					    {.kind = LakeColumnChange::Kind::Widen, .name = r.name, .new_type = widened.lake_type});
					note("widen column " + r.name + " from " + mapping.lake_type + " to " + widened.lake_type);
				} else {
					throw unsupported("column \"" + r.name + "\" changed type to " + pg.type.format + " (lake type " +
					                  TypeLabel(mapping) + " -> " + TypeLabel(widened) +
					                  "), which is not a widening DuckLake can apply in place");
				}
				mapping = std::move(widened);
			}
			out.schema.AddColumn(sc, std::move(mapping), not_null);
			continue;
		}
		// A new attribute: added by ALTER TABLE ... ADD COLUMN.
		const auto &pg = describe_column(attr->attnum);
		auto mapping = lake::MapPgType(pg.type);
		auto column = lake::ToLakeColumn(r.name, mapping, pg.not_null);
		flush::BufferColumnChange add{.kind = flush::BufferColumnChange::Kind::Add, .name = r.name};
		if (attr->has_missing && attr->missing) {
			if (!mapping.children.empty()) {
				throw unsupported("array column \"" + r.name +
				                  "\" was added with a default, which DuckLake cannot give to the rows already "
				                  "in the lake");
			}
			auto value = LakeDefault(mapping, *attr->missing);
			column.initial_default = value;
			column.default_value = value;
			add.fill_sql = DuckConnection::QuoteLiteral(value);
			note("add column " + r.name + " (existing rows: " + value + ")");
		} else if (attr->volatile_default) {
			throw unsupported("column \"" + r.name +
			                  "\" was added with a volatile default; PostgreSQL rewrote every row with its own "
			                  "value and logical replication does not send those");
		} else {
			note("add column " + r.name);
		}
		add.column.name = r.name;
		add.column.duck_type = mapping.duck_type;
		add.column.from_text = lake::TextToDuckExpression(mapping, "{}", r.name);
		out.buffer.push_back(std::move(add));
		out.lake.push_back({.kind = LakeColumnChange::Kind::Add, .name = r.name, .column = std::move(column)});
		out.schema.AddColumn(sc, std::move(mapping), pg.not_null);
	}
	out.schema.Finish();

	if (upsert) {
		std::vector<std::string> now;
		for (const auto &k : described.KeyColumns()) {
			now.push_back(k);
		}
		auto ours = out.schema.key_columns;
		std::sort(now.begin(), now.end());
		std::sort(ours.begin(), ours.end());
		if (now != ours) {
			auto join = [](const std::vector<std::string> &v) {
				std::string s;
				for (const auto &x : v) {
					s += (s.empty() ? "" : ", ") + x;
				}
				return "(" + s + ")";
			};
			throw unsupported("its key changed from " + join(ours) + " to " + join(now));
		}
	}
	return out;
}

void SchemaChange::StageLake(lake::LakeCommit &commit, int64_t table, const std::vector<LakeColumnChange> &changes) {
	for (const auto &ch : changes) {
		switch (ch.kind) {
		case LakeColumnChange::Kind::Add:
			commit.AddColumn(table, ch.column);
			break;
		case LakeColumnChange::Kind::Drop:
			commit.DropColumn(table, ch.name);
			break;
		case LakeColumnChange::Kind::Rename:
			commit.RenameColumn(table, ch.name, ch.new_name);
			break;
		case LakeColumnChange::Kind::Widen:
			commit.WidenColumnType(table, ch.name, ch.new_type);
			break;
		}
	}
}

} // namespace duckpipe::pipeline
