// Restriction clauses of a lake relation as LakeFilter: which shapes are pushed, and the DuckDB
// literal of each value, written from the datum (never through an output function, whose text
// depends on DateStyle and friends).
#include "extension/lake_filter_pg.hpp"

#include <charconv>
#include <cmath>
#include <cstdio>
#include <string>
#include <vector>

#include "core/duck/duck_connection.hpp"
#include "core/lake/lake_reader.hpp"
#include "extension/pg_boundary.hpp"
#include "extension/pg_includes.hpp"

extern "C" {
#include "access/stratnum.h"
#include "access/tupdesc.h"
#include "catalog/pg_type.h"
#include "datatype/timestamp.h"
#include "nodes/nodeFuncs.h"
#include "nodes/primnodes.h"
#include "utils/array.h"
#include "utils/date.h"
#include "utils/datetime.h"
#include "utils/lsyscache.h"
#include "utils/numeric.h"
#include "utils/pg_locale.h"
#include "utils/rel.h"
#include "utils/timestamp.h"
}

namespace duckpipe::ext {

namespace {

// Type families whose values PostgreSQL and DuckDB compare alike.
enum class Family { None, Int, Float, Numeric, Date, Timestamp, TimestampTz, Bool, Text };

Family FamilyOf(Oid type) {
	switch (type) {
	case INT2OID:
	case INT4OID:
	case INT8OID:
		return Family::Int;
	case FLOAT4OID:
	case FLOAT8OID:
		return Family::Float;
	case NUMERICOID:
		return Family::Numeric;
	case DATEOID:
		return Family::Date;
	case TIMESTAMPOID:
		return Family::Timestamp;
	case TIMESTAMPTZOID:
		return Family::TimestampTz;
	case BOOLOID:
		return Family::Bool;
	case TEXTOID:
	case VARCHAROID:
		return Family::Text;
	default:
		return Family::None;
	}
}

// The lake type a relation column of this PostgreSQL type must have for its values to compare as
// PostgreSQL's (a lake type the pipeline kept after a source type change may differ).
bool LakeTypeFits(Oid type, const std::string &lake_type) {
	switch (type) {
	case INT2OID:
	case INT4OID:
	case INT8OID:
		return lake_type == "int16" || lake_type == "int32" || lake_type == "int64";
	case FLOAT4OID:
		return lake_type == "float32";
	case FLOAT8OID:
		return lake_type == "float64";
	case NUMERICOID:
		return lake_type.rfind("decimal(", 0) == 0;
	case DATEOID:
		return lake_type == "date";
	case TIMESTAMPOID:
		return lake_type == "timestamp";
	case TIMESTAMPTZOID:
		return lake_type == "timestamptz";
	case BOOLOID:
		return lake_type == "boolean";
	case TEXTOID:
	case VARCHAROID:
		return lake_type == "varchar";
	default:
		return false;
	}
}

Node *Strip(Node *node) {
	while (node && IsA(node, RelabelType)) {
		node = reinterpret_cast<Node *>(reinterpret_cast<RelabelType *>(node)->arg);
	}
	return node;
}

template <class T>
std::string Shortest(T v) {
	if (std::isnan(v)) {
		return "NaN";
	}
	if (std::isinf(v)) {
		return v > 0 ? "inf" : "-inf";
	}
	char buffer[64];
	auto result = std::to_chars(buffer, buffer + sizeof(buffer), v);
	return std::string(buffer, result.ptr);
}

// "YYYY-MM-DD" of a date within years 1..9999 (DuckDB writes other years differently); "" otherwise.
std::string DateText(int64_t days_since_2000) {
	int64_t julian = days_since_2000 + POSTGRES_EPOCH_JDATE;
	if (julian < 0 || julian > INT32_MAX) {
		return "";
	}
	int year = 0, month = 0, day = 0;
	j2date(static_cast<int>(julian), &year, &month, &day);
	if (year < 1 || year > 9999) {
		return "";
	}
	char buffer[32];
	snprintf(buffer, sizeof(buffer), "%04d-%02d-%02d", year, month, day);
	return buffer;
}

std::string TimestampText(int64_t us) {
	int64_t days = us / USECS_PER_DAY;
	int64_t rest = us % USECS_PER_DAY;
	if (rest < 0) {
		rest += USECS_PER_DAY;
		days--;
	}
	std::string date = DateText(days);
	if (date.empty()) {
		return "";
	}
	char buffer[48];
	snprintf(buffer, sizeof(buffer), " %02d:%02d:%02d.%06d", static_cast<int>(rest / USECS_PER_HOUR),
	         static_cast<int>(rest / USECS_PER_MINUTE % 60), static_cast<int>(rest / USECS_PER_SEC % 60),
	         static_cast<int>(rest % USECS_PER_SEC));
	return date + buffer;
}

// The DuckDB literal of a value of `type` compared with a lake column of `lake_type`; "" when it
// has none that compares exactly as PostgreSQL does.
std::string Literal(Datum value, bool isnull, Oid type, const std::string &lake_type) {
	if (isnull) {
		return "NULL";
	}
	switch (type) {
	case INT2OID:
		return std::to_string(DatumGetInt16(value));
	case INT4OID:
		return std::to_string(DatumGetInt32(value));
	case INT8OID:
		return std::to_string(DatumGetInt64(value));
	case FLOAT4OID:
		return "CAST('" + Shortest(DatumGetFloat4(value)) + "' AS FLOAT)";
	case FLOAT8OID:
		return "CAST('" + Shortest(DatumGetFloat8(value)) + "' AS DOUBLE)";
	case BOOLOID:
		return DatumGetBool(value) ? "true" : "false";
	case DATEOID: {
		DateADT d = DatumGetDateADT(value);
		if (DATE_NOT_FINITE(d)) {
			return DATE_IS_NOBEGIN(d) ? "DATE '-infinity'" : "DATE 'infinity'";
		}
		std::string text = DateText(d);
		return text.empty() ? "" : "DATE '" + text + "'";
	}
	case TIMESTAMPOID:
	case TIMESTAMPTZOID: {
		Timestamp t = DatumGetTimestamp(value);
		const char *cast = type == TIMESTAMPOID ? "TIMESTAMP" : "TIMESTAMPTZ";
		if (TIMESTAMP_NOT_FINITE(t)) {
			return std::string(cast) + (TIMESTAMP_IS_NOBEGIN(t) ? " '-infinity'" : " 'infinity'");
		}
		std::string text = TimestampText(t);
		return text.empty() ? "" : std::string(cast) + " '" + text + (type == TIMESTAMPOID ? "'" : "+00'");
	}
	case NUMERICOID: {
		char *out = nullptr;
		PgCall([&] { out = DatumGetCString(DirectFunctionCall1(numeric_out, value)); });
		std::string text = out;
		size_t digits = 0, scale = 0;
		bool fraction = false;
		for (char c : text) {
			if (c == '.') {
				fraction = true;
			} else if (c >= '0' && c <= '9') {
				digits++;
				scale += fraction;
			} else if (c != '-') {
				return ""; // NaN, Infinity
			}
		}
		// The comparison's common DECIMAL must hold both sides' integer and fraction digits.
		int p = 0, s = 0;
		if (sscanf(lake_type.c_str(), "decimal(%d,%d)", &p, &s) != 2) {
			return "";
		}
		size_t whole = std::max<size_t>(digits - scale, static_cast<size_t>(p - s));
		size_t width = std::max<size_t>(digits, 1);
		if (whole + std::max<size_t>(scale, static_cast<size_t>(s)) > 38 || width > 38) {
			return "";
		}
		return "CAST('" + text + "' AS DECIMAL(" + std::to_string(width) + "," + std::to_string(scale) + "))";
	}
	case TEXTOID:
	case VARCHAROID: {
		char *out = nullptr;
		PgCall([&] { out = TextDatumGetCString(value); });
		return DuckConnection::QuoteLiteral(out);
	}
	default:
		return "";
	}
}

class Translator {
public:
	explicit Translator(const PushContext &context) : context_(context) {}

	std::optional<LakeFilter> Node_(Node *node) {
		node = Strip(node);
		if (!node) {
			return std::nullopt;
		}
		switch (nodeTag(node)) {
		case T_BoolExpr:
			return Bool(reinterpret_cast<BoolExpr *>(node));
		case T_OpExpr:
			return Compare(reinterpret_cast<OpExpr *>(node));
		case T_ScalarArrayOpExpr:
			return AnyOf(reinterpret_cast<ScalarArrayOpExpr *>(node));
		case T_NullTest: {
			auto *test = reinterpret_cast<NullTest *>(node);
			if (test->argisrow) {
				return std::nullopt;
			}
			auto leaf = Column(reinterpret_cast<Node *>(test->arg), true);
			if (leaf) {
				leaf->kind = test->nulltesttype == IS_NULL ? LakeFilter::Kind::IsNull : LakeFilter::Kind::IsNotNull;
			}
			return leaf;
		}
		case T_Var: {
			// A boolean column used as a condition.
			auto leaf = Column(node, false);
			if (!leaf || type_ != BOOLOID) {
				return std::nullopt;
			}
			leaf->kind = LakeFilter::Kind::Compare;
			leaf->op = "=";
			leaf->values = {"true"};
			return leaf;
		}
		default:
			return std::nullopt;
		}
	}

private:
	bool IsOwnColumn(Node *node) const {
		return node && IsA(node, Var) && reinterpret_cast<Var *>(node)->varno == static_cast<int>(context_.relid) &&
		       reinterpret_cast<Var *>(node)->varlevelsup == 0;
	}

	bool IsValue(Node *node) const {
		if (!node) {
			return false;
		}
		if (IsA(node, Const)) {
			return true;
		}
		if (IsA(node, Param)) {
			auto kind = reinterpret_cast<Param *>(node)->paramkind;
			return kind == PARAM_EXTERN || kind == PARAM_EXEC;
		}
		return context_.outer_vars && IsA(node, Var) && !IsOwnColumn(node) &&
		       reinterpret_cast<Var *>(node)->varlevelsup == 0;
	}

	std::optional<LakeFilter> Bool(BoolExpr *expr) {
		LakeFilter out;
		out.kind = expr->boolop == AND_EXPR  ? LakeFilter::Kind::And
		           : expr->boolop == OR_EXPR ? LakeFilter::Kind::Or
		                                     : LakeFilter::Kind::Not;
		ListCell *cell;
		foreach (cell, expr->args) {
			auto child = Node_(static_cast<Node *>(lfirst(cell)));
			if (!child) {
				return std::nullopt; // inside OR/NOT a part left out would change the result
			}
			out.children.push_back(std::move(*child));
		}
		return out;
	}

	// A leaf on a column of the scanned relation (its lake column checked at execution). any_type:
	// the column's type need not be one whose values are compared (IS NULL).
	std::optional<LakeFilter> Column(Node *node, bool any_type) {
		node = Strip(node);
		if (!node || !IsA(node, Var)) {
			return std::nullopt;
		}
		auto *var = reinterpret_cast<Var *>(node);
		if (var->varno != static_cast<int>(context_.relid) || var->varlevelsup != 0 || var->varattno <= 0) {
			return std::nullopt;
		}
		TupleDesc desc = RelationGetDescr(context_.rel);
		if (var->varattno > desc->natts) {
			return std::nullopt;
		}
		Form_pg_attribute att = TupleDescAttr(desc, var->varattno - 1);
		if (att->attisdropped || (!any_type && FamilyOf(att->atttypid) == Family::None)) {
			return std::nullopt;
		}
		type_ = att->atttypid;
		LakeFilter leaf;
		leaf.column = NameStr(att->attname);
		if (context_.table) {
			const lake::LakeColumn *lake_column = nullptr;
			for (const auto &c : context_.table->columns) {
				lake_column = c.name == leaf.column ? &c : lake_column;
			}
			if (!lake_column || (!any_type && !LakeTypeFits(type_, lake_column->type))) {
				return std::nullopt;
			}
			leaf.column_id = lake_column->column_id;
			lake_type_ = lake_column->type;
			leaf.duck_type = lake::LakeReader::DuckType(*lake_column);
			leaf.is_float = lake_type_ == "float32" || lake_type_ == "float64";
			leaf.is_text = lake_type_ == "varchar";
		}
		return leaf;
	}

	// The literal of a value operand of `type` (its expression type), or nullopt; sets known=false
	// on `leaf` when the value is not known yet.
	std::optional<std::string> Value(Node *node, LakeFilter &leaf) {
		node = Strip(node);
		if (!context_.value) {
			return std::string("$?"); // plan time: the shape is all that counts
		}
		Datum value = 0;
		bool isnull = false;
		if (!context_.value(reinterpret_cast<Expr *>(node), &value, &isnull)) {
			if (!context_.explain_only) {
				return std::nullopt;
			}
			leaf.known = false;
			return std::string("$?");
		}
		std::string literal = Literal(value, isnull, exprType(node), lake_type_);
		if (literal.empty()) {
			return std::nullopt;
		}
		return literal;
	}

	// The comparison's strategy if `opno` is a built-in btree operator between two types of one
	// family; 0 otherwise.
	int Strategy(Oid opno, Oid collation) {
		if (opno >= FirstNormalObjectId) {
			return 0;
		}
		List *interpretations = nullptr;
		PgCall([&] { interpretations = get_op_btree_interpretation(opno); });
		int strategy = 0;
		ListCell *cell;
		foreach (cell, interpretations) {
			auto *i = static_cast<OpBtreeInterpretation *>(lfirst(cell));
			if (i->opfamily_id < FirstNormalObjectId && FamilyOf(i->oplefttype) != Family::None &&
			    FamilyOf(i->oplefttype) == FamilyOf(i->oprighttype)) {
				strategy = i->strategy;
			}
		}
		if (strategy && FamilyOf(type_) == Family::Text) {
			// Equality is byte-wise under any deterministic collation; ordering only under C.
			bool ok = false;
			PgCall([&] {
				ok = OidIsValid(collation) &&
				     (strategy == BTEqualStrategyNumber ? get_collation_isdeterministic(collation)
				                                        : lc_collate_is_c(collation));
			});
			return ok ? strategy : 0;
		}
		return strategy;
	}

	std::optional<LakeFilter> Compare(OpExpr *expr) {
		if (list_length(expr->args) != 2) {
			return std::nullopt;
		}
		Node *left = Strip(static_cast<Node *>(linitial(expr->args)));
		Node *right = Strip(static_cast<Node *>(lsecond(expr->args)));
		bool commuted = false;
		if (IsValue(left) && IsOwnColumn(right)) {
			std::swap(left, right);
			commuted = true;
		}
		if (!IsValue(right)) {
			return std::nullopt;
		}
		auto leaf = Column(left, false);
		if (!leaf || FamilyOf(exprType(right)) != FamilyOf(type_)) {
			return std::nullopt;
		}
		int strategy = Strategy(expr->opno, expr->inputcollid);
		static const char *const kOps[] = {"", "<", "<=", "=", ">=", ">", "<>"};
		static const char *const kCommuted[] = {"", ">", ">=", "=", "<=", "<", "<>"};
		if (strategy < 1 || strategy > 6) {
			return std::nullopt;
		}
		leaf->kind = LakeFilter::Kind::Compare;
		leaf->op = commuted ? kCommuted[strategy] : kOps[strategy];
		auto literal = Value(right, *leaf);
		if (!literal) {
			return std::nullopt;
		}
		leaf->values = {*literal};
		return leaf;
	}

	std::optional<LakeFilter> AnyOf(ScalarArrayOpExpr *expr) {
		if (!expr->useOr || list_length(expr->args) != 2) {
			return std::nullopt;
		}
		Node *array = Strip(static_cast<Node *>(lsecond(expr->args)));
		auto leaf = Column(static_cast<Node *>(linitial(expr->args)), false);
		if (!leaf || !IsValue(array)) {
			return std::nullopt;
		}
		Oid element_type = get_element_type(exprType(array));
		if (FamilyOf(element_type) != FamilyOf(type_) ||
		    Strategy(expr->opno, expr->inputcollid) != BTEqualStrategyNumber) {
			return std::nullopt;
		}
		leaf->kind = LakeFilter::Kind::In;
		if (!context_.value) {
			return leaf;
		}
		Datum value = 0;
		bool isnull = false;
		if (!context_.value(reinterpret_cast<Expr *>(array), &value, &isnull)) {
			if (!context_.explain_only) {
				return std::nullopt;
			}
			leaf->known = false;
			leaf->values = {"$?"};
			return leaf;
		}
		if (isnull) {
			leaf->values = {"NULL"}; // = ANY(NULL) is NULL: no row
			return leaf;
		}
		Datum *elements = nullptr;
		bool *nulls = nullptr;
		int count = 0;
		PgCall([&] {
			int16 typlen;
			bool typbyval;
			char typalign;
			get_typlenbyvalalign(element_type, &typlen, &typbyval, &typalign);
			deconstruct_array(DatumGetArrayTypeP(value), element_type, typlen, typbyval, typalign, &elements, &nulls,
			                  &count);
		});
		for (int i = 0; i < count; i++) {
			std::string literal = Literal(elements[i], nulls[i], element_type, lake_type_);
			if (literal.empty()) {
				return std::nullopt;
			}
			leaf->values.push_back(literal);
		}
		return leaf;
	}

	const PushContext &context_;
	Oid type_ = InvalidOid; // the column of the last Column()
	std::string lake_type_; // its lake type (execution)
};

} // namespace

bool PushableClause(Expr *clause, const PushContext &context) {
	PushContext shape = context;
	shape.table = nullptr;
	shape.value = nullptr;
	return Translator(shape).Node_(reinterpret_cast<Node *>(clause)).has_value();
}

std::optional<LakeFilter> TranslateClauses(List *clauses, const PushContext &context) {
	LakeFilter all;
	all.kind = LakeFilter::Kind::And;
	ListCell *cell;
	foreach (cell, clauses) {
		auto leaf = Translator(context).Node_(static_cast<Node *>(lfirst(cell)));
		if (leaf) {
			all.children.push_back(std::move(*leaf));
		}
	}
	if (all.children.empty()) {
		return std::nullopt;
	}
	if (all.children.size() == 1) {
		return std::move(all.children[0]);
	}
	return all;
}

} // namespace duckpipe::ext
