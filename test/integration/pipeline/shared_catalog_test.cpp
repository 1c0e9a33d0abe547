// Two sources writing into one lake catalog (--lake-catalog shared): each source's metadata numbers
// its mappings from 1, so equal mapping ids meet in the catalog's duckpipe.table_progress. Every
// table must keep its own applied LSN across restarts: nothing skipped, nothing applied twice.
#include "core/pg/pg_connection.hpp"
#include "harness/pipeline_fixture.hpp"

#include <algorithm>

namespace duckpipe::test {

class SharedCatalogTest : public PipelineTest {
protected:
	// One source cluster: its database, and the daemon (or none) running against it.
	struct Origin {
		std::unique_ptr<PgCluster> cluster;
		std::string db;
		std::string suffix; // of its lake tables: public.items_<suffix>, public.events_<suffix>
		std::unique_ptr<DaemonProcess> daemon;
		std::string Conninfo() const { return cluster->Conninfo(db); }
	};

	std::vector<std::string> Globals(const Origin &s) const {
		// The lake catalog is this test's database on the shared cluster, a third one.
		return {"--source",    s.Conninfo(), "--lake-catalog", Source(),
		        "--data-path", data_path_,   "--temp-dir",     temp_path_};
	}
	void Manage(const Origin &s, const std::vector<std::string> &args) {
		auto all = Globals(s);
		all.insert(all.end(), args.begin(), args.end());
		auto r = RunDuckpipe(all);
		ASSERT_EQ(r.exit_code, 0) << r.output;
	}
	void Start(Origin &s) {
		auto args = Globals(s);
		args.insert(args.end(), {"run", "--flush-interval", "300"});
		s.daemon = std::make_unique<DaemonProcess>(args, log_path_);
	}
	void Setup(Origin &s, const std::string &suffix) {
		s.cluster = std::make_unique<PgCluster>();
		s.db = s.cluster->CreateDatabase("src");
		s.suffix = suffix;
		PgConnection conn(s.Conninfo());
		conn.Exec("CREATE TABLE public.items (id bigint PRIMARY KEY, v text)");
		conn.Exec("INSERT INTO public.items SELECT g, '" + suffix + " initial ' || g FROM generate_series(1, 200) g");
		// No key: a transaction applied twice shows as duplicate rows.
		conn.Exec("CREATE TABLE public.events (k int, v text)");
		conn.Exec("ALTER TABLE public.events REPLICA IDENTITY FULL");
		conn.Exec("INSERT INTO public.events SELECT g % 7, 'initial' FROM generate_series(1, 50) g");
		// Same table names, same mapping ids (1 and 2) on both sources.
		Manage(s, {"add-table", "public.items", "public.items_" + suffix});
		Manage(s, {"add-table", "public.events", "public.events_" + suffix});
		auto ids = conn.Exec("SELECT string_agg(id::text, ',' ORDER BY id) FROM duckpipe.table_mappings");
		ASSERT_EQ(std::string(ids.Get(0, 0)), "1,2");
	}
	// One transaction of inserts, updates and deletes on both tables.
	static void WriteRound(const Origin &s, int round) {
		PgConnection conn(s.Conninfo());
		std::string r = std::to_string(round);
		conn.Exec("BEGIN");
		conn.Exec("INSERT INTO public.items VALUES (" + std::to_string(1000 + round) + ", '" + s.suffix + " round " +
		          r + "')");
		conn.Exec("UPDATE public.items SET v = v || ' u" + r + "' WHERE id = " + std::to_string(round % 100 + 1));
		conn.Exec("DELETE FROM public.items WHERE id = " + std::to_string(150 + round));
		conn.Exec("INSERT INTO public.events VALUES (" + r + ", 'round " + r + "'), (" + r + ", 'round " + r + "')");
		conn.Exec(
		    "DELETE FROM public.events WHERE ctid = (SELECT ctid FROM public.events WHERE v = 'initial' LIMIT 1)");
		conn.Exec("COMMIT");
	}
	static void WriteRounds(const Origin &s, int from, int to) {
		for (int r = from; r < to; r++) {
			WriteRound(s, r);
		}
	}
	static std::vector<std::string> SourceLines(const Origin &s, const std::string &table, const std::string &columns) {
		PgConnection conn(s.Conninfo());
		auto r = conn.Exec("SELECT l FROM (SELECT concat_ws('|', " + columns + ") AS l FROM " + table +
		                   ") s ORDER BY l COLLATE \"C\"");
		std::vector<std::string> out;
		for (int i = 0; i < r.Rows(); i++) {
			out.emplace_back(r.Get(i, 0));
		}
		return out;
	}
	std::vector<std::string> LakeLines(const std::string &table, const std::string &columns) {
		std::vector<std::string> out;
		for (auto &row : LakeQuery("SELECT concat_ws('|', " + columns + ") AS l FROM " + table + " ORDER BY l")) {
			out.push_back(row[0]);
		}
		return out;
	}
	// Both tables of a source, as exact sorted row multisets.
	bool Equal(Origin &s, std::string *diff) {
		try {
			return EqualOrThrow(s, diff);
		} catch (const std::exception &e) {
			*diff = e.what();
			return false;
		}
	}
	bool EqualOrThrow(Origin &s, std::string *diff) {
		for (const auto &[table, columns] : std::vector<std::pair<std::string, std::string>>{
		         {"items", "id::text, v"}, {"events", "coalesce(k::text, '-'), v"}}) {
			auto lake_columns = table == "items" ? std::string("CAST(id AS VARCHAR), v")
			                                     : std::string("coalesce(CAST(k AS VARCHAR), '-'), v");
			auto src = SourceLines(s, "public." + table, columns);
			auto lake = LakeLines("public." + table + "_" + s.suffix, lake_columns);
			if (src != lake) {
				*diff = "public." + table + "_" + s.suffix + ": lake " + std::to_string(lake.size()) +
				        " rows, source " + std::to_string(src.size());
				auto mismatch = std::mismatch(src.begin(), src.end(), lake.begin(), lake.end());
				*diff += ", first difference: source [" + (mismatch.first != src.end() ? *mismatch.first : "") +
				         "] lake [" + (mismatch.second != lake.end() ? *mismatch.second : "") + "]";
				return false;
			}
		}
		return true;
	}
	::testing::AssertionResult WaitEqual(Origin &s) {
		std::string diff;
		if (WaitFor([&] { return Equal(s, &diff); }, 60s, 250ms)) {
			return ::testing::AssertionSuccess();
		}
		return ::testing::AssertionFailure() << "source " << s.suffix << " and the lake differ: " << diff;
	}
	bool WaitStreaming(Origin &s) {
		return WaitFor(
		    [&] {
			    PgConnection conn(s.Conninfo());
			    return conn.Exec("SELECT count(*) FROM duckpipe.table_mappings WHERE state = 'STREAMING'")
			               .GetInt(0, 0) == 2;
		    },
		    60s, 200ms);
	}
	static Lsn WalLsn(const Origin &s) {
		PgConnection conn(s.Conninfo());
		return Lsn::Parse(conn.Exec("SELECT pg_current_wal_lsn()").Get(0, 0));
	}

	Origin a_;
	Origin b_;
};

TEST_F(SharedCatalogTest, TwoSourcesWithEqualMappingIdsKeepTheirOwnProgressAcrossRestarts) {
	Setup(a_, "a");
	Setup(b_, "b");
	// B's WAL far ahead of A's: a progress row mixed up between them makes A skip its own
	// transactions (and B replay its own).
	{
		PgConnection conn(b_.Conninfo());
		conn.Exec("CREATE TABLE public.filler (x int)");
		while (WalLsn(b_).value < WalLsn(a_).value + (64ull << 20)) {
			conn.Exec("INSERT INTO public.filler VALUES (1)");
			conn.Exec("SELECT pg_switch_wal()");
		}
	}

	Start(a_);
	ASSERT_TRUE(WaitStreaming(a_)) << LogTail();
	WriteRounds(a_, 0, 5);
	ASSERT_TRUE(WaitEqual(a_)) << LogTail();
	EXPECT_EQ(a_.daemon->Terminate(), 0);

	Start(b_);
	ASSERT_TRUE(WaitStreaming(b_)) << LogTail();
	WriteRounds(b_, 0, 5);
	ASSERT_TRUE(WaitEqual(b_)) << LogTail();
	EXPECT_EQ(b_.daemon->Terminate(), 0);

	// A resumes after B committed: its transactions while down and after must all arrive.
	WriteRounds(a_, 5, 10);
	Start(a_);
	WriteRounds(a_, 10, 15);
	ASSERT_TRUE(WaitEqual(a_)) << LogTail();
	std::string diff;
	EXPECT_TRUE(Equal(b_, &diff)) << diff;
	a_.daemon->Kill();

	// B resumes after A (and replays from its slot after a kill): nothing doubled.
	WriteRounds(b_, 5, 10);
	Start(b_);
	WriteRounds(b_, 10, 15);
	ASSERT_TRUE(WaitEqual(b_)) << LogTail();
	b_.daemon->Kill();
	WriteRounds(b_, 15, 20);
	Start(b_);
	ASSERT_TRUE(WaitEqual(b_)) << LogTail();

	// A after a kill -9, now with B running at the same time.
	WriteRounds(a_, 15, 20);
	Start(a_);
	WriteRounds(a_, 20, 25);
	WriteRounds(b_, 20, 25);
	EXPECT_TRUE(WaitEqual(a_)) << LogTail();
	EXPECT_TRUE(WaitEqual(b_)) << LogTail();
	EXPECT_EQ(a_.daemon->Terminate(), 0);
	EXPECT_EQ(b_.daemon->Terminate(), 0);

	// Each source's progress is its own row, under its own identity.
	auto keys = Sql("SELECT count(DISTINCT (source_system_id, source_database_oid)), count(*) FROM "
	                "duckpipe.table_progress");
	EXPECT_EQ(keys[0][0], "2");
	EXPECT_EQ(keys[0][1], "4");
}

} // namespace duckpipe::test
