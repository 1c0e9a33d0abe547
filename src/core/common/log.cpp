#include "core/common/log.hpp"

#include "core/common/error.hpp"

#include <spdlog/sinks/stdout_sinks.h>
#include <spdlog/spdlog.h>

#include <atomic>
#include <memory>
#include <mutex>

namespace duckpipe::log {

namespace {
std::atomic<int> g_level{static_cast<int>(Level::Info)};
// The mutex guards only the pointer: a sink runs outside it, so it may hand lines to another
// thread that logs too (or call SetSink) without deadlocking. A sink replaced while it runs stays
// alive until that call returns.
std::mutex g_sink_mutex;
std::shared_ptr<const Sink> g_sink;

std::shared_ptr<spdlog::logger> DefaultLogger() {
	static auto logger = [] {
		auto l = std::make_shared<spdlog::logger>("duckpipe", std::make_shared<spdlog::sinks::stderr_sink_mt>());
		l->set_pattern("ts=%Y-%m-%dT%H:%M:%S.%fZ level=%l %v", spdlog::pattern_time_type::utc);
		l->set_level(spdlog::level::trace);
		l->flush_on(spdlog::level::trace);
		return l;
	}();
	return logger;
}
} // namespace

Level ParseLevel(std::string_view text) {
	if (text == "debug") {
		return Level::Debug;
	}
	if (text == "info") {
		return Level::Info;
	}
	if (text == "warn" || text == "warning") {
		return Level::Warn;
	}
	if (text == "error") {
		return Level::Error;
	}
	throw duckpipe::Error(ErrorKind::Config, "unknown log level '" + std::string(text) + "'",
	                      {.hint = "use one of debug, info, warn, error"});
}

const char *LevelName(Level level) {
	switch (level) {
	case Level::Debug:
		return "debug";
	case Level::Info:
		return "info";
	case Level::Warn:
		return "warn";
	case Level::Error:
		return "error";
	}
	return "info";
}

void SetLevel(Level level) {
	g_level.store(static_cast<int>(level));
}

Level GetLevel() {
	return static_cast<Level>(g_level.load());
}

bool Enabled(Level level) {
	return static_cast<int>(level) >= g_level.load(std::memory_order_relaxed);
}

void SetSink(Sink sink) {
	auto next = sink ? std::make_shared<const Sink>(std::move(sink)) : nullptr;
	std::lock_guard guard(g_sink_mutex);
	g_sink.swap(next);
	// The previous sink is released outside the lock (its destructor may log).
}

void AppendField(std::string &line, std::string_view key, std::string_view value) {
	line += ' ';
	line += key;
	line += '=';
	bool quote = value.empty();
	for (char c : value) {
		if (c == ' ' || c == '"' || c == '=' || c == '\n' || c == '\t' || c == '\\') {
			quote = true;
			break;
		}
	}
	if (!quote) {
		line += value;
		return;
	}
	line += '"';
	for (char c : value) {
		switch (c) {
		case '"':
			line += "\\\"";
			break;
		case '\\':
			line += "\\\\";
			break;
		case '\n':
			line += "\\n";
			break;
		case '\t':
			line += "\\t";
			break;
		default:
			line += c;
		}
	}
	line += '"';
}

void Emit(Level level, const std::string &line) {
	std::shared_ptr<const Sink> sink;
	{
		std::lock_guard guard(g_sink_mutex);
		sink = g_sink;
	}
	if (sink) {
		(*sink)(level, line);
		return;
	}
	auto logger = DefaultLogger();
	switch (level) {
	case Level::Debug:
		logger->debug(line);
		break;
	case Level::Info:
		logger->info(line);
		break;
	case Level::Warn:
		logger->warn(line);
		break;
	case Level::Error:
		logger->error(line);
		break;
	}
}

} // namespace duckpipe::log
