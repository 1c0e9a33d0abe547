#pragma once

#include "core/flush/change_buffer.hpp"
#include "core/pipeline/table_route.hpp"
#include "core/pipeline/table_schema.hpp"

#include <cstdint>

namespace duckpipe {
class DuckConnection;
}

namespace duckpipe::lake {
class LakeCommit;
}

namespace duckpipe::pipeline {

// Upsert for a table without a key but with REPLICA IDENTITY FULL ("row match"): the lake table
// mirrors the source, and every UPDATE/DELETE removes exactly one lake row equal to the old row.
//
// The buffer keeps every change (as in append mode); the consumer turns an UPDATE into
// Delete(full old row) + Insert(new row). Applying is multiset arithmetic, order-independent
// because every delete refers to a row that existed: per distinct row value,
// net = #inserts - #deletes; net > 0 inserts that many copies, net < 0 deletes |net| live lake rows
// equal to it (LakeCommit::DeleteMatchingRows, which fails when the lake has fewer).
class RowMatchApply {
public:
	// Upsert mode without key columns (Describe only allows that with REPLICA IDENTITY FULL).
	static bool Applies(const TableSchema &schema);

	// Stages the buffered changes of `compacted` (an append-mode changes relation) into `commit`.
	// -> rows inserted. Throws Error(Internal) for an Update or unchanged-TOAST row (the consumer
	// never produces them for these tables), Error(Lake) when the lake diverged.
	static int64_t Apply(lake::LakeCommit &commit, int64_t table, DuckConnection &duck,
	                     const flush::ChangeBuffer::Compacted &compacted, const TableSchema &schema);
};

} // namespace duckpipe::pipeline
