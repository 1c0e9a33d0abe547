#include "harness/pipeline_fixture.hpp"

#include "core/duck/duck_connection.hpp"
#include "core/duck/duck_database.hpp"
#include "core/duck/duck_result.hpp"
#include "core/lake/catalog_loader.hpp"
#include "core/lake/lake_reader.hpp"
#include "core/pg/pg_connection.hpp"

#include <algorithm>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <thread>

namespace duckpipe::test {

namespace {

constexpr const char *kNull = "<null>";

std::string SplitSchema(const std::string &qualified, std::string *name) {
	auto dot = qualified.find('.');
	if (dot == std::string::npos) {
		*name = qualified;
		return "public";
	}
	*name = qualified.substr(dot + 1);
	return qualified.substr(0, dot);
}

std::string DefaultLakeTable(const std::string &table, const std::string &lake_table) {
	if (!lake_table.empty()) {
		return lake_table;
	}
	std::string name;
	std::string schema = SplitSchema(table, &name);
	return schema + "." + name + "_ducklake";
}

// Lines present in `a` and not in `b` (both sorted), at most `limit`.
std::vector<std::string> Missing(const std::vector<std::string> &a, const std::vector<std::string> &b, size_t limit) {
	std::vector<std::string> out;
	std::set_difference(a.begin(), a.end(), b.begin(), b.end(), std::back_inserter(out));
	if (out.size() > limit) {
		out.resize(limit);
	}
	return out;
}

} // namespace

void PipelineTest::SetUp() {
	db_ = Cluster().CreateDatabase("pipe");
	dir_ = std::make_unique<TempDir>("duckpipe-pipe");
	data_path_ = dir_->Path() + "/lake/";
	temp_path_ = dir_->Path() + "/tmp";
	log_path_ = dir_->Path() + "/duckpipe.log";
	std::filesystem::create_directories(data_path_);
	std::filesystem::create_directories(temp_path_);
	conn_ = Connect();
}

void PipelineTest::TearDown() {
	if (!allow_table_failures_) {
		for (const char *event : {"event=table.failed", "event=snapshot.failed", "event=slot.lost"}) {
			EXPECT_EQ(CountLog(event), 0) << "a table failed (and would be copied again); set allow_table_failures_ "
			                                 "in a test that expects it\n"
			                              << LogTail(20);
		}
	}
	// The whole log outlives the test's temp dir, for a look after the run: a failed test's always,
	// every test's when DUCKPIPE_TEST_KEEP_LOGS names a directory (e.g. to see how long a passing
	// test's flushes took on a slow host).
	const auto *info = ::testing::UnitTest::GetInstance()->current_test_info();
	std::string name = std::string(info->test_suite_name()) + "." + info->name() + ".log";
	std::error_code ec;
	if (const char *keep_dir = std::getenv("DUCKPIPE_TEST_KEEP_LOGS"); keep_dir != nullptr && *keep_dir != '\0') {
		std::filesystem::create_directories(keep_dir, ec);
		std::filesystem::copy_file(log_path_, std::string(keep_dir) + "/" + name,
		                           std::filesystem::copy_options::overwrite_existing, ec);
	}
	if (HasFailure()) {
		std::string keep = std::filesystem::temp_directory_path().string() + "/duckpipe-failed-" + name;
		std::filesystem::copy_file(log_path_, keep, std::filesystem::copy_options::overwrite_existing, ec);
		std::printf("---- daemon log (tail; whole log in %s) ----\n%s\n", keep.c_str(), LogTail(40).c_str());
	}
	// Free this database's slots (the cluster allows a limited number); a killed daemon's walsender
	// may need a moment to go away.
	WaitFor(
	    [&] {
		    try {
			    if (!conn_->IsHealthy()) {
				    conn_ = Connect();
			    }
			    Sql("SELECT pg_drop_replication_slot(slot_name) FROM pg_replication_slots "
			        "WHERE database = current_database() AND NOT active");
			    return Scalar("SELECT count(*) FROM pg_replication_slots WHERE database = current_database()") == "0";
		    } catch (const std::exception &e) {
			    throw NotYet(e.what()); // a slot turning active meanwhile, a restarted server
		    }
	    },
	    10s, 200ms);
	conn_.reset();
}

std::string PipelineTest::Source() const {
	return PgCluster::Shared().Conninfo(db_);
}

std::unique_ptr<PgConnection> PipelineTest::Connect() const {
	return std::make_unique<PgConnection>(PgCluster::Shared().Conninfo(db_));
}

Rows PipelineTest::Sql(const std::string &sql) {
	auto r = conn_->Exec(sql);
	Rows out;
	out.reserve(r.Rows());
	for (int i = 0; i < r.Rows(); i++) {
		std::vector<std::string> row;
		row.reserve(r.Columns());
		for (int j = 0; j < r.Columns(); j++) {
			row.push_back(r.IsNull(i, j) ? kNull : std::string(r.Get(i, j)));
		}
		out.push_back(std::move(row));
	}
	return out;
}

std::string PipelineTest::Scalar(const std::string &sql) {
	auto rows = Sql(sql);
	return rows.empty() || rows[0].empty() ? kNull : rows[0][0];
}

std::vector<std::string> PipelineTest::WithGlobals(const std::vector<std::string> &args) const {
	std::vector<std::string> out{"--source", Source(), "--data-path", data_path_, "--temp-dir", temp_path_};
	out.insert(out.end(), args.begin(), args.end());
	return out;
}

CommandResult PipelineTest::Duckpipe(const std::vector<std::string> &args,
                                     const std::map<std::string, std::string> &env) {
	return RunDuckpipe(WithGlobals(args), env);
}

void PipelineTest::DuckpipeOk(const std::vector<std::string> &args) {
	auto r = Duckpipe(args);
	std::string cmd;
	for (const auto &a : args) {
		cmd += " " + a;
	}
	ASSERT_EQ(r.exit_code, 0) << "duckpipe" << cmd << ":\n" << r.output;
}

std::unique_ptr<DaemonProcess> PipelineTest::StartDaemon(const std::vector<std::string> &extra,
                                                         const std::map<std::string, std::string> &env, int flush_ms) {
	std::string ready = dir_->Path() + "/ready-" + std::to_string(++daemons_started_);
	std::vector<std::string> args{"run", "--flush-interval", std::to_string(flush_ms), "--ready-file", ready};
	args.insert(args.end(), extra.begin(), extra.end());
	auto daemon = std::make_unique<DaemonProcess>(WithGlobals(args), log_path_, env);
	bool ready_or_gone = WaitFor([&] { return std::filesystem::exists(ready) || !daemon->IsRunning(); }, 60s, 20ms);
	EXPECT_TRUE(ready_or_gone) << "the daemon did not get ready in 60 s\n" << LogTail(20);
	return daemon;
}

std::string PipelineTest::LogTail(size_t lines) const {
	std::ifstream in(log_path_);
	std::vector<std::string> all;
	for (std::string line; std::getline(in, line);) {
		all.push_back(std::move(line));
	}
	std::string out;
	for (size_t i = all.size() > lines ? all.size() - lines : 0; i < all.size(); i++) {
		out += all[i] + "\n";
	}
	return out;
}

Rows PipelineTest::LakeQuery(const std::string &sql) {
	PgConnection catalog(Source());
	if (catalog.Exec("SELECT 1 FROM pg_tables WHERE schemaname = 'ducklake' AND tablename = 'ducklake_snapshot'")
	        .Rows() == 0) {
		throw NotYet("the lake does not exist yet");
	}
	auto state = lake::LoadCatalog(catalog, "ducklake");
	DuckDatabase db("", {{"threads", "1"}, {"memory_limit", "256MB"}});
	auto duck = db.Connect();
	lake::LakeReader::Attach(*duck, state);
	std::unique_ptr<DuckResult> result;
	try {
		result = std::make_unique<DuckResult>(duck->Query(sql));
	} catch (const std::exception &e) {
		std::string message = e.what();
		// The table, or a column the source just got, is not in the lake yet.
		bool no_table =
		    message.find("Table with name") != std::string::npos && message.find("does not exist") != std::string::npos;
		bool no_column = message.find("Binder Error: Referenced column") != std::string::npos &&
		                 message.find("not found") != std::string::npos;
		if (no_table || no_column) {
			throw NotYet(message);
		}
		throw;
	}
	auto &r = *result;
	Rows out;
	for (uint64_t i = 0; i < r.Rows(); i++) {
		std::vector<std::string> row;
		for (uint64_t j = 0; j < r.Columns(); j++) {
			row.push_back(r.GetString(j, i).value_or(kNull));
		}
		out.push_back(std::move(row));
	}
	return out;
}

int64_t PipelineTest::LakeCount(const std::string &lake_table) {
	try {
		auto rows = LakeQuery("SELECT count(*) FROM " + lake_table);
		return std::stoll(rows.at(0).at(0));
	} catch (const NotYet &) {
		return -1;
	}
}

std::vector<std::string> PipelineTest::Columns(const std::string &table) {
	auto r = conn_->Exec("SELECT attname FROM pg_attribute WHERE attrelid = $1::regclass AND attnum > 0 AND "
	                     "NOT attisdropped ORDER BY attnum",
	                     {table});
	std::vector<std::string> out;
	out.reserve(r.Rows());
	for (int i = 0; i < r.Rows(); i++) {
		out.emplace_back(r.Get(i, 0));
	}
	return out;
}

// Both sides render each row as the same text: values cast to text (PostgreSQL) / VARCHAR
// (DuckDB), which print integers, text, booleans and decimals alike; rows sorted bytewise.
static std::string LineExpr(const std::vector<std::string> &columns, bool duck) {
	std::string expr = "concat_ws('|'";
	for (const auto &c : columns) {
		std::string q = duck ? DuckConnection::QuoteIdent(c) : "\"" + c + "\"";
		expr += ", coalesce(" + (duck ? "CAST(" + q + " AS VARCHAR)" : q + "::text") + ", '" + kNull + "')";
	}
	return expr + ")";
}

TableDigest PipelineTest::SourceDigest(const std::string &table) {
	auto line = LineExpr(Columns(table), false);
	auto r = conn_->Exec("SELECT count(*), coalesce(md5(string_agg(l, chr(10) ORDER BY l COLLATE \"C\")), '') FROM "
	                     "(SELECT " +
	                     line + " AS l FROM " + table + ") s");
	return {r.GetInt(0, 0), std::string(r.Get(0, 1))};
}

TableDigest PipelineTest::LakeDigest(const std::string &table, const std::string &lake_table) {
	auto line = LineExpr(Columns(table), true);
	auto rows = LakeQuery("SELECT count(*), coalesce(md5(string_agg(l, chr(10) ORDER BY l)), '') FROM (SELECT " + line +
	                      " AS l FROM " + lake_table + ") s");
	return {std::stoll(rows.at(0).at(0)), rows.at(0).at(1)};
}

::testing::AssertionResult PipelineTest::LakeEqualsSource(const std::string &table, const std::string &lake_table_in) {
	std::string lake_table = DefaultLakeTable(table, lake_table_in);
	TableDigest lake;
	try {
		lake = LakeDigest(table, lake_table);
	} catch (const std::exception &e) {
		return ::testing::AssertionFailure() << "cannot read lake table " << lake_table << ": " << e.what();
	}
	auto source = SourceDigest(table);
	if (lake == source) {
		return ::testing::AssertionSuccess();
	}
	// Slow path: fetch both sides and name the differences.
	auto columns = Columns(table);
	std::vector<std::string> src_lines;
	for (auto &row : Sql("SELECT l FROM (SELECT " + LineExpr(columns, false) + " AS l FROM " + table +
	                     ") s ORDER BY l COLLATE \"C\"")) {
		src_lines.push_back(row[0]);
	}
	std::vector<std::string> lake_lines;
	for (auto &row : LakeQuery("SELECT " + LineExpr(columns, true) + " AS l FROM " + lake_table + " ORDER BY l")) {
		lake_lines.push_back(row[0]);
	}
	auto result = ::testing::AssertionFailure();
	result << lake_table << " differs from " << table << ": lake " << lake_lines.size() << " rows, source "
	       << src_lines.size() << " rows";
	for (size_t i = 0; i < std::min(src_lines.size(), lake_lines.size()); i++) {
		if (src_lines[i] != lake_lines[i]) {
			result << "\n  first difference at sorted row " << i << ": source [" << src_lines[i] << "] lake ["
			       << lake_lines[i] << "]";
			break;
		}
	}
	for (auto &l : Missing(src_lines, lake_lines, 5)) {
		result << "\n  missing from lake: [" << l << "]";
	}
	for (auto &l : Missing(lake_lines, src_lines, 5)) {
		result << "\n  extra in lake:     [" << l << "]";
	}
	// Duplicates show as equal neighbours in the sorted lake.
	for (size_t i = 1, shown = 0; i < lake_lines.size() && shown < 5; i++) {
		if (lake_lines[i] == lake_lines[i - 1]) {
			result << "\n  duplicate in lake: [" << lake_lines[i] << "]";
			shown++;
		}
	}
	return result;
}

::testing::AssertionResult PipelineTest::WaitLakeEqualsSource(const std::string &table,
                                                              std::chrono::milliseconds timeout,
                                                              const std::string &lake_table_in) {
	std::string lake_table = DefaultLakeTable(table, lake_table_in);
	bool ok = WaitFor([&] { return LakeDigest(table, lake_table) == SourceDigest(table); }, timeout, 250ms);
	if (ok) {
		return ::testing::AssertionSuccess();
	}
	auto r = LakeEqualsSource(table, lake_table);
	if (r) {
		return r; // converged right after the deadline
	}
	return r << "\n  (after waiting " << timeout.count() << " ms; table state " << TableState(table) << ")";
}

bool PipelineTest::WaitLakeCount(const std::string &lake_table, int64_t count, std::chrono::milliseconds timeout) {
	return WaitFor([&] { return LakeCount(lake_table) == count; }, timeout, 200ms);
}

std::string PipelineTest::TableState(const std::string &table) {
	std::string name;
	std::string schema = SplitSchema(table, &name);
	auto r = conn_->Exec("SELECT state FROM duckpipe.table_mappings WHERE source_schema = $1 AND source_table = $2",
	                     {schema, name});
	return r.Rows() ? std::string(r.Get(0, 0)) : "<absent>";
}

std::string PipelineTest::TableError(const std::string &table) {
	std::string name;
	std::string schema = SplitSchema(table, &name);
	auto r = conn_->Exec("SELECT coalesce(error_message, '') FROM duckpipe.table_mappings WHERE source_schema = $1 "
	                     "AND source_table = $2",
	                     {schema, name});
	return r.Rows() ? std::string(r.Get(0, 0)) : "<absent>";
}

std::string PipelineTest::WaitTableError(const std::string &table, std::chrono::milliseconds timeout) {
	std::string error;
	WaitFor(
	    [&] {
		    if (TableState(table) != "ERRORED") {
			    return false;
		    }
		    error = TableError(table);
		    return !error.empty();
	    },
	    timeout, 50ms);
	return error;
}

int PipelineTest::CountLog(const std::string &text) const {
	std::ifstream in(log_path_);
	int n = 0;
	for (std::string line; std::getline(in, line);) {
		n += line.find(text) != std::string::npos ? 1 : 0;
	}
	return n;
}

bool PipelineTest::WaitTableState(const std::string &table, const std::string &state,
                                  std::chrono::milliseconds timeout) {
	return WaitFor([&] { return TableState(table) == state; }, timeout, 100ms);
}

Lsn PipelineTest::SlotConfirmed(const std::string &group) {
	auto r = conn_->Exec("SELECT confirmed_flush_lsn FROM pg_replication_slots WHERE slot_name = $1",
	                     {"duckpipe_slot_" + group});
	if (r.Rows() == 0 || r.IsNull(0, 0)) {
		return Lsn();
	}
	return Lsn::Parse(r.Get(0, 0));
}

int64_t PipelineTest::SlotLagBytes(const std::string &group) {
	auto r = conn_->Exec("SELECT pg_wal_lsn_diff(pg_current_wal_lsn(), confirmed_flush_lsn)::bigint FROM "
	                     "pg_replication_slots WHERE slot_name = $1",
	                     {"duckpipe_slot_" + group});
	if (r.Rows() == 0 || r.IsNull(0, 0)) {
		return -1;
	}
	return r.GetInt(0, 0);
}

} // namespace duckpipe::test
