#include "core/common/source_values.hpp"

#include "core/common/log.hpp"

namespace duckpipe {

std::string SourceValueText(std::string_view text) {
	if (log::Enabled(log::Level::Debug)) {
		return std::string(text);
	}
	// Engines quote the value they choke on ("Could not convert string 'x' to INT32", a timestamp
	// "in double quotes"); the rest of the message (what failed, what to do) is kept. From the first
	// to the last single quote, since a value may hold quotes itself; double quotes pair by pair.
	std::string out;
	bool hidden = false;
	auto first = text.find('\'');
	auto last = text.rfind('\'');
	for (size_t i = 0; i < text.size(); i++) {
		char c = text[i];
		if (c == '\'' && i == first && last != first) {
			out += "'...'";
			i = last;
			hidden = true;
		} else if (c == '"') {
			auto close = text.find('"', i + 1);
			if (close == std::string_view::npos) {
				out += text.substr(i);
				break;
			}
			out += "\"...\"";
			i = close;
			hidden = true;
		} else {
			out += c;
		}
	}
	if (hidden) {
		out += " (values from the source are shown only at debug level: duckpipe --log-level debug, or "
		       "duckpipe.debug_log = on in the extension)";
	}
	return out;
}

} // namespace duckpipe
