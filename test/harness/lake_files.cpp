#include "harness/lake_files.hpp"

#include "core/lake/catalog_loader.hpp"
#include "core/pg/pg_connection.hpp"

#include <gtest/gtest.h>

#include <filesystem>

namespace duckpipe::test {

std::vector<std::string> ReferencedLakeFiles(const std::string &catalog_conninfo, const std::string &catalog_schema) {
	PgConnection conn(catalog_conninfo);
	auto state = lake::LoadCatalog(conn, catalog_schema);
	std::vector<std::string> out;
	for (const auto &t : state.tables) {
		for (const auto &f : t.files) {
			out.push_back(f.full_path);
			if (!f.delete_full_path.empty()) {
				out.push_back(f.delete_full_path);
			}
		}
	}
	return out;
}

void ExpectReferencedLakeFilesExist(const std::string &catalog_conninfo, const std::string &catalog_schema) {
	for (const auto &path : ReferencedLakeFiles(catalog_conninfo, catalog_schema)) {
		EXPECT_TRUE(std::filesystem::exists(path)) << "referenced file missing: " << path;
	}
}

} // namespace duckpipe::test
