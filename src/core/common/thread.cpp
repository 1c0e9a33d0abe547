#include "core/common/thread.hpp"

#include "core/common/log.hpp"

#include <csignal>
#include <exception>
#include <pthread.h>

namespace duckpipe {

namespace {

// Blocks every signal in the calling thread for its lifetime and restores the mask after: a thread
// created meanwhile inherits the blocked mask, so no signal can reach it before its body runs.
class AllSignalsBlocked {
public:
	AllSignalsBlocked() {
		sigset_t all;
		sigfillset(&all);
		pthread_sigmask(SIG_SETMASK, &all, &previous_);
	}
	~AllSignalsBlocked() { pthread_sigmask(SIG_SETMASK, &previous_, nullptr); }
	AllSignalsBlocked(const AllSignalsBlocked &) = delete;
	AllSignalsBlocked &operator=(const AllSignalsBlocked &) = delete;

private:
	sigset_t previous_;
};

void Report(const std::string &name, const std::string &message, const ThreadFailure &on_failure) {
	log::Error("thread.failed", "thread", name, "error", message);
	if (!on_failure) {
		return;
	}
	try {
		on_failure(message);
	} catch (const std::exception &e) {
		log::Error("thread.failure_report_failed", "thread", name, "error", e.what());
	} catch (...) {
		log::Error("thread.failure_report_failed", "thread", name);
	}
}

} // namespace

std::thread StartThread(std::string name, std::function<void()> body, ThreadFailure on_failure) {
	AllSignalsBlocked blocked;
	return std::thread([name = std::move(name), body = std::move(body), on_failure = std::move(on_failure)] {
		// Linux allows 15 characters and a NUL.
		pthread_setname_np(pthread_self(), name.substr(0, 15).c_str());
		try {
			body();
		} catch (const std::exception &e) {
			Report(name, e.what(), on_failure);
		} catch (...) {
			Report(name, "unknown exception", on_failure);
		}
	});
}

} // namespace duckpipe
