#include "extension/log_redaction.hpp"

#include "core/pg/conninfo.hpp"

#include <cstring>
#include <string>

#include "extension/pg_includes.hpp"

extern "C" {
#include "tcop/tcopprot.h"
#include "utils/memutils.h"
}

namespace duckpipe::ext {

namespace {

emit_log_hook_type previous_hook = nullptr;
// The redacted copy debug_query_string points at after a redaction (TopMemoryContext), freed at
// the next one: the server never frees debug_query_string itself, it only repoints it per query.
char *redacted_query = nullptr;

bool MayHoldSecret(const char *text) {
	return text != nullptr && (strcasestr(text, "password") != nullptr || std::strstr(text, "://") != nullptr);
}

enum class Redaction { kNone, kDone, kFailed };

// Sets `out` to `text` redacted, allocated in `context`. Runs while an error is being reported:
// neither a C++ exception nor a PostgreSQL error may leave it, so running out of memory is kFailed.
Redaction Redact(const char *text, MemoryContext context, char *&out) noexcept {
	if (!MayHoldSecret(text)) {
		return Redaction::kNone;
	}
	try {
		std::string redacted = Conninfo::RedactInText(text);
		if (redacted == text) {
			return Redaction::kNone;
		}
		auto *copy = static_cast<char *>(MemoryContextAllocExtended(context, redacted.size() + 1, MCXT_ALLOC_NO_OOM));
		if (copy == nullptr) {
			return Redaction::kFailed;
		}
		std::memcpy(copy, redacted.c_str(), redacted.size() + 1);
		out = copy;
		return Redaction::kDone;
	} catch (...) {
		return Redaction::kFailed;
	}
}

// False when the field holds a secret that could not be hidden.
bool RedactField(char *&field) {
	char *redacted = nullptr;
	switch (Redact(field, CurrentMemoryContext, redacted)) {
	case Redaction::kDone:
		field = redacted; // the old text lives in ErrorContext, freed with the error
		return true;
	case Redaction::kFailed:
		return false;
	case Redaction::kNone:
		break;
	}
	return true;
}

void RedactSecrets(ErrorData *edata) {
	if (edata->output_to_server) {
		bool no_secret_left = RedactField(edata->message);
		no_secret_left = RedactField(edata->detail) && no_secret_left;
		no_secret_left = RedactField(edata->detail_log) && no_secret_left;
		no_secret_left = RedactField(edata->context) && no_secret_left;
		no_secret_left = RedactField(edata->internalquery) && no_secret_left;
		// Out of memory with a secret in hand: the line stays out of the log (the client still gets it).
		edata->output_to_server = no_secret_left;
		char *query = nullptr;
		switch (edata->hide_stmt ? Redaction::kNone : Redact(debug_query_string, TopMemoryContext, query)) {
		case Redaction::kDone:
			if (redacted_query != nullptr) {
				pfree(redacted_query);
			}
			redacted_query = query;
			debug_query_string = query;
			break;
		case Redaction::kFailed:
			edata->hide_stmt = true;
			break;
		case Redaction::kNone:
			break;
		}
	}
	if (previous_hook != nullptr) {
		previous_hook(edata);
	}
}

} // namespace

void RegisterLogRedaction() {
	previous_hook = emit_log_hook;
	emit_log_hook = RedactSecrets;
}

} // namespace duckpipe::ext
