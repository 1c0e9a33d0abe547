#pragma once

#include <cstdint>
#include <string>

namespace duckpipe {

// A directory of one process's own for rows it spills or indexes: `<base>/<prefix>XXXXXX`, made by
// mkdtemp (a name no one else holds: an existing file, directory or symlink is never reused) with
// mode 0700, so other local users can neither read the rows in it nor plant files in it. An empty
// base means the system temp directory; a missing base is created.
//
// It holds an exclusive flock on itself for its whole life and is removed with its contents when
// destroyed. A process killed (kill -9, the OOM killer, a server crash) runs no destructor, but the
// kernel drops its locks: SweepAbandonedDirectories tells such leftovers, which may hold gigabytes of
// spilled rows, from the directories of processes still running by that lock alone.
class PrivateDirectory {
public:
	PrivateDirectory() = default;
	// Throws Error(Io) naming the base directory and the fix; `table` goes into the error's context.
	PrivateDirectory(const std::string &base, const std::string &prefix, const std::string &table = {});
	~PrivateDirectory();
	PrivateDirectory(PrivateDirectory &&other) noexcept;
	PrivateDirectory &operator=(PrivateDirectory &&other) noexcept;
	PrivateDirectory(const PrivateDirectory &) = delete;
	PrivateDirectory &operator=(const PrivateDirectory &) = delete;

	const std::string &Path() const { return path_; }
	bool Empty() const { return path_.empty(); }
	// Removes the directory and its contents now: "" when done, else what failed.
	std::string Remove() noexcept;

private:
	std::string path_;
	int lock_fd_ = -1;
};

// The name prefixes of the private directories pg_duckpipe makes (the sweep removes nothing else).
inline constexpr const char *kBufferDirPrefix = "duckpipe-buffer-";
inline constexpr const char *kCopyDirPrefix = "duckpipe-copy-";
inline constexpr const char *kKeyIndexDirPrefix = "duckpipe-keyindex-";
inline constexpr const char *kQueryDirPrefix = "duckpipe-query-";

struct SweepResult {
	int64_t directories = 0;
	int64_t bytes = 0;
};

// Removes the private directories under `base` (empty: the system temp directory) that no running
// process holds: left by a process that died without removing them. Directories of other users, of
// other names, and symlinks are left alone, and so is everything on a file system without flock
// (where directories are made unlocked). Never throws: what cannot be read or removed is skipped.
SweepResult SweepAbandonedDirectories(const std::string &base);

} // namespace duckpipe
