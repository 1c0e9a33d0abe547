// Time travel: the settings duckpipe.as_of_snapshot and duckpipe.as_of_time, and
// duckpipe.snapshots(), the lake's snapshots with what each commit recorded (duckpipe.as_of and
// duckpipe.snapshot_at are SQL, in sql/extension/42_time_travel.sql).
#include "extension/time_travel.hpp"

#include <cctype>
#include <cerrno>
#include <cstdio>
#include <cstdlib>
#include <string>
#include <vector>

#include "core/pg/pg_connection.hpp"
#include "extension/lake_session.hpp"
#include "extension/pg_boundary.hpp"
#include "extension/pg_includes.hpp"

extern "C" {
#include "funcapi.h"
#include "utils/builtins.h"
#include "utils/datetime.h"
#include "utils/guc.h"
#include "utils/timestamp.h"
#include "utils/tuplestore.h"

PG_FUNCTION_INFO_V1(duckpipe_snapshots);
}

namespace duckpipe::ext {

namespace {

char *as_of_snapshot = nullptr;
char *as_of_time = nullptr;

std::string Trimmed(const char *value) {
	std::string text = value ? value : "";
	size_t begin = 0;
	while (begin < text.size() && std::isspace(static_cast<unsigned char>(text[begin]))) {
		begin++;
	}
	size_t end = text.size();
	while (end > begin && std::isspace(static_cast<unsigned char>(text[end - 1]))) {
		end--;
	}
	return text.substr(begin, end - begin);
}

// "" and "-1" read the latest snapshot.
bool SnapshotIsSet(const std::string &text) {
	return !text.empty() && text != "-1";
}

bool ParseSnapshotId(const std::string &text, int64_t &out) {
	if (text.empty() || !std::isdigit(static_cast<unsigned char>(text[0]))) {
		return false;
	}
	errno = 0;
	char *end = nullptr;
	long long value = std::strtoll(text.c_str(), &end, 10);
	if (errno != 0 || *end != '\0') {
		return false;
	}
	out = value;
	return true;
}

bool CheckAsOfSnapshot(char **newval, void **, GucSource) {
	std::string text = Trimmed(*newval);
	int64_t id = 0;
	if (!SnapshotIsSet(text) || ParseSnapshotId(text, id)) {
		return true;
	}
	GUC_check_errmsg("invalid value for duckpipe.as_of_snapshot: \"%s\"", *newval);
	GUC_check_errhint("a lake snapshot id (SELECT * FROM duckpipe.snapshots() lists them), or -1 or '' to read the "
	                  "latest snapshot");
	return false;
}

// Parsed as timestamptz_in does, without raising (a check hook must not).
bool CheckAsOfTime(char **newval, void **, GucSource) {
	std::string text = Trimmed(*newval);
	if (text.empty() || session_timezone == nullptr) {
		return true;
	}
	char workbuf[MAXDATELEN + MAXDATEFIELDS];
	char *field[MAXDATEFIELDS];
	int ftype[MAXDATEFIELDS];
	int nf = 0;
	int dtype = 0;
	int tz = 0;
	struct pg_tm tm;
	fsec_t fsec = 0;
	int err = ParseDateTime(text.c_str(), workbuf, sizeof(workbuf), field, ftype, MAXDATEFIELDS, &nf);
	if (err == 0) {
		err = DecodeDateTime(field, ftype, nf, &dtype, &tm, &fsec, &tz);
	}
	if (err == 0) {
		return true;
	}
	GUC_check_errmsg("invalid value for duckpipe.as_of_time: \"%s\"", *newval);
	GUC_check_errhint("a timestamp with time zone such as '2026-05-01 12:00:00+00', or '' to read the latest snapshot");
	return false;
}

std::string ListingHint(const char *setting) {
	return std::string("SELECT * FROM duckpipe.snapshots() lists the lake's snapshots; RESET ") + setting +
	       " to read the latest";
}

} // namespace

void DefineTimeTravelGucs() {
	DefineCustomStringVariable(
	    "duckpipe.as_of_snapshot", "The lake snapshot that reads of lake relations see in this session.",
	    "A snapshot id (duckpipe.snapshots() lists them); -1 or empty: the latest. duckpipe.as_of() sets it for "
	    "one transaction.",
	    &as_of_snapshot, "-1", PGC_USERSET, 0, CheckAsOfSnapshot, nullptr, nullptr);
	DefineCustomStringVariable("duckpipe.as_of_time",
	                           "Reads of lake relations see the lake as of this time (its latest snapshot then).",
	                           "A timestamp with time zone; empty: the latest snapshot. duckpipe.as_of() sets it for "
	                           "one transaction.",
	                           &as_of_time, "", PGC_USERSET, 0, CheckAsOfTime, nullptr, nullptr);
}

std::string UtcTimestampText(int64_t timestamptz) {
	TimestampTz ts = timestamptz;
	if (TIMESTAMP_IS_NOBEGIN(ts)) {
		return "-infinity";
	}
	if (TIMESTAMP_IS_NOEND(ts)) {
		return "infinity";
	}
	struct pg_tm tm;
	fsec_t fsec = 0;
	int failed = 0;
	PgCall([&] { failed = timestamp2tm(ts, nullptr, &tm, &fsec, nullptr, nullptr); });
	if (failed != 0) {
		throw PgError(ERRCODE_DATETIME_VALUE_OUT_OF_RANGE, "timestamp out of range", "", "");
	}
	char out[96];
	int year = tm.tm_year > 0 ? tm.tm_year : -(tm.tm_year - 1);
	snprintf(out, sizeof(out), "%04d-%02d-%02d %02d:%02d:%02d.%06d+00%s", year, tm.tm_mon, tm.tm_mday, tm.tm_hour,
	         tm.tm_min, tm.tm_sec, static_cast<int>(fsec), tm.tm_year > 0 ? "" : " BC");
	return out;
}

lake::SnapshotSelector SessionSnapshot() {
	std::string snapshot = Trimmed(as_of_snapshot);
	std::string time = Trimmed(as_of_time);
	if (SnapshotIsSet(snapshot) && !time.empty()) {
		throw PgError(ERRCODE_INVALID_PARAMETER_VALUE, "duckpipe.as_of_snapshot and duckpipe.as_of_time are both set",
		              "duckpipe.as_of_snapshot = '" + snapshot + "', duckpipe.as_of_time = '" + time + "'",
		              "RESET one of them: a read sees either a snapshot id or the lake as of a time");
	}
	if (SnapshotIsSet(snapshot)) {
		int64_t id = 0;
		if (!ParseSnapshotId(snapshot, id)) { // the check hook let it through: cannot happen
			throw PgError(ERRCODE_INVALID_PARAMETER_VALUE, "invalid value for duckpipe.as_of_snapshot: " + snapshot, "",
			              ListingHint("duckpipe.as_of_snapshot"));
		}
		auto selector = lake::SnapshotSelector::Id(id);
		selector.origin = "duckpipe.as_of_snapshot";
		selector.hint = ListingHint("duckpipe.as_of_snapshot");
		return selector;
	}
	if (!time.empty()) {
		// Read in this session's TimeZone, handed to the catalog in UTC.
		TimestampTz ts = 0;
		PgCall([&] {
			ts = DatumGetTimestampTz(DirectFunctionCall3(timestamptz_in, CStringGetDatum(time.c_str()),
			                                             ObjectIdGetDatum(InvalidOid), Int32GetDatum(-1)));
		});
		auto selector = lake::SnapshotSelector::AsOf(UtcTimestampText(ts));
		selector.origin = "duckpipe.as_of_time = '" + time + "'";
		selector.hint = "the lake has no snapshot that old: " + ListingHint("duckpipe.as_of_time");
		return selector;
	}
	return lake::SnapshotSelector::Latest();
}

} // namespace duckpipe::ext

// duckpipe.snapshots(): every snapshot of the lake, oldest first, with its commit's author, message
// and extra info (the pipeline's records how far the source had got: see CommitProvenance).
Datum duckpipe_snapshots(PG_FUNCTION_ARGS) {
	using namespace duckpipe;
	using namespace duckpipe::ext;
	return PgBoundary([&] {
		auto settings = LakeSettings::Location();
		std::vector<std::vector<std::optional<std::string>>> rows;
		{
			PgConnection conn(settings.catalog_conninfo,
			                  PgConnection::Options{.application_name = "pg_duckpipe lake reader"});
			std::string schema = conn.QuoteIdent(settings.catalog_schema);
			auto exists = conn.Exec("SELECT to_regclass($1) IS NOT NULL", {schema + ".ducklake_snapshot"});
			if (exists.GetBool(0, 0)) {
				auto r = conn.Exec("SELECT s.snapshot_id::text, "
				                   "to_char(s.snapshot_time AT TIME ZONE 'UTC', 'YYYY-MM-DD HH24:MI:SS.US') || '+00', "
				                   "s.schema_version::text, c.changes_made, c.author, c.commit_message, "
				                   "c.commit_extra_info FROM " +
				                   schema + ".ducklake_snapshot s LEFT JOIN " + schema +
				                   ".ducklake_snapshot_changes c USING (snapshot_id) ORDER BY s.snapshot_id");
				for (int i = 0; i < r.Rows(); i++) {
					std::vector<std::optional<std::string>> row;
					row.reserve(7);
					for (int c = 0; c < 7; c++) {
						row.push_back(r.GetOptional(i, c));
					}
					rows.push_back(std::move(row));
				}
			}
		}
		PgCall([&] {
			InitMaterializedSRF(fcinfo, MAT_SRF_USE_EXPECTED_DESC);
			auto *rsinfo = reinterpret_cast<ReturnSetInfo *>(fcinfo->resultinfo);
			AttInMetadata *meta = TupleDescGetAttInMetadata(rsinfo->setDesc);
			for (auto &row : rows) {
				char *values[7];
				for (int c = 0; c < 7; c++) {
					values[c] = row[c] ? const_cast<char *>(row[c]->c_str()) : nullptr;
				}
				HeapTuple tuple = BuildTupleFromCStrings(meta, values);
				tuplestore_puttuple(rsinfo->setResult, tuple);
				CHECK_FOR_INTERRUPTS();
			}
		});
		return static_cast<Datum>(0);
	});
}
