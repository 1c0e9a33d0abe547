#pragma once

#include <csignal>
#include <pthread.h>

namespace duckpipe::ext {

// Blocks every signal on the calling (PostgreSQL main) thread while it lives. Threads inherit the
// mask of their creator, so DuckDB threads created meanwhile never run PostgreSQL's handlers; the
// main thread gets the signals it missed when the mask is restored (a cancel is then seen at the
// next CHECK_FOR_INTERRUPTS).
class SignalBlock {
public:
	SignalBlock() {
		sigset_t all;
		sigfillset(&all);
		pthread_sigmask(SIG_SETMASK, &all, &saved_);
		if (depth_++ == 0) {
			outer_ = saved_;
		}
	}
	~SignalBlock() {
		depth_--;
		pthread_sigmask(SIG_SETMASK, &saved_, nullptr);
	}
	SignalBlock(const SignalBlock &) = delete;
	SignalBlock &operator=(const SignalBlock &) = delete;

	// Lets the signals in while it lives, with the mask in force before the outermost SignalBlock
	// (nothing changes outside one): a signal that arrived meanwhile is delivered at once, so the
	// CHECK_FOR_INTERRUPTS that follows sees it. For the interrupt checks between DuckDB's tasks.
	class Window {
	public:
		Window() : open_(depth_ > 0) {
			if (open_) {
				pthread_sigmask(SIG_SETMASK, &outer_, &blocked_);
			}
		}
		~Window() {
			if (open_) {
				pthread_sigmask(SIG_SETMASK, &blocked_, nullptr);
			}
		}
		Window(const Window &) = delete;
		Window &operator=(const Window &) = delete;

	private:
		bool open_;
		sigset_t blocked_;
	};

private:
	sigset_t saved_;
	// Main thread only (the only one PostgreSQL code runs on).
	static inline int depth_ = 0;
	static inline sigset_t outer_;
};

} // namespace duckpipe::ext
