#include "core/cdc/relation_cache.hpp"

namespace duckpipe::cdc {

RelationChange RelationCache::Put(std::shared_ptr<const RelationInfo> rel) {
	auto [it, inserted] = relations_.try_emplace(rel->oid, rel);
	if (inserted) {
		return RelationChange::New;
	}
	bool same = it->second->SameSchema(*rel);
	it->second = std::move(rel);
	return same ? RelationChange::Unchanged : RelationChange::Changed;
}

std::shared_ptr<const RelationInfo> RelationCache::FindShared(Oid oid) const {
	auto it = relations_.find(oid);
	return it == relations_.end() ? nullptr : it->second;
}

void RelationCache::PutType(TypeInfo type) {
	Oid oid = type.oid;
	types_[oid] = std::move(type);
}

const TypeInfo *RelationCache::FindType(Oid oid) const {
	auto it = types_.find(oid);
	return it == types_.end() ? nullptr : &it->second;
}

void RelationCache::Clear() {
	relations_.clear();
	types_.clear();
}

} // namespace duckpipe::cdc
