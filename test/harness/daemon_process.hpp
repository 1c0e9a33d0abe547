#pragma once

#include "harness/process.hpp"

#include <chrono>
#include <functional>
#include <map>
#include <stdexcept>
#include <string>
#include <sys/types.h>
#include <vector>

namespace duckpipe::test {

// The built `duckpipe` binary (DUCKPIPE_BINARY) running as a child process, stdout and stderr
// going to a log file. The destructor kills it, so a failed assertion never leaves it behind.
class DaemonProcess {
public:
	// Starts DUCKPIPE_BINARY with args. env entries are added to (or override) this process's
	// environment; an empty value removes the variable. The log goes to log_path (appended, so a
	// restarted daemon can share one file with its predecessor).
	DaemonProcess(const std::vector<std::string> &args, const std::string &log_path,
	              const std::map<std::string, std::string> &env = {});
	~DaemonProcess();
	DaemonProcess(const DaemonProcess &) = delete;
	DaemonProcess &operator=(const DaemonProcess &) = delete;

	// SIGTERM, then waits up to timeout for the exit (SIGKILL after it). Returns the exit code, or
	// 128 + signal number when a signal ended it.
	int Terminate(std::chrono::milliseconds timeout = std::chrono::seconds(60));
	// SIGKILL and wait; returns 128 + 9 (or the exit code if it had already exited).
	int Kill();
	// Waits up to timeout for the process to exit on its own; returns the exit status as above, or
	// -1 if it is still running.
	int Wait(std::chrono::milliseconds timeout);
	bool IsRunning();
	// The exit status once it has exited (as above), -1 while it runs.
	int ExitStatus() const { return exit_status_; }
	pid_t Pid() const { return pid_; }
	// The whole log file.
	std::string Log() const;
	const std::string &LogPath() const { return log_path_; }

private:
	bool Reap(bool block);

	pid_t pid_ = -1;
	int exit_status_ = -1;
	std::string log_path_;
};

// Runs DUCKPIPE_BINARY with args to completion (a one-shot subcommand): exit code and stdout+stderr.
CommandResult RunDuckpipe(const std::vector<std::string> &args, const std::map<std::string, std::string> &env = {});

// Thrown by a WaitFor predicate for "not there yet" (the lake or a table not created yet): the wait
// goes on.
struct NotYet : std::runtime_error {
	using std::runtime_error::runtime_error;
};

// Polls predicate every interval until it returns true (true) or timeout passes (false). A NotYet
// thrown by the predicate counts as false; any other exception (a lake that cannot be read, a
// failed query) fails the test at once with its message and ends the wait (false).
bool WaitFor(const std::function<bool()> &predicate, std::chrono::milliseconds timeout,
             std::chrono::milliseconds interval = std::chrono::milliseconds(100));

} // namespace duckpipe::test
