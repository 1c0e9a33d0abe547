#include "extension/lake_scan.hpp"

#include "core/duck/duck_connection.hpp"
#include "extension/lake_text_rows.hpp"

#include <string>
#include <utility>
#include <vector>

namespace duckpipe::ext {

LakeScan::LakeScan(const LakeSettings &settings, const std::string &schema, const std::string &table,
                   std::vector<std::string> columns, std::optional<int64_t> sample_rows) {
	std::vector<std::pair<std::string, std::string>> reads{{schema, table}};
	session_ = std::make_unique<LakeSession>(settings, settings.snapshot, &reads);
	const lake::LakeTable *lake_table = session_->HasLake() ? session_->State().FindTable(schema, table) : nullptr;
	if (!lake_table) {
		rows_ = std::make_unique<LakeTextRows>(); // no lake table yet: nothing to read
		return;
	}
	std::string sql = "SELECT " + LakeTextSelectList(*lake_table, columns) + " FROM " +
	                  DuckConnection::QuoteIdent(schema) + "." + DuckConnection::QuoteIdent(table);
	if (sample_rows) {
		// Sampled before the columns are rendered as text: only the sample's values are.
		sql += " USING SAMPLE reservoir(" + std::to_string(*sample_rows) + " ROWS)";
	}
	rows_ = std::make_unique<LakeTextRows>(session_->Duck(), sql, "reading lake table " + schema + "." + table);
}

LakeScan::~LakeScan() {
	rows_.reset(); // before the session that owns its connection
	session_.reset();
}

void LakeScan::Restart() {
	rows_->Restart();
}

bool LakeScan::Next() {
	return rows_->Next();
}

std::optional<std::string_view> LakeScan::Value(size_t col) const {
	return rows_->Value(col);
}

} // namespace duckpipe::ext
