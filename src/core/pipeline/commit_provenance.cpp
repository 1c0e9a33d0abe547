#include "core/pipeline/commit_provenance.hpp"

#include <nlohmann/json.hpp>

#include <cstdio>
#include <ctime>

namespace duckpipe::pipeline {

namespace {

// "2026-05-01 12:00:00.123456+00": readable, and what PostgreSQL's timestamptz input accepts.
std::string UtcText(int64_t unix_us) {
	int64_t secs = unix_us / 1000000;
	int64_t micros = unix_us % 1000000;
	if (micros < 0) {
		micros += 1000000;
		secs -= 1;
	}
	std::time_t t = static_cast<std::time_t>(secs);
	std::tm tm{};
	gmtime_r(&t, &tm);
	char buf[64];
	std::strftime(buf, sizeof(buf), "%Y-%m-%d %H:%M:%S", &tm);
	char out[80];
	std::snprintf(out, sizeof(out), "%s.%06lld+00", buf, static_cast<long long>(micros));
	return out;
}

} // namespace

std::string CommitProvenance::ToJson() const {
	nlohmann::ordered_json d;
	d["kind"] = kind == Kind::Copy ? "copy" : "flush";
	d["group"] = group;
	d["table"] = source_table;
	d["target"] = target_table;
	if (kind == Kind::Flush && from_lsn.IsValid()) {
		d["from_lsn"] = from_lsn.ToString();
	}
	d["source_lsn"] = source_lsn.ToString();
	if (kind == Kind::Flush && from_time_us != 0) {
		d["from_time"] = UtcText(from_time_us);
	}
	if (source_time_us != 0) {
		d["source_time"] = UtcText(source_time_us);
	}
	nlohmann::ordered_json root;
	root["duckpipe"] = std::move(d);
	// A name that is not valid UTF-8 must not fail the flush: such bytes become U+FFFD.
	return root.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace);
}

} // namespace duckpipe::pipeline
