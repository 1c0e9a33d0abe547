// Time travel through the extension: a table goes through several states (inserts, updates,
// deletes, a column added); each state's exact rows, commit LSN and a time are recorded from the
// source, and later the lake relation read at duckpipe.snapshot_at(lsn), at duckpipe.as_of_time, at
// duckpipe.snapshot_at(time) and inside duckpipe.as_of() must give exactly those rows. Also: what
// the pipeline records in each commit's extra info.
#include "core/common/lsn.hpp"
#include "core/pg/pg_connection.hpp"
#include "harness/daemon_process.hpp"
#include "harness/extension_fixture.hpp"

#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include <algorithm>
#include <string>
#include <vector>

namespace duckpipe::test {
namespace {

using namespace std::chrono_literals;
using Rows = ExtensionTest::Rows;

struct State {
	std::string lsn;  // pg_current_wal_insert_lsn() right after the state's last commit
	std::string time; // a time after the lake showed the state and before the next one began
	Rows rows;        // the source's rows then, sorted
};

class ExtensionTimeTravelTest : public ExtensionTest {
protected:
	ExtensionTimeTravelTest() : ExtensionTest("ext_tt") {}

	static constexpr const char *kRows =
	    "SELECT id::text, coalesce(v, 'NULL'), coalesce(extra::text, 'NULL') FROM public.items%s ORDER BY 1, 2, 3";

	static std::string RowsSql(const std::string &suffix, bool has_extra) {
		std::string sql = kRows;
		sql.replace(sql.find("%s"), 2, suffix);
		if (!has_extra) {
			sql.replace(sql.find("coalesce(extra::text, 'NULL')"), 29, "'NULL'");
		}
		return sql;
	}

	// The lake relation's rows at the latest snapshot equal the source's (the relation has the
	// column once the lake followed the DDL).
	Rows WaitSynced(bool has_extra) {
		Rows source;
		bool same = WaitFor(
		    [&] {
			    source = Sql(RowsSql("", has_extra));
			    try {
				    return Sql(RowsSql("_ducklake", has_extra)) == source;
			    } catch (const std::exception &) {
				    return false; // the relation has not got the new column yet
			    }
		    },
		    60s);
		EXPECT_TRUE(same) << "the lake relation did not catch up with public.items";
		return source;
	}

	// Rows of the relation read with `setup` (SET ... or SELECT duckpipe.as_of(...)) in one
	// transaction of one session.
	Rows ReadWith(const std::string &setup, bool has_extra = true) {
		PgConnection conn(Conninfo());
		conn.Exec("BEGIN");
		conn.Exec(setup);
		auto r = conn.Exec(RowsSql("_ducklake", has_extra));
		conn.Exec("COMMIT");
		Rows rows;
		for (int i = 0; i < r.Rows(); i++) {
			rows.push_back({std::string(r.Get(i, 0)), std::string(r.Get(i, 1)), std::string(r.Get(i, 2))});
		}
		return rows;
	}

	std::string SnapshotAt(const std::string &arg) {
		std::string id;
		EXPECT_TRUE(WaitFor(
		    [&] {
			    id = Scalar("SELECT duckpipe.snapshot_at(" + arg + ")");
			    return id != "<null>";
		    },
		    60s))
		    << "snapshot_at(" << arg << ") stayed NULL";
		return id;
	}
};

TEST_F(ExtensionTimeTravelTest, EveryRecordedStateReadsBackExactly) {
	Sql("CREATE TABLE public.items (id int PRIMARY KEY, v text)");
	Sql("INSERT INTO public.items SELECT g, 'v' || g FROM generate_series(1, 50) g");
	Sql("SELECT duckpipe.add_table('public.items')");
	std::vector<State> states;
	auto record = [&](bool has_extra) {
		State s;
		// After the state's last commit; for the copy, once it is in the lake (its consistent point
		// comes after add_table's commit: an LSN before it is before the table was in the lake).
		s.lsn = Scalar("SELECT pg_current_wal_insert_lsn()");
		s.rows = WaitSynced(has_extra);
		if (states.empty()) {
			s.lsn = Scalar("SELECT pg_current_wal_insert_lsn()");
		}
		s.time = Scalar("SELECT clock_timestamp()");
		states.push_back(std::move(s));
	};
	record(false); // the copy
	Sql("INSERT INTO public.items SELECT g, 'v' || g FROM generate_series(51, 60) g");
	Sql("UPDATE public.items SET v = 'one' WHERE id <= 5");
	record(false);
	Sql("DELETE FROM public.items WHERE id % 4 = 0");
	Sql("UPDATE public.items SET v = NULL WHERE id = 7");
	record(false);
	Sql("ALTER TABLE public.items ADD COLUMN extra int");
	Sql("UPDATE public.items SET extra = id * 10, v = 'two' WHERE id % 3 = 0");
	record(true);
	Sql("DELETE FROM public.items WHERE id > 40");
	Sql("INSERT INTO public.items VALUES (100, 'last', 1)");
	record(true);
	// A change after the last state: snapshot_at(time) bounds each state's time by the first recorded
	// transaction after it (without one it needs the lake caught up with the server's WAL position
	// at the call, which the pipeline's own metadata writes keep moving: docs/lake-relation.md).
	Sql("UPDATE public.items SET v = 'after' WHERE id = 1");
	auto final_rows = WaitSynced(true);

	// A column added since reads as NULL at the earlier states.
	for (size_t i = 0; i < states.size(); i++) {
		SCOPED_TRACE("state " + std::to_string(i) + " at " + states[i].lsn);
		auto at_lsn = SnapshotAt("'" + states[i].lsn + "'::pg_lsn");
		EXPECT_EQ(ReadWith("SET LOCAL duckpipe.as_of_snapshot = " + at_lsn), states[i].rows);
		EXPECT_EQ(ReadWith("SELECT duckpipe.as_of(snapshot => " + at_lsn + ")"), states[i].rows);
		EXPECT_EQ(ReadWith("SET LOCAL duckpipe.as_of_time = '" + states[i].time + "'"), states[i].rows);
		EXPECT_EQ(ReadWith("SELECT duckpipe.as_of(as_of => '" + states[i].time + "')"), states[i].rows);
		auto at_time = SnapshotAt("'" + states[i].time + "'::timestamptz");
		EXPECT_EQ(ReadWith("SET LOCAL duckpipe.as_of_snapshot = " + at_time), states[i].rows);
		// The earlier states hold less than the later ones: their snapshots come first.
		if (i > 0) {
			EXPECT_LT(std::stoll(SnapshotAt("'" + states[i - 1].lsn + "'::pg_lsn")), std::stoll(at_lsn));
		}
	}
	// A transaction after as_of() reads the latest again.
	EXPECT_EQ(ReadWith("SELECT 1"), final_rows);
}

TEST_F(ExtensionTimeTravelTest, CommitsRecordHowFarTheSourceHadGot) {
	Sql("CREATE TABLE public.items (id int PRIMARY KEY, v text, extra int)");
	Sql("INSERT INTO public.items VALUES (1, 'a', NULL)");
	Sql("SELECT duckpipe.add_table('public.items')");
	WaitSynced(true);
	auto first = Scalar("SELECT pg_current_wal_insert_lsn()");
	Sql("INSERT INTO public.items VALUES (2, 'b', NULL)");
	Sql("UPDATE public.items SET v = 'c' WHERE id = 1");
	auto last = Scalar("SELECT pg_current_wal_insert_lsn()");
	WaitSynced(true);

	auto rows = Sql("SELECT commit_extra_info FROM duckpipe.snapshots() WHERE commit_extra_info LIKE '%duckpipe%' "
	                "ORDER BY snapshot_id");
	ASSERT_GE(rows.size(), 2u);
	auto copy = nlohmann::json::parse(rows.front().at(0)).at("duckpipe");
	EXPECT_EQ(copy.at("kind"), "copy");
	EXPECT_EQ(copy.at("group"), "default");
	EXPECT_EQ(copy.at("table"), "public.items");
	EXPECT_EQ(copy.at("target"), "public.items_ducklake");
	EXPECT_LE(Lsn::Parse(copy.at("source_lsn").get<std::string>()), Lsn::Parse(first));
	Lsn previous_end = Lsn::Parse(copy.at("source_lsn").get<std::string>());
	int flushes = 0;
	for (size_t i = 1; i < rows.size(); i++) {
		auto d = nlohmann::json::parse(rows[i].at(0)).at("duckpipe");
		ASSERT_EQ(d.at("kind"), "flush") << rows[i].at(0);
		auto from = Lsn::Parse(d.at("from_lsn").get<std::string>());
		auto to = Lsn::Parse(d.at("source_lsn").get<std::string>());
		// Batches are contiguous and in LSN order, after the copy's consistent point.
		EXPECT_GE(from, previous_end);
		EXPECT_LE(from, to);
		EXPECT_TRUE(d.contains("from_time") && d.contains("source_time")) << rows[i].at(0);
		EXPECT_GT(from, Lsn::Parse(first));
		EXPECT_LT(to, Lsn::Parse(last));
		previous_end = to;
		flushes++;
	}
	EXPECT_GE(flushes, 1);
}

} // namespace
} // namespace duckpipe::test
