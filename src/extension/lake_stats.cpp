#include "extension/lake_stats.hpp"

#include "extension/lake_session.hpp"
#include "extension/query_engine.hpp"

#include <algorithm>
#include <exception>

namespace duckpipe::ext {

std::optional<LakeTableSize> LakeSizeOf(const std::string &schema, const std::string &table) {
	try {
		LakeSettings settings = LakeSettings::Current();
		auto state = QueryEngine::Backend().Catalog(settings, settings.snapshot);
		LakeTableSize size;
		const lake::LakeTable *lake_table = state ? state->FindTable(schema, table) : nullptr;
		if (!lake_table) {
			return size;
		}
		for (const auto &file : lake_table->files) {
			size.rows += static_cast<double>(file.record_count - file.delete_count) -
			             static_cast<double>(file.inlined_deleted_positions.size());
			size.bytes += static_cast<double>(file.file_size_bytes);
		}
		for (const auto &inlined : lake_table->inlined) {
			size.rows += static_cast<double>(inlined.row_ids.size());
		}
		size.rows = std::max(size.rows, 0.0);
		return size;
	} catch (const std::exception &) {
		return std::nullopt;
	}
}

} // namespace duckpipe::ext
