#include "core/common/background_thread.hpp"

#include "core/common/log.hpp"

#include <cerrno>
#include <cstring>
#include <fstream>
#include <iterator>
#include <sched.h>
#include <unistd.h>

namespace duckpipe {

namespace {

// A runnable thread that ran less than this share of the time since the last look is starved.
constexpr double kStarvedRunShare = 0.1;
// The shortest time a look covers: run time advances in scheduler ticks (a few ms), so over a short
// window one tick of a starved thread reads as a large share. The control thread may call
// Supervise() far more often (every event wakes it).
constexpr auto kSampleWindow = std::chrono::seconds(1);

// Nanoseconds the thread has run, if the kernel says (its wait for a CPU is only counted once it
// runs again, so it cannot show a thread that is waiting now).
std::optional<uint64_t> RunNs(pid_t tid) {
	std::ifstream in("/proc/self/task/" + std::to_string(tid) + "/schedstat");
	uint64_t run_ns = 0;
	if (!(in >> run_ns)) {
		return std::nullopt;
	}
	return run_ns;
}

// True when the thread is running or waiting for a CPU (state R), rather than asleep.
bool Runnable(pid_t tid) {
	std::ifstream in("/proc/self/task/" + std::to_string(tid) + "/stat");
	std::string stat((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
	auto paren = stat.rfind(')'); // the name may hold spaces and parentheses
	return paren != std::string::npos && paren + 2 < stat.size() && stat[paren + 2] == 'R';
}

} // namespace

BackgroundThread::BackgroundThread(std::string name, Body body, ThreadFailure on_failure)
    : name_(std::move(name)), body_(std::move(body)), on_failure_(std::move(on_failure)) {}

BackgroundThread::~BackgroundThread() {
	Join();
}

bool BackgroundThread::Supported() {
	static const bool supported = [] {
#ifdef SCHED_IDLE
		return RunNs(static_cast<pid_t>(gettid())).has_value();
#else
		return false;
#endif
	}();
	return supported;
}

void BackgroundThread::Start(bool background) {
	want_background_.store(background);
	std::lock_guard guard(mutex_);
	if (!thread_.joinable() && !handed_over_) {
		StartThreadLocked(false);
	}
}

std::thread BackgroundThread::ContinueLoopLocked() {
	auto old = std::move(thread_);
	handed_over_ = false;
	StartThreadLocked(starved_);
	handovers_.fetch_add(1);
	if (starved_) {
		log::Info("thread.priority_raised", "thread", name_, "reason", "starved", "normal_for_s",
		          std::chrono::duration_cast<std::chrono::seconds>(kNormalFor).count());
	} else {
		log::Info("thread.priority_raised", "thread", name_, "reason", "asked");
	}
	starved_ = false;
	return old;
}

void BackgroundThread::StartThreadLocked(bool after_starving) {
	tid_.store(0);
	idle_.store(false);
	sampled_at_.reset();
	starved_since_.reset();
	thread_ = StartThread(
	    name_, [this, after_starving] { Loop(after_starving); }, on_failure_);
}

bool BackgroundThread::Started() {
	std::lock_guard guard(mutex_);
	return thread_.joinable() || handed_over_;
}

void BackgroundThread::Loop(bool after_starving) {
	tid_.store(static_cast<pid_t>(gettid()));
	normal_since_ = after_starving ? std::optional(Clock::now()) : std::nullopt;
	while (true) {
		ApplyPriority();
		// A plain load first: the pass loop is a flush worker's hot path.
		if (handover_requested_.load(std::memory_order_relaxed) && handover_requested_.exchange(false)) {
			std::lock_guard guard(mutex_);
			handed_over_ = true;
			return; // the supervisor (or Join) goes on with the loop on a normal-priority thread
		}
		if (!body_.step()) {
			break;
		}
	}
	if (body_.finish) {
		body_.finish();
	}
}

void BackgroundThread::ApplyPriority() {
	bool want = want_background_.load() && Supported() && !background_failed_;
	if (!want) {
		if (idle_.load()) {
			handover_requested_.store(true); // only a new thread runs at normal priority again
		}
		return;
	}
	if (idle_.load() || (normal_since_ && Clock::now() - *normal_since_ < kNormalFor)) {
		return;
	}
	sched_param param{};
	if (sched_setscheduler(0, SCHED_IDLE, &param) != 0) {
		background_failed_ = true;
		log::Warn("thread.background_unavailable", "thread", name_, "error", std::strerror(errno));
		return;
	}
	normal_since_.reset();
	idle_.store(true);
}

void BackgroundThread::Resume() {
	std::unique_lock lock(mutex_);
	if (!handed_over_) {
		return;
	}
	auto old = ContinueLoopLocked();
	lock.unlock();
	if (old.joinable()) {
		old.join(); // it returned from its loop already
	}
}

void BackgroundThread::Supervise() {
	std::unique_lock lock(mutex_);
	if (handed_over_) {
		lock.unlock();
		Resume();
		return;
	}
	pid_t tid = tid_.load();
	auto now = Clock::now();
	if (sampled_at_ && now - *sampled_at_ < kSampleWindow && idle_.load()) {
		return;
	}
	auto run = tid != 0 && idle_.load() ? RunNs(tid) : std::nullopt;
	if (!run) {
		sampled_at_.reset();
		starved_since_.reset();
		return;
	}
	if (sampled_at_) {
		auto wall_ns = std::chrono::duration_cast<std::chrono::nanoseconds>(now - *sampled_at_).count();
		double share = static_cast<double>(*run - sampled_run_ns_) / static_cast<double>(wall_ns);
		if (share >= kStarvedRunShare || !Runnable(tid)) {
			starved_since_.reset();
		} else if (!starved_since_) {
			starved_since_ = *sampled_at_;
		} else if (now - *starved_since_ >= kStarvedFor && !handover_requested_.exchange(true)) {
			starved_ = true;
			log::Warn("thread.starved", "thread", name_, "starved_ms",
			          std::chrono::duration_cast<std::chrono::milliseconds>(now - *starved_since_).count());
		}
	}
	sampled_at_ = now;
	sampled_run_ns_ = *run;
}

void BackgroundThread::Join() {
	std::unique_lock lock(mutex_);
	while (thread_.joinable() || handed_over_) {
		// A loop between two threads goes on to its end on a normal-priority one.
		std::thread done = handed_over_ ? ContinueLoopLocked() : std::move(thread_);
		lock.unlock();
		if (done.joinable()) {
			done.join();
		}
		lock.lock();
	}
}

} // namespace duckpipe
