#include "core/duck/duck_database.hpp"

#include "core/common/error.hpp"
#include "core/duck/duck_connection.hpp"

#include <duckdb.h>

namespace duckpipe {

DuckDatabase::DuckDatabase(const std::string &path, const std::map<std::string, std::string> &options) {
	duckdb_config config = nullptr;
	if (duckdb_create_config(&config) == DuckDBError) {
		throw Error(ErrorKind::Duck, "cannot create DuckDB configuration");
	}
	// DuckDB 1.4.4 sizes the temp directory from the free disk space when it creates it, overriding a
	// max_temp_directory_size given at open; a SET after open holds.
	std::string max_temp;
	auto temp = options.find("temp_directory");
	temp_directory_ = temp != options.end() ? temp->second : path.empty() ? ".tmp" : path + ".tmp";
	auto order = options.find("preserve_insertion_order");
	keeps_insertion_order_ = order == options.end() || (order->second != "false" && order->second != "0");
	for (const auto &[key, value] : options) {
		if (key == "max_temp_directory_size") {
			max_temp = value;
			continue;
		}
		if (duckdb_set_config(config, key.c_str(), value.c_str()) == DuckDBError) {
			duckdb_destroy_config(&config);
			throw Error(ErrorKind::Config,
			            std::string("invalid DuckDB setting ").append(key).append("='").append(value).append("'"));
		}
	}
	char *err = nullptr;
	const char *p = path.empty() ? nullptr : path.c_str();
	auto state = duckdb_open_ext(p, &db_, config, &err);
	duckdb_destroy_config(&config);
	if (state == DuckDBError) {
		std::string msg = err ? err : "unknown error";
		duckdb_free(err);
		throw Error(ErrorKind::Duck,
		            "cannot open DuckDB database" + (path.empty() ? "" : " '" + path + "'") + ": " + msg);
	}
	if (!max_temp.empty()) {
		try {
			DuckConnection(*this).Execute("SET max_temp_directory_size = " + DuckConnection::QuoteLiteral(max_temp));
		} catch (...) {
			duckdb_close(&db_);
			throw;
		}
	}
}

DuckDatabase::~DuckDatabase() {
	if (db_) {
		duckdb_close(&db_);
	}
}

std::unique_ptr<DuckConnection> DuckDatabase::Connect() {
	return std::make_unique<DuckConnection>(*this);
}

} // namespace duckpipe
