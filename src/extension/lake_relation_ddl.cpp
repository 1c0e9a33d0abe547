// duckpipe._set_column_type(relation, column, type, typmod): changes the type of a lake relation's
// column in the catalog only. ALTER TABLE ... TYPE would rewrite the relation (copy every row into a
// new one), which a duckpipe_lake relation refuses: it holds no rows, the lake does. A widening the
// lake made (int4 -> int8, float4 -> float8, numeric precision) is followed this way.
#include <string>

#include "extension/lake_am.hpp"
#include "extension/pg_boundary.hpp"
#include "extension/pg_includes.hpp"

extern "C" {
#include "access/htup_details.h"
#include "access/table.h"
#include "access/toast_compression.h"
#include "catalog/indexing.h"
#include "catalog/pg_attribute.h"
#include "catalog/pg_type.h"
#include "storage/lmgr.h"
#include "utils/lsyscache.h"
#include "utils/rel.h"
#include "utils/syscache.h"

PG_FUNCTION_INFO_V1(duckpipe_set_column_type);
}

Datum duckpipe_set_column_type(PG_FUNCTION_ARGS) {
	using namespace duckpipe::ext;
	return PgBoundary([&] {
		Oid relid = PG_GETARG_OID(0);
		std::string column = NameStr(*PG_GETARG_NAME(1));
		Oid type = PG_GETARG_OID(2);
		int32 typmod = PG_GETARG_INT32(3);
		PgCall([&] {
			Relation rel = table_open(relid, AccessExclusiveLock);
			if (!IsLakeRelation(rel)) {
				ereport(ERROR, (errcode(ERRCODE_WRONG_OBJECT_TYPE),
				                errmsg("%s is not a pg_duckpipe lake relation", RelationGetRelationName(rel))));
			}
			// Built-in types only: they are pinned, so no dependency rows need to follow.
			if (type >= FirstNormalObjectId) {
				ereport(ERROR, (errcode(ERRCODE_FEATURE_NOT_SUPPORTED),
				                errmsg("cannot change column \"%s\" to a type that is not built in", column.c_str())));
			}
			Relation attributes = table_open(AttributeRelationId, RowExclusiveLock);
			HeapTuple tuple = SearchSysCacheCopyAttName(relid, column.c_str());
			if (!HeapTupleIsValid(tuple)) {
				ereport(ERROR,
				        (errcode(ERRCODE_UNDEFINED_COLUMN),
				         errmsg("column \"%s\" of %s does not exist", column.c_str(), RelationGetRelationName(rel))));
			}
			auto *att = reinterpret_cast<Form_pg_attribute>(GETSTRUCT(tuple));
			if (att->atttypid >= FirstNormalObjectId) {
				ereport(ERROR,
				        (errcode(ERRCODE_FEATURE_NOT_SUPPORTED),
				         errmsg("cannot change column \"%s\" from a type that is not built in", column.c_str())));
			}
			HeapTuple type_tuple = SearchSysCache1(TYPEOID, ObjectIdGetDatum(type));
			if (!HeapTupleIsValid(type_tuple)) {
				elog(ERROR, "cache lookup failed for type %u", type);
			}
			auto *type_form = reinterpret_cast<Form_pg_type>(GETSTRUCT(type_tuple));
			att->atttypid = type;
			att->atttypmod = typmod;
			att->attlen = type_form->typlen;
			att->attbyval = type_form->typbyval;
			att->attalign = type_form->typalign;
			att->attstorage = type_form->typstorage;
			att->attcompression = InvalidCompressionMethod;
			att->attndims = type_form->typcategory == TYPCATEGORY_ARRAY ? 1 : 0;
			ReleaseSysCache(type_tuple);
			CatalogTupleUpdate(attributes, &tuple->t_self, tuple); // also invalidates the relation's cache entry
			heap_freetuple(tuple);
			table_close(attributes, RowExclusiveLock);
			table_close(rel, NoLock);
		});
		PG_RETURN_VOID();
	});
}
