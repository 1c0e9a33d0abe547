#pragma once

#include <map>
#include <string>
#include <string_view>

namespace duckpipe {

// A libpq connection string (keyword=value or postgresql:// URI), parsed once so it can be
// rewritten (application_name, replication=database) and printed without its password.
class Conninfo {
public:
	// Throws Error(Config) naming the problem when libpq cannot parse it.
	static Conninfo Parse(const std::string &text);

	// Keyword=value form with every keyword libpq reported as set.
	std::string ToString() const;
	// The same with the password (and any other secret) replaced by "********": safe to log.
	std::string Redacted() const;
	static std::string Redact(const std::string &text); // never throws; for logging raw input
	// `text` (a SQL statement, a log line) with the password of every connection string written in
	// it replaced by "********": `password=` values, bare, quoted, or quoted inside a SQL literal
	// (''...''), and the password of a postgresql:// URI. Errs towards hiding more than the value.
	static std::string RedactInText(std::string_view text);
	// The conninfo held in a file (surrounding whitespace dropped), so a password stays out of argv.
	// Throws Error(Config) naming the file (never its contents) when it cannot be read or parsed.
	static std::string ReadFile(const std::string &path);
	// `value` as a keyword=value connection string reads it back (quoted and escaped where needed).
	static std::string QuoteValue(const std::string &value);

	std::string Get(const std::string &key) const;
	Conninfo With(const std::string &key, const std::string &value) const;
	Conninfo Without(const std::string &key) const;

private:
	std::map<std::string, std::string> params_;
};

} // namespace duckpipe
