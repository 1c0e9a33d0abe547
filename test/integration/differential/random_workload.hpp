#pragma once

#include <cstdint>
#include <random>
#include <string>
#include <vector>

namespace duckpipe::test {

// One column of a workload table and how both sides print it the same way for the comparison
// ({} stands for the quoted column name).
struct WorkloadColumn {
	std::string name;
	std::string pg_type;
	std::string pg_text;   // PostgreSQL expression giving the canonical text
	std::string duck_text; // DuckDB expression over the lake column giving the same text
};

struct WorkloadTable {
	std::string name; // schema.table
	std::vector<WorkloadColumn> columns;
	std::vector<std::string> key;

	std::string CreateSql() const;
	// SELECT of the canonical text of every column (PostgreSQL or DuckDB flavour) from `relation`.
	std::string CanonicalSelect(bool duck, const std::string &relation) const;
};

// A transaction of the workload: its statements in order (BEGIN/COMMIT/ROLLBACK included).
struct WorkloadTxn {
	std::vector<std::string> statements;
	int operations = 0; // data-changing statements in it
};

// A seeded random workload over three tables with every kind of value and change: single and
// multi-row inserts, updates that leave the TOASTed column unchanged, key updates, deletes, rare
// truncates, large transactions, rolled back transactions and savepoints. Every value comes from
// the seed (no random() on the server), so a seed replays the same statements.
class RandomWorkload {
public:
	explicit RandomWorkload(uint64_t seed);

	static const std::vector<WorkloadTable> &Tables();
	// CREATE TABLE statements and an initial load, before the tables are added.
	std::vector<std::string> SetupSql();
	WorkloadTxn NextTxn();

private:
	uint64_t Uniform(uint64_t lo, uint64_t hi); // inclusive
	bool Chance(double p);

	std::string OrNull(const std::string &value, double p_null = 0.1);
	std::string Int(int64_t lo, int64_t hi);
	std::string Numeric();
	std::string Text(size_t max_len);
	std::string BigText();
	std::string Bytes();
	std::string Timestamptz();
	std::string Json();
	std::string IntArray();
	std::string Uuid();

	std::string D1Row(int64_t id);
	std::string D2Row(int64_t a, const std::string &b);
	std::string D1Key();
	int64_t D2A();
	std::string D2B();

	std::string Statement(int *operations);
	std::string LargeStatement();

	std::mt19937_64 rng_;
	int64_t txn_no_ = 0;
};

} // namespace duckpipe::test
