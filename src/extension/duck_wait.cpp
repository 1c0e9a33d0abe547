#include "extension/duck_wait.hpp"

#include "core/duck/duck_connection.hpp"
#include "extension/query_engine.hpp"
#include "extension/signal_block.hpp"

#include <chrono>
#include <condition_variable>
#include <exception>
#include <mutex>
#include <thread>
#include <utility>

namespace duckpipe::ext {

namespace {

using namespace std::chrono_literals;

// How often the main thread looks at PostgreSQL's interrupt flags while DuckDB works: a cancel is
// seen within this (the wait itself ends at once when the work does).
constexpr auto kPoll = 10ms;

// The one thread a backend runs its waited-for DuckDB calls on. Idle between calls; joined at exit.
class Waiter {
public:
	static Waiter &Backend() {
		static Waiter waiter;
		return waiter;
	}

	~Waiter() {
		if (thread_.joinable()) {
			{
				std::lock_guard<std::mutex> lock(mutex_);
				stop_ = true;
			}
			wake_.notify_all();
			thread_.join();
		}
	}

	void Start(const std::function<void()> &work) {
		if (!thread_.joinable()) {
			SignalBlock blocked; // the thread, and DuckDB's threads it may create, inherit the mask
			thread_ = std::thread([this] { Loop(); });
		}
		std::lock_guard<std::mutex> lock(mutex_);
		job_ = &work;
		done_ = false;
		error_ = nullptr;
		wake_.notify_all();
	}

	// Whether the work ended within `timeout`.
	bool WaitFor(std::chrono::milliseconds timeout) {
		std::unique_lock<std::mutex> lock(mutex_);
		return ended_.wait_for(lock, timeout, [this] { return done_; });
	}

	void Wait() {
		std::unique_lock<std::mutex> lock(mutex_);
		ended_.wait(lock, [this] { return done_; });
	}

	std::exception_ptr Error() {
		std::lock_guard<std::mutex> lock(mutex_);
		return error_;
	}

private:
	void Loop() {
		std::unique_lock<std::mutex> lock(mutex_);
		while (true) {
			wake_.wait(lock, [this] { return job_ != nullptr || stop_; });
			if (!job_) {
				return;
			}
			const std::function<void()> *job = std::exchange(job_, nullptr);
			lock.unlock();
			std::exception_ptr error;
			try {
				(*job)();
			} catch (...) {
				error = std::current_exception();
			}
			lock.lock();
			error_ = error;
			done_ = true;
			ended_.notify_all();
		}
	}

	std::thread thread_;
	std::mutex mutex_;
	std::condition_variable wake_;
	std::condition_variable ended_;
	const std::function<void()> *job_ = nullptr;
	bool done_ = true;
	bool stop_ = false;
	std::exception_ptr error_;
};

} // namespace

void DuckWait::Run(DuckConnection &duck, const std::function<void()> &work) {
	auto check = duck.TakeInterruptCheck(); // it calls PostgreSQL: this thread checks instead
	struct Restore {
		DuckConnection &duck;
		DuckConnection::InterruptCheck &check;
		~Restore() { duck.SetInterruptCheck(std::move(check)); }
	} restore{duck, check};
	auto &waiter = Waiter::Backend();
	waiter.Start(work);
	while (!waiter.WaitFor(kPoll)) {
		try {
			QueryEngine::CheckInterrupts();
		} catch (...) {
			duck.Interrupt();
			waiter.Wait(); // DuckDB stops at its next check of the interrupt flag
			throw;
		}
	}
	if (auto error = waiter.Error()) {
		std::rethrow_exception(error);
	}
}

} // namespace duckpipe::ext
