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
	}
	~SignalBlock() { pthread_sigmask(SIG_SETMASK, &saved_, nullptr); }
	SignalBlock(const SignalBlock &) = delete;
	SignalBlock &operator=(const SignalBlock &) = delete;

private:
	sigset_t saved_;
};

} // namespace duckpipe::ext
