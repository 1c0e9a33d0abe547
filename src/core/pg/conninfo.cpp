#include "core/pg/conninfo.hpp"

#include "core/common/error.hpp"

#include <libpq-fe.h>

#include <cerrno>
#include <cstring>
#include <fstream>
#include <iterator>
#include <memory>

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
