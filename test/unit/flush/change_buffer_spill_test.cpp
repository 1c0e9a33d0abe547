#include "core/duck/duck_connection.hpp"
#include "core/flush/change_buffer.hpp"
#include "harness/pg_cluster.hpp"

#include <gtest/gtest.h>

#include <chrono>
#include <cstdio>
#include <filesystem>
#include <iostream>

namespace duckpipe::flush {
namespace {

// 5-column table: id INTEGER key, txt VARCHAR (~40 bytes), num DECIMAL(12,2), ts TIMESTAMP, flag BOOLEAN.
std::vector<BufferColumn> WideColumns() {
	return {{"id", "INTEGER", "", true},
	        {"txt", "VARCHAR"},
	        {"num", "DECIMAL(12,2)"},
	        {"ts", "TIMESTAMP"},
	        {"flag", "BOOLEAN"}};
}

constexpr uint64_t kRows = 1'000'000;
constexpr uint64_t kInserted = 600'000; // changes [0, kInserted) insert keys; the rest update or delete them
constexpr uint64_t kBatch = 10'000;

// Change i (seq i + 1): an insert of key i, then updates of key i - kInserted with every 4th a delete.
void FillBatch(ChangeBatch &b, uint64_t first) {
	char text[64];
	char num[32];
	char ts[32];
	for (uint64_t i = first; i < first + kBatch; i++) {
		bool insert = i < kInserted;
		uint64_t key = insert ? i : i - kInserted;
		ChangeOp op = insert ? ChangeOp::Insert : (i % 4 == 0 ? ChangeOp::Delete : ChangeOp::Update);
		b.BeginRow(op, i + 1, Lsn(0x1000 + i / kBatch));
		snprintf(text, sizeof(text), "%s-%07llu-abcdefghijklmnopqrstuvwxyz0123", insert ? "ins" : "upd",
		         static_cast<unsigned long long>(key));
		snprintf(num, sizeof(num), "%llu.%02llu", static_cast<unsigned long long>(i / 100),
		         static_cast<unsigned long long>(i % 100));
		snprintf(ts, sizeof(ts), "2024-01-%02llu %02llu:%02llu:%02llu.123456",
		         static_cast<unsigned long long>(1 + i % 28), static_cast<unsigned long long>(i % 24),
		         static_cast<unsigned long long>(i % 60), static_cast<unsigned long long>((i / 60) % 60));
		b.AddText(std::to_string(key));
		if (op == ChangeOp::Delete) {
			b.AddNull();
			b.AddNull();
			b.AddNull();
			b.AddNull();
		} else {
			b.AddText(text);
			b.AddText(num);
			b.AddText(ts);
			b.AddText(i % 2 ? "t" : "f");
		}
	}
}

std::string One(DuckConnection &conn, const std::string &sql) {
	auto res = conn.Query(sql);
	return res.GetString(0, 0).value_or("NULL");
}

TEST(ChangeBufferSpill, MillionRowsIn16MiBSpillAndCompact) {
	test::TempDir dir("duckpipe-spill");
	ChangeBufferOptions options;
	options.temp_dir = dir.Path();
	options.buffer_memory_mb = 16;
	options.flush_memory_mb = 512;
	ChangeBuffer buf("public.big", WideColumns(), options);

	ChangeBatch b(5);
	for (uint64_t first = 0; first < kRows; first += kBatch) {
		b.Clear();
		FillBatch(b, first);
		buf.Append(b);
	}
	ASSERT_EQ(buf.BufferedRows(), kRows);
	EXPECT_TRUE(buf.HasNonInserts());
	std::string sub = buf.Directory();
	ASSERT_TRUE(std::filesystem::exists(sub));

	DuckConnection &conn = *buf.Connection();
	EXPECT_EQ(One(conn, "SELECT current_setting('memory_limit')"), "16.0 MiB");
	// The buffer outgrew memory_limit and DuckDB moved it to temp files below the buffer's directory.
	int64_t in_memory = std::stoll(One(conn, "SELECT sum(memory_usage_bytes) FROM duckdb_memory()"));
	int64_t spilled = std::stoll(One(conn, "SELECT sum(temporary_storage_bytes) FROM duckdb_memory()"));
	EXPECT_LE(in_memory, 16 * 1024 * 1024);
	EXPECT_GT(spilled, 32 * 1024 * 1024);
	auto temp_files = conn.Query("SELECT path FROM duckdb_temporary_files()");
	ASSERT_GT(temp_files.Rows(), 0u);
	EXPECT_EQ(temp_files.GetString(0, 0)->rfind(sub, 0), 0u) << *temp_files.GetString(0, 0);

	// Expected survivors: keys [0, 400000) were updated or deleted (deleted when kInserted + key is a
	// multiple of 4), keys [400000, 600000) keep their insert.
	uint64_t deletes = 0;
	int64_t num_cents = 0;
	for (uint64_t key = 0; key < kInserted; key++) {
		uint64_t last = key < kRows - kInserted ? kInserted + key : key;
		if (last >= kInserted && last % 4 == 0) {
			deletes++;
		} else {
			num_cents += static_cast<int64_t>(last);
		}
	}

	bool applied = false;
	buf.Flush([&](DuckConnection &c, const ChangeBuffer::Compacted &d) {
		applied = true;
		EXPECT_EQ(One(c, "SELECT current_setting('memory_limit')"), "512.0 MiB");
		EXPECT_EQ(d.rows, kInserted);
		EXPECT_EQ(d.deletes, deletes);
		EXPECT_FALSE(d.only_inserts);
		EXPECT_EQ(d.max_commit_lsn, Lsn(0x1000 + (kRows - 1) / kBatch));
		auto r =
		    c.Query("SELECT count(DISTINCT id), count(*) FILTER (WHERE _op = 'U'), count(*) FILTER (WHERE _op = "
		            "'I'), CAST(sum(num) * 100 AS BIGINT), count(*) FILTER (WHERE _op <> 'D' AND txt IS NULL) FROM " +
		            d.relation);
		EXPECT_EQ(r.GetInt(0, 0), static_cast<int64_t>(kInserted));
		EXPECT_EQ(r.GetInt(1, 0), static_cast<int64_t>(kRows - kInserted - deletes));
		EXPECT_EQ(r.GetInt(2, 0), static_cast<int64_t>(kInserted - (kRows - kInserted)));
		EXPECT_EQ(r.GetInt(3, 0), num_cents);
		EXPECT_EQ(r.GetInt(4, 0), 0);
		EXPECT_EQ(One(c, "SELECT txt || '|' || CAST(ts AS VARCHAR) || '|' || CAST(flag AS VARCHAR) FROM " + d.relation +
		                     " WHERE id = 1"),
		          "upd-0000001-abcdefghijklmnopqrstuvwxyz0123|2024-01-18 01:01:40.123456|true");
	});
	EXPECT_TRUE(applied);
	EXPECT_FALSE(buf.IsOpen());
	EXPECT_FALSE(std::filesystem::exists(sub));
	EXPECT_TRUE(std::filesystem::is_empty(dir.Path()));
}

// Run by hand: ./unit_tests --gtest_also_run_disabled_tests --gtest_filter='*AppendThroughput*'
TEST(ChangeBufferSpill, DISABLED_AppendThroughput) {
	test::TempDir dir("duckpipe-throughput");
	ChangeBufferOptions options;
	options.temp_dir = dir.Path();
	ChangeBuffer buf("public.big", WideColumns(), options);
	using Clock = std::chrono::steady_clock;
	std::vector<ChangeBatch> batches;
	auto fill_start = Clock::now();
	for (uint64_t first = 0; first < kRows; first += kBatch) {
		batches.emplace_back(5);
		FillBatch(batches.back(), first);
	}
	double fill_s = std::chrono::duration<double>(Clock::now() - fill_start).count();
	auto start = Clock::now();
	for (const auto &b : batches) {
		buf.Append(b);
	}
	double append_s = std::chrono::duration<double>(Clock::now() - start).count();
	start = Clock::now();
	uint64_t out_rows = 0;
	buf.Flush([&](DuckConnection &, const ChangeBuffer::Compacted &d) { out_rows = d.rows; });
	double flush_s = std::chrono::duration<double>(Clock::now() - start).count();
	std::cout << "ChangeBatch fill: " << static_cast<uint64_t>(kRows / fill_s) << " rows/s\n"
	          << "ChangeBuffer::Append (16 MiB, spilling): " << static_cast<uint64_t>(kRows / append_s) << " rows/s ("
	          << append_s << " s)\n"
	          << "ChangeBuffer::Flush compaction of " << kRows << " -> " << out_rows << " rows: " << flush_s << " s\n";
}

// Run by hand: the cost of filling unchanged TOAST cells during compaction. 500k inserts, then 500k
// updates of the same keys with txt unchanged.
TEST(ChangeBufferSpill, DISABLED_FlushThroughputWithUnchangedToast) {
	test::TempDir dir("duckpipe-throughput");
	ChangeBufferOptions options;
	options.temp_dir = dir.Path();
	ChangeBuffer buf("public.big", WideColumns(), options);
	constexpr uint64_t half = kRows / 2;
	ChangeBatch b(5);
	for (uint64_t first = 0; first < kRows; first += kBatch) {
		b.Clear();
		for (uint64_t i = first; i < first + kBatch; i++) {
			bool insert = i < half;
			b.BeginRow(insert ? ChangeOp::Insert : ChangeOp::Update, i + 1, Lsn(1));
			b.AddText(std::to_string(insert ? i : i - half));
			if (insert) {
				b.AddText("toasted-" + std::to_string(i) + "-abcdefghijklmnopqrstuvwxyz");
			} else {
				b.AddUnchanged();
			}
			b.AddText(std::to_string(i) + ".5");
			b.AddText("2024-01-01 00:00:00");
			b.AddText("t");
		}
		buf.Append(b);
	}
	auto start = std::chrono::steady_clock::now();
	int64_t unresolved = -1;
	std::string sample;
	buf.Flush([&](DuckConnection &c, const ChangeBuffer::Compacted &d) {
		unresolved = static_cast<int64_t>(d.unchanged_rows);
		sample = One(c, "SELECT txt FROM " + d.relation + " WHERE id = 7");
	});
	double flush_s = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
	EXPECT_EQ(unresolved, 0);
	EXPECT_EQ(sample, "toasted-7-abcdefghijklmnopqrstuvwxyz");
	std::cout << "ChangeBuffer::Flush with " << half << " unchanged TOAST fills: " << flush_s << " s\n";
}

} // namespace
} // namespace duckpipe::flush
