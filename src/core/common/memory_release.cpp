#include "core/common/memory_release.hpp"

#include <atomic>
#include <chrono>
#include <cstdlib>

#include <malloc.h>

namespace duckpipe {

void LimitMallocArenas() {
	static std::atomic<bool> done{false};
	if (done.exchange(true) || std::getenv("MALLOC_ARENA_MAX")) {
		return;
	}
	mallopt(M_ARENA_MAX, 4);
}

void ReleaseFreedMemory() {
	using Clock = std::chrono::steady_clock;
	static std::atomic<int64_t> last{0};
	auto now = std::chrono::duration_cast<std::chrono::milliseconds>(Clock::now().time_since_epoch()).count();
	auto prev = last.load();
	if (now - prev < 200 || !last.compare_exchange_strong(prev, now)) {
		return;
	}
	malloc_trim(0);
}

} // namespace duckpipe
