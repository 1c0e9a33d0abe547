#include "harness/lake_text.hpp"

#include "harness/pg_cluster.hpp"

namespace duckpipe::test {

Table ParseCsv(const std::string &text) {
	Table out;
	std::vector<std::string> row;
	std::string field;
	bool quoted = false;
	bool field_started = false;
	for (size_t i = 0; i < text.size(); i++) {
		char c = text[i];
		if (quoted) {
			if (c == '"' && i + 1 < text.size() && text[i + 1] == '"') {
				field += '"';
				i++;
			} else if (c == '"') {
				quoted = false;
			} else {
				field += c;
			}
			continue;
		}
		if (c == '"') {
			quoted = true;
			field_started = true;
		} else if (c == ',') {
			row.push_back(std::move(field));
			field.clear();
			field_started = false;
		} else if (c == '\n' || c == '\r') {
			if (c == '\r' && i + 1 < text.size() && text[i + 1] == '\n') {
				i++;
			}
			row.push_back(std::move(field));
			field.clear();
			field_started = false;
			out.push_back(std::move(row));
			row.clear();
		} else {
			field += c;
			field_started = true;
		}
	}
	if (field_started || !row.empty()) {
		row.push_back(std::move(field));
		out.push_back(std::move(row));
	}
	return out;
}

Table QueryAsText(DuckConnection &duck, const std::string &sql) {
	auto r = duck.Query("SELECT COLUMNS(*)::VARCHAR FROM (" + sql + ") AS __q");
	Table out;
	std::vector<std::string> header;
	for (uint64_t c = 0; c < r.Columns(); c++) {
		header.push_back(r.ColumnName(c));
	}
	out.push_back(std::move(header));
	for (uint64_t row = 0; row < r.Rows(); row++) {
		std::vector<std::string> values;
		for (uint64_t c = 0; c < r.Columns(); c++) {
			values.push_back(r.GetString(c, row).value_or("NULL"));
		}
		out.push_back(std::move(values));
	}
	return out;
}

std::string Dump(const Table &table, size_t max_rows) {
	std::string out;
	for (size_t i = 0; i < table.size() && i < max_rows; i++) {
		for (size_t j = 0; j < table[i].size(); j++) {
			out += (j ? "|" : "") + table[i][j];
		}
		out += "\n";
	}
	if (table.size() > max_rows) {
		out += "... (" + std::to_string(table.size()) + " lines)\n";
	}
	return out;
}

GoldenLake &SharedGolden() {
	static GoldenLake golden(PgCluster::Shared());
	return golden;
}

AttachedLake::AttachedLake(const std::string &conninfo, const lake::SnapshotSelector &selector) {
	PgConnection conn(conninfo);
	state = lake::LoadCatalog(conn, "ducklake", selector);
	db = std::make_unique<DuckDatabase>("", std::map<std::string, std::string>{{"threads", "1"}});
	duck = db->Connect();
	lake::LakeReader::Attach(*duck, state);
}

} // namespace duckpipe::test
