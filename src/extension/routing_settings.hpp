#pragma once

#include <cstdint>

// The settings of transparent query routing (duckpipe.query_routing*), defined in routing_settings.cpp.
namespace duckpipe::ext {

enum class RoutingMode { Off, On, Auto };

struct RoutingSettings {
	RoutingMode mode = RoutingMode::Off;
	int64_t max_lag_ms = 10000;
	bool log = false;
};

// Defines the GUCs (from _PG_init).
void DefineQueryRoutingGucs();
RoutingSettings CurrentRoutingSettings();

} // namespace duckpipe::ext
