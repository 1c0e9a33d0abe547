#include "core/common/private_dir.hpp"

#include "core/common/error.hpp"

#include <cerrno>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <utility>

#include <fcntl.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

namespace duckpipe {

namespace fs = std::filesystem;

namespace {

fs::path BaseOrTemp(const std::string &base) {
	std::error_code ec;
	fs::path dir = base.empty() ? fs::temp_directory_path(ec) : fs::path(base);
	return dir.empty() ? fs::path("/tmp") : dir;
}

// The directory at `path` opened and locked exclusively. kHeld: another process holds the lock (or
// the path is gone, or not a directory of ours); kUnsupported: its file system has no flock.
enum class LockResult { kLocked, kHeld, kUnsupported };

LockResult LockDirectory(const std::string &path, int &fd) {
	fd = ::open(path.c_str(), O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
	if (fd < 0) {
		return LockResult::kHeld;
	}
	if (::flock(fd, LOCK_EX | LOCK_NB) != 0) {
		bool held = errno == EWOULDBLOCK || errno == EINTR;
		::close(fd);
		fd = -1;
		return held ? LockResult::kHeld : LockResult::kUnsupported;
	}
	return LockResult::kLocked;
}

// Whether `fd` is still the directory at `path`: a sweeper may have removed the path between its
// creation and our lock (a new directory of that name would be another inode).
bool StillAt(int fd, const std::string &path) {
	struct stat held {};
	struct stat now {};
	return ::fstat(fd, &held) == 0 && ::lstat(path.c_str(), &now) == 0 && held.st_dev == now.st_dev &&
	       held.st_ino == now.st_ino;
}

bool HasOurPrefix(const std::string &name) {
	for (const char *prefix : {kBufferDirPrefix, kCopyDirPrefix, kKeyIndexDirPrefix, kQueryDirPrefix}) {
		if (name.starts_with(prefix)) {
			return true;
		}
	}
	return false;
}

int64_t BytesUnder(const fs::path &dir) {
	int64_t bytes = 0;
	std::error_code ec;
	for (fs::recursive_directory_iterator it(dir, fs::directory_options::skip_permission_denied, ec), end;
	     !ec && it != end; it.increment(ec)) {
		std::error_code size_ec;
		if (it->is_regular_file(size_ec)) {
			auto size = it->file_size(size_ec);
			bytes += size_ec ? 0 : static_cast<int64_t>(size);
		}
	}
	return bytes;
}

} // namespace

PrivateDirectory::PrivateDirectory(const std::string &base, const std::string &prefix, const std::string &table) {
	fs::path dir = BaseOrTemp(base);
	std::error_code ec;
	fs::create_directories(dir, ec);
	// A sweep running at this moment may take the new directory for a leftover before it is locked:
	// it then holds the lock or has removed the directory, and another name is made.
	for (int attempt = 0; attempt < 100; attempt++) {
		std::string templ = (dir / (prefix + "XXXXXX")).string();
		if (!::mkdtemp(templ.data())) {
			throw Error(ErrorKind::Io,
			            "cannot create a temporary directory in '" + dir.string() + "': " + std::strerror(errno),
			            {.table = table,
			             .hint = "make the temp directory (--temp-dir) a writable directory or point it "
			                     "elsewhere"});
		}
		int fd = -1;
		auto locked = LockDirectory(templ, fd);
		if (locked == LockResult::kUnsupported) {
			// A file system without flock: the directory works unlocked, and a sweep (which cannot
			// tell it from a leftover either) leaves it alone.
			::chmod(templ.c_str(), S_IRWXU);
			path_ = templ;
			return;
		}
		if (locked == LockResult::kLocked && StillAt(fd, templ)) {
			// mkdtemp already asks for 0700; a umask can only narrow that, but say it outright.
			::fchmod(fd, S_IRWXU);
			path_ = templ;
			lock_fd_ = fd;
			return;
		}
		if (fd >= 0) {
			::close(fd);
		}
	}
	throw Error(ErrorKind::Io, "cannot create and lock a temporary directory in '" + dir.string() + "'",
	            {.table = table,
	             .hint = "another process keeps removing directories there; point --temp-dir "
	                     "at a directory of pg_duckpipe's own"});
}

PrivateDirectory::~PrivateDirectory() {
	Remove();
}

PrivateDirectory::PrivateDirectory(PrivateDirectory &&other) noexcept
    : path_(std::exchange(other.path_, {})), lock_fd_(std::exchange(other.lock_fd_, -1)) {}

PrivateDirectory &PrivateDirectory::operator=(PrivateDirectory &&other) noexcept {
	if (this != &other) {
		Remove();
		path_ = std::exchange(other.path_, {});
		lock_fd_ = std::exchange(other.lock_fd_, -1);
	}
	return *this;
}

std::string PrivateDirectory::Remove() noexcept {
	std::string failure;
	if (!path_.empty()) {
		// Removed while still locked: a sweep never sees it half gone.
		std::error_code ec;
		fs::remove_all(path_, ec);
		if (ec) {
			failure = ec.message();
		}
		path_.clear();
	}
	if (lock_fd_ >= 0) {
		::close(lock_fd_);
		lock_fd_ = -1;
	}
	return failure;
}

SweepResult SweepAbandonedDirectories(const std::string &base) {
	SweepResult result;
	std::error_code ec;
	uid_t me = ::geteuid();
	for (fs::directory_iterator it(BaseOrTemp(base), ec), end; !ec && it != end; it.increment(ec)) {
		std::string name = it->path().filename().string();
		struct stat st {};
		if (!HasOurPrefix(name) || ::lstat(it->path().c_str(), &st) != 0 || !S_ISDIR(st.st_mode) || st.st_uid != me) {
			continue;
		}
		int fd = -1;
		if (LockDirectory(it->path().string(), fd) != LockResult::kLocked) {
			continue; // in use by a live process, or no lock to tell
		}
		int64_t bytes = BytesUnder(it->path());
		std::error_code remove_ec;
		fs::remove_all(it->path(), remove_ec);
		::close(fd);
		if (!remove_ec) {
			result.directories++;
			result.bytes += bytes;
		}
	}
	return result;
}

} // namespace duckpipe
