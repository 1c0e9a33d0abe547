#include "core/lake/write/pending_files.hpp"

#include "core/common/error.hpp"
#include "core/common/log.hpp"
#include "core/lake/catalog_schema.hpp"
#include "core/pg/pg_connection.hpp"

namespace duckpipe::lake {

namespace {

// The registering session, as pg_stat_activity names it.
constexpr const char *kOwnerValues = "pg_backend_pid(), (SELECT backend_start FROM pg_stat_activity WHERE pid = "
                                     "pg_backend_pid())";

} // namespace

PendingFiles::PendingFiles(PgConnection &conn, std::string catalog_schema)
    : conn_(conn), schema_(std::move(catalog_schema)) {}

std::string PendingFiles::Table() const {
	return conn_.QuoteIdent(schema_) + "." + kTable;
}

void PendingFiles::Ensure() {
	auto found = conn_.Exec("SELECT to_regclass($1) IS NOT NULL", {Table()});
	if (found.GetBool(0, 0)) {
		return;
	}
	// Creators race (a backend's add_table and a worker starting at once): without a lock the second
	// one's CREATE ... IF NOT EXISTS can fail on the name, its row type or the catalog's unique index,
	// depending on when the first one committed. Under the lake's bootstrap lock it finds the table.
	PgTransaction txn(conn_);
	conn_.Exec("SET LOCAL client_min_messages = warning");
	CatalogSchema::LockForCreation(conn_, schema_);
	conn_.Exec("CREATE TABLE IF NOT EXISTS " + Table() +
	           "(token text NOT NULL, path text, writer_id text NOT NULL, owner_pid integer NOT NULL, "
	           "owner_start timestamptz, base_snapshot bigint, registered_at timestamptz NOT NULL DEFAULT now(), "
	           "committed_snapshot bigint)");
	txn.Commit();
}

std::string PendingFiles::RegisterCommitSql(const std::string &token, const std::string &writer_id,
                                            int64_t base_snapshot) const {
	return "INSERT INTO " + Table() + "(token, path, writer_id, owner_pid, owner_start, base_snapshot) VALUES (" +
	       conn_.QuoteLiteral(token) + ", NULL, " + conn_.QuoteLiteral(writer_id) + ", " + kOwnerValues + ", " +
	       std::to_string(base_snapshot) + ");\n";
}

void PendingFiles::RegisterFile(const std::string &token, const std::string &writer_id, const std::string &path) {
	conn_.Exec("INSERT INTO " + Table() + "(token, path, writer_id, owner_pid, owner_start) VALUES ($1, $2, $3, " +
	               kOwnerValues + ")",
	           {token, path, writer_id});
}

std::string PendingFiles::RegisterFileSql(const std::string &token, const std::string &writer_id,
                                          const std::string &path) const {
	return "INSERT INTO " + Table() + "(token, path, writer_id, owner_pid, owner_start) VALUES (" +
	       conn_.QuoteLiteral(token) + ", " + conn_.QuoteLiteral(path) + ", " + conn_.QuoteLiteral(writer_id) + ", " +
	       kOwnerValues + ");\n";
}

std::string PendingFiles::CommittedSql(const std::string &token, int64_t snapshot) const {
	auto t = conn_.QuoteLiteral(token);
	return "DELETE FROM " + Table() + " WHERE token = " + t + " AND path IS NOT NULL;\nUPDATE " + Table() +
	       " SET committed_snapshot = " + std::to_string(snapshot) + " WHERE token = " + t + " AND path IS NULL;\n";
}

std::string PendingFiles::ForgetSql(const std::vector<std::string> &tokens) const {
	if (tokens.empty()) {
		return "";
	}
	std::string list;
	for (const auto &t : tokens) {
		list += (list.empty() ? "" : ", ") + conn_.QuoteLiteral(t);
	}
	return "DELETE FROM " + Table() + " WHERE token IN (" + list + ");\n";
}

void PendingFiles::Adopt(const std::string &writer_id) {
	conn_.Exec("UPDATE " + Table() + " SET (owner_pid, owner_start) = (SELECT " + kOwnerValues +
	               ") WHERE writer_id = $1",
	           {writer_id});
}

PendingFiles::Verdict PendingFiles::Verify(const std::string &conninfo, const std::string &catalog_schema,
                                           const std::string &token, std::optional<int> old_pid) {
	Verdict v;
	try {
		PgConnection conn(conninfo, {.application_name = "pg_duckpipe lake writer (verify)"});
		PendingFiles files(conn, catalog_schema);
		// Bounded: a session that never ends its transaction makes the outcome unknown, not a hang.
		conn.Exec("SET lock_timeout = '30s'");
		if (old_pid) {
			try {
				// Only a session of ours that commits registered commits (a writer or a compaction).
				conn.Exec("SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE pid = $1 AND usename = "
				          "current_user AND application_name IN ('pg_duckpipe lake writer', 'pg_duckpipe "
				          "compaction')",
				          {std::to_string(*old_pid)});
			} catch (const Error &e) {
				log::Warn("lake.verify_terminate_failed", "pid", *old_pid, "error", e.what());
			}
		}
		auto marker = conn.Exec("SELECT committed_snapshot FROM " + files.Table() +
		                            " WHERE token = $1 AND path IS NULL FOR UPDATE",
		                        {token});
		if (marker.Rows() == 0) {
			v.reason = "the commit's marker row is gone";
			return v;
		}
		if (marker.IsNull(0, 0)) {
			v.outcome = Outcome::NotCommitted;
			auto paths =
			    conn.Exec("SELECT path FROM " + files.Table() + " WHERE token = $1 AND path IS NOT NULL", {token});
			for (int i = 0; i < paths.Rows(); i++) {
				v.files.emplace_back(paths.Get(i, 0));
			}
		} else {
			v.outcome = Outcome::Committed;
			v.snapshot = marker.GetInt(0, 0);
		}
	} catch (const Error &e) {
		v.outcome = Outcome::Unknown;
		v.reason = e.what();
	}
	return v;
}

std::string PendingFiles::StaleCondition(const std::string &older_than_literal) {
	return "(p.registered_at < now() - greatest(" + older_than_literal +
	       "::interval, interval '1 day') AND NOT EXISTS (SELECT 1 FROM pg_stat_activity a WHERE a.pid = p.owner_pid "
	       "AND a.backend_start = p.owner_start))";
}

} // namespace duckpipe::lake
