#include "core/common/error.hpp"
#include "core/common/private_dir.hpp"

#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>
#include <set>
#include <sys/stat.h>
#include <vector>

namespace fs = std::filesystem;

namespace duckpipe {

namespace {

struct Scratch {
	std::string path;
	Scratch() {
		std::string templ = (fs::temp_directory_path() / "duckpipe-private-dir-test-XXXXXX").string();
		path = mkdtemp(templ.data());
	}
	~Scratch() {
		std::error_code ec;
		fs::remove_all(path, ec);
	}
};

int Mode(const std::string &path) {
	struct stat st {};
	EXPECT_EQ(lstat(path.c_str(), &st), 0) << path;
	return static_cast<int>(st.st_mode & 07777);
}

} // namespace

TEST(PrivateDirectory, FreshOwnerOnlyAndNeverAnExistingPath) {
	Scratch scratch;
	auto old_mask = umask(0); // even a permissive umask gives 0700
	std::set<std::string> made;
	std::vector<PrivateDirectory> held;
	for (int i = 0; i < 50; i++) {
		held.emplace_back(scratch.path, "duckpipe-copy-t-");
		auto dir = held.back().Path();
		EXPECT_TRUE(dir.starts_with(scratch.path + "/duckpipe-copy-t-")) << dir;
		EXPECT_TRUE(fs::is_directory(fs::symlink_status(dir))) << dir;
		EXPECT_TRUE(fs::is_empty(dir)) << dir;
		EXPECT_EQ(Mode(dir), 0700) << dir;
		EXPECT_TRUE(made.insert(dir).second) << dir << " was handed out twice";
	}
	umask(old_mask);
	// Paths that already exist (a directory, a planted symlink) are never handed out.
	fs::create_directory(scratch.path + "/duckpipe-copy-t-planted");
	fs::create_directory_symlink("/", scratch.path + "/duckpipe-copy-t-link");
	for (int i = 0; i < 20; i++) {
		held.emplace_back(scratch.path, "duckpipe-copy-t-");
		auto dir = held.back().Path();
		EXPECT_NE(dir, scratch.path + "/duckpipe-copy-t-planted");
		EXPECT_NE(dir, scratch.path + "/duckpipe-copy-t-link");
		EXPECT_FALSE(made.count(dir)) << dir;
		EXPECT_TRUE(fs::is_empty(dir)) << dir;
	}
}

TEST(PrivateDirectory, UnusableBaseIsNamed) {
	Scratch scratch;
	std::string file = scratch.path + "/file";
	std::ofstream(file) << "x";
	try {
		PrivateDirectory dir(file, "duckpipe-buffer-", "public.t");
		FAIL() << "a base that is a file was accepted";
	} catch (const Error &e) {
		EXPECT_EQ(e.Kind(), ErrorKind::Io);
		EXPECT_NE(std::string(e.what()).find(file), std::string::npos) << e.what();
		EXPECT_NE(std::string(e.what()).find("--temp-dir"), std::string::npos) << e.what();
		EXPECT_EQ(e.Context().table, "public.t");
	}
}

TEST(PrivateDirectory, RemovedWithItsContentsWhenDestroyedOrMoved) {
	Scratch scratch;
	std::string path;
	{
		PrivateDirectory dir(scratch.path, kBufferDirPrefix);
		path = dir.Path();
		fs::create_directories(path + "/spill");
		std::ofstream(path + "/spill/block") << std::string(4096, 'x');
		PrivateDirectory moved = std::move(dir);
		EXPECT_TRUE(dir.Empty());
		EXPECT_EQ(moved.Path(), path);
		EXPECT_TRUE(fs::exists(path + "/spill/block"));
	}
	EXPECT_FALSE(fs::exists(path));
}

// What a killed process leaves: its directories, unlocked. The sweep removes those and nothing else:
// not a directory a live PrivateDirectory holds, not other names, not symlinks, not files.
TEST(PrivateDirectory, SweepRemovesOnlyWhatNoLiveProcessHolds) {
	Scratch scratch;
	auto leftover = [&](const std::string &prefix, int bytes) {
		std::string templ = scratch.path + "/" + prefix + "XXXXXX";
		std::string dir = mkdtemp(templ.data());
		fs::create_directories(dir + "/spill");
		std::ofstream(dir + "/spill/block") << std::string(static_cast<size_t>(bytes), 'x');
		return dir;
	};
	auto dead_buffer = leftover(kBufferDirPrefix, 1000);
	auto dead_copy = leftover(kCopyDirPrefix, 200);
	auto dead_keys = leftover(kKeyIndexDirPrefix, 30);
	auto dead_query = leftover(kQueryDirPrefix, 4);
	auto other_name = leftover("duckpipe-private-dir-test-", 10);
	PrivateDirectory live(scratch.path, kBufferDirPrefix);
	std::ofstream(live.Path() + "/rows") << "live";
	fs::create_directory_symlink(dead_buffer, scratch.path + "/" + kCopyDirPrefix + "link");
	std::ofstream(scratch.path + "/" + kBufferDirPrefix + "file") << "x";

	auto swept = SweepAbandonedDirectories(scratch.path);
	EXPECT_EQ(swept.directories, 4);
	EXPECT_EQ(swept.bytes, 1234);
	EXPECT_FALSE(fs::exists(dead_buffer));
	EXPECT_FALSE(fs::exists(dead_copy));
	EXPECT_FALSE(fs::exists(dead_keys));
	EXPECT_FALSE(fs::exists(dead_query));
	EXPECT_TRUE(fs::exists(live.Path() + "/rows"));
	EXPECT_TRUE(fs::exists(other_name + "/spill/block"));
	EXPECT_TRUE(fs::is_symlink(scratch.path + "/" + kCopyDirPrefix + "link"));
	EXPECT_TRUE(fs::exists(scratch.path + "/" + kBufferDirPrefix + "file"));

	// A second sweep finds nothing; the live directory goes once its owner lets go of it.
	EXPECT_EQ(SweepAbandonedDirectories(scratch.path).directories, 0);
	std::string live_path = live.Path();
	EXPECT_EQ(live.Remove(), "");
	EXPECT_FALSE(fs::exists(live_path));
}

} // namespace duckpipe
