#include "core/lake/inlined_data_reader.hpp"

#include "core/duck/duck_connection.hpp"
#include "core/lake/lake_reader.hpp"

namespace duckpipe::lake {

namespace {

std::string L(std::string_view literal) {
	return DuckConnection::QuoteLiteral(literal);
}

std::string ValuesList(const LakeInlinedRows &rows) {
	std::string out;
	for (size_t r = 0; r < rows.row_ids.size(); r++) {
		out += (r ? ", (" : "(") + std::to_string(rows.row_ids[r]);
		for (const auto &v : rows.values[r]) {
			out += ", " + (v ? L(*v) : std::string("NULL::VARCHAR"));
		}
		out += ")";
	}
	return out;
}

} // namespace

std::string InlinedDataReader::RowsQuery(const LakeTable &table) {
	std::string out;
	for (const auto &rows : table.inlined) {
		if (rows.row_ids.empty()) {
			continue;
		}
		std::string names = "__row_id";
		for (size_t i = 0; i < rows.column_ids.size(); i++) {
			names += ", v" + std::to_string(i);
		}
		std::string select;
		for (const auto &c : table.columns) {
			auto type = LakeReader::DuckType(c);
			std::string expr = "CAST(NULL AS " + type + ")";
			if (c.initial_default && c.children.empty()) {
				expr = "CAST(" + L(*c.initial_default) + " AS " + type + ")";
			}
			for (size_t i = 0; i < rows.column_ids.size(); i++) {
				if (rows.column_ids[i] == c.column_id) {
					expr = "CAST(__i.v" + std::to_string(i) + " AS " + type + ")";
				}
			}
			select += (select.empty() ? "" : ", ") + expr + " AS " + DuckConnection::QuoteIdent(c.name);
		}
		out += (out.empty() ? "" : " UNION ALL ") + std::string("SELECT ") + select + " FROM (VALUES " +
		       ValuesList(rows) + ") AS __i(" + names + ")";
	}
	return out;
}

std::string InlinedDataReader::DeletedPositionsQuery(const LakeTable &table) {
	std::string values;
	for (const auto &f : table.files) {
		for (auto pos : f.inlined_deleted_positions) {
			values += (values.empty() ? "(" : ", (") + L(f.full_path) + ", " + std::to_string(pos) + "::BIGINT)";
		}
	}
	if (values.empty()) {
		return {};
	}
	return "SELECT __n.data_file, __n.pos FROM (VALUES " + values + ") AS __n(data_file, pos)";
}

} // namespace duckpipe::lake
