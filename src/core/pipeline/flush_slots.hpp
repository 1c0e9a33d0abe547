#pragma once

#include <condition_variable>
#include <mutex>

namespace duckpipe::pipeline {

// The flushes of the process that may run at once. Each opens its table's DuckDB (a few MB before
// any row, then its flush memory); more than two per core gains no speed, so the others wait their
// turn instead of each holding an instance. Holders never wait for a waiter: no deadlock.
class FlushSlots {
public:
	static FlushSlots &Instance();

	// Holds one slot for its lifetime; waits for one to be free.
	class Slot {
	public:
		Slot() { Instance().Acquire(); }
		~Slot() { Instance().Release(); }
		Slot(const Slot &) = delete;
		Slot &operator=(const Slot &) = delete;
	};

	int Limit() const { return limit_; }

private:
	FlushSlots();
	void Acquire();
	void Release();

	std::mutex mutex_;
	std::condition_variable free_;
	int used_ = 0;
	int limit_;
};

} // namespace duckpipe::pipeline
