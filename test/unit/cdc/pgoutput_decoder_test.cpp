#include "core/cdc/pgoutput_decoder.hpp"
#include "core/common/error.hpp"
#include "unit/cdc/pgoutput_builder.hpp"
#include "unit/cdc/recording_handler.hpp"

#include <gtest/gtest.h>

#include <chrono>
#include <cstdio>
#include <cstring>
#include <memory>

using namespace duckpipe;
using namespace duckpipe::cdc;
using duckpipe::test::Cols;
using duckpipe::test::InsertMsg;
using duckpipe::test::PgOutputBuilder;
using duckpipe::test::RecordingHandler;
using duckpipe::test::RelationMsg;

namespace {

constexpr uint32_t kT = 16384;
constexpr uint32_t kU = 16390;

std::string UsersRelation(std::optional<uint32_t> xid = std::nullopt) {
	return RelationMsg(kT, "public", "users", 'd',
	                   {{"id", 23, -1, true}, {"name", 25, -1, false}, {"blob", 17, -1, false}}, xid);
}

std::string OrdersRelation(std::optional<uint32_t> xid = std::nullopt) {
	return RelationMsg(kU, "shop", "orders", 'f', {{"id", 20, -1, false}, {"price", 1700, 655366, false}}, xid);
}

std::string ExpectProtocolError(PgOutputDecoder &d, std::string_view msg) {
	try {
		d.Decode(msg, Lsn(0x1234));
	} catch (const Error &e) {
		EXPECT_EQ(e.Kind(), ErrorKind::Protocol) << e.what();
		EXPECT_TRUE(e.Context().lsn.has_value());
		return e.what();
	}
	ADD_FAILURE() << "no error for " << RecordingHandler::Hex(msg);
	return {};
}

} // namespace

TEST(PgOutputDecoder, BeginAndCommit) {
	RecordingHandler h;
	PgOutputDecoder d(h, 1);
	// 2024-01-01 00:00:00 UTC is 757382400 s after 2000-01-01.
	int64_t pg_ts = 757382400LL * 1000000 + 42;
	d.Decode(PgOutputBuilder('B').U64(0x16B374D848ULL).U64(pg_ts).U32(777));
	d.Decode(PgOutputBuilder('C').U8(0).U64(0x16B374D848ULL).U64(0x16B374D880ULL).U64(pg_ts));
	ASSERT_EQ(h.events.size(), 2u);
	EXPECT_EQ(h.events[0], "B final=16/B374D848 xid=777");
	EXPECT_EQ(h.events[1], "C lsn=16/B374D848 end=16/B374D880");
	EXPECT_EQ(h.last_begin.commit_time_us, 1704067200LL * 1000000 + 42);
	EXPECT_EQ(h.last_commit.commit_time_us, 1704067200LL * 1000000 + 42);
}

TEST(PgOutputDecoder, Origin) {
	RecordingHandler h;
	PgOutputDecoder d(h);
	d.Decode(PgOutputBuilder('O').U64(0xABC).Str("node_a"));
	ASSERT_EQ(h.events.size(), 1u);
	EXPECT_EQ(h.events[0], "O node_a lsn=0/ABC");
}

TEST(PgOutputDecoder, RelationIsCachedAndResendIsClassified) {
	RecordingHandler h;
	PgOutputDecoder d(h);
	d.Decode(UsersRelation());
	d.Decode(OrdersRelation());
	EXPECT_EQ(h.events[0], "R public.users ident=d cols=id:23:-1*,name:25:-1,blob:17:-1");
	EXPECT_EQ(h.events[1], "R shop.orders ident=f cols=id:20:-1,price:1700:655366");
	auto before = d.Relations().FindShared(kT);
	d.Decode(UsersRelation());
	// ALTER TABLE users ADD COLUMN age int
	d.Decode(
	    RelationMsg(kT, "public", "users", 'd',
	                {{"id", 23, -1, true}, {"name", 25, -1, false}, {"blob", 17, -1, false}, {"age", 23, -1, false}}));
	ASSERT_EQ(h.relation_changes.size(), 4u);
	EXPECT_EQ(h.relation_changes[0], RelationChange::New);
	EXPECT_EQ(h.relation_changes[1], RelationChange::New);
	EXPECT_EQ(h.relation_changes[2], RelationChange::Unchanged);
	EXPECT_EQ(h.relation_changes[3], RelationChange::Changed);
	EXPECT_EQ(d.Relations().Size(), 2u);
	EXPECT_EQ(d.Relations().Find(kT)->columns.size(), 4u);
	// A consumer holding the old description keeps it intact.
	EXPECT_EQ(before->columns.size(), 3u);
	// Rows now need four columns.
	d.Decode(InsertMsg(kT, {{'t', "1"}, {'t', "a"}, {'n', ""}, {'t', "30"}}));
	EXPECT_EQ(h.events.back(), "I public.users xid=0 new=[t:1,t:a,n,t:30]");
	ExpectProtocolError(d, InsertMsg(kT, {{'t', "1"}, {'t', "a"}, {'n', ""}}));
}

TEST(PgOutputDecoder, ReplicaIdentityKinds) {
	RecordingHandler h;
	PgOutputDecoder d(h);
	for (char ident : {'d', 'n', 'f', 'i'}) {
		d.Decode(RelationMsg(kT + ident, "s", std::string("t") + ident, ident, {{"a", 23, -1, ident == 'i'}}));
		EXPECT_EQ(d.Relations().Find(kT + ident)->replica_identity, static_cast<ReplicaIdentity>(ident));
	}
	auto what = ExpectProtocolError(d, RelationMsg(1, "s", "x", 'z', {}));
	EXPECT_NE(what.find("replica identity"), std::string::npos) << what;
}

TEST(PgOutputDecoder, TypeMessage) {
	RecordingHandler h;
	PgOutputDecoder d(h);
	d.Decode(PgOutputBuilder('Y').U32(90001).Str("public").Str("mood"));
	EXPECT_EQ(h.events[0], "Y public.mood xid=0");
	ASSERT_NE(d.Relations().FindType(90001), nullptr);
	EXPECT_EQ(d.Relations().FindType(90001)->typname, "mood");
}

TEST(PgOutputDecoder, InsertWithEveryColumnKind) {
	RecordingHandler h;
	PgOutputDecoder d(h);
	d.Decode(UsersRelation());
	std::string binary("\x0a\x00\xff", 3);
	d.Decode(InsertMsg(kT, {{'t', "42"}, {'n', ""}, {'b', binary}}));
	d.Decode(InsertMsg(kT, {{'t', ""}, {'u', ""}, {'t', "x\ty"}}));
	EXPECT_EQ(h.events[1], "I public.users xid=0 new=[t:42,n,b:0a00ff]");
	EXPECT_EQ(h.events[2], "I public.users xid=0 new=[t:,u,t:x\ty]");
}

TEST(PgOutputDecoder, TupleViewsPointIntoTheMessage) {
	struct Check : PgOutputHandler {
		std::string_view buffer;
		bool ok = false;
		void OnInsert(const InsertMessage &m) override {
			auto v = m.new_tuple[1].data;
			ok = v == "hello" && v.data() >= buffer.data() && v.data() + v.size() <= buffer.data() + buffer.size() &&
			     m.new_tuple[0].IsNull() && m.new_tuple[1].HasValue() && m.new_tuple[2].IsUnchangedToast();
		}
	} h;
	PgOutputDecoder d(h);
	d.Decode(UsersRelation());
	std::string msg = InsertMsg(kT, {{'n', ""}, {'t', "hello"}, {'u', ""}});
	h.buffer = msg;
	d.Decode(msg);
	EXPECT_TRUE(h.ok);
}

TEST(PgOutputDecoder, UpdateForms) {
	RecordingHandler h;
	PgOutputDecoder d(h);
	d.Decode(UsersRelation());
	d.Decode(OrdersRelation());
	// Plain update: no old tuple.
	d.Decode(PgOutputBuilder('U').U32(kT).U8('N').Tuple({{'t', "1"}, {'t', "b"}, {'u', ""}}));
	// Key changed: old key tuple, non-key columns null.
	d.Decode(PgOutputBuilder('U')
	             .U32(kT)
	             .U8('K')
	             .Tuple({{'t', "1"}, {'n', ""}, {'n', ""}})
	             .U8('N')
	             .Tuple({{'t', "2"}, {'t', "b"}, {'u', ""}}));
	// REPLICA IDENTITY FULL: the whole old row.
	d.Decode(PgOutputBuilder('U')
	             .U32(kU)
	             .U8('O')
	             .Tuple({{'t', "7"}, {'t', "1.50"}})
	             .U8('N')
	             .Tuple({{'t', "7"}, {'t', "2.50"}}));
	EXPECT_EQ(h.events[2], "U public.users xid=0 new=[t:1,t:b,u]");
	EXPECT_EQ(h.events[3], "U public.users xid=0 K=[t:1,n,n] new=[t:2,t:b,u]");
	EXPECT_EQ(h.events[4], "U shop.orders xid=0 O=[t:7,t:1.50] new=[t:7,t:2.50]");
	ExpectProtocolError(d, PgOutputBuilder('U').U32(kU).U8('X').Tuple({{'t', "7"}, {'t', "1"}}));
}

TEST(PgOutputDecoder, DeleteForms) {
	RecordingHandler h;
	PgOutputDecoder d(h);
	d.Decode(UsersRelation());
	d.Decode(OrdersRelation());
	d.Decode(PgOutputBuilder('D').U32(kT).U8('K').Tuple({{'t', "5"}, {'n', ""}, {'n', ""}}));
	d.Decode(PgOutputBuilder('D').U32(kU).U8('O').Tuple({{'t', "7"}, {'t', "2.50"}}));
	EXPECT_EQ(h.events[2], "D public.users xid=0 K=[t:5,n,n]");
	EXPECT_EQ(h.events[3], "D shop.orders xid=0 O=[t:7,t:2.50]");
	ExpectProtocolError(d, PgOutputBuilder('D').U32(kU).U8('N').Tuple({{'t', "7"}, {'t', "1"}}));
}

TEST(PgOutputDecoder, TruncateFlags) {
	RecordingHandler h;
	PgOutputDecoder d(h);
	d.Decode(UsersRelation());
	d.Decode(OrdersRelation());
	d.Decode(PgOutputBuilder('T').U32(2).U8(3).U32(kT).U32(kU));
	d.Decode(PgOutputBuilder('T').U32(1).U8(0).U32(kU));
	d.Decode(PgOutputBuilder('T').U32(1).U8(2).U32(kT));
	EXPECT_EQ(h.events[2], "T public.users,shop.orders xid=0 cascade=true restart=true");
	EXPECT_EQ(h.events[3], "T shop.orders xid=0 cascade=false restart=false");
	EXPECT_EQ(h.events[4], "T public.users xid=0 cascade=false restart=true");
	// A relation count larger than the message must not allocate or read past it.
	ExpectProtocolError(d, PgOutputBuilder('T').U32(0xFFFFFFFF).U8(0).U32(kT));
	ExpectProtocolError(d, PgOutputBuilder('T').U32(1).U8(0).U32(99));
}

TEST(PgOutputDecoder, LogicalMessages) {
	RecordingHandler h;
	PgOutputDecoder d(h, 1);
	std::string content("a\0b", 3);
	d.Decode(PgOutputBuilder('M').U8(1).U64(0x10).Str("duckpipe").U32(3).Raw(content));
	d.Decode(PgOutputBuilder('M').U8(0).U64(0x20).Str("other").U32(0));
	EXPECT_EQ(h.events[0], "M duckpipe xid=0 tx=true content=" + content);
	EXPECT_EQ(h.events[1], "M other xid=0 tx=false content=");
}

TEST(PgOutputDecoder, StreamedTransactionCarriesXids) {
	RecordingHandler h;
	PgOutputDecoder d(h, 2);
	d.Decode(PgOutputBuilder('S').U32(900).U8(1));
	EXPECT_TRUE(d.InStreamBlock());
	EXPECT_EQ(d.StreamXid(), 900u);
	d.Decode(UsersRelation(900));
	d.Decode(OrdersRelation(900));
	d.Decode(PgOutputBuilder('Y').U32(900).U32(90001).Str("public").Str("mood"));
	d.Decode(InsertMsg(kT, {{'t', "1"}, {'t', "a"}, {'n', ""}}, 900));
	d.Decode(InsertMsg(kT, {{'t', "2"}, {'t', "b"}, {'n', ""}}, 901)); // a subtransaction
	d.Decode(PgOutputBuilder('U')
	             .U32(900)
	             .U32(kU)
	             .U8('O')
	             .Tuple({{'t', "7"}, {'t', "1"}})
	             .U8('N')
	             .Tuple({{'t', "7"}, {'t', "2"}}));
	d.Decode(PgOutputBuilder('D').U32(900).U32(kT).U8('K').Tuple({{'t', "1"}, {'n', ""}, {'n', ""}}));
	d.Decode(PgOutputBuilder('T').U32(900).U32(1).U8(1).U32(kU));
	d.Decode(PgOutputBuilder('M').U32(900).U8(1).U64(0x30).Str("p").U32(1).Raw("x"));
	d.Decode(PgOutputBuilder('E'));
	EXPECT_FALSE(d.InStreamBlock());
	d.Decode(PgOutputBuilder('S').U32(900).U8(0));
	d.Decode(InsertMsg(kT, {{'t', "3"}, {'t', "c"}, {'n', ""}}, 900));
	d.Decode(PgOutputBuilder('E'));
	d.Decode(PgOutputBuilder('A').U32(900).U32(901));
	d.Decode(PgOutputBuilder('c').U32(900).U8(0).U64(0x100).U64(0x180).U64(0));
	std::vector<std::string> expected = {
	    "S xid=900 first=true",
	    "R public.users ident=d cols=id:23:-1*,name:25:-1,blob:17:-1",
	    "R shop.orders ident=f cols=id:20:-1,price:1700:655366",
	    "Y public.mood xid=900",
	    "I public.users xid=900 new=[t:1,t:a,n]",
	    "I public.users xid=901 new=[t:2,t:b,n]",
	    "U shop.orders xid=900 O=[t:7,t:1] new=[t:7,t:2]",
	    "D public.users xid=900 K=[t:1,n,n]",
	    "T shop.orders xid=900 cascade=true restart=false",
	    "M p xid=900 tx=true content=x",
	    "E",
	    "S xid=900 first=false",
	    "I public.users xid=900 new=[t:3,t:c,n]",
	    "E",
	    "A xid=900 sub=901",
	    "c xid=900 lsn=0/100 end=0/180",
	};
	EXPECT_EQ(h.events, expected);
}

// A consumer keeps a streamed block's changes and decodes them after the block, at the commit.
TEST(PgOutputDecoder, KeptStreamedChangesDecodeAfterTheirBlock) {
	RecordingHandler h;
	PgOutputDecoder d(h, 2);
	EXPECT_TRUE(PgOutputDecoder::IsStreamedChange(UsersRelation(900)));
	EXPECT_TRUE(PgOutputDecoder::IsStreamedChange(InsertMsg(kT, {{'t', "1"}, {'t', "a"}, {'n', ""}}, 901)));
	EXPECT_FALSE(PgOutputDecoder::IsStreamedChange(PgOutputBuilder('E')));
	EXPECT_FALSE(PgOutputDecoder::IsStreamedChange(PgOutputBuilder('c').U32(900)));
	d.DecodeStreamed(UsersRelation(900));
	d.DecodeStreamed(InsertMsg(kT, {{'t', "1"}, {'t', "a"}, {'n', ""}}, 901));
	EXPECT_FALSE(d.InStreamBlock());
	std::vector<std::string> expected = {
	    "R public.users ident=d cols=id:23:-1*,name:25:-1,blob:17:-1",
	    "I public.users xid=901 new=[t:1,t:a,n]",
	};
	EXPECT_EQ(h.events, expected);
	EXPECT_THROW(d.DecodeStreamed(PgOutputBuilder('E')), Error);
}

TEST(PgOutputDecoder, StreamStateErrors) {
	RecordingHandler h;
	PgOutputDecoder v1(h, 1);
	EXPECT_NE(ExpectProtocolError(v1, PgOutputBuilder('S').U32(1).U8(1)).find("protocol version 2"), std::string::npos);
	PgOutputDecoder d(h, 2);
	ExpectProtocolError(d, PgOutputBuilder('E'));
	d.Decode(PgOutputBuilder('S').U32(1).U8(1));
	ExpectProtocolError(d, PgOutputBuilder('S').U32(1).U8(0));
	ExpectProtocolError(d, PgOutputBuilder('c').U32(1).U8(0).U64(1).U64(2).U64(3));
	ExpectProtocolError(d, PgOutputBuilder('A').U32(1).U32(1));
	d.Decode(PgOutputBuilder('E'));
	ExpectProtocolError(d, PgOutputBuilder('S').U32(1).U8(7));
	EXPECT_THROW(PgOutputDecoder(h, 3), Error);
}

TEST(PgOutputDecoder, ClearErrors) {
	RecordingHandler h;
	PgOutputDecoder d(h);
	auto what = ExpectProtocolError(d, PgOutputBuilder('Z').U32(1));
	EXPECT_NE(what.find("unknown message type byte 0x5a"), std::string::npos) << what;
	what = ExpectProtocolError(d, InsertMsg(kT, {{'t', "1"}}));
	EXPECT_NE(what.find("relation OID 16384"), std::string::npos) << what;
	EXPECT_NE(what.find("Insert"), std::string::npos) << what;
	d.Decode(UsersRelation());
	what = ExpectProtocolError(d, InsertMsg(kT, {{'t', "1"}, {'x', ""}, {'n', ""}}));
	EXPECT_NE(what.find("column kind"), std::string::npos) << what;
	what = ExpectProtocolError(d, InsertMsg(kT, {{'t', "1"}, {'n', ""}, {'n', ""}}) + "junk");
	EXPECT_NE(what.find("trailing"), std::string::npos) << what;
	what = ExpectProtocolError(d, PgOutputBuilder('I').U32(kT).U8('N').U16(3).U8('t').U32(0x7FFFFFFF));
	EXPECT_NE(what.find("offset 13"), std::string::npos) << what;
	EXPECT_NE(what.find("lsn=0/1234"), std::string::npos) << what;
	ExpectProtocolError(d, "");
	try {
		d.Decode(PgOutputBuilder('b').U64(1));
		FAIL();
	} catch (const Error &e) {
		EXPECT_EQ(e.Kind(), ErrorKind::Unsupported);
	}
}

// Every valid message cut at every length must fail cleanly (run under valgrind to check reads).
TEST(PgOutputDecoder, EveryTruncationIsAProtocolError) {
	std::string binary("\x01\x00\x02", 3);
	struct Case {
		std::string msg;
		bool in_stream;
	};
	std::vector<Case> cases = {
	    {PgOutputBuilder('B').U64(1).U64(2).U32(3).Bytes(), false},
	    {PgOutputBuilder('C').U8(0).U64(1).U64(2).U64(3).Bytes(), false},
	    {PgOutputBuilder('O').U64(1).Str("origin").Bytes(), false},
	    {UsersRelation(), false},
	    {UsersRelation(5), true},
	    {PgOutputBuilder('Y').U32(1).Str("public").Str("mood").Bytes(), false},
	    {PgOutputBuilder('Y').U32(5).U32(1).Str("public").Str("mood").Bytes(), true},
	    {InsertMsg(kT, {{'t', "1"}, {'b', binary}, {'n', ""}}), false},
	    {InsertMsg(kT, {{'t', "1"}, {'u', ""}, {'n', ""}}, 5), true},
	    {PgOutputBuilder('U').U32(kT).U8('N').Tuple({{'t', "1"}, {'t', "b"}, {'u', ""}}).Bytes(), false},
	    {PgOutputBuilder('U')
	         .U32(kT)
	         .U8('K')
	         .Tuple({{'t', "1"}, {'n', ""}, {'n', ""}})
	         .U8('N')
	         .Tuple({{'t', "2"}, {'t', "b"}, {'u', ""}})
	         .Bytes(),
	     false},
	    {PgOutputBuilder('U')
	         .U32(5)
	         .U32(kU)
	         .U8('O')
	         .Tuple({{'t', "7"}, {'t', "1"}})
	         .U8('N')
	         .Tuple({{'t', "7"}, {'t', "2"}})
	         .Bytes(),
	     true},
	    {PgOutputBuilder('D').U32(kT).U8('K').Tuple({{'t', "5"}, {'n', ""}, {'n', ""}}).Bytes(), false},
	    {PgOutputBuilder('D').U32(5).U32(kU).U8('O').Tuple({{'t', "7"}, {'t', "2"}}).Bytes(), true},
	    {PgOutputBuilder('T').U32(2).U8(3).U32(kT).U32(kU).Bytes(), false},
	    {PgOutputBuilder('T').U32(5).U32(1).U8(1).U32(kT).Bytes(), true},
	    {PgOutputBuilder('M').U8(1).U64(0x10).Str("prefix").U32(3).Raw("abc").Bytes(), false},
	    {PgOutputBuilder('M').U32(5).U8(1).U64(0x10).Str("prefix").U32(3).Raw("abc").Bytes(), true},
	    {PgOutputBuilder('S').U32(5).U8(1).Bytes(), false},
	    {PgOutputBuilder('E').Bytes(), true},
	    {PgOutputBuilder('c').U32(5).U8(0).U64(1).U64(2).U64(3).Bytes(), false},
	    {PgOutputBuilder('A').U32(5).U32(6).Bytes(), false},
	};
	size_t checked = 0;
	for (const auto &c : cases) {
		RecordingHandler h;
		PgOutputDecoder d(h, 2);
		d.Decode(UsersRelation());
		d.Decode(OrdersRelation());
		if (c.in_stream) {
			d.Decode(PgOutputBuilder('S').U32(5).U8(1));
		}
		size_t before = h.events.size();
		// Copy each prefix into its own exact-size buffer so an over-read is a real out-of-bounds read.
		for (size_t len = 0; len < c.msg.size(); len++) {
			std::unique_ptr<char[]> exact(new char[len + 1]);
			std::memcpy(exact.get(), c.msg.data(), len);
			std::string what = ExpectProtocolError(d, std::string_view(exact.get(), len));
			EXPECT_NE(what.find("offset"), std::string::npos) << what;
			checked++;
		}
		EXPECT_EQ(h.events.size(), before) << "a truncated message reached the handler";
		EXPECT_EQ(d.InStreamBlock(), c.in_stream);
		d.Decode(c.msg); // the whole message still decodes
		EXPECT_EQ(h.events.size(), before + 1);
	}
	EXPECT_GT(checked, 500u);
}

// Random corruption must end in an Error or a decoded message, never a crash.
TEST(PgOutputDecoder, CorruptedBytesNeverCrash) {
	std::vector<std::string> seeds = {
	    UsersRelation(),
	    InsertMsg(kT, {{'t', "1"}, {'b', "xyz"}, {'n', ""}}),
	    PgOutputBuilder('U')
	        .U32(kT)
	        .U8('K')
	        .Tuple({{'t', "1"}, {'n', ""}, {'n', ""}})
	        .U8('N')
	        .Tuple({{'t', "2"}, {'t', "b"}, {'u', ""}})
	        .Bytes(),
	    PgOutputBuilder('T').U32(2).U8(3).U32(kT).U32(kU).Bytes(),
	    PgOutputBuilder('M').U8(1).U64(0x10).Str("prefix").U32(3).Raw("abc").Bytes(),
	};
	uint32_t state = 12345;
	auto next = [&state] {
		state = state * 1103515245u + 12345u;
		return state >> 8;
	};
	size_t errors = 0;
	for (int iter = 0; iter < 20000; iter++) {
		RecordingHandler h;
		PgOutputDecoder d(h, 2);
		d.Decode(UsersRelation());
		d.Decode(OrdersRelation());
		std::string msg = seeds[next() % seeds.size()];
		int flips = 1 + next() % 3;
		for (int i = 0; i < flips; i++) {
			msg[next() % msg.size()] = static_cast<char>(next() & 0xff);
		}
		try {
			d.Decode(msg);
		} catch (const Error &) {
			errors++;
		}
	}
	EXPECT_GT(errors, 1000u);
}

// Run by hand: ./unit_tests --gtest_also_run_disabled_tests --gtest_filter='*DecodeThroughput'
TEST(PgOutputDecoder, DISABLED_DecodeThroughput) {
	struct Counter : PgOutputHandler {
		size_t rows = 0;
		size_t bytes = 0;
		void OnInsert(const InsertMessage &m) override {
			rows++;
			for (const auto &c : m.new_tuple) {
				bytes += c.data.size();
			}
		}
	} h;
	PgOutputDecoder d(h);
	d.Decode(RelationMsg(kT, "public", "events", 'd',
	                     {{"id", 20, -1, true},
	                      {"ts", 1184, -1, false},
	                      {"kind", 25, -1, false},
	                      {"amount", 1700, -1, false},
	                      {"payload", 25, -1, false},
	                      {"flag", 16, -1, false}}));
	std::string msg = InsertMsg(kT, {{'t', "123456789"},
	                                 {'t', "2024-05-01 12:34:56.789+00"},
	                                 {'t', "purchase"},
	                                 {'t', "1234.56"},
	                                 {'t', std::string(100, 'x')},
	                                 {'t', "t"}});
	constexpr size_t kMessages = 1000000;
	auto start = std::chrono::steady_clock::now();
	for (size_t i = 0; i < kMessages; i++) {
		d.Decode(msg);
	}
	double secs = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
	EXPECT_EQ(h.rows, kMessages);
	std::printf("decoded %zu insert messages (%zu bytes each) in %.3f s: %.0f msgs/s, %.1f MB/s\n", kMessages,
	            msg.size(), secs, kMessages / secs, kMessages * msg.size() / secs / 1e6);
}
