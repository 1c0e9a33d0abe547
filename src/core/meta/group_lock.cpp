#include "core/meta/group_lock.hpp"

#include "core/pg/pg_connection.hpp"

namespace duckpipe::meta {

bool GroupLock::TryAcquire(PgConnection &conn, int group_id) {
	auto r = conn.Exec("SELECT pg_try_advisory_lock($1::int4, $2::int4)",
	                   {std::to_string(kClassKey), std::to_string(group_id)});
	return r.GetBool(0, 0);
}

void GroupLock::Release(PgConnection &conn, int group_id) {
	conn.Exec("SELECT pg_advisory_unlock($1::int4, $2::int4)", {std::to_string(kClassKey), std::to_string(group_id)});
}

namespace {

// Two int4 keys: classid, objid, objsubid = 2 (pg_locks documentation).
PgResult QueryHolder(PgConnection &conn, int group_id) {
	return conn.Exec("SELECT l.pid, coalesce(a.application_name, '') FROM pg_locks l "
	                 "LEFT JOIN pg_stat_activity a ON a.pid = l.pid WHERE l.locktype = 'advisory' AND l.granted "
	                 "AND l.database = (SELECT oid FROM pg_database WHERE datname = current_database()) "
	                 "AND l.classid = $1::int4::oid AND l.objid = $2::int4::oid AND l.objsubid = 2",
	                 {std::to_string(GroupLock::kClassKey), std::to_string(group_id)});
}

} // namespace

int GroupLock::HolderPid(PgConnection &conn, int group_id) {
	auto r = QueryHolder(conn, group_id);
	return r.Rows() == 0 ? 0 : static_cast<int>(r.GetInt(0, 0));
}

std::string GroupLock::Holder(PgConnection &conn, int group_id) {
	auto r = QueryHolder(conn, group_id);
	if (r.Rows() == 0) {
		return "";
	}
	return "pid " + std::string(r.Get(0, 0)) + ", application_name " + std::string(r.Get(0, 1));
}

} // namespace duckpipe::meta
