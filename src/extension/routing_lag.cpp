// duckpipe._group_lag(group): the lag query routing compares with duckpipe.query_routing_max_lag
// (shared_state.hpp, Freshness), for duckpipe.routing_lag() (sql/extension/43_query_routing.sql).
#include "extension/shared_state.hpp"

#include "extension/pg_includes.hpp"

extern "C" {
#include "access/htup_details.h"
#include "funcapi.h"
}

extern "C" {
PG_FUNCTION_INFO_V1(duckpipe_group_lag);
}

Datum duckpipe_group_lag(PG_FUNCTION_ARGS) {
	// Plain C: nothing here has a destructor for an ERROR to skip, and ReadFreshness never throws.
	char *group = text_to_cstring(PG_GETARG_TEXT_PP(0));
	duckpipe::ext::Freshness fresh = duckpipe::ext::ReadFreshness(MyDatabaseId, group);
	TupleDesc desc;
	if (get_call_result_type(fcinfo, nullptr, &desc) != TYPEFUNC_COMPOSITE) {
		ereport(ERROR, (errcode(ERRCODE_FEATURE_NOT_SUPPORTED), errmsg("duckpipe._group_lag must return a record")));
	}
	desc = BlessTupleDesc(desc);
	Datum values[2] = {BoolGetDatum(fresh.running), Int64GetDatum(fresh.lag_ms)};
	bool nulls[2] = {false, !fresh.running || fresh.lag_ms < 0};
	PG_RETURN_DATUM(HeapTupleGetDatum(heap_form_tuple(desc, values, nulls)));
}
