// The GUCs of transparent query routing. A change of any of them resets the plan cache: a cached
// plan holds the routing decision made when it was planned.
#include "extension/routing_settings.hpp"

#include <climits>

#include "extension/pg_includes.hpp"

extern "C" {
#include "utils/guc.h"
#include "utils/plancache.h"
}

namespace duckpipe::ext {

namespace {

int routing_mode = static_cast<int>(RoutingMode::Off);
int max_lag_ms = 10000;
bool routing_log = false;

const struct config_enum_entry kModes[] = {{"off", static_cast<int>(RoutingMode::Off), false},
                                           {"on", static_cast<int>(RoutingMode::On), false},
                                           {"auto", static_cast<int>(RoutingMode::Auto), false},
                                           {nullptr, 0, false}};

// ResetPlanCache only marks plans invalid (no catalog access, no allocation): safe in an assign hook,
// also when a SET is rolled back.
void ResetPlans(int, void *) {
	ResetPlanCache();
}
void ResetPlansBool(bool, void *) {
	ResetPlanCache();
}

} // namespace

void DefineQueryRoutingGucs() {
	DefineCustomEnumVariable(
	    "duckpipe.query_routing", "Rewrites SELECTs on synced source tables to read their lake relations.",
	    "off: never; on: every SELECT that reads synced tables; auto: analytical SELECTs only (not point lookups by "
	    "key, not in a transaction that has written, not in SERIALIZABLE transactions, not with other tables).",
	    &routing_mode, static_cast<int>(RoutingMode::Off), kModes, PGC_USERSET, 0, nullptr, ResetPlans, nullptr);
	DefineCustomIntVariable("duckpipe.query_routing_max_lag",
	                        "Largest lag of a synced table's lake copy at which queries are still routed to it.",
	                        "The lag is the time since the lake last held every change committed in the source.",
	                        &max_lag_ms, 10000, 0, INT_MAX, PGC_USERSET, GUC_UNIT_MS, nullptr, ResetPlans, nullptr);
	DefineCustomBoolVariable("duckpipe.query_routing_log",
	                         "Emits a NOTICE naming each table a query is routed to, or why it is not routed.", nullptr,
	                         &routing_log, false, PGC_USERSET, 0, nullptr, ResetPlansBool, nullptr);
}

RoutingSettings CurrentRoutingSettings() {
	return RoutingSettings{
	    .mode = static_cast<RoutingMode>(routing_mode), .max_lag_ms = max_lag_ms, .log = routing_log};
}

} // namespace duckpipe::ext
