#pragma once

#include <cstdint>
#include <string>

namespace duckpipe {
class PgConnection;
}

namespace duckpipe::meta {

// The one-runner rule: a sync group is run by at most one process at a time (the extension's
// background worker or a daemon, whichever runs it first). The runner holds a session advisory lock
// (kClassKey, group id) on a connection to the metadata database for as long as it runs the group;
// the lock goes with the session, so a runner that dies releases it.
class GroupLock {
public:
	// Fixed for the project: the first half of every group's advisory lock (pg_locks.classid).
	static constexpr int32_t kClassKey = 1685090418;

	// Takes the lock on `conn` when it is free (or already held by this session).
	static bool TryAcquire(PgConnection &conn, int group_id);
	static void Release(PgConnection &conn, int group_id);
	// Who holds the group's lock: "pid N, application_name X", or empty when nobody does.
	static std::string Holder(PgConnection &conn, int group_id);
	// The server process holding the group's lock; 0 when nobody does.
	static int HolderPid(PgConnection &conn, int group_id);
};

} // namespace duckpipe::meta
