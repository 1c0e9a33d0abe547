#include "core/common/error.hpp"

namespace duckpipe {

const char *ErrorKindName(ErrorKind kind) {
	switch (kind) {
	case ErrorKind::Config:
		return "config";
	case ErrorKind::Connection:
		return "connection";
	case ErrorKind::Source:
		return "source";
	case ErrorKind::Protocol:
		return "protocol";
	case ErrorKind::Lake:
		return "lake";
	case ErrorKind::Conflict:
		return "conflict";
	case ErrorKind::Duck:
		return "duckdb";
	case ErrorKind::Io:
		return "io";
	case ErrorKind::Unsupported:
		return "unsupported";
	case ErrorKind::Internal:
		return "internal";
	}
	return "unknown";
}

static std::string Compose(const std::string &message, const ErrorContext &ctx) {
	std::string out = message;
	std::string details;
	auto add = [&details](const char *key, const std::string &value) {
		if (value.empty()) {
			return;
		}
		details += details.empty() ? "" : ", ";
		details += key;
		details += "=";
		details += value;
	};
	add("table", ctx.table);
	if (ctx.lsn) {
		add("lsn", ctx.lsn->ToString());
	}
	add("sqlstate", ctx.sqlstate);
	if (!details.empty()) {
		out += " (" + details + ")";
	}
	if (!ctx.hint.empty()) {
		out += ". Hint: " + ctx.hint;
	}
	return out;
}

Error::Error(ErrorKind kind, const std::string &message, ErrorContext context)
    : std::runtime_error(Compose(message, context)), kind_(kind), message_(message), context_(std::move(context)) {}

bool Error::Retryable() const {
	if (kind_ == ErrorKind::Conflict || kind_ == ErrorKind::Connection) {
		return true;
	}
	// serialization_failure, deadlock_detected, and the connection-exception class.
	const auto &s = context_.sqlstate;
	return s == "40001" || s == "40P01" || s.starts_with("08");
}

} // namespace duckpipe
