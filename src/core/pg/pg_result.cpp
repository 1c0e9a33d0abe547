#include "core/pg/pg_result.hpp"

#include "core/common/error.hpp"

#include <libpq-fe.h>

#include <charconv>
#include <utility>

namespace duckpipe {

PgResult::~PgResult() {
	if (res_) {
		PQclear(res_);
	}
}

PgResult::PgResult(PgResult &&other) noexcept : res_(std::exchange(other.res_, nullptr)) {}

PgResult &PgResult::operator=(PgResult &&other) noexcept {
	if (this != &other) {
		if (res_) {
			PQclear(res_);
		}
		res_ = std::exchange(other.res_, nullptr);
	}
	return *this;
}

int PgResult::Rows() const {
	return res_ ? PQntuples(res_) : 0;
}

int PgResult::Columns() const {
	return res_ ? PQnfields(res_) : 0;
}

int PgResult::ColumnIndex(const char *name) const {
	int idx = res_ ? PQfnumber(res_, name) : -1;
	if (idx < 0) {
		throw Error(ErrorKind::Internal, std::string("result has no column ") + name);
	}
	return idx;
}

std::string PgResult::ColumnName(int col) const {
	return PQfname(res_, col);
}

bool PgResult::IsNull(int row, int col) const {
	return PQgetisnull(res_, row, col) != 0;
}

std::string_view PgResult::Get(int row, int col) const {
	return {PQgetvalue(res_, row, col), static_cast<size_t>(PQgetlength(res_, row, col))};
}

std::optional<std::string> PgResult::GetOptional(int row, int col) const {
	if (IsNull(row, col)) {
		return std::nullopt;
	}
	return std::string(Get(row, col));
}

int64_t PgResult::GetInt(int row, int col) const {
	auto text = Get(row, col);
	int64_t out = 0;
	auto [ptr, ec] = std::from_chars(text.data(), text.data() + text.size(), out);
	if (IsNull(row, col) || ec != std::errc() || ptr != text.data() + text.size()) {
		throw Error(ErrorKind::Internal,
		            "expected an integer in column " + ColumnName(col) + ", got '" + std::string(text) + "'");
	}
	return out;
}

bool PgResult::GetBool(int row, int col) const {
	return Get(row, col) == "t";
}

int64_t PgResult::AffectedRows() const {
	const char *n = PQcmdTuples(res_);
	return (n && *n) ? std::stoll(n) : 0;
}

} // namespace duckpipe
