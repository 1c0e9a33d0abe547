#pragma once

#include "core/lake/catalog_loader.hpp"

#include <cstdint>
#include <string>

// Time travel: duckpipe.as_of_snapshot / duckpipe.as_of_time choose the lake snapshot every read
// of a lake relation (and duckpipe.query without its own arguments) sees in this session.
namespace duckpipe::ext {

void DefineTimeTravelGucs();
// The snapshot the session's settings choose (Latest when neither is set). Throws PgError when
// both are set. Main thread, inside PgBoundary.
lake::SnapshotSelector SessionSnapshot();
// A timestamptz (PostgreSQL's microseconds since 2000) as UTC text that any PostgreSQL session
// reads back the same whatever its TimeZone and DateStyle.
std::string UtcTimestampText(int64_t timestamptz);

} // namespace duckpipe::ext
