#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

struct pg_result;

namespace duckpipe {

// Owns one libpq result. Values are text-format views valid while the result lives.
class PgResult {
public:
	PgResult() = default;
	explicit PgResult(pg_result *res) : res_(res) {}
	~PgResult();
	PgResult(PgResult &&other) noexcept;
	PgResult &operator=(PgResult &&other) noexcept;
	PgResult(const PgResult &) = delete;
	PgResult &operator=(const PgResult &) = delete;

	int Rows() const;
	int Columns() const;
	int ColumnIndex(const char *name) const; // throws Error(Internal) if absent
	std::string ColumnName(int col) const;
	bool IsNull(int row, int col) const;
	std::string_view Get(int row, int col) const; // "" for NULL
	std::optional<std::string> GetOptional(int row, int col) const;
	int64_t GetInt(int row, int col) const; // throws on NULL or non-integer
	bool GetBool(int row, int col) const;   // 't' / 'f'
	int64_t AffectedRows() const;           // PQcmdTuples
	pg_result *Raw() const { return res_; }

private:
	pg_result *res_ = nullptr;
};

} // namespace duckpipe
