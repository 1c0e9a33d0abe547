#pragma once

#include "harness/pg_cluster.hpp"

#include <memory>
#include <string>

namespace duckpipe::test {

// The reference lake from shared/ducklake-golden, loaded into a fresh database of the cluster:
// catalog in schema `ducklake`, data files copied to a temp dir (the data_path).
class GoldenLake {
public:
	explicit GoldenLake(PgCluster &cluster);

	static std::string SourceDir(); // shared/ducklake-golden
	// expected/<name> as text.
	static std::string Expected(const std::string &name);

	const std::string &Database() const { return db_; }
	std::string Conninfo() const { return cluster_.Conninfo(db_); }
	// Absolute, ends in '/'.
	std::string DataPath() const { return data_dir_->Path() + "/"; }

private:
	PgCluster &cluster_;
	std::string db_;
	std::unique_ptr<TempDir> data_dir_;
};

} // namespace duckpipe::test
