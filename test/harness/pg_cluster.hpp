#pragma once

#include <map>
#include <memory>
#include <set>
#include <string>

namespace duckpipe::test {

// A throwaway PostgreSQL 15 cluster: initdb into a temp dir, wal_level=logical, a free port on
// 127.0.0.1 and a socket in the temp dir. Stopped and removed by the destructor, and by the next
// test run if a crashed test left it behind.
class PgCluster {
public:
	struct Options {
		// postgresql.conf settings added to (or overriding) the defaults.
		std::map<std::string, std::string> settings;
		// Run the build's private PostgreSQL tree with pg_duckpipe preloaded (CREATE EXTENSION works).
		bool extension = false;
	};

	explicit PgCluster(const Options &options);
	PgCluster() : PgCluster(Options{}) {}
	~PgCluster();
	PgCluster(const PgCluster &) = delete;
	PgCluster &operator=(const PgCluster &) = delete;

	// One cluster per test binary, shared by suites that each use their own database.
	static PgCluster &Shared();
	// The options Shared() starts its cluster with: a binary that needs the extension sets
	// `.extension = true` before the first Shared() (e.g. from a static initializer).
	static Options &SharedOptions();

	// keyword=value conninfo over the unix socket, as superuser `postgres`.
	std::string Conninfo(const std::string &dbname = "postgres") const;
	// The same over TCP on 127.0.0.1.
	std::string TcpConninfo(const std::string &dbname = "postgres") const;
	// Creates a database with a unique name starting with prefix; returns its name.
	std::string CreateDatabase(const std::string &prefix);
	// Runs SQL as superuser in dbname; throws on error. Returns psql's unaligned output.
	std::string Psql(const std::string &dbname, const std::string &sql) const;

	void Start();
	void Stop(const std::string &mode = "fast");
	void Restart();
	// Sets a postgresql.conf setting (takes effect on Restart or reload).
	void SetSetting(const std::string &name, const std::string &value);
	// Server log contents; tests check it for crashes.
	std::string ServerLog() const;
	// A backend killed on purpose (kill -9: the server goes through crash recovery) is not a crash.
	void ExpectKilled(int pid) { expected_kills_.insert("(PID " + std::to_string(pid) + ")"); }
	bool LogHasCrash() const;

	int Port() const { return port_; }
	const std::string &Dir() const { return dir_; }
	std::string DataDir() const { return dir_ + "/data"; }
	std::string SocketDir() const { return dir_; }

private:
	std::string Bin(const std::string &tool) const;
	void WriteConfig(const Options &options);

	std::string dir_;
	std::string bin_dir_;
	int port_ = 0;
	bool running_ = false;
	std::set<std::string> expected_kills_;
};

// A scratch directory removed on destruction (e.g. a lake data path).
class TempDir {
public:
	explicit TempDir(const std::string &prefix = "duckpipe-test");
	~TempDir();
	TempDir(const TempDir &) = delete;
	TempDir &operator=(const TempDir &) = delete;
	const std::string &Path() const { return path_; }

private:
	std::string path_;
};

} // namespace duckpipe::test
