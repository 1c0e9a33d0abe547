#pragma once

#include <functional>
#include <future>
#include <string>
#include <thread>
#include <type_traits>
#include <utility>

namespace duckpipe {

// What a thread's owner is told when an exception escapes the thread's body (its message).
using ThreadFailure = std::function<void(const std::string &message)>;

// Every thread the core creates goes through here, because the core may be a guest in a
// PostgreSQL backend: the new thread starts with every signal blocked (PostgreSQL's handlers must
// only run on its main thread), carries `name` (at most 15 characters show in ps/top/gdb), and never
// lets an exception reach std::terminate: it is logged and handed to `on_failure`, so the owner can
// fail its table or group with the message.
std::thread StartThread(std::string name, std::function<void()> body, ThreadFailure on_failure = {});

// A function run on its own thread (StartThread's rules) whose result or exception comes back
// through Get(), like std::async's future; the destructor waits for the thread.
template <class T>
class ThreadTask {
public:
	ThreadTask() = default;
	ThreadTask(std::future<T> future, std::thread thread) : future_(std::move(future)), thread_(std::move(thread)) {}
	ThreadTask(ThreadTask &&) noexcept = default;
	ThreadTask &operator=(ThreadTask &&other) noexcept {
		Join();
		future_ = std::move(other.future_);
		thread_ = std::move(other.thread_);
		return *this;
	}
	ThreadTask(const ThreadTask &) = delete;
	ThreadTask &operator=(const ThreadTask &) = delete;
	~ThreadTask() { Join(); }

	bool Valid() const { return future_.valid(); }
	// Waits; returns the result or rethrows the function's exception.
	T Get() {
		auto future = std::move(future_);
		Join();
		return future.get();
	}

private:
	void Join() {
		if (thread_.joinable()) {
			thread_.join();
		}
	}

	std::future<T> future_;
	std::thread thread_;
};

template <class Fn>
ThreadTask<std::invoke_result_t<Fn>> StartTask(std::string name, Fn fn) {
	using T = std::invoke_result_t<Fn>;
	// packaged_task keeps the exception for Get(): the thread's body itself never throws.
	auto task = std::make_shared<std::packaged_task<T()>>(std::move(fn));
	auto future = task->get_future();
	return ThreadTask<T>(std::move(future), StartThread(std::move(name), [task] { (*task)(); }));
}

} // namespace duckpipe
