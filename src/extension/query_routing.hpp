#pragma once

// Transparent query routing (duckpipe.query_routing): a planner hook that rewrites SELECTs reading
// synced source tables to read their lake relations (query_routing.cpp, routing_tree.cpp).
namespace duckpipe::ext {

// Installs the planner hook (from _PG_init, after the hooks that must see the routed query). Its
// settings are defined by DefineQueryRoutingGucs (routing_settings.hpp).
void RegisterQueryRouting();

} // namespace duckpipe::ext
