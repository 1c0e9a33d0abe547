#pragma once

namespace duckpipe::pipeline {

// A wake-up that one thread sends to a loop waiting on a socket too (an eventfd). Notify() is
// async-signal-safe, so a signal handler may call it; notifications sent while nobody waits are
// kept until the next Wait().
class WakeSignal {
public:
	WakeSignal();
	~WakeSignal();
	WakeSignal(const WakeSignal &) = delete;
	WakeSignal &operator=(const WakeSignal &) = delete;

	void Notify();
	// Waits until notified, `fd` (when >= 0) is readable, or timeout_ms passes (-1: no timeout).
	// Returns true when notified, and clears the notification.
	bool Wait(int fd, int timeout_ms);

private:
	int fd_ = -1;
};

} // namespace duckpipe::pipeline
