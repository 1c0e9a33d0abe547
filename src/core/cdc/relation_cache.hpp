#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

namespace duckpipe::cdc {

using Oid = uint32_t;

struct ColumnInfo {
	std::string name;
	Oid type_oid = 0;
	int32_t typmod = -1;
	bool is_key = false; // part of the replica identity (flag bit 1 of the Relation message)

	bool operator==(const ColumnInfo &) const = default;
};

// The replica identity setting of a table, as sent in the Relation message.
enum class ReplicaIdentity : char {
	Default = 'd', // primary key
	Nothing = 'n',
	Full = 'f',
	Index = 'i',
};

// A table as pgoutput last described it. Columns are the published, non-dropped, non-generated
// columns in attribute order: tuple column i is columns[i].
struct RelationInfo {
	Oid oid = 0;
	std::string nspname;
	std::string relname;
	ReplicaIdentity replica_identity = ReplicaIdentity::Default;
	std::vector<ColumnInfo> columns;

	// "schema.table" (unquoted, for messages and logs).
	std::string QualifiedName() const { return nspname + "." + relname; }
	// Same shape (names, types, typmods, key flags, identity) as another description.
	bool SameSchema(const RelationInfo &other) const {
		return nspname == other.nspname && relname == other.relname && replica_identity == other.replica_identity &&
		       columns == other.columns;
	}
};

// What a Relation message meant for the cache.
enum class RelationChange {
	New,       // first description of this OID on this stream
	Unchanged, // re-sent (pgoutput does so per streamed transaction and after cache invalidation)
	Changed,   // re-sent with a different schema: DDL happened (ALTER TABLE, RENAME, ...)
};

// A user-defined type as described by a Type message.
struct TypeInfo {
	Oid oid = 0;
	std::string nspname;
	std::string typname;
};

// Relations and types by OID: the decoder's only long-lived allocations. Entries are shared
// pointers to immutable descriptions, so a consumer may keep the schema a batch was decoded with
// after a later Relation message replaced it.
class RelationCache {
public:
	// Stores rel (replacing any entry with its OID) and says how it differs from the old one.
	RelationChange Put(std::shared_ptr<const RelationInfo> rel);
	// nullptr when the OID was never described on this stream.
	const RelationInfo *Find(Oid oid) const {
		auto it = relations_.find(oid);
		return it == relations_.end() ? nullptr : it->second.get();
	}
	std::shared_ptr<const RelationInfo> FindShared(Oid oid) const;
	void PutType(TypeInfo type);
	const TypeInfo *FindType(Oid oid) const;
	size_t Size() const { return relations_.size(); }
	void Clear();

private:
	std::unordered_map<Oid, std::shared_ptr<const RelationInfo>> relations_;
	std::unordered_map<Oid, TypeInfo> types_;
};

} // namespace duckpipe::cdc
