#pragma once

#include <fmt/format.h>

#include <functional>
#include <string>
#include <string_view>
#include <utility>

namespace duckpipe::log {

// Structured logging: one line per event, `event=<name> key=value ...` (logfmt). The default sink
// writes through spdlog to stderr; the extension installs a sink that hands lines to PostgreSQL's
// main thread, so the core never calls elog itself.
enum class Level { Debug = 0, Info = 1, Warn = 2, Error = 3 };

Level ParseLevel(std::string_view text); // throws Error(Config) for an unknown level
const char *LevelName(Level level);
void SetLevel(Level level);
Level GetLevel();
bool Enabled(Level level);

using Sink = std::function<void(Level, const std::string &line)>;
void SetSink(Sink sink); // nullptr restores the default sink

// Appends ` key=value` to a line, quoting the value when it needs it.
void AppendField(std::string &line, std::string_view key, std::string_view value);
void Emit(Level level, const std::string &line);

template <class T>
std::string FieldValue(const T &value) {
	if constexpr (std::is_convertible_v<const T &, std::string_view>) {
		return std::string(std::string_view(value));
	} else {
		return fmt::format("{}", value);
	}
}

template <class... Args>
void Write(Level level, std::string_view event, Args &&...kv) {
	static_assert(sizeof...(Args) % 2 == 0, "log fields come in key, value pairs");
	if (!Enabled(level)) {
		return;
	}
	std::string line = "event=";
	line += event;
	if constexpr (sizeof...(Args) > 0) {
		auto pairs = std::forward_as_tuple(std::forward<Args>(kv)...);
		[&]<size_t... I>(std::index_sequence<I...>) {
			(AppendField(line, std::get<2 * I>(pairs), FieldValue(std::get<2 * I + 1>(pairs))), ...);
		}
		(std::make_index_sequence<sizeof...(Args) / 2>{});
	}
	Emit(level, line);
}

template <class... Args>
void Debug(std::string_view event, Args &&...kv) {
	Write(Level::Debug, event, std::forward<Args>(kv)...);
}
template <class... Args>
void Info(std::string_view event, Args &&...kv) {
	Write(Level::Info, event, std::forward<Args>(kv)...);
}
template <class... Args>
void Warn(std::string_view event, Args &&...kv) {
	Write(Level::Warn, event, std::forward<Args>(kv)...);
}
template <class... Args>
void Error(std::string_view event, Args &&...kv) {
	Write(Level::Error, event, std::forward<Args>(kv)...);
}

} // namespace duckpipe::log
