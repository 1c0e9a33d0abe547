#include "core/common/error.hpp"
#include "core/pg/replication_connection.hpp"

#include <gtest/gtest.h>

using namespace duckpipe;

TEST(ReplicationCommand, StartReplicationQuotesPublications) {
	StreamOptions o;
	o.slot_name = "duckpipe_slot";
	o.start_lsn = Lsn(0x16B374D848ULL);
	o.publications = {"pub", "odd \"name\"", "it's"};
	EXPECT_EQ(ReplicationConnection::StartReplicationCommand(o),
	          "START_REPLICATION SLOT duckpipe_slot LOGICAL 16/B374D848 (proto_version '2', publication_names "
	          "'\"pub\",\"odd \"\"name\"\"\",\"it''s\"', messages 'true', streaming 'on')");
	o.proto_version = 1;
	o.streaming = false;
	o.messages = false;
	o.binary = true;
	o.publications = {"p"};
	EXPECT_EQ(ReplicationConnection::StartReplicationCommand(o),
	          "START_REPLICATION SLOT duckpipe_slot LOGICAL 16/B374D848 (proto_version '1', publication_names "
	          "'\"p\"', binary 'true')");
}

TEST(ReplicationCommand, RejectsBadOptions) {
	StreamOptions o;
	o.slot_name = "ok";
	EXPECT_THROW(ReplicationConnection::StartReplicationCommand(o), Error); // no publication
	o.publications = {"p"};
	o.proto_version = 1; // streaming needs 2
	EXPECT_THROW(ReplicationConnection::StartReplicationCommand(o), Error);
	o.proto_version = 3;
	EXPECT_THROW(ReplicationConnection::StartReplicationCommand(o), Error);
	for (const char *bad : {"", "Upper", "with space", "semi;colon", "x'y"}) {
		try {
			ReplicationConnection::ValidateSlotName(bad);
			ADD_FAILURE() << bad;
		} catch (const Error &e) {
			EXPECT_EQ(e.Kind(), ErrorKind::Config);
		}
	}
	EXPECT_THROW(ReplicationConnection::ValidateSlotName(std::string(64, 'a')), Error);
	ReplicationConnection::ValidateSlotName(std::string(63, 'a'));
}

TEST(ReplicationCommand, HintsForKnownServerErrors) {
	auto hint = [](const std::string &msg, const std::string &state) {
		return ReplicationConnection::WithHint(Error(ErrorKind::Source, msg, {.sqlstate = state})).Context().hint;
	};
	EXPECT_NE(hint("logical decoding requires wal_level >= logical", "55000").find("wal_level = logical"),
	          std::string::npos);
	EXPECT_NE(hint("all replication slots are in use", "53400").find("max_replication_slots"), std::string::npos);
	EXPECT_NE(hint("publication \"nope\" does not exist", "42704").find("CREATE PUBLICATION"), std::string::npos);
	EXPECT_NE(hint("replication slot \"s\" does not exist", "42704").find("pg_replication_slots"), std::string::npos);
	EXPECT_EQ(hint("something else", "XX000"), "");
}
