#include "replication_fixture.hpp"

#include <set>
#include <thread>

using namespace duckpipe;
using namespace duckpipe::test;

using Events = std::vector<std::string>;

TEST_F(ReplicationFixture, InsertUpdateDeleteAcrossTransactions) {
	sql_->Exec("CREATE TABLE t (id int PRIMARY KEY, name text, score numeric(6,2))");
	Prepare();
	Start();
	sql_->Exec("INSERT INTO t VALUES (1, 'a', 1.5), (2, 'b', NULL), (3, 'c', 3)");
	sql_->Exec("BEGIN; UPDATE t SET name = 'A' WHERE id = 1; UPDATE t SET id = 20 WHERE id = 2; "
	           "DELETE FROM t WHERE id = 3; COMMIT");
	DecodeUntilMarker();
	Events expected = {
	    "B",
	    "R public.t ident=d cols=id:23:-1*,name:25:-1,score:1700:393222",
	    "I public.t xid=0 new=[t:1,t:a,t:1.50]",
	    "I public.t xid=0 new=[t:2,t:b,n]",
	    "I public.t xid=0 new=[t:3,t:c,t:3.00]",
	    "C",
	    "B",
	    "U public.t xid=0 new=[t:1,t:A,t:1.50]",
	    "U public.t xid=0 K=[t:2,n,n] new=[t:20,t:b,n]",
	    "D public.t xid=0 K=[t:3,n,n]",
	    "C",
	};
	EXPECT_EQ(TakeEvents(), expected);
	ASSERT_EQ(handler_.commits.size(), 2u);
	EXPECT_LT(handler_.commits[0].end_lsn, handler_.commits[1].commit_lsn);
	EXPECT_LT(handler_.commits[1].commit_lsn, handler_.commits[1].end_lsn);
	EXPECT_EQ(handler_.last_begin.final_lsn, handler_.commits[1].commit_lsn);
	auto now_us =
	    std::chrono::duration_cast<std::chrono::microseconds>(std::chrono::system_clock::now().time_since_epoch())
	        .count();
	EXPECT_NEAR(static_cast<double>(handler_.commits[1].commit_time_us), static_cast<double>(now_us), 60e6);
}

TEST_F(ReplicationFixture, ProtocolVersionOne) {
	sql_->Exec("CREATE TABLE t (id bigint PRIMARY KEY, tags text[], at timestamptz)");
	Prepare();
	Start(1, false);
	sql_->Exec("INSERT INTO t VALUES (1, '{a,\"b c\"}', '2024-01-02 03:04:05.678+00')");
	DecodeUntilMarker();
	Events expected = {
	    "B",
	    "R public.t ident=d cols=id:20:-1*,tags:1009:-1,at:1184:-1",
	    "I public.t xid=0 new=[t:1,t:{a,\"b c\"},t:2024-01-02 03:04:05.678+00]",
	    "C",
	};
	EXPECT_EQ(TakeEvents(), expected);
}

TEST_F(ReplicationFixture, BinaryColumns) {
	sql_->Exec("CREATE TABLE t (id int PRIMARY KEY, v text, n bigint)");
	Prepare();
	Start(2, true, true);
	sql_->Exec("INSERT INTO t VALUES (1, 'hi', NULL), (258, '', -2)");
	DecodeUntilMarker();
	Events expected = {
	    "B",
	    "R public.t ident=d cols=id:23:-1*,v:25:-1,n:20:-1",
	    "I public.t xid=0 new=[b:00000001,b:6869,n]",
	    "I public.t xid=0 new=[b:00000102,b:,b:fffffffffffffffe]",
	    "C",
	};
	EXPECT_EQ(TakeEvents(), expected);
}

TEST_F(ReplicationFixture, ReplicaIdentityFullSendsTheOldRow) {
	sql_->Exec("CREATE TABLE f (id int, v text); ALTER TABLE f REPLICA IDENTITY FULL");
	sql_->Exec("INSERT INTO f VALUES (1, 'x'), (2, NULL)");
	Prepare();
	Start();
	sql_->Exec("UPDATE f SET v = 'y' WHERE id = 1");
	sql_->Exec("DELETE FROM f WHERE id = 2");
	DecodeUntilMarker();
	Events expected = {
	    "B",
	    "R public.f ident=f cols=id:23:-1*,v:25:-1*",
	    "U public.f xid=0 O=[t:1,t:x] new=[t:1,t:y]",
	    "C",
	    "B",
	    "D public.f xid=0 O=[t:2,n]",
	    "C",
	};
	EXPECT_EQ(TakeEvents(), expected);
}

TEST_F(ReplicationFixture, TruncateOfTwoTablesWithCascadeAndRestartIdentity) {
	sql_->Exec("CREATE TABLE parent (id serial PRIMARY KEY); "
	           "CREATE TABLE child (id serial PRIMARY KEY, parent_id int REFERENCES parent); "
	           "CREATE TABLE other (id int PRIMARY KEY)");
	sql_->Exec("INSERT INTO parent DEFAULT VALUES; INSERT INTO child (parent_id) VALUES (1); "
	           "INSERT INTO other VALUES (1)");
	Prepare();
	Start();
	sql_->Exec("TRUNCATE parent, other RESTART IDENTITY CASCADE");
	sql_->Exec("TRUNCATE other");
	DecodeUntilMarker();
	auto events = TakeEvents();
	// Relation messages precede the truncate; the CASCADE pulls child in.
	ASSERT_GE(events.size(), 6u);
	std::string truncate;
	std::string plain;
	for (const auto &e : events) {
		if (e.starts_with("T ")) {
			(truncate.empty() ? truncate : plain) = e;
		}
	}
	EXPECT_TRUE(truncate.starts_with("T public.parent,public.other,public.child xid=0") ||
	            truncate.starts_with("T public.parent,public.child,public.other xid=0"))
	    << truncate;
	EXPECT_TRUE(truncate.ends_with("cascade=true restart=true")) << truncate;
	EXPECT_EQ(plain, "T public.other xid=0 cascade=false restart=false");
}

TEST_F(ReplicationFixture, LargeTransactionIsStreamed) {
	sql_->Exec("CREATE TABLE big (id int PRIMARY KEY, pad text)");
	Prepare();
	Start();
	sql_->Exec("INSERT INTO big SELECT g, repeat('x', 100) || g FROM generate_series(1, 5000) g");
	DecodeUntilMarker();
	auto events = TakeEvents();
	size_t starts = 0, stops = 0, inserts = 0;
	std::set<std::string> ids;
	uint32_t xid = 0;
	for (const auto &e : events) {
		if (e.starts_with("S xid=")) {
			starts++;
			xid = static_cast<uint32_t>(std::stoul(e.substr(6)));
			EXPECT_EQ(e.ends_with("first=true"), starts == 1) << e;
		} else if (e == "E") {
			stops++;
		} else if (e.starts_with("I public.big")) {
			inserts++;
			EXPECT_NE(e.find("xid=" + std::to_string(xid) + " "), std::string::npos) << e;
			auto open = e.find("[t:") + 3;
			ids.insert(e.substr(open, e.find(',', open) - open));
		}
	}
	EXPECT_GE(starts, 2u) << "the transaction was not streamed in several blocks";
	EXPECT_EQ(starts, stops);
	EXPECT_EQ(inserts, 5000u);
	EXPECT_EQ(ids.size(), 5000u);
	EXPECT_TRUE(events.front().starts_with("S xid=")) << events.front();
	EXPECT_EQ(events.back(), "c xid=" + std::to_string(xid) +
	                             " lsn=" + handler_.stream_commits.at(0).commit_lsn.ToString() +
	                             " end=" + handler_.stream_commits.at(0).end_lsn.ToString());
	EXPECT_EQ(std::count(events.begin(), events.end(), "B"), 0);
}

TEST_F(ReplicationFixture, RolledBackStreamedTransactionsAbort) {
	sql_->Exec("CREATE TABLE big (id int PRIMARY KEY, pad text)");
	Prepare();
	Start();
	// A whole transaction rolled back after streaming started.
	sql_->Exec("BEGIN; INSERT INTO big SELECT g, repeat('x', 100) FROM generate_series(1, 3000) g; ROLLBACK");
	// A subtransaction rolled back inside a committed streamed transaction.
	sql_->Exec("BEGIN; INSERT INTO big VALUES (-1, 'kept'); SAVEPOINT s; "
	           "INSERT INTO big SELECT g, repeat('y', 100) FROM generate_series(1, 3000) g; ROLLBACK TO SAVEPOINT s; "
	           "INSERT INTO big VALUES (-2, 'kept too'); COMMIT");
	DecodeUntilMarker();
	auto events = TakeEvents();
	std::vector<std::string> aborts;
	std::vector<std::string> commits;
	for (const auto &e : events) {
		if (e.starts_with("A ")) {
			aborts.push_back(e);
		} else if (e.starts_with("c ")) {
			commits.push_back(e);
		}
	}
	ASSERT_EQ(aborts.size(), 2u) << ::testing::PrintToString(aborts);
	ASSERT_EQ(commits.size(), 1u);
	// First: the top-level abort (subxid == xid).
	auto xid_of = [](const std::string &e) {
		return e.substr(e.find("xid=") + 4, e.find(' ', 2) - e.find("xid=") - 4);
	};
	auto sub_of = [](const std::string &e) { return e.substr(e.find("sub=") + 4); };
	EXPECT_EQ(xid_of(aborts[0]), sub_of(aborts[0])) << aborts[0];
	// Second: only the subtransaction of the committed transaction.
	std::string top = xid_of(aborts[1]);
	std::string sub = sub_of(aborts[1]);
	EXPECT_NE(top, sub);
	EXPECT_TRUE(commits[0].starts_with("c xid=" + top + " ")) << commits[0];
	// The consumer must drop the subtransaction's rows: they are tagged with its xid. The rows
	// outside the rolled-back savepoint carry the top xid or a later subtransaction's.
	size_t sub_rows = 0;
	std::vector<std::string> kept;
	for (const auto &e : events) {
		if (e.starts_with("I public.big xid=" + sub + " ")) {
			sub_rows++;
		} else if (e.starts_with("I public.big xid=") && e.find("new=[t:-") != std::string::npos) {
			kept.push_back(e.substr(e.find("new=")));
		}
	}
	// Rows still buffered when the savepoint rolled back are dropped by the server, not streamed.
	EXPECT_GT(sub_rows, 2000u);
	EXPECT_LE(sub_rows, 3000u);
	EXPECT_EQ(kept, (std::vector<std::string>{"new=[t:-1,t:kept]", "new=[t:-2,t:kept too]"}));
}

TEST_F(ReplicationFixture, UnchangedToastColumn) {
	sql_->Exec("CREATE TABLE doc (id int PRIMARY KEY, title text, body text); "
	           "ALTER TABLE doc ALTER COLUMN body SET STORAGE EXTERNAL");
	sql_->Exec("INSERT INTO doc SELECT 1, 'v1', string_agg(md5(g::text), '') FROM generate_series(1, 300) g");
	Prepare();
	Start();
	sql_->Exec("UPDATE doc SET title = 'v2' WHERE id = 1");
	sql_->Exec("UPDATE doc SET body = 'short' WHERE id = 1");
	DecodeUntilMarker();
	Events expected = {
	    "B",
	    "R public.doc ident=d cols=id:23:-1*,title:25:-1,body:25:-1",
	    "U public.doc xid=0 new=[t:1,t:v2,u]",
	    "C",
	    "B",
	    "U public.doc xid=0 new=[t:1,t:v2,t:short]",
	    "C",
	};
	EXPECT_EQ(TakeEvents(), expected);
}

TEST_F(ReplicationFixture, LogicalDecodingMessages) {
	sql_->Exec("CREATE TABLE t (id int PRIMARY KEY)");
	Prepare();
	Start();
	sql_->Exec("BEGIN; INSERT INTO t VALUES (1); SELECT pg_logical_emit_message(true, 'app', 'in tx'); COMMIT");
	sql_->Exec("SELECT pg_logical_emit_message(false, 'app', 'outside')");
	DecodeUntilMarker();
	Events expected = {
	    "B", "R public.t ident=d cols=id:23:-1*",    "I public.t xid=0 new=[t:1]", "M app xid=0 tx=true content=in tx",
	    "C", "M app xid=0 tx=false content=outside",
	};
	EXPECT_EQ(TakeEvents(), expected);
}

TEST_F(ReplicationFixture, TypeMessageForCustomTypes) {
	sql_->Exec("CREATE TYPE mood AS ENUM ('sad', 'happy'); CREATE TABLE m (id int PRIMARY KEY, feeling mood)");
	Prepare();
	Start();
	sql_->Exec("INSERT INTO m VALUES (1, 'happy')");
	DecodeUntilMarker();
	std::string oid(sql_->Exec("SELECT 'mood'::regtype::oid").Get(0, 0)); // copied: the result is a temporary
	Events expected = {
	    "B",
	    "Y public.mood xid=0",
	    "R public.m ident=d cols=id:23:-1*,feeling:" + std::string(oid) + ":-1",
	    "I public.m xid=0 new=[t:1,t:happy]",
	    "C",
	};
	EXPECT_EQ(TakeEvents(), expected);
	ASSERT_NE(decoder_->Relations().FindType(static_cast<cdc::Oid>(std::stoul(std::string(oid)))), nullptr);
}

TEST_F(ReplicationFixture, OriginOfReplicatedTransactions) {
	sql_->Exec("CREATE TABLE t (id int PRIMARY KEY)");
	Prepare();
	Start();
	PgConnection session(PgCluster::Shared().Conninfo(db_));
	session.Exec("SELECT pg_replication_origin_create('upstream_a')");
	session.Exec("SELECT pg_replication_origin_session_setup('upstream_a')");
	session.Exec("BEGIN; SELECT pg_replication_origin_xact_setup('0/ABCDEF', now()); INSERT INTO t VALUES (7); "
	             "COMMIT");
	session.Exec("SELECT pg_replication_origin_session_reset()");
	DecodeUntilMarker();
	Events expected = {
	    "B", "O upstream_a lsn=0/ABCDEF", "R public.t ident=d cols=id:23:-1*", "I public.t xid=0 new=[t:7]", "C",
	};
	EXPECT_EQ(TakeEvents(), expected);
}

TEST_F(ReplicationFixture, AddColumnMidStreamResendsRelation) {
	sql_->Exec("CREATE TABLE t (id int PRIMARY KEY, a text)");
	Prepare();
	Start();
	sql_->Exec("INSERT INTO t VALUES (1, 'x')");
	sql_->Exec("ALTER TABLE t ADD COLUMN b int DEFAULT 5");
	sql_->Exec("INSERT INTO t VALUES (2, 'y', 6)");
	sql_->Exec("UPDATE t SET a = 'z' WHERE id = 1");
	DecodeUntilMarker();
	Events expected = {
	    "B",
	    "R public.t ident=d cols=id:23:-1*,a:25:-1",
	    "I public.t xid=0 new=[t:1,t:x]",
	    "C",
	    "B",
	    "R public.t ident=d cols=id:23:-1*,a:25:-1,b:23:-1",
	    "I public.t xid=0 new=[t:2,t:y,t:6]",
	    "C",
	    "B",
	    "U public.t xid=0 new=[t:1,t:z,t:5]",
	    "C",
	};
	EXPECT_EQ(TakeEvents(), expected);
	ASSERT_EQ(handler_.relation_changes.size(), 2u);
	EXPECT_EQ(handler_.relation_changes[0], cdc::RelationChange::New);
	EXPECT_EQ(handler_.relation_changes[1], cdc::RelationChange::Changed);
	EXPECT_EQ(handler_.relations[0]->columns.size(), 2u); // the old description survives
}

TEST_F(ReplicationFixture, ConfirmedFlushAdvancesAfterStatusUpdate) {
	sql_->Exec("CREATE TABLE t (id int PRIMARY KEY)");
	Prepare();
	Start();
	sql_->Exec("INSERT INTO t VALUES (1)");
	DecodeUntilMarker();
	ASSERT_EQ(handler_.commits.size(), 1u);
	Lsn end = handler_.commits[0].end_lsn;
	auto confirmed = [&] {
		return Lsn::Parse(sql_->Exec("SELECT coalesce(confirmed_flush_lsn, '0/0') FROM pg_replication_slots "
		                             "WHERE slot_name = $1",
		                             {slot_.slot_name})
		                      .Get(0, 0));
	};
	EXPECT_LT(confirmed(), end);
	stream_->Confirm(end);
	stream_->SendStatus();
	EXPECT_EQ(stream_->FlushPosition(), end);
	auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(10);
	while (confirmed() < end && std::chrono::steady_clock::now() < deadline) {
		// Keep reading so the walsender processes our reply.
		stream_->Next(50);
	}
	EXPECT_GE(confirmed(), end);
	auto state = ReplicationConnection::QuerySlot(*sql_, slot_.slot_name);
	ASSERT_TRUE(state.has_value());
	EXPECT_TRUE(state->active);
	EXPECT_GE(state->confirmed_flush_lsn, end);
	// Positions never go backwards.
	stream_->Confirm(Lsn(1));
	EXPECT_EQ(stream_->FlushPosition(), end);
}

TEST_F(ReplicationFixture, IdleStreamTimesOutAndStopsCleanly) {
	sql_->Exec("CREATE TABLE t (id int PRIMARY KEY)");
	Prepare();
	Start();
	bool timed_out = false;
	auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(10);
	while (!timed_out && std::chrono::steady_clock::now() < deadline) {
		auto ev = stream_->Next(200);
		timed_out = std::holds_alternative<StreamTimeout>(ev);
		EXPECT_FALSE(std::holds_alternative<XLogData>(ev));
	}
	EXPECT_TRUE(timed_out);
	stream_->Stop();
	EXPECT_FALSE(stream_->Active());
	EXPECT_TRUE(std::holds_alternative<EndOfStream>(stream_->Next(0)));
	// The connection takes commands again.
	auto slot = repl_->QuerySlot(slot_.slot_name);
	ASSERT_TRUE(slot.has_value());
	EXPECT_TRUE(slot->temporary);
	EXPECT_EQ(slot->plugin, "pgoutput");
	// The walsender cannot restart logical streaming on the same connection: refused up front.
	try {
		Start();
		FAIL() << "restart on the same connection was accepted";
	} catch (const Error &e) {
		EXPECT_EQ(e.Kind(), ErrorKind::Internal);
		EXPECT_NE(e.Context().hint.find("new ReplicationConnection"), std::string::npos) << e.what();
	}
	repl_->DropSlot(slot_.slot_name);
	EXPECT_FALSE(repl_->QuerySlot(slot_.slot_name).has_value());
}

TEST_F(ReplicationFixture, KeepaliveRepliesKeepTheSessionAlive) {
	// The walsender asks for a reply after half of wal_sender_timeout and disconnects after all of
	// it: with the status timer off, only the automatic reply to its request keeps us connected.
	extra_options_ = "-c wal_sender_timeout=1s";
	status_interval_ms_ = 0;
	Prepare();
	Start();
	size_t requested = 0;
	auto until = std::chrono::steady_clock::now() + std::chrono::milliseconds(3500);
	while (std::chrono::steady_clock::now() < until) {
		auto ev = stream_->Next(100);
		if (auto *k = std::get_if<Keepalive>(&ev)) {
			EXPECT_TRUE(k->wal_end.IsValid());
			requested += k->reply_requested ? 1 : 0;
		}
		ASSERT_FALSE(std::holds_alternative<EndOfStream>(ev));
	}
	EXPECT_GE(requested, 2u);
	sql_->Exec("CREATE TABLE t (id int PRIMARY KEY)");
	sql_->Exec("INSERT INTO t VALUES (1)");
	DecodeUntilMarker();
	EXPECT_EQ(TakeEvents(), (Events{"B", "R public.t ident=d cols=id:23:-1*", "I public.t xid=0 new=[t:1]", "C"}));
}
