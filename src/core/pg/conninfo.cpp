#include "core/pg/conninfo.hpp"

#include "core/common/ascii.hpp"
#include "core/common/error.hpp"

#include <libpq-fe.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <fstream>
#include <iterator>
#include <memory>
#include <utility>
#include <vector>

namespace duckpipe {

static bool IsSecret(const std::string &key) {
	return key == "password" || key == "sslpassword";
}

std::string Conninfo::QuoteValue(const std::string &value) {
	bool plain = !value.empty();
	for (char c : value) {
		if (c == ' ' || c == '\'' || c == '\\' || c == '=') {
			plain = false;
		}
	}
	if (plain) {
		return value;
	}
	std::string out = "'";
	for (char c : value) {
		if (c == '\'' || c == '\\') {
			out += '\\';
		}
		out += c;
	}
	return out + "'";
}

Conninfo Conninfo::Parse(const std::string &text) {
	char *err = nullptr;
	PQconninfoOption *opts = PQconninfoParse(text.c_str(), &err);
	if (!opts) {
		std::string msg = err ? err : "out of memory";
		PQfreemem(err);
		while (!msg.empty() && (msg.back() == '\n' || msg.back() == ' ')) {
			msg.pop_back();
		}
		throw Error(ErrorKind::Config, "invalid connection string '" + Redact(text) + "': " + msg,
		            {.hint = "use keyword=value pairs (host=... dbname=...) or a postgresql:// URI"});
	}
	std::unique_ptr<PQconninfoOption, decltype(&PQconninfoFree)> guard(opts, PQconninfoFree);
	Conninfo out;
	for (auto *o = opts; o->keyword; ++o) {
		if (o->val) {
			out.params_[o->keyword] = o->val;
		}
	}
	return out;
}

std::string Conninfo::ToString() const {
	std::string out;
	for (const auto &[k, v] : params_) {
		out += out.empty() ? "" : " ";
		out += k + "=" + QuoteValue(v);
	}
	return out;
}

std::string Conninfo::Redacted() const {
	std::string out;
	for (const auto &[k, v] : params_) {
		out += out.empty() ? "" : " ";
		out += k + "=" + (IsSecret(k) ? std::string("********") : QuoteValue(v));
	}
	return out;
}

std::string Conninfo::Redact(const std::string &text) {
	char *err = nullptr;
	PQconninfoOption *opts = PQconninfoParse(text.c_str(), &err);
	if (!opts) {
		PQfreemem(err);
		// Unparsable: never echo it, it may hold a password.
		return "<unparsable connection string>";
	}
	PQconninfoFree(opts);
	try {
		return Parse(text).Redacted();
	} catch (...) {
		return "<unparsable connection string>";
	}
}

namespace {

constexpr std::string_view kMask = "********";

bool IsSpace(char c) {
	return c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '\f' || c == '\v';
}

// Where the value that starts at `at` ends: a quote of the SQL literal holding the connection string
// (''...''), a conninfo quote ('...', backslash escapes), or else whitespace or the end of the literal.
std::pair<size_t, size_t> ValueSpan(std::string_view text, size_t at) {
	size_t n = text.size();
	if (text.substr(at, 2) == "''") {
		size_t end = at + 2;
		while (end < n && text.substr(end, 2) != "''") {
			end += text[end] == '\\' ? 2 : 1;
		}
		return {at + 2, std::min(end, n)};
	}
	if (at < n && text[at] == '\'') {
		size_t end = at + 1;
		while (end < n && text[end] != '\'') {
			end += text[end] == '\\' ? 2 : 1;
		}
		return {at + 1, std::min(end, n)};
	}
	size_t end = at;
	while (end < n && !IsSpace(text[end]) && text[end] != '\'') {
		end++;
	}
	return {at, end};
}

// Value spans of `password=` and `sslpassword=` (any case, blanks around '=').
void KeywordSecrets(std::string_view text, std::vector<std::pair<size_t, size_t>> &spans) {
	std::string lower = AsciiLower(text);
	for (size_t at = lower.find("password"); at != std::string::npos; at = lower.find("password", at + 1)) {
		size_t p = at + 8;
		while (p < text.size() && IsSpace(text[p])) {
			p++;
		}
		if (p >= text.size() || text[p] != '=') {
			continue;
		}
		p++;
		while (p < text.size() && IsSpace(text[p])) {
			p++;
		}
		spans.push_back(ValueSpan(text, p));
	}
}

// The password of each `scheme://user:password@host`.
void UriSecrets(std::string_view text, std::vector<std::pair<size_t, size_t>> &spans) {
	for (size_t at = text.find("://"); at != std::string_view::npos; at = text.find("://", at + 3)) {
		size_t begin = at + 3;
		size_t end = begin;
		while (end < text.size() && !IsSpace(text[end]) && text[end] != '/' && text[end] != '?' && text[end] != '#' &&
		       text[end] != '\'') {
			end++;
		}
		auto authority = text.substr(begin, end - begin);
		size_t userinfo_end = authority.rfind('@');
		if (userinfo_end == std::string_view::npos) {
			continue;
		}
		size_t colon = authority.find(':');
		if (colon != std::string_view::npos && colon < userinfo_end) {
			spans.emplace_back(begin + colon + 1, begin + userinfo_end);
		}
	}
}

} // namespace

std::string Conninfo::RedactInText(std::string_view text) {
	std::vector<std::pair<size_t, size_t>> spans;
	KeywordSecrets(text, spans);
	UriSecrets(text, spans);
	if (spans.empty()) {
		return std::string(text);
	}
	std::sort(spans.begin(), spans.end());
	std::string out;
	size_t copied = 0;
	for (auto [begin, end] : spans) {
		if (end <= begin) {
			continue;
		}
		if (begin < copied) {
			copied = std::max(copied, end); // overlapping spans: hidden as one
			continue;
		}
		out.append(text.substr(copied, begin - copied));
		out.append(kMask);
		copied = end;
	}
	out.append(text.substr(copied));
	return out;
}

std::string Conninfo::ReadFile(const std::string &path) {
	std::ifstream in(path, std::ios::binary);
	if (!in) {
		throw Error(
		    ErrorKind::Config, "cannot read the connection string file '" + path + "': " + std::strerror(errno),
		    {.hint = "pass a readable file holding one connection string (keyword=value or postgresql:// URI)"});
	}
	std::string text((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
	auto first = text.find_first_not_of(" \t\r\n");
	auto last = text.find_last_not_of(" \t\r\n");
	text = first == std::string::npos ? std::string() : text.substr(first, last - first + 1);
	if (text.empty()) {
		throw Error(ErrorKind::Config, "the connection string file '" + path + "' is empty",
		            {.hint = "write one connection string into it, e.g. host=... dbname=... user=..."});
	}
	try {
		Parse(text);
	} catch (const Error &e) {
		throw Error(ErrorKind::Config,
		            "the connection string file '" + path + "' does not hold a valid connection string",
		            {.hint = e.Context().hint});
	}
	return text;
}

std::string Conninfo::Get(const std::string &key) const {
	auto it = params_.find(key);
	return it == params_.end() ? std::string() : it->second;
}

Conninfo Conninfo::With(const std::string &key, const std::string &value) const {
	Conninfo out = *this;
	out.params_[key] = value;
	return out;
}

Conninfo Conninfo::Without(const std::string &key) const {
	Conninfo out = *this;
	out.params_.erase(key);
	return out;
}

} // namespace duckpipe
