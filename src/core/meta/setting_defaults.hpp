#pragma once

#include <cstdint>

// The documented default of every tunable setting, in one place: the config registry (what
// set_config accepts and reports), PipelineConfig, the daemon's flags and the extension's GUCs all
// take theirs from here.
namespace duckpipe::meta::defaults {

inline constexpr int64_t kFlushIntervalMs = 5000;
inline constexpr int64_t kFlushBatchThreshold = 100000;
inline constexpr int64_t kMaxQueuedBytes = 64LL << 20;
inline constexpr int64_t kDuckdbBufferMemoryMb = 16;
inline constexpr int64_t kDuckdbFlushMemoryMb = 512;
inline constexpr int64_t kDuckdbThreads = 1;
inline constexpr int64_t kAutoCompact = 1;
inline constexpr int64_t kCompactMinFiles = 20;
inline constexpr int64_t kCompactTargetFileSizeMb = 128;
inline constexpr int64_t kCompactIntervalMs = 60000;
inline constexpr int64_t kBackgroundFlush = 2;
inline constexpr int64_t kBackgroundFlushBacklogMb = 64;
inline constexpr int64_t kStreamInProgress = 1;
inline constexpr int kMaxParallelSnapshots = 2;
inline constexpr int64_t kShutdownTimeoutMs = 10000;

} // namespace duckpipe::meta::defaults
