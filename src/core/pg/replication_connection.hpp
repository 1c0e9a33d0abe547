#pragma once

#include "core/common/error.hpp"
#include "core/common/lsn.hpp"
#include "core/pg/pg_connection.hpp"

#include <optional>
#include <string>
#include <vector>

namespace duckpipe {

struct SystemIdentity {
	std::string system_id; // a 64-bit number, kept as text
	uint32_t timeline = 0;
	Lsn xlogpos;
	std::string dbname;
};

// What CREATE_REPLICATION_SLOT does with the snapshot of the slot's consistent point.
enum class SlotSnapshot {
	Export,  // export it (name returned) until the next command on this connection: for the initial copy
	Nothing, // no snapshot
	Use,     // make it the snapshot of the current transaction on this connection
};

struct CreatedSlot {
	std::string slot_name;
	Lsn consistent_point;      // stream from here: everything before is in the snapshot
	std::string snapshot_name; // with SlotSnapshot::Export, for SET TRANSACTION SNAPSHOT; else empty
	std::string output_plugin;
};

// A row of pg_replication_slots.
struct SlotState {
	std::string slot_name;
	std::string plugin;
	std::string slot_type;
	std::string database;
	bool temporary = false;
	bool active = false;
	std::optional<int> active_pid;
	Lsn restart_lsn;
	Lsn confirmed_flush_lsn;
};

// Options of START_REPLICATION for pgoutput.
struct StreamOptions {
	std::string slot_name;
	Lsn start_lsn;                         // 0/0 resumes from the slot's confirmed_flush_lsn
	int proto_version = 2;                 // 1, or 2 for streaming of large in-progress transactions
	std::vector<std::string> publications; // at least one
	bool messages = true;                  // pg_logical_emit_message
	bool streaming = true;                 // only with proto_version >= 2
	bool binary = false;                   // 'b' tuple columns instead of 't'
	int status_interval_ms = 10000;        // standby status update period; 0 disables the timer
};

// A walsender (replication=database) connection: the replication commands, and the CopyBoth
// stream through ReplicationStream. Plain SQL also works on it (PostgreSQL 10+), but not while a
// stream runs. Every server refusal becomes Error with a hint saying how to fix it.
class ReplicationConnection {
public:
	struct Options {
		std::string application_name = "pg_duckpipe";
		int connect_timeout_s = 10;
	};

	// Throws Error(Connection) when unreachable, Error(Source) when the role lacks REPLICATION.
	explicit ReplicationConnection(const std::string &conninfo);
	ReplicationConnection(const std::string &conninfo, const Options &options);

	SystemIdentity IdentifySystem();
	// Throws Error(Source) unless wal_level is logical.
	void CheckWalLevel();

	// CREATE_REPLICATION_SLOT name [TEMPORARY] LOGICAL pgoutput (SNAPSHOT '...').
	// Slot names are [a-z0-9_]{1,63} (checked here: Error(Config)).
	CreatedSlot CreateSlot(const std::string &slot_name, bool temporary, SlotSnapshot snapshot);
	// DROP_REPLICATION_SLOT name [WAIT]. Throws Error(Source, sqlstate 42704) if it does not exist.
	void DropSlot(const std::string &slot_name, bool wait = true);
	// pg_replication_slots row of the slot, or nullopt (on this connection, when not streaming).
	std::optional<SlotState> QuerySlot(const std::string &slot_name);
	// The same through any connection to the source (e.g. a normal SQL one while streaming).
	static std::optional<SlotState> QuerySlot(PgConnection &sql, const std::string &slot_name);

	// The START_REPLICATION command text for these options (identifiers and literals quoted).
	static std::string StartReplicationCommand(const StreamOptions &options);

	// Throws Error(Config) for a name outside [a-z0-9_]{1,63}.
	static void ValidateSlotName(const std::string &slot_name);
	// The same error with a hint for the usual misconfigurations (wal_level, privileges, slots,
	// missing publication); other errors come back unchanged.
	static Error WithHint(const Error &error);

	PgConnection &Connection() { return conn_; }
	bool Streaming() const { return streaming_; }

private:
	friend class ReplicationStream;
	// Runs a replication command; errors get hints for the usual misconfigurations.
	PgResult Command(const std::string &command);
	[[noreturn]] void ThrowWithHint(pg_result *res, const std::string &command) const;
	[[noreturn]] static void ThrowConnectError(const Error &error);
	void RequireIdle(const char *what) const;

	PgConnection conn_;
	bool streaming_ = false;
	bool streamed_ = false; // a walsender ends a second logical START_REPLICATION at once
};

} // namespace duckpipe
