#include "core/pipeline/source_layout.hpp"

#include "core/common/error.hpp"
#include "core/pg/pg_connection.hpp"

#include <nlohmann/json.hpp>

namespace duckpipe::pipeline {

std::string SourceLayout::ToJson() const {
	auto out = nlohmann::json::array();
	for (const auto &c : columns) {
		out.push_back(
		    {{"name", c.name}, {"attnum", c.attnum}, {"type_oid", c.type_oid}, {"typmod", c.typmod}, {"key", c.key}});
	}
	return out.dump();
}

SourceLayout SourceLayout::FromJson(const std::string &json) {
	SourceLayout layout;
	try {
		for (const auto &c : nlohmann::json::parse(json)) {
			layout.columns.push_back({.name = c.at("name").get<std::string>(),
			                          .attnum = c.at("attnum").get<int>(),
			                          .type_oid = c.at("type_oid").get<uint32_t>(),
			                          .typmod = c.at("typmod").get<int32_t>(),
			                          .key = c.at("key").get<bool>()});
		}
	} catch (const nlohmann::json::exception &e) {
		throw Error(ErrorKind::Internal,
		            std::string("unreadable source layout in duckpipe.table_progress: ") + e.what(),
		            {.hint = "resync the table (duckpipe resync-table) to record it again"});
	}
	return layout;
}

SourceLayout SourceLayout::Current(PgConnection &conn, uint32_t table_oid) {
	auto r = conn.Exec("SELECT attname, attnum, atttypid, atttypmod FROM pg_attribute WHERE attrelid = $1 AND "
	                   "attnum > 0 AND NOT attisdropped AND attgenerated = '' ORDER BY attnum",
	                   {std::to_string(table_oid)});
	SourceLayout layout;
	for (int i = 0; i < r.Rows(); i++) {
		layout.columns.push_back({.name = std::string(r.Get(i, 0)),
		                          .attnum = static_cast<int>(r.GetInt(i, 1)),
		                          .type_oid = static_cast<uint32_t>(r.GetInt(i, 2)),
		                          .typmod = static_cast<int32_t>(r.GetInt(i, 3)),
		                          .key = false});
	}
	return layout;
}

} // namespace duckpipe::pipeline
