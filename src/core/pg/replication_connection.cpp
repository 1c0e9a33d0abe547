#include "core/pg/replication_connection.hpp"

#include "core/common/log.hpp"
#include "core/pg/wal_level.hpp"

#include <libpq-fe.h>

#include <memory>

namespace duckpipe {

static bool Contains(const std::string &haystack, const char *needle) {
	return haystack.find(needle) != std::string::npos;
}

// The replication grammar's string literal: single quotes, doubled inside, no backslash escapes
// (so PQescapeLiteral's E'' form would not parse).
static std::string ReplLiteral(const std::string &value) {
	std::string out = "'";
	for (char c : value) {
		out += c;
		if (c == '\'') {
			out += '\'';
		}
	}
	return out + "'";
}

// A publication name as an element of pgoutput's publication_names list (SplitIdentifierString).
static std::string ListIdent(const std::string &name) {
	std::string out = "\"";
	for (char c : name) {
		out += c;
		if (c == '"') {
			out += '"';
		}
	}
	return out + "\"";
}

Error ReplicationConnection::WithHint(const Error &error) {
	const std::string &msg = error.Message();
	ErrorContext ctx = error.Context();
	const std::string &state = ctx.sqlstate;
	ErrorKind kind = error.Kind();
	std::string hint;
	if (Contains(msg, "wal_level")) {
		hint = "set wal_level = logical in postgresql.conf (ALTER SYSTEM SET wal_level = logical) and restart "
		       "PostgreSQL";
		kind = ErrorKind::Source;
	} else if (state == "53400" || Contains(msg, "replication slots are in use")) {
		hint = "raise max_replication_slots (needs a restart) or drop unused slots: SELECT slot_name, active FROM "
		       "pg_replication_slots";
		kind = ErrorKind::Source;
	} else if (Contains(msg, "max_wal_senders") || Contains(msg, "too many clients")) {
		hint = "raise max_wal_senders / max_connections (needs a restart) or stop idle replication clients";
	} else if (Contains(msg, "replication role") || Contains(msg, "permission denied to start WAL sender") ||
	           (state == "42501" && Contains(msg, "replication"))) {
		hint = "grant the role the REPLICATION attribute (ALTER ROLE <role> REPLICATION) or connect as a role "
		       "that has it, and allow replication connections in pg_hba.conf";
		kind = ErrorKind::Source;
	} else if (Contains(msg, "publication") && (state == "42704" || Contains(msg, "does not exist"))) {
		hint = "create the publication in the source database (CREATE PUBLICATION <name> FOR TABLE ...) or fix the "
		       "publication name";
		kind = ErrorKind::Source;
	} else if (Contains(msg, "replication slot") && (state == "42704" || Contains(msg, "does not exist"))) {
		hint = "create the slot first, or check its name: SELECT slot_name FROM pg_replication_slots";
		kind = ErrorKind::Source;
	} else if (state == "42710") {
		hint = "the slot already exists: drop it (DROP_REPLICATION_SLOT / pg_drop_replication_slot) or choose "
		       "another name";
	} else if (state == "55006" || Contains(msg, "is active for PID")) {
		hint = "another process is using the slot (see active_pid in pg_replication_slots): stop it or wait";
	} else if (Contains(msg, "logical decoding requires a database connection")) {
		hint = "put a dbname in the connection string";
		kind = ErrorKind::Config;
	}
	if (hint.empty()) {
		return error;
	}
	ctx.hint = hint;
	return Error(kind, msg, std::move(ctx));
}

static PgConnection::Options ReplicationOptions(const ReplicationConnection::Options &options) {
	PgConnection::Options out;
	out.application_name = options.application_name;
	out.replication = true;
	out.connect_timeout_s = options.connect_timeout_s;
	return out;
}

ReplicationConnection::ReplicationConnection(const std::string &conninfo)
    : ReplicationConnection(conninfo, Options{}) {}

ReplicationConnection::ReplicationConnection(const std::string &conninfo, const Options &options) try
    : conn_(conninfo, ReplicationOptions(options)) {
} catch (const Error &e) {
	ThrowConnectError(e);
}

void ReplicationConnection::ThrowConnectError(const Error &e) {
	// A role without REPLICATION reaches the server and is refused at startup: that is a
	// configuration problem of the source, not a network one, so it must not be retried.
	const std::string &msg = e.Message();
	if (Contains(msg, "replication role") || Contains(msg, "permission denied to start WAL sender") ||
	    Contains(msg, "must be superuser or replication")) {
		ErrorContext ctx = e.Context();
		ctx.hint = "grant the role the REPLICATION attribute (ALTER ROLE <role> REPLICATION) or connect as a role "
		           "that has it";
		throw Error(ErrorKind::Source, msg, std::move(ctx));
	}
	if (Contains(msg, "no pg_hba.conf entry for replication")) {
		ErrorContext ctx = e.Context();
		ctx.hint = "allow replication connections for this role and host in pg_hba.conf (the \"database\" field "
		           "must match the database name, or be \"all\"), then reload";
		throw Error(ErrorKind::Source, msg, std::move(ctx));
	}
	throw WithHint(e);
}

void ReplicationConnection::ThrowWithHint(pg_result *res, const std::string &command) const {
	try {
		conn_.ThrowResultError(res, command);
	} catch (const Error &e) {
		throw WithHint(e);
	}
}

void ReplicationConnection::RequireIdle(const char *what) const {
	if (streaming_) {
		throw Error(ErrorKind::Internal, std::string("cannot run ") + what + " while a replication stream is active",
		            {.hint = "stop the ReplicationStream first"});
	}
}

PgResult ReplicationConnection::Command(const std::string &command) {
	RequireIdle("a command");
	log::Debug("pg.replication_command", "command", command);
	pg_result *res = PQexec(conn_.Raw(), command.c_str());
	auto status = res ? PQresultStatus(res) : PGRES_FATAL_ERROR;
	if (status != PGRES_COMMAND_OK && status != PGRES_TUPLES_OK) {
		ThrowWithHint(res, command);
	}
	return PgResult(res);
}

SystemIdentity ReplicationConnection::IdentifySystem() {
	PgResult r = Command("IDENTIFY_SYSTEM");
	if (r.Rows() != 1 || r.Columns() < 4) {
		throw Error(ErrorKind::Protocol, "IDENTIFY_SYSTEM returned an unexpected result shape",
		            {.statement = "IDENTIFY_SYSTEM"});
	}
	SystemIdentity id;
	id.system_id = std::string(r.Get(0, 0));
	id.timeline = static_cast<uint32_t>(r.GetInt(0, 1));
	id.xlogpos = Lsn::Parse(r.Get(0, 2));
	id.dbname = std::string(r.Get(0, 3));
	return id;
}

void ReplicationConnection::CheckWalLevel() {
	PgResult r = Command("SHOW wal_level");
	RequireLogicalWalLevel(r.Get(0, 0), "the source server");
}

void ReplicationConnection::ValidateSlotName(const std::string &slot_name) {
	bool ok = !slot_name.empty() && slot_name.size() <= 63;
	for (char c : slot_name) {
		ok = ok && ((c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '_');
	}
	if (!ok) {
		throw Error(ErrorKind::Config, "invalid replication slot name \"" + slot_name + "\"",
		            {.hint = "slot names use only lower case letters, digits and underscores, at most 63 of them"});
	}
}

CreatedSlot ReplicationConnection::CreateSlot(const std::string &slot_name, bool temporary, SlotSnapshot snapshot) {
	ValidateSlotName(slot_name);
	const char *snap = snapshot == SlotSnapshot::Export ? "export" : snapshot == SlotSnapshot::Use ? "use" : "nothing";
	std::string cmd = "CREATE_REPLICATION_SLOT " + slot_name + (temporary ? " TEMPORARY" : "") +
	                  " LOGICAL pgoutput (SNAPSHOT '" + snap + "')";
	PgResult r = Command(cmd);
	if (r.Rows() != 1 || r.Columns() < 4) {
		throw Error(ErrorKind::Protocol, "CREATE_REPLICATION_SLOT returned an unexpected result shape",
		            {.statement = cmd});
	}
	CreatedSlot out;
	out.slot_name = std::string(r.Get(0, 0));
	out.consistent_point = Lsn::Parse(r.Get(0, 1));
	out.snapshot_name = std::string(r.Get(0, 2));
	out.output_plugin = std::string(r.Get(0, 3));
	log::Info("replication.slot_created", "slot", out.slot_name, "consistent_point", out.consistent_point.ToString(),
	          "temporary", temporary, "snapshot", out.snapshot_name);
	return out;
}

void ReplicationConnection::DropSlot(const std::string &slot_name, bool wait) {
	ValidateSlotName(slot_name);
	Command("DROP_REPLICATION_SLOT " + slot_name + (wait ? " WAIT" : ""));
	log::Info("replication.slot_dropped", "slot", slot_name);
}

std::optional<SlotState> ReplicationConnection::QuerySlot(const std::string &slot_name) {
	RequireIdle("a slot query");
	return QuerySlot(conn_, slot_name);
}

std::optional<SlotState> ReplicationConnection::QuerySlot(PgConnection &sql, const std::string &slot_name) {
	ValidateSlotName(slot_name);
	// Simple protocol only: a walsender refuses the extended one (so no $1 parameters here).
	PgResult r = sql.Exec("SELECT slot_name, coalesce(plugin, ''), slot_type, coalesce(database::text, ''), "
	                      "temporary, active, active_pid, coalesce(restart_lsn::text, '0/0'), "
	                      "coalesce(confirmed_flush_lsn::text, '0/0') FROM pg_replication_slots "
	                      "WHERE slot_name = " +
	                      sql.QuoteLiteral(slot_name));
	if (r.Rows() == 0) {
		return std::nullopt;
	}
	SlotState s;
	s.slot_name = std::string(r.Get(0, 0));
	s.plugin = std::string(r.Get(0, 1));
	s.slot_type = std::string(r.Get(0, 2));
	s.database = std::string(r.Get(0, 3));
	s.temporary = r.GetBool(0, 4);
	s.active = r.GetBool(0, 5);
	if (!r.IsNull(0, 6)) {
		s.active_pid = static_cast<int>(r.GetInt(0, 6));
	}
	s.restart_lsn = Lsn::Parse(r.Get(0, 7));
	s.confirmed_flush_lsn = Lsn::Parse(r.Get(0, 8));
	return s;
}

std::string ReplicationConnection::StartReplicationCommand(const StreamOptions &options) {
	ValidateSlotName(options.slot_name);
	if (options.proto_version < 1 || options.proto_version > 2) {
		throw Error(ErrorKind::Config, "unsupported pgoutput proto_version " + std::to_string(options.proto_version),
		            {.hint = "use 1, or 2 to stream large in-progress transactions"});
	}
	if (options.streaming && options.proto_version < 2) {
		throw Error(ErrorKind::Config, "streaming of in-progress transactions needs proto_version 2",
		            {.hint = "set proto_version = 2 or turn streaming off"});
	}
	if (options.publications.empty()) {
		throw Error(ErrorKind::Config, "START_REPLICATION needs at least one publication",
		            {.hint = "name the publication(s) the slot should stream"});
	}
	std::string pubs;
	for (const auto &p : options.publications) {
		pubs += (pubs.empty() ? "" : ",") + ListIdent(p);
	}
	std::string cmd = "START_REPLICATION SLOT " + options.slot_name + " LOGICAL " + options.start_lsn.ToString() +
	                  " (proto_version '" + std::to_string(options.proto_version) + "', publication_names " +
	                  ReplLiteral(pubs);
	if (options.messages) {
		cmd += ", messages 'true'";
	}
	if (options.streaming) {
		cmd += ", streaming 'on'";
	}
	if (options.binary) {
		cmd += ", binary 'true'";
	}
	return cmd + ")";
}

} // namespace duckpipe
