#include "core/flush/staging_appender.hpp"

#include "core/common/error.hpp"
#include "core/duck/duck_connection.hpp"

namespace duckpipe::flush {

StagingAppender::StagingAppender(DuckConnection &conn, const std::string &table, std::string label)
    : conn_(conn), label_(std::move(label)) {
	if (duckdb_appender_create(conn.Raw(), nullptr, table.c_str(), &appender_) == DuckDBError) {
		FailCreate("cannot create appender for " + table);
	}
}

StagingAppender::StagingAppender(DuckConnection &conn, const std::string &query, const std::string &virtual_table,
                                 const std::vector<duckdb_type> &types, const std::vector<std::string> &names,
                                 std::string label)
    : conn_(conn), label_(std::move(label)) {
	if (types.size() != names.size()) {
		throw Error(ErrorKind::Internal, "query appender needs one name per type", {.table = label_});
	}
	std::vector<duckdb_logical_type> logical;
	std::vector<const char *> cnames;
	for (size_t i = 0; i < types.size(); i++) {
		logical.push_back(duckdb_create_logical_type(types[i]));
		cnames.push_back(names[i].c_str());
	}
	auto state = duckdb_appender_create_query(conn.Raw(), query.c_str(), types.size(), logical.data(),
	                                          virtual_table.c_str(), cnames.data(), &appender_);
	for (auto &t : logical) {
		duckdb_destroy_logical_type(&t);
	}
	if (state == DuckDBError) {
		FailCreate("cannot create query appender");
	}
}

StagingAppender::~StagingAppender() {
	if (appender_) {
		duckdb_appender_destroy(&appender_);
	}
}

std::string StagingAppender::ErrorMessage(duckdb_error_type *type) {
	std::string msg = "unknown error";
	if (type) {
		*type = DUCKDB_ERROR_INVALID;
	}
	if (appender_) {
		duckdb_error_data err = duckdb_appender_error_data(appender_);
		if (err) {
			const char *m = duckdb_error_data_message(err);
			msg = m ? m : msg;
			if (type) {
				*type = duckdb_error_data_error_type(err);
			}
			duckdb_destroy_error_data(&err);
		}
	}
	return msg;
}

void StagingAppender::Fail(const std::string &what) {
	// A full temp directory surfaces here too when the buffer spills while rows are appended.
	duckdb_error_type type;
	std::string msg = ErrorMessage(&type);
	throw conn_.Failure("change buffer " + what, msg, type, {.table = label_});
}

void StagingAppender::FailCreate(const std::string &what) {
	// The destructor will not run for a throwing constructor.
	duckdb_error_type type;
	std::string msg = ErrorMessage(&type);
	if (appender_) {
		duckdb_appender_destroy(&appender_);
	}
	throw conn_.Failure("change buffer " + what, msg, type, {.table = label_});
}

} // namespace duckpipe::flush
