#pragma once

#include "core/common/private_dir.hpp"

#include <cstdint>
#include <map>
#include <memory>
#include <mutex>
#include <set>
#include <string>
#include <utility>
#include <vector>

namespace duckpipe {
class DuckConnection;
}

namespace duckpipe::lake {

// Finds the row positions of integer keys in a data file without reading the file: DeleteByKey's
// lookup, whose cost then depends on the keys asked for, not on the table's size. Random updates
// write small files whose key range spans the whole table and compaction merges them into files
// spanning everything, so min/max pruning alone ends up reading every file on every flush.
//
// Per data file, the first lookup reads the file's keys once (one DuckDB query, sorted by DuckDB so
// it spills instead of holding them) into two files of a private directory: the keys in order
// (int64) and their positions (uint32). Memory keeps every kBlock-th key; a lookup reads one block
// of each file per key. Data files are immutable and their ids never reused, so an index never goes
// stale; it is a cache outside the lake (nothing in the DuckLake catalog or data path), rebuilt
// after a restart, and dropped when its data file leaves the table. Thread-safe.
class KeyIndex {
public:
	static constexpr int64_t kBlock = 256;

	// `base_dir` holds the private directory (created at the first index, removed by the destructor);
	// empty: the system's temp directory.
	explicit KeyIndex(std::string base_dir);
	~KeyIndex();
	KeyIndex(const KeyIndex &) = delete;
	KeyIndex &operator=(const KeyIndex &) = delete;

	// What the lookups did, for tests and logs: indexes built (each one read of a data file's keys),
	// data files probed, index blocks read.
	struct Counters {
		int64_t built = 0;
		int64_t probed = 0;
		int64_t blocks_read = 0;
	};

	// Appends to `positions` the positions of the rows of data file `data_file_id` (of `table_id`)
	// whose key column `column_id` holds one of `keys` (sorted ascending, distinct). Without an index
	// of that column yet, builds it from `rows_sql` run on `duck`: the file's rows as (key BIGINT,
	// pos BIGINT), NULL keys left out, ordered by key then pos. Throws Error(Io) when the index
	// directory is unusable.
	void Lookup(int64_t table_id, int64_t data_file_id, int64_t column_id, const std::vector<int64_t> &keys,
	            DuckConnection &duck, const std::string &rows_sql, std::vector<int64_t> &positions);
	// Drops the indexes of `table_id`'s data files that are not in `live`.
	void Retain(int64_t table_id, const std::set<int64_t> &live);
	Counters Totals() const;

private:
	struct Entry;
	std::shared_ptr<Entry> Build(int64_t table_id, int64_t data_file_id, DuckConnection &duck,
	                             const std::string &rows_sql);
	std::string Directory();

	std::string base_dir_;
	mutable std::mutex mutex_; // guards everything below
	PrivateDirectory dir_;
	std::map<std::pair<int64_t, int64_t>, std::shared_ptr<Entry>> entries_;
	Counters counters_;
};

} // namespace duckpipe::lake
