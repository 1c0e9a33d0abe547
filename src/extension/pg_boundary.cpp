#include "extension/pg_boundary.hpp"

#include "core/common/error.hpp"

#include "extension/pg_includes.hpp"

namespace duckpipe::ext {

namespace {
char *Copy(const std::string &text) {
	return text.empty() ? nullptr : pstrdup(text.c_str());
}

// Our error kinds as SQLSTATEs when the error carries none of its own.
int SqlStateOf(const Error &error) {
	const auto &state = error.Context().sqlstate;
	if (state.size() == 5) {
		return MAKE_SQLSTATE(state[0], state[1], state[2], state[3], state[4]);
	}
	switch (error.Kind()) {
	case ErrorKind::Config:
		return ERRCODE_INVALID_PARAMETER_VALUE;
	case ErrorKind::Unsupported:
		return ERRCODE_FEATURE_NOT_SUPPORTED;
	case ErrorKind::Connection:
		return ERRCODE_CONNECTION_FAILURE;
	case ErrorKind::Io:
		return ERRCODE_IO_ERROR;
	default:
		return ERRCODE_INTERNAL_ERROR;
	}
}
} // namespace

CaughtError CaptureCurrentException() noexcept {
	CaughtError out;
	try {
		throw;
	} catch (const PgTerminate &e) {
		out = {ERRCODE_ADMIN_SHUTDOWN, Copy(e.what()), nullptr, nullptr, true};
	} catch (const PgError &e) {
		out = {e.SqlErrCode(), Copy(e.what()), Copy(e.Detail()), Copy(e.Hint())};
	} catch (const Error &e) {
		out = {SqlStateOf(e), Copy(e.Message()), Copy(e.Context().table.empty() ? "" : "table " + e.Context().table),
		       Copy(e.Context().hint)};
	} catch (const std::exception &e) {
		out = {ERRCODE_INTERNAL_ERROR, Copy(e.what()), nullptr, nullptr};
	} catch (...) {
		out = {ERRCODE_INTERNAL_ERROR, pstrdup("unknown C++ exception in pg_duckpipe"), nullptr, nullptr};
	}
	return out;
}

void RaiseCaught(const CaughtError &error) {
	if (error.terminate) {
		CHECK_FOR_INTERRUPTS(); // exits with PostgreSQL's own message, now that no C++ frame is left
	}
	ereport(ERROR, (errcode(error.sqlerrcode), errmsg("%s", error.message ? error.message : "pg_duckpipe error"),
	                error.detail ? errdetail("%s", error.detail) : 0, error.hint ? errhint("%s", error.hint) : 0));
	pg_unreachable();
}

void PgCallImpl(void (*fn)(void *), void *arg) {
	MemoryContext caller_context = CurrentMemoryContext;
	ErrorData *volatile edata = nullptr;
	PG_TRY();
	{ fn(arg); }
	PG_CATCH();
	{
		MemoryContextSwitchTo(caller_context);
		edata = CopyErrorData();
		FlushErrorState();
	}
	PG_END_TRY();
	if (edata) {
		PgError error(edata->sqlerrcode, edata->message ? edata->message : "", edata->detail ? edata->detail : "",
		              edata->hint ? edata->hint : "");
		FreeErrorData(edata);
		throw error;
	}
}

std::string MessageOf(const std::exception &e) {
	if (const auto *error = dynamic_cast<const Error *>(&e)) {
		return error->Message();
	}
	return e.what();
}

} // namespace duckpipe::ext
