// The daemon dies on the spot (DUCKPIPE_CRASH_POINT, like kill -9) at every dangerous step of a
// lake commit, with three kinds of table at once: keyed, append mode (a changelog, where a replay
// applied twice doubles rows) and keyless REPLICA IDENTITY FULL (rows matched by value, duplicates
// included). After a restart each lake table must hold exactly the expected multiset of rows.
#include "core/pg/pg_connection.hpp"
#include "harness/pipeline_fixture.hpp"

#include <algorithm>

namespace duckpipe::test {

namespace {

struct CrashPointCase {
	const char *name;
	bool during_copy; // reached by the initial copy (else by the first flush after it)
};

} // namespace

class CrashMatrixTest : public PipelineTest, public ::testing::WithParamInterface<CrashPointCase> {
protected:
	void CreateTables() {
		Sql("CREATE TABLE public.acct (id bigint PRIMARY KEY, balance bigint NOT NULL, note text)");
		Sql("INSERT INTO public.acct SELECT g, 1000, 'init' FROM generate_series(1, 2000) g");
		// Append mode: every change is a lake row. The journal (not synced) records each change as
		// the changelog must show it; the copy shows the rows present at the start as inserts.
		Sql("CREATE TABLE public.events (id bigint PRIMARY KEY, v text)");
		Sql("INSERT INTO public.events SELECT g, 'e' || g FROM generate_series(1, 200) g");
		Sql("CREATE TABLE public.journal AS SELECT 'I'::text AS op, id, v FROM public.events");
		Sql("CREATE FUNCTION public.journal_events() RETURNS trigger LANGUAGE plpgsql AS $$ BEGIN "
		    "IF TG_OP = 'DELETE' THEN INSERT INTO public.journal VALUES ('D', OLD.id, NULL); "
		    "ELSE INSERT INTO public.journal VALUES (left(TG_OP, 1), NEW.id, NEW.v); END IF; RETURN NULL; END $$");
		Sql("CREATE TRIGGER journal AFTER INSERT OR UPDATE OR DELETE ON public.events FOR EACH ROW EXECUTE FUNCTION "
		    "public.journal_events()");
		// Keyless, with duplicate rows.
		Sql("CREATE TABLE public.bag (k int, v text)");
		Sql("ALTER TABLE public.bag REPLICA IDENTITY FULL");
		Sql("INSERT INTO public.bag SELECT g % 100, 'b' || (g % 3) FROM generate_series(1, 300) g");
		DuckpipeOk({"add-table", "public.acct"});
		DuckpipeOk({"add-table", "--append", "public.events"});
		DuckpipeOk({"add-table", "public.bag"});
	}
	// One source transaction touching the three tables: an insert, an update and a delete each.
	static void WriteRound(PgConnection &conn, int round) {
		std::string r = std::to_string(round);
		conn.Exec("BEGIN");
		conn.Exec("INSERT INTO public.acct VALUES (" + std::to_string(1000000 + round) + ", " + r + ", 'round " + r +
		          "')");
		conn.Exec("UPDATE public.acct SET balance = balance + " + r + ", note = 'r" + r +
		          "' WHERE id = " + std::to_string(round % 500 + 1));
		conn.Exec("DELETE FROM public.acct WHERE id = " + std::to_string(round + 600));
		conn.Exec("INSERT INTO public.events VALUES (" + std::to_string(100000 + round) + ", 'n" + r + "')");
		conn.Exec("UPDATE public.events SET v = 'u" + r + "' WHERE id = " + std::to_string(round % 150 + 1));
		conn.Exec("DELETE FROM public.events WHERE id = " + std::to_string(round + 160));
		conn.Exec("INSERT INTO public.bag VALUES (" + std::to_string(round % 7) + ", 'b" + std::to_string(round % 3) +
		          "')");
		conn.Exec("UPDATE public.bag SET v = v || '+' WHERE ctid = (SELECT ctid FROM public.bag WHERE k = " +
		          std::to_string(round % 100) + " LIMIT 1)");
		conn.Exec("DELETE FROM public.bag WHERE ctid = (SELECT ctid FROM public.bag WHERE k = " +
		          std::to_string((round + 50) % 100) + " LIMIT 1)");
		conn.Exec("COMMIT");
	}
	void WriteRounds(int from, int to) {
		auto conn = Connect();
		for (int r = from; r < to; r++) {
			WriteRound(*conn, r);
		}
	}
	bool AllStreaming() {
		for (const char *t : {"public.acct", "public.events", "public.bag"}) {
			if (!WaitTableState(t, "STREAMING", 90s)) {
				ADD_FAILURE() << t << " is " << TableState(t) << ": " << TableError(t) << "\n" << LogTail();
				return false;
			}
		}
		return true;
	}
	static Rows Sorted(Rows rows) {
		std::sort(rows.begin(), rows.end());
		return rows;
	}
	// (op, id, v) -> count, expected from the journal and found in the lake.
	Rows ExpectedChangelog() {
		return Sorted(
		    Sql("SELECT op, id::text, coalesce(v, '<null>'), count(*)::text FROM public.journal GROUP BY 1, 2, "
		        "3"));
	}
	Rows LakeChangelog() {
		return Sorted(LakeQuery("SELECT duckpipe_op, CAST(id AS VARCHAR), coalesce(v, '<null>'), CAST(count(*) AS "
		                        "VARCHAR) FROM public.events_ducklake GROUP BY ALL"));
	}
	bool LakeMatches() {
		return LakeEqualsSource("public.acct") && LakeEqualsSource("public.bag") &&
		       LakeChangelog() == ExpectedChangelog();
	}
	void ExpectLakeMatchesSource() {
		bool matched = WaitFor([&] { return LakeMatches(); }, 90s, 250ms);
		EXPECT_TRUE(matched) << LogTail();
		EXPECT_TRUE(LakeEqualsSource("public.acct"));
		EXPECT_TRUE(LakeEqualsSource("public.bag"));
		auto expected = ExpectedChangelog();
		auto found = LakeChangelog();
		EXPECT_EQ(found.size(), expected.size());
		for (size_t i = 0, j = 0; i < expected.size() || j < found.size();) {
			if (j == found.size() || (i < expected.size() && expected[i] < found[j])) {
				ADD_FAILURE() << "changelog row missing or miscounted: " << Join(expected[i++]);
			} else if (i == expected.size() || found[j] < expected[i]) {
				ADD_FAILURE() << "changelog row extra or miscounted in the lake: " << Join(found[j++]);
			} else {
				i++, j++;
			}
		}
	}
	static std::string Join(const std::vector<std::string> &row) {
		std::string out;
		for (const auto &v : row) {
			out += (out.empty() ? "" : "|") + v;
		}
		return out;
	}
};

TEST_P(CrashMatrixTest, LakeHoldsEveryChangeExactlyOnceAfterACrash) {
	const auto &point = GetParam();
	CreateTables();
	auto daemon = StartDaemon({}, {{"DUCKPIPE_CRASH_POINT", point.name}});
	if (point.during_copy) {
		EXPECT_EQ(daemon->Wait(90s), 137) << "the daemon did not die at " << point.name << "\n" << LogTail();
		auto restarted = StartDaemon();
		ASSERT_TRUE(AllStreaming());
		WriteRounds(0, 60);
		ExpectLakeMatchesSource();
		EXPECT_EQ(restarted->Terminate(), 0);
	} else {
		ASSERT_TRUE(AllStreaming());
		WriteRounds(0, 40);
		// The first flush after the copies hits the crash point.
		EXPECT_EQ(daemon->Wait(60s), 137) << "the daemon did not die at " << point.name << "\n" << LogTail();
		WriteRounds(40, 80); // while it is down
		auto restarted = StartDaemon();
		WriteRounds(80, 120);
		ExpectLakeMatchesSource();
		EXPECT_EQ(restarted->Terminate(), 0);
	}
	EXPECT_NE(daemon->Log().find("crash_point"), std::string::npos);
	// The temporary copy slots died with the crashed daemon's connections.
	EXPECT_EQ(Scalar("SELECT count(*) FROM pg_replication_slots WHERE slot_name LIKE 'duckpipe_copy_%'"), "0");
}

// The answer to a flush's COMMIT is lost (fail point after COMMIT was sent, here at the 8th lake
// commit: after the copies): the commit did reach the catalog, so the flush must count as done and
// never be applied again (an append-mode table would show it twice).
TEST_F(CrashMatrixTest, LostCommitAnswerOfAFlushIsNotAppliedTwice) {
	CreateTables();
	auto daemon = StartDaemon({}, {{"DUCKPIPE_LAKE_FAIL_POINT", "after_commit_sent#8"}});
	ASSERT_TRUE(AllStreaming());
	// Batches flushed one after the other: at least 12 flush commits, whatever the timing.
	for (int batch = 0; batch < 4; batch++) {
		WriteRounds(batch * 20, batch * 20 + 20);
		ASSERT_TRUE(WaitFor([&] { return LakeMatches(); }, 60s, 100ms)) << LogTail();
	}
	ExpectLakeMatchesSource();
	EXPECT_EQ(CountLog("lake.commit_ambiguous"), 1) << LogTail();
	EXPECT_EQ(daemon->Terminate(), 0);
}

INSTANTIATE_TEST_SUITE_P(CrashPoints, CrashMatrixTest,
                         ::testing::Values(CrashPointCase{"flush_before_commit", false},
                                           CrashPointCase{"flush_commit_sent", false},
                                           CrashPointCase{"flush_after_commit", false},
                                           CrashPointCase{"copy_before_commit", true},
                                           CrashPointCase{"copy_commit_sent", true}),
                         [](const ::testing::TestParamInfo<CrashPointCase> &info) { return info.param.name; });

} // namespace duckpipe::test
