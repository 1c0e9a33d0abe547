#include "core/pipeline/settings_resolver.hpp"

#include "core/common/error.hpp"

#include <string>

namespace duckpipe::pipeline {

namespace {

// The PipelineConfig field of each registry key (every key must have one: the core honours it).
int64_t Get(const PipelineConfig &c, const std::string &key) {
	if (key == "flush_interval_ms") {
		return c.flush_interval_ms;
	}
	if (key == "flush_batch_threshold") {
		return c.flush_batch_threshold;
	}
	if (key == "max_queued_bytes") {
		return c.max_queued_bytes;
	}
	if (key == "duckdb_buffer_memory_mb") {
		return c.duckdb_buffer_memory_mb;
	}
	if (key == "duckdb_flush_memory_mb") {
		return c.duckdb_flush_memory_mb;
	}
	if (key == "duckdb_threads") {
		return c.duckdb_threads;
	}
	if (key == "auto_compact") {
		return c.auto_compact;
	}
	if (key == "compact_min_files") {
		return c.compact_min_files;
	}
	if (key == "compact_target_file_size_mb") {
		return c.compact_target_file_size_mb;
	}
	if (key == "compact_interval_ms") {
		return c.compact_interval_ms;
	}
	if (key == "background_flush") {
		return c.background_flush;
	}
	if (key == "background_flush_backlog_mb") {
		return c.background_flush_backlog_mb;
	}
	if (key == "stream_in_progress") {
		return c.stream_in_progress;
	}
	throw Error(ErrorKind::Internal, "configuration key '" + key + "' has no pipeline setting");
}

void Set(PipelineConfig &c, const std::string &key, int64_t value) {
	if (key == "flush_interval_ms") {
		c.flush_interval_ms = value;
	} else if (key == "flush_batch_threshold") {
		c.flush_batch_threshold = value;
	} else if (key == "max_queued_bytes") {
		c.max_queued_bytes = value;
	} else if (key == "duckdb_buffer_memory_mb") {
		c.duckdb_buffer_memory_mb = value;
	} else if (key == "duckdb_flush_memory_mb") {
		c.duckdb_flush_memory_mb = value;
	} else if (key == "duckdb_threads") {
		c.duckdb_threads = static_cast<int>(value);
	} else if (key == "auto_compact") {
		c.auto_compact = value;
	} else if (key == "compact_min_files") {
		c.compact_min_files = value;
	} else if (key == "compact_target_file_size_mb") {
		c.compact_target_file_size_mb = value;
	} else if (key == "compact_interval_ms") {
		c.compact_interval_ms = value;
	} else if (key == "background_flush") {
		c.background_flush = value;
	} else if (key == "background_flush_backlog_mb") {
		c.background_flush_backlog_mb = value;
	} else if (key == "stream_in_progress") {
		c.stream_in_progress = value;
	} else {
		throw Error(ErrorKind::Internal, "configuration key '" + key + "' has no pipeline setting");
	}
}

} // namespace

PipelineConfig ResolveSettings(const PipelineConfig &process, const meta::ConfigLayers &layers,
                               meta::ConfigScope scope) {
	PipelineConfig out = process;
	out.live.reset();
	for (const auto &key : meta::ConfigRegistry::Keys()) {
		Set(out, key.name, meta::ConfigRegistry::Resolve(key.name, Get(process, key.name), layers, scope).value);
	}
	return out;
}

bool SameSettings(const PipelineConfig &a, const PipelineConfig &b) {
	for (const auto &key : meta::ConfigRegistry::Keys()) {
		if (Get(a, key.name) != Get(b, key.name)) {
			return false;
		}
	}
	return a.max_retry_backoff_s == b.max_retry_backoff_s;
}

} // namespace duckpipe::pipeline
