#include "core/common/source_values.hpp"

#include "core/common/log.hpp"

namespace duckpipe {

std::string SourceValueText(std::string_view text) {
	if (log::Enabled(log::Level::Debug)) {
		return std::string(text);
	}
	return "the value is not shown (values from the source appear only with --log-level debug)";
}

} // namespace duckpipe
