#include "random_workload.hpp"

#include <cstdio>
#include <ctime>

namespace duckpipe::test {

namespace {

// Standard-conforming string literal (backslashes are plain characters).
std::string Lit(const std::string &s) {
	std::string out = "'";
	for (char c : s) {
		out += c;
		if (c == '\'') {
			out += '\'';
		}
	}
	return out + "'";
}

WorkloadColumn Plain(const std::string &name, const std::string &type) {
	return {name, type, "{}::text", "CAST({} AS VARCHAR)"};
}

std::string Expand(const std::string &pattern, const std::string &column) {
	std::string out = pattern;
	for (auto pos = out.find("{}"); pos != std::string::npos; pos = out.find("{}", pos + column.size())) {
		out.replace(pos, 2, column);
	}
	return out;
}

} // namespace

std::string WorkloadTable::CreateSql() const {
	std::string sql = "CREATE TABLE " + name + " (";
	for (const auto &c : columns) {
		sql += "\"" + c.name + "\" " + c.pg_type + ", ";
	}
	sql += "PRIMARY KEY (";
	for (size_t i = 0; i < key.size(); i++) {
		sql += (i ? ", " : "") + key[i];
	}
	return sql + "))";
}

std::string WorkloadTable::CanonicalSelect(bool duck, const std::string &relation) const {
	std::string sql = "SELECT ";
	for (size_t i = 0; i < columns.size(); i++) {
		const auto &c = columns[i];
		sql += (i ? ", " : "") + std::string("coalesce(") +
		       Expand(duck ? c.duck_text : c.pg_text, "\"" + c.name + "\"") + ", '<null>') AS c" + std::to_string(i);
	}
	return sql + " FROM " + relation;
}

const std::vector<WorkloadTable> &RandomWorkload::Tables() {
	static const std::vector<WorkloadTable> tables = [] {
		// Values that print differently on the two sides are compared through a common form.
		WorkloadColumn f8{"f", "float8", "({} * 4)::bigint::text", "CAST(CAST({} * 4 AS BIGINT) AS VARCHAR)"};
		WorkloadColumn big{"big", "text", "length({})::text || ':' || md5({})",
		                   "CAST(length({}) AS VARCHAR) || ':' || md5({})"};
		WorkloadColumn bytes{"b", "bytea", "encode({}, 'hex')", "lower(hex({}))"};
		WorkloadColumn ts{"ts", "timestamptz", "(extract(epoch FROM {}) * 1000000)::bigint::text",
		                  "CAST(epoch_us({}) AS VARCHAR)"};
		WorkloadColumn json{"j", "jsonb", "{}::text", "CAST({} AS VARCHAR)"};
		WorkloadColumn arr{"arr", "int[]", "array_to_string({}, ',', 'N')",
		                   // DuckDB's array_to_string gives NULL for an empty list.
		                   "CASE WHEN len({}) = 0 THEN '' ELSE array_to_string(list_transform({}, x -> "
		                   "coalesce(CAST(x AS VARCHAR), 'N')), ',') END"};
		std::vector<WorkloadTable> out;
		out.push_back({"public.d1",
		               {Plain("id", "bigint"), Plain("i", "int"), Plain("s", "smallint"), Plain("n", "numeric(18,4)"),
		                f8, Plain("t", "text"), big, bytes, ts, Plain("day", "date"), json, arr,
		                Plain("flag", "boolean"), Plain("u", "uuid")},
		               {"id"}});
		auto ts2 = ts;
		auto arr2 = arr;
		out.push_back({"public.d2",
		               {Plain("a", "int"), Plain("b", "text"), Plain("v", "text"), Plain("n", "bigint"), arr2, ts2},
		               {"a", "b"}});
		out.push_back({"public.d3", {Plain("id", "int"), Plain("v", "text"), Plain("n", "int")}, {"id"}});
		return out;
	}();
	return tables;
}

RandomWorkload::RandomWorkload(uint64_t seed) : rng_(seed) {}

uint64_t RandomWorkload::Uniform(uint64_t lo, uint64_t hi) {
	return std::uniform_int_distribution<uint64_t>(lo, hi)(rng_);
}

bool RandomWorkload::Chance(double p) {
	return std::uniform_real_distribution<double>(0, 1)(rng_) < p;
}

std::string RandomWorkload::OrNull(const std::string &value, double p_null) {
	return Chance(p_null) ? "NULL" : value;
}

std::string RandomWorkload::Int(int64_t lo, int64_t hi) {
	return std::to_string(static_cast<int64_t>(Uniform(0, static_cast<uint64_t>(hi - lo))) + lo);
}

std::string RandomWorkload::Numeric() {
	std::string s = Chance(0.3) ? "-" : "";
	s += std::to_string(Uniform(0, Chance(0.2) ? 9999999999ull : 999)) + ".";
	char frac[8];
	std::snprintf(frac, sizeof frac, "%04d", static_cast<int>(Uniform(0, 9999)));
	return s + frac;
}

std::string RandomWorkload::Text(size_t max_len) {
	static const std::vector<std::string> alphabet = {"a", "b",  "c",  "x",  "y", "z",  "0",   "1",    "9", " ",
	                                                  "'", "\"", "\\", ",",  "|", "\t", "\n",  "{",    "}", "%",
	                                                  "é", "ß",  "日", "本", "🎉", "Ω",  "\\N", "NULL", "-"};
	size_t len = Uniform(0, max_len);
	std::string s;
	for (size_t i = 0; i < len; i++) {
		s += alphabet[Uniform(0, alphabet.size() - 1)];
	}
	return Lit(s);
}

std::string RandomWorkload::BigText() {
	// 10 to 22 kB of md5 hex: out of line in TOAST, compresses poorly, derived from the seed.
	char tag[20];
	std::snprintf(tag, sizeof tag, "%016llx", static_cast<unsigned long long>(rng_()));
	return "(SELECT string_agg(md5('" + std::string(tag) + "' || k), '') FROM generate_series(1, " +
	       std::to_string(Uniform(320, 700)) + ") k)";
}

std::string RandomWorkload::Bytes() {
	size_t len = Uniform(0, 40);
	std::string hex;
	for (size_t i = 0; i < len; i++) {
		char b[4];
		std::snprintf(b, sizeof b, "%02x", static_cast<unsigned>(Uniform(0, 255)));
		hex += b;
	}
	return "'\\x" + hex + "'::bytea";
}

std::string RandomWorkload::Timestamptz() {
	// 1970..2100 with microseconds, rendered here (interval arithmetic would go through int32 fields).
	auto secs = static_cast<time_t>(Uniform(0, 4102444800ull));
	std::tm tm{};
	gmtime_r(&secs, &tm);
	char buf[64];
	std::snprintf(buf, sizeof buf, "%04d-%02d-%02d %02d:%02d:%02d.%06d+00", tm.tm_year + 1900, tm.tm_mon + 1,
	              tm.tm_mday, tm.tm_hour, tm.tm_min, tm.tm_sec, static_cast<int>(Uniform(0, 999999)));
	return "'" + std::string(buf) + "'::timestamptz";
}

std::string RandomWorkload::Json() {
	switch (Uniform(0, 5)) {
	case 0:
		return "'null'::jsonb"; // a JSON null, not an SQL NULL
	case 1:
		return "to_jsonb(" + Int(-100000, 100000) + ")";
	case 2:
		return "to_jsonb(" + Text(12) + "::text)";
	case 3:
		return "jsonb_build_array(" + Int(-5, 5) + ", " + Text(5) + "::text, NULL, true)";
	default:
		return "jsonb_build_object('k', " + Int(0, 1000) + ", 's', " + Text(10) + "::text, 'n', " + Numeric() +
		       ", 'nested', jsonb_build_object('a', jsonb_build_array(" + Int(0, 9) + ", NULL)), 'e', '{}'::jsonb)";
	}
}

std::string RandomWorkload::IntArray() {
	if (Chance(0.1)) {
		return "'{}'::int[]";
	}
	std::string s = "ARRAY[";
	size_t len = Uniform(1, 6);
	for (size_t i = 0; i < len; i++) {
		s += (i ? "," : "") + (Chance(0.2) ? std::string("NULL") : Int(-1000000, 1000000));
	}
	return s + "]::int[]";
}

std::string RandomWorkload::Uuid() {
	char buf[40];
	uint64_t a = rng_();
	uint64_t b = rng_();
	std::snprintf(buf, sizeof buf, "%08llx-%04llx-%04llx-%04llx-%012llx", static_cast<unsigned long long>(a >> 32),
	              static_cast<unsigned long long>((a >> 16) & 0xffff), static_cast<unsigned long long>(a & 0xffff),
	              static_cast<unsigned long long>(b >> 48), static_cast<unsigned long long>(b & 0xffffffffffffull));
	return "'" + std::string(buf) + "'::uuid";
}

std::string RandomWorkload::D1Row(int64_t id) {
	std::string big = Chance(0.2) ? BigText() : Chance(0.5) ? Text(30) : "NULL";
	return "(" + std::to_string(id) + ", " + OrNull(Int(-2000000000, 2000000000)) + ", " + OrNull(Int(-32768, 32767)) +
	       ", " + OrNull(Numeric()) + ", " +
	       OrNull(std::to_string(static_cast<int64_t>(Uniform(0, 80000)) - 40000) + " / 4.0") + ", " +
	       OrNull(Text(40)) + ", " + big + ", " + OrNull(Bytes()) + ", " + OrNull(Timestamptz()) + ", " +
	       OrNull("DATE '2000-01-01' + " + Int(-3000, 40000)) + ", " + OrNull(Json()) + ", " + OrNull(IntArray()) +
	       ", " + OrNull(Chance(0.5) ? "true" : "false") + ", " + OrNull(Uuid()) + ")";
}

std::string RandomWorkload::D2Row(int64_t a, const std::string &b) {
	return "(" + std::to_string(a) + ", " + b + ", " + OrNull(Text(20)) + ", " +
	       OrNull(Int(-9000000000000000000ll, 9000000000000000000ll)) + ", " + OrNull(IntArray()) + ", " +
	       OrNull(Timestamptz()) + ")";
}

std::string RandomWorkload::D1Key() {
	return std::to_string(Uniform(1, 1500));
}

int64_t RandomWorkload::D2A() {
	return static_cast<int64_t>(Uniform(0, 40));
}

std::string RandomWorkload::D2B() {
	static const std::vector<std::string> prefixes = {"k", "K", "ü", "k k", "'q", "日"};
	return Lit(prefixes[Uniform(0, prefixes.size() - 1)] + std::to_string(Uniform(0, 30)));
}

std::vector<std::string> RandomWorkload::SetupSql() {
	std::vector<std::string> out;
	for (const auto &t : Tables()) {
		out.push_back(t.CreateSql());
	}
	std::string d1 = "INSERT INTO public.d1 VALUES ";
	for (int id = 1; id <= 400; id++) {
		d1 += (id > 1 ? ", " : "") + D1Row(id);
	}
	out.push_back(d1);
	std::string d2 = "INSERT INTO public.d2 VALUES ";
	for (int i = 0; i < 300; i++) {
		d2 += (i ? ", " : "") + D2Row(D2A(), D2B());
	}
	out.push_back(d2 + " ON CONFLICT DO NOTHING");
	out.push_back("INSERT INTO public.d3 SELECT g, 'v' || g, g FROM generate_series(1, 200) g");
	return out;
}

std::string RandomWorkload::LargeStatement() {
	int64_t start = 100000 + static_cast<int64_t>(Uniform(0, 20000));
	int64_t rows = static_cast<int64_t>(Uniform(5000, 20000));
	std::string range = std::to_string(start) + ", " + std::to_string(start + rows - 1);
	std::string m = std::to_string(Uniform(2, 5));
	std::string r = std::to_string(Uniform(0, 1));
	std::string tag = std::to_string(Uniform(0, 1000000));
	switch (Uniform(0, 4)) {
	case 0:
	case 1:
		// Bulk upsert with a few TOASTed values and NULLs.
		return "INSERT INTO public.d1 (id, i, n, t, big, arr, ts, j, flag) SELECT g, g % 1000, (g % 100000) / 8.0, "
		       "CASE WHEN g % 7 = 0 THEN NULL ELSE 'bulk' || g || '-" +
		       tag + "' END, CASE WHEN g % 997 = 0 THEN (SELECT string_agg(md5(g::text || k || '" + tag +
		       "'), '') FROM generate_series(1, 400) k) END, ARRAY[g, NULL, -g], TIMESTAMPTZ '2020-01-01 00:00:00+00' "
		       "+ "
		       "make_interval(secs => g), jsonb_build_object('g', g), g % 2 = 0 FROM generate_series(" +
		       range + ") g ON CONFLICT (id) DO UPDATE SET i = EXCLUDED.i, t = EXCLUDED.t, n = EXCLUDED.n";
	case 2:
		return "UPDATE public.d1 SET i = coalesce(i, 0) + 1, flag = NOT coalesce(flag, false) WHERE id BETWEEN " +
		       std::to_string(start) + " AND " + std::to_string(start + rows) + " AND id % " + m + " = " + r;
	case 3:
		return "DELETE FROM public.d1 WHERE id BETWEEN " + std::to_string(start) + " AND " +
		       std::to_string(start + rows) + " AND id % " + m + " = " + r;
	default:
		return "INSERT INTO public.d2 SELECT 1000 + g % 500, 'bulk' || (g / 500), 'v" + tag +
		       "', g, ARRAY[g], NULL FROM generate_series(" + range + ") g ON CONFLICT DO NOTHING";
	}
}

std::string RandomWorkload::Statement(int *operations) {
	*operations += 1;
	uint64_t roll = Uniform(0, 9999);
	auto pick = [&](uint64_t weight) {
		if (roll < weight) {
			return true;
		}
		roll -= weight;
		return false;
	};
	if (pick(25)) {
		return LargeStatement();
	}
	if (pick(6)) {
		return "TRUNCATE public.d1";
	}
	if (pick(15)) {
		return "TRUNCATE public.d2, public.d3";
	}
	if (pick(40)) {
		return "TRUNCATE public.d3";
	}
	if (pick(1200)) {
		return "INSERT INTO public.d1 VALUES " + D1Row(std::stoll(D1Key())) + " ON CONFLICT DO NOTHING";
	}
	if (pick(600)) {
		std::string sql = "INSERT INTO public.d1 VALUES ";
		size_t n = Uniform(2, 20);
		for (size_t i = 0; i < n; i++) {
			sql += (i ? ", " : "") + D1Row(std::stoll(D1Key()));
		}
		return sql + " ON CONFLICT DO NOTHING";
	}
	if (pick(400)) {
		return "INSERT INTO public.d1 VALUES " + D1Row(std::stoll(D1Key())) +
		       " ON CONFLICT (id) DO UPDATE SET t = EXCLUDED.t, j = EXCLUDED.j, ts = EXCLUDED.ts";
	}
	if (pick(1200)) {
		// The TOASTed column is left out: PostgreSQL sends it as "unchanged".
		return "UPDATE public.d1 SET i = " + OrNull(Int(-1000, 1000)) + ", t = " + OrNull(Text(20)) +
		       ", arr = " + OrNull(IntArray()) + ", j = " + OrNull(Json()) + " WHERE id = " + D1Key();
	}
	if (pick(400)) {
		std::string a = D1Key();
		return "UPDATE public.d1 SET n = " + OrNull(Numeric()) + ", flag = NOT flag, b = " + OrNull(Bytes()) +
		       " WHERE id BETWEEN " + a + " AND " + a + " + " + Int(1, 40);
	}
	if (pick(400)) {
		std::string big = Chance(0.7) ? BigText() : Chance(0.5) ? Text(10) : "NULL";
		return "UPDATE public.d1 SET big = " + big + ", s = " + OrNull(Int(-32768, 32767)) + " WHERE id = " + D1Key();
	}
	if (pick(400)) {
		// A key update; half of them leave the TOASTed column unsent, whose value the new key takes
		// from the old key's row (in the buffer or the lake).
		std::string to = Chance(0.5) ? D1Key() : std::to_string(Uniform(2000, 5000));
		std::string big = Chance(0.5) ? "" : Chance(0.3) ? BigText() : Chance(0.5) ? Text(10) : "NULL";
		return "UPDATE public.d1 SET id = " + to + (big.empty() ? "" : ", big = " + big) +
		       ", i = " + OrNull(Int(0, 9)) + " WHERE id = " + D1Key() +
		       " AND NOT EXISTS (SELECT 1 FROM public.d1 x WHERE x.id = " + to + ")";
	}
	if (pick(500)) {
		return "DELETE FROM public.d1 WHERE id = " + D1Key();
	}
	if (pick(200)) {
		std::string a = D1Key();
		return "DELETE FROM public.d1 WHERE id BETWEEN " + a + " AND " + a + " + " + Int(1, 30);
	}
	if (pick(500)) {
		return "INSERT INTO public.d2 VALUES " + D2Row(D2A(), D2B()) + " ON CONFLICT DO NOTHING";
	}
	if (pick(300)) {
		std::string sql = "INSERT INTO public.d2 VALUES ";
		size_t n = Uniform(2, 30);
		for (size_t i = 0; i < n; i++) {
			sql += (i ? ", " : "") + D2Row(D2A(), D2B());
		}
		return sql + " ON CONFLICT DO NOTHING";
	}
	if (pick(500)) {
		return "UPDATE public.d2 SET v = " + OrNull(Text(15)) + ", n = " + OrNull(Int(-5, 5)) +
		       ", arr = " + OrNull(IntArray()) + " WHERE a = " + std::to_string(D2A());
	}
	if (pick(400)) {
		// Key updates: one part, the other or both.
		std::string na = std::to_string(D2A());
		std::string nb = D2B();
		std::string set = Chance(0.33) ? "a = " + na : Chance(0.5) ? "b = " + nb : "a = " + na + ", b = " + nb;
		std::string where_a = std::to_string(D2A());
		std::string where_b = D2B();
		std::string new_a = set.find("a = ") != std::string::npos ? na : where_a;
		std::string new_b = set.find("b = ") != std::string::npos ? nb : where_b;
		return "UPDATE public.d2 SET " + set + " WHERE a = " + where_a + " AND b = " + where_b +
		       " AND NOT EXISTS (SELECT 1 FROM public.d2 x WHERE x.a = " + new_a + " AND x.b = " + new_b + ")";
	}
	if (pick(300)) {
		return "DELETE FROM public.d2 WHERE a = " + std::to_string(D2A()) + " AND b = " + D2B();
	}
	if (pick(100)) {
		return "DELETE FROM public.d2 WHERE a = " + std::to_string(D2A());
	}
	if (pick(400)) {
		return "INSERT INTO public.d3 VALUES (" + Int(1, 300) + ", " + OrNull(Text(8)) + ", " + OrNull(Int(0, 99)) +
		       ") ON CONFLICT (id) DO UPDATE SET v = EXCLUDED.v, n = EXCLUDED.n";
	}
	if (pick(300)) {
		std::string a = Int(-300, 300);
		// A multi-row key flip, guarded against collisions.
		return "UPDATE public.d3 SET id = -id WHERE id BETWEEN " + a + " AND " + a +
		       " + 10 AND NOT EXISTS (SELECT 1 "
		       "FROM public.d3 x WHERE x.id = -d3.id)";
	}
	if (pick(300)) {
		return "UPDATE public.d3 SET n = coalesce(n, 0) + 1 WHERE id % 7 = " + Int(0, 6);
	}
	if (pick(200)) {
		return "DELETE FROM public.d3 WHERE id % 11 = " + Int(0, 10);
	}
	*operations -= 1;
	return "SELECT 1"; // the rest of the weight: no change
}

WorkloadTxn RandomWorkload::NextTxn() {
	WorkloadTxn txn;
	txn_no_++;
	if (Chance(0.55)) {
		txn.statements.push_back(Statement(&txn.operations));
		return txn;
	}
	txn.statements.push_back("BEGIN");
	size_t n = Uniform(2, 8);
	bool savepoint = Chance(0.25);
	size_t sp_at = Uniform(0, n - 1);
	for (size_t i = 0; i < n; i++) {
		if (savepoint && i == sp_at) {
			txn.statements.push_back("SAVEPOINT sp");
			size_t m = Uniform(1, 3);
			for (size_t j = 0; j < m; j++) {
				txn.statements.push_back(Statement(&txn.operations));
			}
			txn.statements.push_back(Chance(0.7) ? "ROLLBACK TO SAVEPOINT sp" : "RELEASE SAVEPOINT sp");
		}
		txn.statements.push_back(Statement(&txn.operations));
	}
	txn.statements.push_back(Chance(0.1) ? "ROLLBACK" : "COMMIT");
	return txn;
}

} // namespace duckpipe::test
