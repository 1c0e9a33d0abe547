#include "harness/pg_cluster.hpp"

#include "harness/build_paths.hpp"

#include "harness/process.hpp"

#include <algorithm>
#include <arpa/inet.h>
#include <atomic>
#include <csignal>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <netinet/in.h>
#include <pwd.h>
#include <sstream>
#include <stdexcept>
#include <sys/socket.h>
#include <unistd.h>

namespace fs = std::filesystem;

namespace duckpipe::test {

namespace {

constexpr const char *kDirPrefix = "duckpipe-pg-";

int FreePort() {
	int fd = socket(AF_INET, SOCK_STREAM, 0);
	sockaddr_in addr{};
	addr.sin_family = AF_INET;
	addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	addr.sin_port = 0;
	if (fd < 0 || bind(fd, reinterpret_cast<sockaddr *>(&addr), sizeof(addr)) != 0) {
		throw std::runtime_error("cannot find a free port");
	}
	socklen_t len = sizeof(addr);
	getsockname(fd, reinterpret_cast<sockaddr *>(&addr), &len);
	close(fd);
	return ntohs(addr.sin_port);
}

void ChownToPostgres(const std::string &path) {
	if (!RunningAsRoot()) {
		return;
	}
	passwd *pw = getpwnam("postgres");
	if (!pw) {
		throw std::runtime_error("running as root but there is no 'postgres' OS user: install postgresql-15");
	}
	if (chown(path.c_str(), pw->pw_uid, pw->pw_gid) != 0) {
		throw std::runtime_error("cannot chown " + path + " to postgres");
	}
}

// A test binary that crashed leaves its cluster running; stop those whose owner is gone.
void ReapStaleClusters(const std::string &bin_dir) {
	std::error_code ec;
	for (const auto &entry : fs::directory_iterator(fs::temp_directory_path(), ec)) {
		auto name = entry.path().filename().string();
		if (!name.starts_with(kDirPrefix)) {
			continue;
		}
		std::ifstream owner(entry.path() / "owner.pid");
		pid_t pid = 0;
		if (!(owner >> pid) || (pid > 0 && kill(pid, 0) == 0)) {
			continue;
		}
		RunCommand({bin_dir + "/pg_ctl", "-D", (entry.path() / "data").string(), "-m", "immediate", "stop"}, true);
		fs::remove_all(entry.path(), ec);
	}
}

std::string Slurp(const std::string &path) {
	std::ifstream in(path);
	std::stringstream ss;
	ss << in.rdbuf();
	return ss.str();
}

} // namespace

PgCluster::PgCluster(const Options &options) {
	auto cfg = RunCommand({"pg_config", "--bindir"});
	bin_dir_ = cfg.exit_code == 0 ? cfg.output.substr(0, cfg.output.find('\n')) : "/usr/lib/postgresql/15/bin";
	// Debian's pg_config may name the client bindir; the server tools live in the versioned dir.
	if (!fs::exists(bin_dir_ + "/initdb")) {
		bin_dir_ = "/usr/lib/postgresql/15/bin";
	}
	ReapStaleClusters(bin_dir_);
	if (options.extension) {
		bin_dir_ = ExtensionPgBinDir();
	}

	std::string tmpl = (fs::temp_directory_path() / (std::string(kDirPrefix) + "XXXXXX")).string();
	if (!mkdtemp(tmpl.data())) {
		throw std::runtime_error("mkdtemp failed");
	}
	dir_ = tmpl;
	std::ofstream(dir_ + "/owner.pid") << getpid();
	ChownToPostgres(dir_);
	fs::permissions(dir_, fs::perms::owner_all | fs::perms::group_read | fs::perms::group_exec |
	                          fs::perms::others_read | fs::perms::others_exec);

	auto init = RunCommand({Bin("initdb"), "-D", DataDir(), "-U", "postgres", "--auth=trust", "--encoding=UTF8",
	                        "--locale=C", "--no-sync"},
	                       true);
	if (init.exit_code != 0) {
		throw std::runtime_error("initdb failed: " + init.output);
	}
	WriteConfig(options);
	Start();
}

PgCluster::~PgCluster() {
	try {
		Stop("immediate");
	} catch (...) {
	}
	std::error_code ec;
	fs::remove_all(dir_, ec);
}

PgCluster::Options &PgCluster::SharedOptions() {
	static Options options;
	return options;
}

PgCluster &PgCluster::Shared() {
	static PgCluster cluster(SharedOptions());
	return cluster;
}

std::string PgCluster::Bin(const std::string &tool) const {
	return bin_dir_ + "/" + tool;
}

void PgCluster::WriteConfig(const Options &options) {
	port_ = FreePort();
	std::map<std::string, std::string> s = {
	    {"listen_addresses", "'127.0.0.1'"},
	    {"port", std::to_string(port_)},
	    {"unix_socket_directories", "'" + dir_ + "'"},
	    {"wal_level", "logical"},
	    {"max_replication_slots", "40"},
	    {"max_wal_senders", "40"},
	    {"max_connections", "100"},
	    {"max_worker_processes", "32"},
	    {"fsync", "off"},
	    {"synchronous_commit", "off"},
	    {"full_page_writes", "off"},
	    {"shared_buffers", "128MB"},
	    {"log_min_messages", "warning"},
	    {"log_line_prefix", "'%m [%p] %a '"},
	    {"wal_sender_timeout", "'60s'"},
	};
	if (options.extension) {
		s["shared_preload_libraries"] = "'pg_duckpipe'";
	}
	for (const auto &[k, v] : options.settings) {
		s[k] = v;
	}
	// DUCKPIPE_TEST_PG_SETTINGS="name=value;...": run a suite under other server settings (e.g.
	// logical_decoding_work_mem=64kB, so every larger transaction is streamed while in progress).
	if (const char *extra = std::getenv("DUCKPIPE_TEST_PG_SETTINGS")) {
		std::string text(extra);
		size_t pos = 0;
		while (pos < text.size()) {
			size_t end = text.find(';', pos);
			auto item = text.substr(pos, end == std::string::npos ? std::string::npos : end - pos);
			auto eq = item.find('=');
			if (eq != std::string::npos) {
				s[item.substr(0, eq)] = item.substr(eq + 1);
			}
			pos = end == std::string::npos ? text.size() : end + 1;
		}
	}
	std::ofstream conf(DataDir() + "/postgresql.auto.conf", std::ios::app);
	for (const auto &[k, v] : s) {
		conf << k << " = " << v << "\n";
	}
}

void PgCluster::SetSetting(const std::string &name, const std::string &value) {
	std::ofstream conf(DataDir() + "/postgresql.auto.conf", std::ios::app);
	conf << name << " = " << value << "\n";
}

void PgCluster::Start() {
	auto res =
	    RunCommand({Bin("pg_ctl"), "-D", DataDir(), "-l", dir_ + "/server.log", "-w", "-t", "60", "start"}, true);
	if (res.exit_code != 0) {
		throw std::runtime_error("pg_ctl start failed: " + res.output + "\n" + ServerLog());
	}
	running_ = true;
}

void PgCluster::Stop(const std::string &mode) {
	if (!running_) {
		return;
	}
	RunCommand({Bin("pg_ctl"), "-D", DataDir(), "-m", mode, "-w", "stop"}, true);
	running_ = false;
}

void PgCluster::Restart() {
	Stop("fast");
	Start();
}

std::string PgCluster::Conninfo(const std::string &dbname) const {
	return "host=" + dir_ + " port=" + std::to_string(port_) + " user=postgres dbname=" + dbname;
}

std::string PgCluster::TcpConninfo(const std::string &dbname) const {
	return "host=127.0.0.1 port=" + std::to_string(port_) + " user=postgres dbname=" + dbname;
}

std::string PgCluster::CreateDatabase(const std::string &prefix) {
	static std::atomic<int> counter{0};
	std::string name = prefix + "_" + std::to_string(getpid()) + "_" + std::to_string(counter++);
	Psql("postgres", "CREATE DATABASE \"" + name + "\"");
	return name;
}

std::string PgCluster::Psql(const std::string &dbname, const std::string &sql) const {
	auto res = RunCommand({Bin("psql"), "-X", "-q", "-A", "-t", "-v", "ON_ERROR_STOP=1", "-h", dir_, "-p",
	                       std::to_string(port_), "-U", "postgres", "-d", dbname, "-c", sql});
	if (res.exit_code != 0) {
		throw std::runtime_error("psql failed: " + res.output + "\nSQL: " + sql);
	}
	return res.output;
}

std::string PgCluster::ServerLog() const {
	return Slurp(dir_ + "/server.log");
}

bool PgCluster::LogHasCrash() const {
	std::istringstream log(ServerLog());
	for (std::string line; std::getline(log, line);) {
		if (line.find("PANIC") != std::string::npos) {
			return true;
		}
		if (line.find("terminated by signal") != std::string::npos &&
		    std::none_of(expected_kills_.begin(), expected_kills_.end(),
		                 [&](const std::string &pid) { return line.find(pid) != std::string::npos; })) {
			return true;
		}
	}
	return false;
}

TempDir::TempDir(const std::string &prefix) {
	std::string tmpl = (fs::temp_directory_path() / (prefix + "-XXXXXX")).string();
	if (!mkdtemp(tmpl.data())) {
		throw std::runtime_error("mkdtemp failed");
	}
	path_ = tmpl;
	// The server (running as postgres) may need to read or write here too.
	fs::permissions(path_, fs::perms::all);
}

TempDir::~TempDir() {
	std::error_code ec;
	fs::remove_all(path_, ec);
}

} // namespace duckpipe::test
