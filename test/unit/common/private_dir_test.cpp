#include "core/common/error.hpp"
#include "core/common/private_dir.hpp"

#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>
#include <set>
#include <sys/stat.h>

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
	for (int i = 0; i < 50; i++) {
		auto dir = CreatePrivateDirectory(scratch.path, "duckpipe-copy-t-");
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
		auto dir = CreatePrivateDirectory(scratch.path, "duckpipe-copy-t-");
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
		CreatePrivateDirectory(file, "duckpipe-buffer-", "public.t");
		FAIL() << "a base that is a file was accepted";
	} catch (const Error &e) {
		EXPECT_EQ(e.Kind(), ErrorKind::Io);
		EXPECT_NE(std::string(e.what()).find(file), std::string::npos) << e.what();
		EXPECT_NE(std::string(e.what()).find("--temp-dir"), std::string::npos) << e.what();
		EXPECT_EQ(e.Context().table, "public.t");
	}
}

} // namespace duckpipe
