#include "core/lake/write/data_file_rows.hpp"

#include "core/pg/pg_connection.hpp"

namespace duckpipe::lake {

namespace {

std::string Opt(const std::optional<int64_t> &v) {
	return v ? std::to_string(*v) : "NULL";
}

std::string Bool(const std::optional<bool> &v) {
	return v ? (*v ? "true" : "false") : "NULL";
}

} // namespace

void DataFileRows::Add(int64_t data_file_id, int64_t table_id, int64_t begin_snapshot, const std::string &path,
                       const WrittenFile &file, int64_t row_id_start) {
	auto lit = [&](const std::optional<std::string> &v) { return v ? conn_.QuoteLiteral(*v) : std::string("NULL"); };
	auto fid = std::to_string(data_file_id);
	auto tid = std::to_string(table_id);
	files_ += std::string(files_.empty() ? "" : ", ") + "(" + fid + ", " + tid + ", " + std::to_string(begin_snapshot) +
	          ", NULL, NULL, " + conn_.QuoteLiteral(path) + ", true, 'parquet', " + std::to_string(file.record_count) +
	          ", " + std::to_string(file.file_size_bytes) + ", " + Opt(file.footer_size) + ", " +
	          std::to_string(row_id_start) + ", NULL, NULL, NULL, NULL)";
	for (const auto &s : file.stats) {
		stats_ += std::string(stats_.empty() ? "" : ", ") + "(" + fid + ", " + tid + ", " +
		          std::to_string(s.column_id) + ", " + Opt(s.column_size_bytes) + ", " + Opt(s.value_count) + ", " +
		          Opt(s.null_count) + ", " + lit(s.min_value) + ", " + lit(s.max_value) + ", " + Bool(s.contains_nan) +
		          ", NULL)";
	}
}

std::string DataFileRows::Sql(const std::string &schema_prefix) const {
	std::string sql;
	if (!files_.empty()) {
		sql += "INSERT INTO " + schema_prefix +
		       "ducklake_data_file(data_file_id, table_id, begin_snapshot, end_snapshot, file_order, path, "
		       "path_is_relative, file_format, record_count, file_size_bytes, footer_size, row_id_start, partition_id, "
		       "encryption_key, mapping_id, partial_max) VALUES " +
		       files_ + ";\n";
	}
	if (!stats_.empty()) {
		sql += "INSERT INTO " + schema_prefix +
		       "ducklake_file_column_stats(data_file_id, table_id, column_id, column_size_bytes, value_count, "
		       "null_count, min_value, max_value, contains_nan, extra_stats) VALUES " +
		       stats_ + ";\n";
	}
	return sql;
}

} // namespace duckpipe::lake
