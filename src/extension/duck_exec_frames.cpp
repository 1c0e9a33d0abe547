// Window frame offsets DuckDB runs as PostgreSQL does (duck_exec_frames.hpp). Checked against
// PostgreSQL 15 and DuckDB 1.4 (test/integration/extension_analytics/queries.sql, window_*).
#include "extension/duck_exec_frames.hpp"

#include "extension/pg_includes.hpp"

extern "C" {
#include "catalog/pg_type.h"
#include "datatype/timestamp.h"
#include "nodes/parsenodes.h"
#include "nodes/primnodes.h"
#include "utils/fmgroids.h"
#include "utils/timestamp.h"
}

namespace duckpipe::ext {

namespace {

bool NonNegativeConst(const Node *node) {
	// A ROWS offset is int8: the parser casts an int4 literal (int8(3)); widening keeps the sign.
	while (node && IsA(node, FuncExpr) && castNode(FuncExpr, node)->funcformat == COERCE_IMPLICIT_CAST &&
	       castNode(FuncExpr, node)->funcid == F_INT8_INT4 && list_length(castNode(FuncExpr, node)->args) == 1) {
		node = static_cast<const Node *>(linitial(castNode(FuncExpr, node)->args));
	}
	if (!node || !IsA(node, Const) || castNode(Const, node)->constisnull) {
		return false;
	}
	const auto *c = castNode(Const, node);
	switch (c->consttype) {
	case INT2OID:
		return DatumGetInt16(c->constvalue) >= 0;
	case INT4OID:
		return DatumGetInt32(c->constvalue) >= 0;
	case INT8OID:
		return DatumGetInt64(c->constvalue) >= 0;
	case INTERVALOID: {
		const auto *interval = DatumGetIntervalP(c->constvalue);
		return interval->month >= 0 && interval->day >= 0 && interval->time >= 0;
	}
	default:
		return false;
	}
}

bool RangeFunctionAllowed(Oid fn) {
	switch (fn) {
	case F_IN_RANGE_DATE_DATE_INTERVAL_BOOL_BOOL:
	case F_IN_RANGE_TIMESTAMP_TIMESTAMP_INTERVAL_BOOL_BOOL:
	case F_IN_RANGE_INT8_INT8_INT8_BOOL_BOOL:
	case F_IN_RANGE_INT4_INT4_INT8_BOOL_BOOL:
	case F_IN_RANGE_INT4_INT4_INT4_BOOL_BOOL:
	case F_IN_RANGE_INT4_INT4_INT2_BOOL_BOOL:
	case F_IN_RANGE_INT2_INT2_INT8_BOOL_BOOL:
	case F_IN_RANGE_INT2_INT2_INT4_BOOL_BOOL:
	case F_IN_RANGE_INT2_INT2_INT2_BOOL_BOOL:
		return true;
	default:
		return false;
	}
}

} // namespace

std::string FrameProblem(const WindowClause *clause) {
	if (clause->frameOptions & (FRAMEOPTION_GROUPS | FRAMEOPTION_EXCLUSION)) {
		return "a window frame with GROUPS or EXCLUDE";
	}
	bool start = clause->frameOptions & FRAMEOPTION_START_OFFSET;
	bool end = clause->frameOptions & FRAMEOPTION_END_OFFSET;
	if ((start && !NonNegativeConst(clause->startOffset)) || (end && !NonNegativeConst(clause->endOffset))) {
		return "a window frame offset that is not a non-negative constant";
	}
	if ((clause->frameOptions & FRAMEOPTION_RANGE) && ((start && !RangeFunctionAllowed(clause->startInRangeFunc)) ||
	                                                   (end && !RangeFunctionAllowed(clause->endInRangeFunc)))) {
		return "a RANGE frame offset other than an interval over a date or timestamp or an integer over an "
		       "integer";
	}
	return "";
}

} // namespace duckpipe::ext
