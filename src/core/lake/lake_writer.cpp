#include "core/lake/lake_writer.hpp"

#include "core/common/error.hpp"
#include "core/common/log.hpp"
#include "core/duck/duck_connection.hpp"
#include "core/duck/duck_database.hpp"
#include "core/duck/duck_sandbox.hpp"
#include "core/lake/write/catalog_reads.hpp"
#include "core/lake/write/key_index.hpp"
#include "core/pg/pg_connection.hpp"

#include <cstdlib>
#include <filesystem>

namespace duckpipe::lake {

namespace {

constexpr const char *kApplicationName = "pg_duckpipe lake writer";

#ifdef DUCKPIPE_FAULT_INJECTION
std::mutex fail_mutex;
std::string &FailPoint() {
	static std::string point = [] {
		const char *env = std::getenv("DUCKPIPE_LAKE_FAIL_POINT");
		return std::string(env ? env : "");
	}();
	return point;
}
int &FailHits() {
	static int hits = 0;
	return hits;
}
LakeWriter::ConnectionHook &Hook() {
	static LakeWriter::ConnectionHook hook;
	return hook;
}
#endif

} // namespace

LakeWriter::LakeWriter(LakeConfig config) : config_(std::move(config)) {
	info_ = OpenLake(config_);
	keys_ = std::make_unique<KeyIndex>(config_.key_index_dir);
	// A small private DuckDB for delete files, stats merging and uuids; data files use the caller's.
	duck_db_ = std::make_unique<DuckDatabase>(
	    "", std::map<std::string, std::string>{{"memory_limit", "64MB"}, {"threads", "1"}});
	duck_ = duck_db_->Connect();
	writer_id_ = *duck_->Query("SELECT CAST(uuidv7() AS VARCHAR)").GetString(0, 0);
	PendingFiles(Conn(), config_.catalog_schema).Ensure();
	DuckSandbox{.directories = {info_.data_path}, .lock_configuration = false}.Lock(*duck_);
}

LakeWriter::~LakeWriter() {
	if (!forget_.empty() && conn_ && conn_->IsHealthy()) {
		try {
			conn_->Exec(PendingFiles(*conn_, config_.catalog_schema).ForgetSql(forget_));
		} catch (const std::exception &e) {
			log::Debug("lake.forget_failed", "error", e.what()); // stale rows are swept later
		}
	}
}

PgConnection &LakeWriter::Conn() {
	if (conn_ && conn_->IsHealthy()) {
		return *conn_;
	}
	bool reconnect = conn_ != nullptr;
	conn_.reset();
	auto conn = std::make_unique<PgConnection>(config_.catalog_conninfo,
	                                           PgConnection::Options{.application_name = kApplicationName});
	if (reconnect) {
		// Registrations of files still being written stay owned by a live session.
		PendingFiles(*conn, config_.catalog_schema).Adopt(writer_id_);
	}
	conn_ = std::move(conn);
	return *conn_;
}

std::optional<int> LakeWriter::DropConn() {
	std::optional<int> pid;
	if (conn_) {
		pid = conn_->BackendPid();
		conn_.reset();
	}
	return pid;
}

void LakeWriter::ForgetLater(const std::string &token) {
	forget_.push_back(token);
}

LakeCommit LakeWriter::Begin() {
	std::lock_guard guard(mutex_);
	auto &conn = Conn();
	if (!unresolved_.empty()) {
		ResolveUnresolvedLocked();
	}
	auto head = CatalogReads(conn, config_.catalog_schema, info_.data_path).Head();
	auto token = *duck_->Query("SELECT CAST(uuidv7() AS VARCHAR)").GetString(0, 0);
	PendingFiles pending(conn, config_.catalog_schema);
	// One round trip: registrations of abandoned commits and markers of committed ones go (except
	// those whose outcome is still being asked), then this commit is registered.
	std::string sql = pending.ForgetSql(forget_);
	sql += "DELETE FROM " + pending.Table() + " WHERE writer_id = " + conn.QuoteLiteral(writer_id_) +
	       " AND committed_snapshot IS NOT NULL";
	for (const auto &[t, pid] : unresolved_) {
		sql += " AND token <> " + conn.QuoteLiteral(t);
	}
	sql += ";\n" + pending.RegisterCommitSql(token, writer_id_, head.snapshot_id);
	conn.Exec(sql);
	forget_.clear();
	// Constructed last: a LakeCommit destroyed here would take the mutex this function holds.
	LakeCommit commit(*this, head);
	commit.SetToken(std::move(token));
	return commit;
}

PendingFiles::Verdict LakeWriter::VerifyLocked(const std::string &token, std::optional<int> old_pid) {
	return PendingFiles::Verify(config_.catalog_conninfo, config_.catalog_schema, token, old_pid);
}

void LakeWriter::ResolveUnresolvedLocked() {
	for (auto it = unresolved_.begin(); it != unresolved_.end();) {
		auto verdict = VerifyLocked(it->first, it->second);
		if (verdict.outcome == PendingFiles::Outcome::Unknown) {
			++it;
			continue;
		}
		if (verdict.outcome == PendingFiles::Outcome::NotCommitted) {
			for (const auto &path : verdict.files) {
				std::error_code ec;
				std::filesystem::remove(path, ec);
			}
		}
		ForgetLater(it->first);
		log::Warn("lake.commit_resolved", "token", it->first, "committed",
		          verdict.outcome == PendingFiles::Outcome::Committed, "snapshot", verdict.snapshot);
		outcomes_[it->first] = verdict.outcome;
		it = unresolved_.erase(it);
	}
}

PendingFiles::Outcome LakeWriter::ResolveCommit(const std::string &token) {
	std::lock_guard guard(mutex_);
	if (unresolved_.count(token)) {
		ResolveUnresolvedLocked();
	}
	auto it = outcomes_.find(token);
	if (it == outcomes_.end()) {
		return PendingFiles::Outcome::Unknown;
	}
	auto outcome = it->second;
	outcomes_.erase(it);
	return outcome;
}

#ifdef DUCKPIPE_FAULT_INJECTION

void LakeWriter::SetFailPoint(const std::string &name) {
	std::lock_guard guard(fail_mutex);
	FailPoint() = name;
	FailHits() = 0;
}

void LakeWriter::SetConnectionHook(ConnectionHook hook) {
	std::lock_guard guard(fail_mutex);
	Hook() = std::move(hook);
}

void LakeWriter::MaybeFail(const char *point) {
	std::lock_guard guard(fail_mutex);
	auto &armed = FailPoint();
	// "name" fires the first time the point is reached, "name#N" the N-th time.
	auto hash = armed.find('#');
	if (armed.empty() || armed.compare(0, hash, point) != 0) {
		return;
	}
	int nth = hash == std::string::npos ? 1 : std::atoi(armed.c_str() + hash + 1);
	if (++FailHits() < nth) {
		return;
	}
	FailHits() = 0;
	armed.clear();
	throw Error(ErrorKind::Internal, std::string("fail point ") + point);
}

void LakeWriter::AtConnectionPoint(const char *point, PgConnection &conn) {
	ConnectionHook hook;
	{
		std::lock_guard guard(fail_mutex);
		hook = Hook();
	}
	if (hook) {
		hook(point, conn.BackendPid(), conn.Socket());
	}
	MaybeFail(point);
}

#else

void LakeWriter::SetFailPoint(const std::string &) {
	throw Error(ErrorKind::Config, "fail points are not compiled into this build",
	            {.hint = "configure with -DDUCKPIPE_FAULT_INJECTION=ON (a test build)"});
}

void LakeWriter::SetConnectionHook(ConnectionHook) {
	SetFailPoint("");
}

#endif

} // namespace duckpipe::lake
