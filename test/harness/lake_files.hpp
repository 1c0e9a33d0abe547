#pragma once

#include <string>
#include <vector>

namespace duckpipe::test {

// Every data and delete file the lake's catalog references (all tables, the catalog's current rows).
std::vector<std::string> ReferencedLakeFiles(const std::string &catalog_conninfo,
                                             const std::string &catalog_schema = "ducklake");
// A gtest failure for each referenced file that is not on disk (a file collected while in use).
void ExpectReferencedLakeFilesExist(const std::string &catalog_conninfo,
                                    const std::string &catalog_schema = "ducklake");

} // namespace duckpipe::test
