#include "harness/daemon_process.hpp"
#include "harness/build_paths.hpp"

#include <gtest/gtest.h>

#include <cerrno>
#include <csignal>
#include <cstdlib>
#include <cstring>
#include <fcntl.h>
#include <fstream>
#include <spawn.h>
#include <sstream>
#include <stdexcept>
#include <sys/wait.h>
#include <thread>
#include <unistd.h>

extern char **environ;

namespace duckpipe::test {

namespace {

int StatusCode(int status) {
	if (WIFEXITED(status)) {
		return WEXITSTATUS(status);
	}
	if (WIFSIGNALED(status)) {
		return 128 + WTERMSIG(status);
	}
	return -1;
}

std::vector<std::string> MergedEnvironment(const std::map<std::string, std::string> &overrides) {
	std::map<std::string, std::string> merged;
	for (char **e = environ; e && *e; e++) {
		std::string entry(*e);
		auto eq = entry.find('=');
		if (eq != std::string::npos) {
			merged[entry.substr(0, eq)] = entry.substr(eq + 1);
		}
	}
	for (const auto &[k, v] : overrides) {
		if (v.empty()) {
			merged.erase(k);
		} else {
			merged[k] = v;
		}
	}
	std::vector<std::string> out;
	for (const auto &[k, v] : merged) {
		out.push_back(k + "=" + v);
	}
	return out;
}

} // namespace

DaemonProcess::DaemonProcess(const std::vector<std::string> &args, const std::string &log_path,
                             const std::map<std::string, std::string> &env)
    : log_path_(log_path) {
	std::vector<std::string> argv_s{DuckpipeBinary()};
	argv_s.insert(argv_s.end(), args.begin(), args.end());
	auto env_s = MergedEnvironment(env);
	std::vector<char *> argv;
	for (auto &a : argv_s) {
		argv.push_back(a.data());
	}
	argv.push_back(nullptr);
	std::vector<char *> envp;
	for (auto &e : env_s) {
		envp.push_back(e.data());
	}
	envp.push_back(nullptr);

	posix_spawn_file_actions_t actions;
	posix_spawn_file_actions_init(&actions);
	posix_spawn_file_actions_addopen(&actions, 0, "/dev/null", O_RDONLY, 0);
	posix_spawn_file_actions_addopen(&actions, 1, log_path_.c_str(), O_WRONLY | O_CREAT | O_APPEND, 0644);
	posix_spawn_file_actions_adddup2(&actions, 1, 2);
	// The child starts with default signal handling and nothing blocked, whatever the test runner set.
	posix_spawnattr_t attr;
	posix_spawnattr_init(&attr);
	sigset_t none;
	sigemptyset(&none);
	sigset_t defaults;
	sigemptyset(&defaults);
	for (int sig : {SIGTERM, SIGINT, SIGPIPE, SIGHUP}) {
		sigaddset(&defaults, sig);
	}
	posix_spawnattr_setsigmask(&attr, &none);
	posix_spawnattr_setsigdefault(&attr, &defaults);
	posix_spawnattr_setflags(&attr, POSIX_SPAWN_SETSIGMASK | POSIX_SPAWN_SETSIGDEF);
	int rc = posix_spawn(&pid_, argv[0], &actions, &attr, argv.data(), envp.data());
	posix_spawn_file_actions_destroy(&actions);
	posix_spawnattr_destroy(&attr);
	if (rc != 0) {
		pid_ = -1;
		throw std::runtime_error("posix_spawn " + DuckpipeBinary() + " failed: " + std::strerror(rc));
	}
}

DaemonProcess::~DaemonProcess() {
	if (pid_ > 0 && exit_status_ < 0) {
		Kill();
	}
}

bool DaemonProcess::Reap(bool block) {
	if (pid_ <= 0 || exit_status_ >= 0) {
		return true;
	}
	int status = 0;
	pid_t r;
	do {
		r = waitpid(pid_, &status, block ? 0 : WNOHANG);
	} while (r < 0 && errno == EINTR);
	if (r == pid_) {
		exit_status_ = StatusCode(status);
		return true;
	}
	if (r < 0) {
		exit_status_ = 255; // not our child any more: nothing left to wait for
		return true;
	}
	return false;
}

bool DaemonProcess::IsRunning() {
	return !Reap(false);
}

int DaemonProcess::Wait(std::chrono::milliseconds timeout) {
	auto deadline = std::chrono::steady_clock::now() + timeout;
	while (!Reap(false)) {
		if (std::chrono::steady_clock::now() >= deadline) {
			return -1;
		}
		std::this_thread::sleep_for(std::chrono::milliseconds(20));
	}
	return exit_status_;
}

int DaemonProcess::Terminate(std::chrono::milliseconds timeout) {
	if (Reap(false)) {
		return exit_status_;
	}
	kill(pid_, SIGTERM);
	if (Wait(timeout) >= 0) {
		return exit_status_;
	}
	return Kill();
}

int DaemonProcess::Kill() {
	if (Reap(false)) {
		return exit_status_;
	}
	kill(pid_, SIGKILL);
	Reap(true);
	return exit_status_;
}

std::string DaemonProcess::Log() const {
	std::ifstream in(log_path_, std::ios::binary);
	std::stringstream ss;
	ss << in.rdbuf();
	return ss.str();
}

CommandResult RunDuckpipe(const std::vector<std::string> &args, const std::map<std::string, std::string> &env) {
	char path[] = "/tmp/duckpipe-cmd-XXXXXX";
	int fd = mkstemp(path);
	if (fd < 0) {
		throw std::runtime_error("mkstemp failed");
	}
	close(fd);
	CommandResult result;
	{
		DaemonProcess process(args, path, env);
		result.exit_code = process.Wait(std::chrono::minutes(5));
		if (result.exit_code < 0) {
			process.Kill();
		}
		result.output = process.Log();
	}
	unlink(path);
	return result;
}

bool WaitFor(const std::function<bool()> &predicate, std::chrono::milliseconds timeout,
             std::chrono::milliseconds interval) {
	auto deadline = std::chrono::steady_clock::now() + timeout;
	while (true) {
		try {
			if (predicate()) {
				return true;
			}
		} catch (const NotYet &) {
		} catch (const std::exception &e) {
			ADD_FAILURE() << "the awaited condition failed: " << e.what();
			return false;
		}
		if (std::chrono::steady_clock::now() >= deadline) {
			return false;
		}
		std::this_thread::sleep_for(interval);
	}
}

} // namespace duckpipe::test
