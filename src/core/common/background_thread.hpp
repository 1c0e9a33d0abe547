#pragma once

#include "core/common/thread.hpp"

#include <atomic>
#include <chrono>
#include <cstdint>
#include <functional>
#include <mutex>
#include <optional>
#include <string>
#include <sys/types.h>
#include <thread>

namespace duckpipe {

// A loop on its own thread that may run at background CPU priority (Linux SCHED_IDLE): any other
// runnable thread of the machine takes the CPU from it at once. On a small machine that keeps a
// flush from delaying the thread that reads the walsender's socket, which the walsender then waits
// for. Background work starves while other processes keep every CPU busy, and an unprivileged thread
// cannot leave SCHED_IDLE, so a supervisor (a normal-priority thread calling Supervise() at least
// once a second) moves the loop to a new normal-priority thread once it has been runnable yet hardly
// run for kStarvedFor (looked at over windows of at least a second); it goes back to the background
// kNormalFor later. The pass in progress when
// the loop is starved ends at background priority first.
class BackgroundThread {
public:
	struct Body {
		std::function<bool()> step;   // one pass of the loop; false: the loop is over
		std::function<void()> finish; // after the last pass (not after an exception)
	};
	static constexpr auto kStarvedFor = std::chrono::seconds(5);
	static constexpr auto kNormalFor = std::chrono::seconds(60);

	BackgroundThread(std::string name, Body body, ThreadFailure on_failure);
	~BackgroundThread();
	BackgroundThread(const BackgroundThread &) = delete;
	BackgroundThread &operator=(const BackgroundThread &) = delete;

	// From a normal-priority thread, once.
	void Start(bool background);
	// Any thread: applied by the loop before its next pass.
	void SetBackground(bool background) { want_background_.store(background); }
	// From a normal-priority thread, a few times a second (see the class comment).
	void Supervise();
	// From a normal-priority thread: a loop between two threads goes on on a new one now. For a
	// thread that waits for the loop to take a request: the supervisor may be waiting for it.
	void Resume();
	// From a normal-priority thread: waits until the loop is over, restarting it first if it is
	// between two threads.
	void Join();
	// The loop was started and has not been joined.
	bool Started();
	// The loop's thread runs at background priority now.
	bool Background() const { return idle_.load(); }
	// How often the loop moved to a normal-priority thread.
	int64_t Handovers() const { return handovers_.load(); }
	// Whether this machine has SCHED_IDLE and shows a thread's run time (/proc/self/task/<tid>/
	// schedstat), which starvation is told by; without both the loop stays at normal priority.
	static bool Supported();

private:
	using Clock = std::chrono::steady_clock;
	void Loop(bool after_starving);
	void ApplyPriority();
	void StartThreadLocked(bool after_starving);
	// After a hand-over: starts the loop's next thread and returns the one it left (to join).
	std::thread ContinueLoopLocked();

	std::string name_;
	Body body_;
	ThreadFailure on_failure_;
	std::mutex mutex_;
	std::thread thread_;       // guarded by mutex_
	bool handed_over_ = false; // the loop left thread_ for a new one (guarded by mutex_)
	std::atomic<bool> want_background_{false};
	std::atomic<bool> handover_requested_{false};
	std::atomic<bool> idle_{false};
	std::atomic<pid_t> tid_{0};
	std::atomic<int64_t> handovers_{0};
	// Supervise's starvation meter (guarded by mutex_).
	std::optional<Clock::time_point> sampled_at_;
	uint64_t sampled_run_ns_ = 0;
	std::optional<Clock::time_point> starved_since_;
	bool starved_ = false; // the hand-over asked for was for starving (the next thread stays normal)
	// The loop's thread only: when it started at normal priority after starving.
	std::optional<Clock::time_point> normal_since_;
	bool background_failed_ = false;
};

} // namespace duckpipe
