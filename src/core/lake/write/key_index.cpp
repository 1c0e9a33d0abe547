#include "core/lake/write/key_index.hpp"

#include "core/common/error.hpp"
#include "core/common/private_dir.hpp"
#include "core/duck/duck_connection.hpp"

#include <duckdb.h>

#include <algorithm>
#include <atomic>
#include <cerrno>
#include <climits>
#include <cstdint>
#include <cstdlib>
#include <cstring>
#include <filesystem>

#include <fcntl.h>
#include <unistd.h>

namespace duckpipe::lake {

namespace {

Error IoError(const std::string &what, const std::string &path) {
	return Error(ErrorKind::Io, what + " '" + path + "': " + std::strerror(errno),
	             {.hint = "the key index of pg_duckpipe lives in the temp directory: check its free space and "
	                      "permissions"});
}

// An open file descriptor, closed on every way out.
struct Fd {
	int fd = -1;
	Fd(const std::string &path, int flags) : fd(::open(path.c_str(), flags | O_CLOEXEC, 0600)) {
		if (fd < 0) {
			throw IoError("cannot open key index file", path);
		}
	}
	~Fd() { ::close(fd); }
	Fd(const Fd &) = delete;
	Fd &operator=(const Fd &) = delete;
};

void WriteAll(int fd, const void *data, size_t bytes, const std::string &path) {
	auto *p = static_cast<const char *>(data);
	while (bytes > 0) {
		auto n = ::write(fd, p, bytes);
		if (n < 0 && errno == EINTR) {
			continue;
		}
		if (n <= 0) {
			throw IoError("cannot write key index file", path);
		}
		p += n;
		bytes -= static_cast<size_t>(n);
	}
}

void ReadAll(int fd, void *data, size_t bytes, off_t offset, const std::string &path) {
	auto *p = static_cast<char *>(data);
	while (bytes > 0) {
		auto n = ::pread(fd, p, bytes, offset);
		if (n < 0 && errno == EINTR) {
			continue;
		}
		if (n <= 0) {
			throw IoError("cannot read key index file", path);
		}
		p += n;
		bytes -= static_cast<size_t>(n);
		offset += n;
	}
}

} // namespace

struct KeyIndex::Entry {
	std::string keys_path; // int64 keys, ascending
	std::string pos_path;  // uint32 positions, in the order of the keys
	int64_t count = 0;
	std::vector<int64_t> fences; // keys[i * kBlock]
	int64_t last_key = 0;
	int64_t column_id = 0;
	~Entry() {
		std::error_code ec;
		std::filesystem::remove(keys_path, ec);
		std::filesystem::remove(pos_path, ec);
	}
};

KeyIndex::KeyIndex(std::string base_dir) : base_dir_(std::move(base_dir)) {}

KeyIndex::~KeyIndex() {
	entries_.clear(); // their files first, then the directory
}

std::string KeyIndex::Directory() {
	std::lock_guard guard(mutex_);
	if (dir_.Empty()) {
		dir_ = PrivateDirectory(base_dir_, kKeyIndexDirPrefix);
	}
	return dir_.Path();
}

std::shared_ptr<KeyIndex::Entry> KeyIndex::Build(int64_t table_id, int64_t data_file_id, DuckConnection &duck,
                                                 const std::string &rows_sql) {
	auto entry = std::make_shared<Entry>();
	// A name of its own per build: an entry replaced meanwhile removes only its own files.
	static std::atomic<int64_t> builds{0};
	auto stem = Directory() + "/" + std::to_string(table_id) + "-" + std::to_string(data_file_id) + "-" +
	            std::to_string(builds.fetch_add(1));
	entry->keys_path = stem + ".keys";
	entry->pos_path = stem + ".pos";
	Fd keys(entry->keys_path, O_WRONLY | O_CREAT | O_TRUNC);
	Fd pos(entry->pos_path, O_WRONLY | O_CREAT | O_TRUNC);

	duckdb_prepared_statement prepared = nullptr;
	struct PreparedGuard {
		duckdb_prepared_statement &p;
		~PreparedGuard() { duckdb_destroy_prepare(&p); }
	} prepared_guard{prepared};
	const std::string what = "reading the keys of data file " + std::to_string(data_file_id);
	if (duckdb_prepare(duck.Raw(), rows_sql.c_str(), &prepared) == DuckDBError) {
		const char *err = duckdb_prepare_error(prepared);
		throw duck.Failure(what, err ? err : "cannot prepare the query", DUCKDB_ERROR_INVALID);
	}
	duckdb_result result = duck.ExecutePrepared(prepared, true, what);
	struct ResultGuard {
		duckdb_result &r;
		~ResultGuard() { duckdb_destroy_result(&r); }
	} result_guard{result};
	std::vector<int64_t> key_buf;
	std::vector<uint32_t> pos_buf;
	auto drain = [&] {
		WriteAll(keys.fd, key_buf.data(), key_buf.size() * sizeof(int64_t), entry->keys_path);
		WriteAll(pos.fd, pos_buf.data(), pos_buf.size() * sizeof(uint32_t), entry->pos_path);
		key_buf.clear();
		pos_buf.clear();
	};
	while (duckdb_data_chunk chunk = duckdb_fetch_chunk(result)) {
		struct ChunkGuard {
			duckdb_data_chunk &c;
			~ChunkGuard() { duckdb_destroy_data_chunk(&c); }
		} chunk_guard{chunk};
		auto rows = duckdb_data_chunk_get_size(chunk);
		auto *k = static_cast<const int64_t *>(duckdb_vector_get_data(duckdb_data_chunk_get_vector(chunk, 0)));
		auto *p = static_cast<const int64_t *>(duckdb_vector_get_data(duckdb_data_chunk_get_vector(chunk, 1)));
		for (idx_t r = 0; r < rows; r++) {
			if (p[r] < 0 || p[r] > static_cast<int64_t>(UINT32_MAX)) {
				throw Error(ErrorKind::Internal, "row position " + std::to_string(p[r]) + " of data file " +
				                                     std::to_string(data_file_id) + " does not fit the key index");
			}
			if (entry->count % kBlock == 0) {
				entry->fences.push_back(k[r]);
			}
			key_buf.push_back(k[r]);
			pos_buf.push_back(static_cast<uint32_t>(p[r]));
			entry->last_key = k[r];
			entry->count++;
		}
		if (key_buf.size() >= 65536) {
			drain();
		}
	}
	if (const char *err = duckdb_result_error(&result)) {
		throw duck.Failure(what, err, duckdb_result_error_type(&result));
	}
	drain();
	return entry;
}

void KeyIndex::Lookup(int64_t table_id, int64_t data_file_id, int64_t column_id, const std::vector<int64_t> &keys,
                      DuckConnection &duck, const std::string &rows_sql, std::vector<int64_t> &positions) {
	std::shared_ptr<Entry> entry;
	{
		std::lock_guard guard(mutex_);
		auto it = entries_.find({table_id, data_file_id});
		if (it != entries_.end() && it->second->column_id == column_id) {
			entry = it->second;
		}
	}
	if (!entry) {
		// Another key column (the source's key changed) replaces the file's index.
		entry = Build(table_id, data_file_id, duck, rows_sql);
		entry->column_id = column_id;
		std::lock_guard guard(mutex_);
		counters_.built++;
		entries_[{table_id, data_file_id}] = entry;
	}
	int64_t blocks_read = 0;
	if (entry->count > 0 && !keys.empty()) {
		Fd kf(entry->keys_path, O_RDONLY);
		Fd pf(entry->pos_path, O_RDONLY);
		std::vector<int64_t> block_keys(kBlock);
		std::vector<uint32_t> block_pos(kBlock);
		int64_t loaded = -1; // block in block_keys
		int64_t loaded_rows = 0;
		bool pos_loaded = false;
		auto load = [&](int64_t b) {
			if (b == loaded) {
				return;
			}
			loaded = b;
			loaded_rows = std::min(kBlock, entry->count - b * kBlock);
			ReadAll(kf.fd, block_keys.data(), loaded_rows * sizeof(int64_t), b * kBlock * sizeof(int64_t),
			        entry->keys_path);
			pos_loaded = false;
			blocks_read++;
		};
		auto nblocks = static_cast<int64_t>(entry->fences.size());
		for (auto key : keys) {
			if (key < entry->fences.front() || key > entry->last_key) {
				continue;
			}
			// The first block that may hold `key`: equal keys may end the block before the fence.
			auto b = static_cast<int64_t>(std::lower_bound(entry->fences.begin(), entry->fences.end(), key) -
			                              entry->fences.begin());
			b = std::max<int64_t>(b - 1, 0);
			for (; b < nblocks; b++) {
				if (entry->fences[b] > key) {
					break;
				}
				load(b);
				auto begin = block_keys.begin();
				auto end = block_keys.begin() + loaded_rows;
				auto lo = std::lower_bound(begin, end, key);
				auto hi = std::upper_bound(lo, end, key);
				if (lo != hi && !pos_loaded) {
					ReadAll(pf.fd, block_pos.data(), loaded_rows * sizeof(uint32_t), b * kBlock * sizeof(uint32_t),
					        entry->pos_path);
					pos_loaded = true;
				}
				for (auto i = lo; i != hi; ++i) {
					positions.push_back(block_pos[i - begin]);
				}
				if (hi != end) {
					break; // the rest of the block is above the key
				}
			}
		}
	}
	std::lock_guard guard(mutex_);
	counters_.probed++;
	counters_.blocks_read += blocks_read;
}

void KeyIndex::Retain(int64_t table_id, const std::set<int64_t> &live) {
	std::lock_guard guard(mutex_);
	for (auto it = entries_.lower_bound({table_id, INT64_MIN}); it != entries_.end() && it->first.first == table_id;) {
		if (!live.count(it->first.second)) {
			it = entries_.erase(it);
		} else {
			++it;
		}
	}
}

KeyIndex::Counters KeyIndex::Totals() const {
	std::lock_guard guard(mutex_);
	return counters_;
}

} // namespace duckpipe::lake
