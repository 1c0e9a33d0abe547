#include "core/pipeline/schema_change.hpp"

#include <nlohmann/json.hpp>

#include "core/common/error.hpp"
#include "core/duck/duck_connection.hpp"
#include "core/duck/duck_database.hpp"
#include "core/duck/duck_sandbox.hpp"
#include "core/lake/lake_type.hpp"
#include "core/lake/write/lake_commit.hpp"
#include "core/pg/pg_connection.hpp"
#include "core/pg/source_table.hpp"

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

// The source catalog's columns of `oid`, by name. The value old rows read for an added column is the
// fast default (attmissingval) of the table, or of its leaf partitions for a partitioned root (which
// has no storage, so no missing value). Only a volatile default makes PostgreSQL rewrite the rows
// instead; a column added without a default and given one later (SET DEFAULT) has NULL in the old rows.
std::map<std::string, CatalogColumn> ReadCatalogColumns(PgConnection &source, uint32_t oid) {
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
	    {std::to_string(oid)});
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
	return catalog;
}

// Plans one Relation message against the table's current schema, step by step: which attribute
// each streamed column is, the columns dropped, the ones kept (renamed or retyped), the ones added,
// and whether the key still holds.
class SchemaPlanner {
public:
	SchemaPlanner(PgConnection &source, const TableSchema &current, const cdc::RelationInfo &rel)
	    : source_(source), current_(current), rel_(rel), table_(rel.QualifiedName()),
	      upsert_(current.mode == meta::SyncMode::Upsert) {}

	SchemaChange Plan() {
		auto catalog = ReadCatalogColumns(source_, rel_.oid);
		described_ = DescribeTable(source_, std::to_string(rel_.oid));
		auto attrs = MatchAttributes(catalog);
		out_.schema.mode = current_.mode;
		out_.schema.source = current_.source;
		out_.schema.source.schema = rel_.nspname;
		out_.schema.source.name = rel_.relname;
		out_.schema.relkind = current_.relkind;
		PlanDrops(attrs);
		for (size_t i = 0; i < rel_.columns.size(); i++) {
			const auto &r = rel_.columns[i];
			const auto &attr = attrs[i];
			auto old = std::find_if(current_.layout.columns.begin(), current_.layout.columns.end(),
			                        [&](const SourceColumn &c) { return c.attnum == attr.attnum; });
			SourceColumn sc{.name = r.name, .attnum = attr.attnum, .type_oid = r.type_oid, .typmod = r.typmod};
			if (old != current_.layout.columns.end()) {
				PlanKept(r, sc, static_cast<size_t>(old - current_.layout.columns.begin()));
			} else {
				PlanAdded(r, attr, sc);
			}
		}
		out_.schema.Finish();
		if (upsert_) {
			CheckKeyUnchanged();
		}
		return std::move(out_);
	}

private:
	Error Unsupported(const std::string &what) const {
		return Error(ErrorKind::Unsupported, "source table " + table_ + " changed: " + what,
		             {.table = table_,
		              .hint = "run `duckpipe resync-table " + table_ + "` to copy it again with its new columns"});
	}

	void Note(const std::string &step) { out_.summary += (out_.summary.empty() ? "" : "; ") + step; }

	const PgColumn &DescribedColumn(int attnum) const {
		for (const auto &c : described_.columns) {
			if (c.attnum == attnum) {
				return c;
			}
		}
		throw Unsupported("column " + std::to_string(attnum) + " vanished while the change was read");
	}

	// Which source attribute each streamed column is: pgoutput sends names only. The catalog is read
	// now, possibly after later DDL (a column this message still has may be dropped or renamed
	// since): a column the catalog no longer knows by that name and type is the one of the same name
	// and type the table had, unchanged until then.
	std::vector<CatalogColumn> MatchAttributes(const std::map<std::string, CatalogColumn> &catalog) const {
		std::vector<CatalogColumn> attrs;
		for (const auto &r : rel_.columns) {
			auto it = catalog.find(r.name);
			if (it != catalog.end() && it->second.type_oid == r.type_oid && it->second.typmod == r.typmod) {
				attrs.push_back(it->second);
				continue;
			}
			auto old = std::find_if(current_.layout.columns.begin(), current_.layout.columns.end(),
			                        [&](const SourceColumn &c) {
				                        return c.name == r.name && c.type_oid == r.type_oid && c.typmod == r.typmod;
			                        });
			if (old == current_.layout.columns.end()) {
				throw Unsupported("column \"" + r.name +
				                  "\" was changed again before pg_duckpipe read the first change, so the rename, "
				                  "drop or type change cannot be told apart");
			}
			attrs.push_back({.attnum = old->attnum, .type_oid = old->type_oid, .typmod = old->typmod});
		}
		return attrs;
	}

	void PlanDrops(const std::vector<CatalogColumn> &attrs) {
		std::set<int> streamed;
		for (const auto &a : attrs) {
			streamed.insert(a.attnum);
		}
		for (const auto &old : current_.layout.columns) {
			if (streamed.count(old.attnum)) {
				continue;
			}
			if (old.key && upsert_) {
				throw Unsupported("key column \"" + old.name + "\" was dropped");
			}
			out_.buffer.push_back({.kind = flush::BufferColumnChange::Kind::Drop, .name = old.name});
			out_.lake.push_back({.kind = LakeColumnChange::Kind::Drop, .name = old.name});
			Note("drop column " + old.name);
		}
	}

	// A column the table had (index `k` of the current layout): renamed and/or retyped.
	void PlanKept(const cdc::ColumnInfo &r, SourceColumn sc, size_t k) {
		const auto &old = current_.layout.columns[k];
		sc.key = old.key;
		auto mapping = current_.mappings[k];
		bool not_null = !current_.lake_columns[k].nulls_allowed;
		if (old.name != r.name) {
			out_.buffer.push_back(
			    {.kind = flush::BufferColumnChange::Kind::Rename, .name = old.name, .new_name = r.name});
			out_.lake.push_back({.kind = LakeColumnChange::Kind::Rename, .name = old.name, .new_name = r.name});
			Note("rename column " + old.name + " to " + r.name);
		}
		if (old.type_oid != r.type_oid || old.typmod != r.typmod) {
			mapping = PlanRetype(r, sc.attnum, mapping);
		}
		out_.schema.AddColumn(sc, std::move(mapping), not_null);
	}

	// A type change is followed only when the lake type stays or widens in place.
	lake::LakeTypeMapping PlanRetype(const cdc::ColumnInfo &r, int attnum, const lake::LakeTypeMapping &mapping) {
		const auto &pg = DescribedColumn(attnum);
		auto widened = lake::MapPgType(pg.type);
		if (SameLakeType(mapping, widened)) {
			out_.lake.push_back(
			    {.kind = LakeColumnChange::Kind::Retype, .name = r.name, .new_type = mapping.lake_type});
			Note("column " + r.name + " is now " + pg.type.format + " (same lake type)");
		} else if (mapping.children.empty() && widened.children.empty() &&
		           lake::IsSafeWidening(mapping.lake_type, widened.lake_type)) {
			flush::BufferColumnChange retype{.kind = flush::BufferColumnChange::Kind::Retype, .name = r.name};
			retype.column.name = r.name;
			retype.column.duck_type = widened.duck_type;
			out_.buffer.push_back(std::move(retype));
			out_.lake.push_back({.kind = LakeColumnChange::Kind::Widen, .name = r.name, .new_type = widened.lake_type});
			Note("widen column " + r.name + " from " + mapping.lake_type + " to " + widened.lake_type);
		} else {
			throw Unsupported("column \"" + r.name + "\" changed type to " + pg.type.format + " (lake type " +
			                  TypeLabel(mapping) + " -> " + TypeLabel(widened) +
			                  "), which is not a widening DuckLake can apply in place");
		}
		return widened;
	}

	// A new attribute: added by ALTER TABLE ... ADD COLUMN.
	void PlanAdded(const cdc::ColumnInfo &r, const CatalogColumn &attr, const SourceColumn &sc) {
		const auto &pg = DescribedColumn(attr.attnum);
		auto mapping = lake::MapPgType(pg.type);
		auto column = lake::ToLakeColumn(r.name, mapping, pg.not_null);
		flush::BufferColumnChange add{.kind = flush::BufferColumnChange::Kind::Add, .name = r.name};
		if (attr.has_missing && attr.missing) {
			if (!mapping.children.empty()) {
				throw Unsupported("array column \"" + r.name +
				                  "\" was added with a default, which DuckLake cannot give to the rows already "
				                  "in the lake");
			}
			auto value = LakeDefault(mapping, *attr.missing);
			column.initial_default = value;
			column.default_value = value;
			add.fill_sql = DuckConnection::QuoteLiteral(value);
			Note("add column " + r.name + " (existing rows: " + value + ")");
		} else if (attr.volatile_default) {
			throw Unsupported("column \"" + r.name +
			                  "\" was added with a volatile default; PostgreSQL rewrote every row with its own "
			                  "value and logical replication does not send those");
		} else {
			Note("add column " + r.name);
		}
		add.column.name = r.name;
		add.column.duck_type = mapping.duck_type;
		add.column.from_text = lake::TextToDuckExpression(mapping, "{}", r.name);
		out_.buffer.push_back(std::move(add));
		out_.lake.push_back({.kind = LakeColumnChange::Kind::Add, .name = r.name, .column = std::move(column)});
		out_.schema.AddColumn(sc, std::move(mapping), pg.not_null);
	}

	void CheckKeyUnchanged() const {
		std::vector<std::string> now;
		for (const auto &k : described_.KeyColumns()) {
			now.push_back(k);
		}
		auto ours = out_.schema.key_columns;
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
			throw Unsupported("its key changed from " + join(ours) + " to " + join(now));
		}
	}

	PgConnection &source_;
	const TableSchema &current_;
	const cdc::RelationInfo &rel_;
	const std::string table_;
	const bool upsert_;
	PgTableDescription described_;
	SchemaChange out_;
};

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
	return SchemaPlanner(source, current, rel).Plan();
}

void SchemaChange::FollowInRelation(lake::LakeCommit &commit, const std::string &schema, const std::string &table,
                                    const std::string &changes_json) {
	commit.AddSql([schema, table, changes_json](PgConnection &catalog) {
		auto present = catalog.Exec("SELECT p IS NOT NULL AND has_function_privilege(p, 'EXECUTE') FROM "
		                            "to_regprocedure('duckpipe.sync_target_relation(text,text,jsonb)') p");
		if (present.GetBool(0, 0)) {
			catalog.Exec("SELECT duckpipe.sync_target_relation($1, $2, $3::jsonb)", {schema, table, changes_json});
		}
	});
}

std::string SchemaChange::ColumnsJson(const std::vector<lake::LakeColumn> &columns) {
	nlohmann::json list = nlohmann::json::array();
	for (const auto &c : columns) {
		list.push_back({{"name", c.name}, {"lake_type", c.type}});
	}
	return nlohmann::json::array({{{"kind", "columns"}, {"columns", list}}}).dump();
}

void SchemaChange::StageLake(lake::LakeCommit &commit, int64_t table, const std::vector<LakeColumnChange> &changes) {
	if (changes.empty()) {
		return;
	}
	// The lake table as a PostgreSQL relation (pg_duckpipe installed in the lake catalog's
	// database) follows in the same transaction as the lake: both change or neither.
	nlohmann::json list = nlohmann::json::array();
	for (const auto &ch : changes) {
		// Retype is a widen for the relation (it takes the source column's type), nothing in the lake.
		static const char *kKinds[] = {"add", "drop", "rename", "widen", "widen"};
		list.push_back({{"kind", kKinds[static_cast<int>(ch.kind)]},
		                {"name", ch.name},
		                {"new_name", ch.new_name.empty() ? nlohmann::json() : nlohmann::json(ch.new_name)},
		                {"lake_type", ch.kind == LakeColumnChange::Kind::Add ? ch.column.type : ch.new_type}});
	}
	const auto &lake_table = commit.Table(table);
	FollowInRelation(commit, lake_table.schema_name, lake_table.name, list.dump());
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
		case LakeColumnChange::Kind::Retype:
			break;
		}
	}
}

} // namespace duckpipe::pipeline
