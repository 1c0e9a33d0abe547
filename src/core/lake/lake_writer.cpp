#include "core/lake/lake_writer.hpp"

#include "core/common/error.hpp"
#include "core/duck/duck_connection.hpp"
#include "core/duck/duck_database.hpp"
#include "core/duck/duck_sandbox.hpp"
#include "core/lake/write/catalog_reads.hpp"
#include "core/pg/pg_connection.hpp"

#include <cstdlib>

namespace duckpipe::lake {

namespace {

std::mutex fail_mutex;
std::string &FailPoint() {
	static std::string point = [] {
		const char *env = std::getenv("DUCKPIPE_LAKE_FAIL_POINT");
		return std::string(env ? env : "");
	}();
	return point;
}

} // namespace

LakeWriter::LakeWriter(LakeConfig config) : config_(std::move(config)) {
	info_ = OpenLake(config_);
	conn_ = std::make_unique<PgConnection>(config_.catalog_conninfo,
	                                       PgConnection::Options{.application_name = "pg_duckpipe lake writer"});
	// A small private DuckDB for delete files, stats merging and uuids; data files use the caller's.
	duck_db_ = std::make_unique<DuckDatabase>(
	    "", std::map<std::string, std::string>{{"memory_limit", "64MB"}, {"threads", "1"}});
	duck_ = duck_db_->Connect();
	DuckSandbox{.directories = {info_.data_path}, .lock_configuration = false}.Lock(*duck_);
}

LakeWriter::~LakeWriter() = default;

LakeCommit LakeWriter::Begin() {
	std::lock_guard guard(mutex_);
	if (!conn_->IsHealthy()) {
		conn_ = std::make_unique<PgConnection>(config_.catalog_conninfo,
		                                       PgConnection::Options{.application_name = "pg_duckpipe lake writer"});
	}
	CatalogReads reads(*conn_, config_.catalog_schema, info_.data_path);
	return LakeCommit(*this, reads.Head());
}

void LakeWriter::SetFailPoint(const std::string &name) {
	std::lock_guard guard(fail_mutex);
	FailPoint() = name;
}

void LakeWriter::MaybeFail(const char *point) {
	std::lock_guard guard(fail_mutex);
	if (!FailPoint().empty() && FailPoint() == point) {
		FailPoint().clear();
		throw Error(ErrorKind::Internal, std::string("fail point ") + point);
	}
}

} // namespace duckpipe::lake
