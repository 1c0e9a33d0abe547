#include "core/flush/change_buffer.hpp"

#include "core/common/ascii.hpp"
#include "core/common/error.hpp"
#include "core/common/log.hpp"
#include "core/common/private_dir.hpp"
#include "core/common/source_values.hpp"
#include "core/duck/duck_connection.hpp"
#include "core/duck/duck_database.hpp"
#include "core/duck/duck_sandbox.hpp"
#include "core/flush/staging_appender.hpp"

#include <duckdb.h>

#include <cerrno>
#include <chrono>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <map>
#include <optional>
#include <set>

namespace duckpipe::flush {

namespace {

using Q = DuckConnection;

// DuckDB matches identifiers case-insensitively, even quoted ones.
bool IsReservedName(const std::string &name) {
	std::string n = AsciiLower(name);
	return n == "_seq" || n == "_op" || n == "_unchanged" || n == "_commit_lsn" || n.starts_with("_lookup_key_");
}

std::string ReplaceAll(std::string text, std::string_view token, const std::string &with) {
	size_t pos = 0;
	while ((pos = text.find(token, pos)) != std::string::npos) {
		text.replace(pos, token.size(), with);
		pos += with.size();
	}
	return text;
}

std::string StagingColumn(size_t col) {
	return "c" + std::to_string(col);
}

// Whether a column's form converts to exactly its DuckDB type (a mismatched pair is converted by SQL).
bool FormFits(const BufferColumn &c) {
	std::string t = AsciiLower(c.duck_type);
	switch (c.form) {
	case TextForm::Int16:
		return t == "smallint";
	case TextForm::Int32:
		return t == "integer";
	case TextForm::Int64:
		return t == "bigint";
	case TextForm::Boolean:
		return t == "boolean";
	case TextForm::Text:
		return t == "varchar";
	case TextForm::Date:
		return t == "date";
	case TextForm::Timestamp:
		return t == "timestamp";
	case TextForm::TimestampTz:
		return t == "timestamp with time zone" || t == "timestamptz";
	case TextForm::Sql:
		break;
	}
	return false;
}

std::string SanitizeLabel(const std::string &label) {
	std::string out;
	for (char c : label) {
		bool ok = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '_' || c == '.';
		out += ok ? c : '_';
		if (out.size() >= 40) {
			break;
		}
	}
	return out.empty() ? "table" : out;
}

} // namespace

ChangeBuffer::ChangeBuffer(std::string table_label, std::vector<BufferColumn> columns, ChangeBufferOptions options)
    : label_(std::move(table_label)), columns_(std::move(columns)), options_(std::move(options)) {
	if (options_.buffer_memory_mb <= 0 || options_.flush_memory_mb <= 0 || options_.threads <= 0) {
		throw Error(ErrorKind::Config, "change buffer memory limits and threads must be positive", {.table = label_});
	}
	Configure();
	unchanged_columns_.assign(columns_.size(), false);
}

void ChangeBuffer::SetResources(int64_t buffer_memory_mb, int64_t flush_memory_mb, int threads) {
	if (buffer_memory_mb > 0 && flush_memory_mb > 0 && threads > 0) {
		options_.buffer_memory_mb = buffer_memory_mb;
		options_.flush_memory_mb = flush_memory_mb;
		options_.threads = threads;
	}
}

void ChangeBuffer::Configure() {
	ErrorContext ctx{.table = label_};
	if (columns_.empty()) {
		throw Error(ErrorKind::Config, "change buffer for " + label_ + " has no columns", ctx);
	}
	std::set<std::string> names;
	key_columns_.clear();
	for (size_t i = 0; i < columns_.size(); i++) {
		const auto &c = columns_[i];
		if (c.name.empty() || c.duck_type.empty()) {
			throw Error(ErrorKind::Config, "change buffer column " + std::to_string(i) + " has no name or type", ctx);
		}
		if (IsReservedName(c.name)) {
			throw Error(ErrorKind::Config, "column name \"" + c.name + "\" is reserved by the change buffer",
			            {.table = label_, .hint = "rename the column in the target (lake) mapping"});
		}
		if (!names.insert(AsciiLower(c.name)).second) {
			throw Error(ErrorKind::Config, "duplicate change buffer column \"" + c.name + "\"",
			            {.table = label_,
			             .hint = "DuckDB compares column names case-insensitively; rename one of "
			                     "the columns in the target (lake) mapping"});
		}
		if (!c.from_text.empty() && c.from_text.find("{}") == std::string::npos) {
			throw Error(ErrorKind::Config,
			            "from_text of column \"" + c.name + "\" does not reference its input: " + c.from_text,
			            {.table = label_, .hint = "write {} where the text value goes, e.g. CAST({} AS INTEGER)"});
		}
		if (c.key) {
			key_columns_.push_back(i);
		}
	}
	if (key_columns_.empty() && !options_.append_mode) {
		throw Error(ErrorKind::Config, "change buffer for " + label_ + " has no key column",
		            {.table = label_, .hint = "mark the primary key / replica identity columns, or use append mode"});
	}
	staging_names_.clear();
	for (size_t i = 0; i < columns_.size(); i++) {
		staging_names_.push_back(StagingColumn(i));
	}
	staging_names_.insert(staging_names_.end(), {"_seq", "_op", "_unchanged"});
	if (options_.append_mode) {
		staging_names_.emplace_back("_commit_lsn");
	}

	// Columns by name: after source DDL the buffer table's physical order differs from columns_.
	std::string target;
	std::string sql = " SELECT ";
	for (size_t i = 0; i < columns_.size(); i++) {
		target += Q::QuoteIdent(columns_[i].name) + ", ";
		sql += ColumnExpression(i) + ", ";
	}
	target += "_seq, _op, _unchanged";
	sql += "_seq, _op, CASE WHEN _unchanged IS NULL THEN NULL ELSE "
	       "CAST(string_split(_unchanged, ',') AS USMALLINT[]) END";
	if (options_.append_mode) {
		target += ", _commit_lsn";
		sql += ", _commit_lsn";
	}
	insert_sql_ = "INSERT INTO " + std::string(kBufferTable) + " (" + target + ")" + sql + " FROM " + kBatchRelation;

	// Columns whose form matches their DuckDB type arrive converted: the statement takes them as they are.
	std::vector<TextForm> forms;
	std::string typed = " SELECT ";
	bool any = false;
	for (size_t i = 0; i < columns_.size(); i++) {
		TextForm f = FormFits(columns_[i]) ? columns_[i].form : TextForm::Sql;
		any = any || f != TextForm::Sql;
		forms.push_back(f);
		typed += (f == TextForm::Sql ? ColumnExpression(i) : Q::QuoteIdent(StagingColumn(i))) + ", ";
	}
	typed_.reset();
	typed_insert_sql_.clear();
	if (any) {
		typed_ = std::make_unique<TypedChunks>(std::move(forms), options_.append_mode);
		// _unchanged is always NULL on this path.
		typed_insert_sql_ = "INSERT INTO " + std::string(kBufferTable) + " (" + target + ")" + typed +
		                    "_seq, _op, CAST(NULL AS USMALLINT[])" + (options_.append_mode ? ", _commit_lsn" : "") +
		                    " FROM " + kBatchRelation;
	}
}

std::string ChangeBuffer::StagingTableSql() const {
	std::string staging = "CREATE OR REPLACE TABLE " + std::string(kStagingTable) + " (";
	for (size_t i = 0; i < columns_.size(); i++) {
		staging += Q::QuoteIdent(StagingColumn(i)) + " VARCHAR, ";
	}
	staging += "_seq BIGINT, _op UTINYINT, _unchanged VARCHAR";
	if (options_.append_mode) {
		staging += ", _commit_lsn BIGINT";
	}
	return staging + ")";
}

ChangeBuffer::~ChangeBuffer() {
	Close();
}

std::string ChangeBuffer::ColumnExpression(size_t col) const {
	const auto &c = columns_[col];
	std::string input = Q::QuoteIdent(StagingColumn(col));
	if (c.from_text.empty()) {
		return "CAST(" + input + " AS " + c.duck_type + ")";
	}
	return "CAST((" + ReplaceAll(c.from_text, "{}", input) + ") AS " + c.duck_type + ")";
}

std::string ChangeBuffer::MemoryLimit(int64_t mb) const {
	return std::to_string(mb) + "MiB";
}

void ChangeBuffer::EnsureBuffer() {
	if (!conn_) {
		Open();
	}
}

void ChangeBuffer::Open() {
	dir_ = PrivateDirectory(options_.temp_dir, kBufferDirPrefix + SanitizeLabel(label_) + "-", label_);
	try {
		// An in-memory database spills its tables to temp_directory beyond memory_limit (verified with
		// DuckDB 1.4.4: 1M rows in 16 MiB), so no database file is needed.
		std::map<std::string, std::string> config{{"memory_limit", MemoryLimit(options_.buffer_memory_mb)},
		                                          {"temp_directory", dir_.Path() + "/spill"},
		                                          {"threads", std::to_string(options_.threads)},
		                                          {"preserve_insertion_order", "false"}};
		if (options_.temp_max_mb > 0) {
			config["max_temp_directory_size"] = MemoryLimit(options_.temp_max_mb);
		}
		db_ = std::make_unique<DuckDatabase>("", config);
		conn_ = db_->Connect();
		DuckSandbox sandbox{.directories = options_.lake_directories, .lock_configuration = false};
		sandbox.directories.push_back(dir_.Path());
		sandbox.Lock(*conn_);
		std::string buffer = "CREATE TABLE " + std::string(kBufferTable) + " (";
		for (const auto &c : columns_) {
			buffer += Q::QuoteIdent(c.name) + " " + c.duck_type + ", ";
		}
		buffer += "_seq BIGINT, _op UTINYINT, _unchanged USMALLINT[]";
		if (options_.append_mode) {
			buffer += ", _commit_lsn BIGINT";
		}
		conn_->Execute(StagingTableSql());
		conn_->Execute(buffer + ")");
	} catch (...) {
		Close();
		throw;
	}
	log::Debug("flush.buffer_open", "table", label_, "dir", dir_.Path());
}

void ChangeBuffer::Close() noexcept {
	conn_.reset();
	db_.reset();
	if (!dir_.Empty()) {
		std::string dir = dir_.Path();
		auto failure = dir_.Remove();
		if (!failure.empty()) {
			log::Warn("flush.buffer_dir_remove_failed", "table", label_, "dir", dir, "error", failure);
		}
	}
}

void ChangeBuffer::ResetCounters() {
	rows_ = 0;
	load_ms_ = 0;
	non_inserts_ = false;
	last_commit_lsn_ = kInvalidLsn;
	max_commit_lsn_ = kInvalidLsn;
	unchanged_columns_.assign(columns_.size(), false);
}

void ChangeBuffer::Clear() noexcept {
	Close();
	deferred_.clear();
	deferred_bytes_ = 0;
	ResetCounters();
	any_seq_ = false;
	last_seq_ = 0;
}

void ChangeBuffer::DropRelation(const std::string &relation, bool is_view) noexcept {
	if (!conn_) {
		return;
	}
	try {
		conn_->Execute(std::string(is_view ? "DROP VIEW IF EXISTS " : "DROP TABLE IF EXISTS ") + relation);
	} catch (const std::exception &e) {
		log::Warn("flush.drop_relation_failed", "table", label_, "relation", relation, "error", e.what());
	}
}

std::string ChangeBuffer::CompactionSql() const {
	std::string buffer = kBufferTable;
	std::vector<size_t> fill;
	for (size_t i = 0; i < columns_.size(); i++) {
		if (unchanged_columns_[i] && !columns_[i].key) {
			fill.push_back(i);
		}
	}
	std::string key_list;
	for (size_t k : key_columns_) {
		key_list += (key_list.empty() ? "" : ", ") + Q::QuoteIdent(columns_[k].name);
	}
	// _seq is unique per table, so the last change of every key is the row holding its max(_seq);
	// a hash aggregate plus a semi join both spill, unlike a full sort.
	std::string survivors =
	    "SELECT * FROM " + buffer + " WHERE _seq IN (SELECT max(_seq) FROM " + buffer + " GROUP BY " + key_list + ")";
	std::string sql = "CREATE OR REPLACE TABLE " + std::string(kCompactedRelation) + " AS ";
	if (fill.empty()) {
		sql += "SELECT ";
		for (const auto &c : columns_) {
			sql += Q::QuoteIdent(c.name) + ", ";
		}
		return sql + "_seq, chr(_op) AS _op, _unchanged FROM (" + survivors + ")";
	}
	// Unchanged TOAST cells of a surviving row take the value its key last carried: walk back from
	// the row to the latest earlier non-delete change of its lookup key, and on while that change
	// left the value unsent too. The lookup key is the row's own, except for a row an UPDATE moved
	// to a new key ('M'): its values belong to the old key, carried by the Delete just before it.
	auto key_expr = [&](const std::string &alias, size_t n) {
		return alias + "." + Q::QuoteIdent(columns_[key_columns_[n]].name);
	};
	std::string lookup = "SELECT r._seq";
	std::string lookup_match;
	for (size_t n = 0; n < key_columns_.size(); n++) {
		std::string lk = "_lk" + std::to_string(n);
		lookup += ", CASE WHEN r._op = 77 THEN " + key_expr("d", n) + " ELSE " + key_expr("r", n) + " END AS " + lk;
		lookup_match +=
		    std::string(lookup_match.empty() ? "" : " AND ") + key_expr("b", n) + " IS NOT DISTINCT FROM l." + lk;
	}
	lookup += " FROM " + buffer + " r LEFT JOIN " + buffer +
	          " d ON r._op = 77 AND d._seq = r._seq - 1 WHERE r._unchanged IS NOT NULL";
	std::string chain = "SELECT _seq AS _pseq, _seq AS _cseq FROM survivors WHERE _unchanged IS NOT NULL UNION ALL "
	                    "SELECT c._pseq, (SELECT max(b._seq) FROM " +
	                    buffer + " b WHERE b._op <> 68 AND b._seq < c._cseq AND " + lookup_match +
	                    ") FROM chain c JOIN lookup l ON l._seq = c._cseq";
	std::string fill_select = "SELECT c._pseq, min(b._seq) AS _tseq";
	for (size_t i : fill) {
		fill_select += ", arg_max({'v': b." + Q::QuoteIdent(columns_[i].name) +
		               "}, CASE WHEN NOT coalesce(list_contains(b._unchanged, CAST(" + std::to_string(i) +
		               " AS USMALLINT)), false) THEN b._seq END) AS f" + std::to_string(i);
	}
	fill_select += " FROM chain c JOIN " + buffer + " b ON b._seq = c._cseq GROUP BY c._pseq";
	std::string select = "SELECT ";
	std::string rest = "list_concat([]::USMALLINT[]";
	for (size_t i = 0; i < columns_.size(); i++) {
		std::string q = Q::QuoteIdent(columns_[i].name);
		if (unchanged_columns_[i] && !columns_[i].key) {
			std::string f = "f.f" + std::to_string(i);
			std::string is_unchanged =
			    "coalesce(list_contains(s._unchanged, CAST(" + std::to_string(i) + " AS USMALLINT)), false)";
			select.append("CASE WHEN ").append(is_unchanged).append(" AND ").append(f);
			select.append(" IS NOT NULL THEN struct_extract(").append(f).append(", 'v') ELSE s.").append(q);
			select.append(" END AS ").append(q).append(", ");
			rest.append(", CASE WHEN ").append(is_unchanged).append(" AND ").append(f);
			rest.append(" IS NULL THEN [CAST(").append(std::to_string(i));
			rest.append(" AS USMALLINT)] ELSE []::USMALLINT[] END");
		} else {
			select += "s." + q + ", ";
		}
	}
	select +=
	    "s._seq, chr(s._op) AS _op, CASE WHEN s._unchanged IS NULL THEN NULL ELSE " + rest + ") END AS _unchanged";
	// Where the rest comes from the lake, the apply step looks it up under the lookup key of the
	// chain's last (earliest) change.
	for (size_t n = 0; n < key_columns_.size(); n++) {
		std::string lk = "_lk" + std::to_string(n);
		select += ", coalesce(t." + lk + ", " + key_expr("s", n) + ") AS " +
		          Q::QuoteIdent(std::string(kLookupPrefix) + std::to_string(n));
	}
	select += " FROM survivors s LEFT JOIN fill f ON f._pseq = s._seq LEFT JOIN lookup t ON t._seq = f._tseq";
	return sql + "WITH RECURSIVE survivors AS (" + survivors + "), lookup AS (" + lookup + "), chain AS (" + chain +
	       "), fill AS (" + fill_select +
	       ") SELECT * REPLACE (CASE WHEN len(_unchanged) = 0 THEN NULL ELSE _unchanged END AS _unchanged) FROM (" +
	       select + ")";
}

std::string ChangeBuffer::BuildRelation() {
	std::string cols;
	for (const auto &c : columns_) {
		cols += Q::QuoteIdent(c.name) + ", ";
	}
	if (options_.append_mode) {
		conn_->Execute("CREATE OR REPLACE VIEW " + std::string(kChangesRelation) + " AS SELECT " + cols +
		               "_seq, chr(_op) AS _op, _unchanged, _commit_lsn FROM " + kBufferTable);
		return kChangesRelation;
	}
	if (!non_inserts_) {
		// Inserts only: every key appears once, so the buffer already is the compacted relation.
		conn_->Execute("CREATE OR REPLACE VIEW " + std::string(kCompactedRelation) + " AS SELECT " + cols +
		               "_seq, chr(_op) AS _op, _unchanged FROM " + kBufferTable);
	} else {
		conn_->Execute(CompactionSql());
	}
	return kCompactedRelation;
}

int64_t ChangeBuffer::MemoryBytes() noexcept {
	if (!conn_) {
		return deferred_bytes_;
	}
	try {
		auto r = conn_->Query("SELECT coalesce(sum(memory_usage_bytes), 0)::BIGINT FROM duckdb_memory()");
		return r.Rows() == 1 ? r.GetInt(0, 0) : 0;
	} catch (...) {
		return 0; // a figure for monitoring: never a reason to fail the buffer
	}
}

void ChangeBuffer::Flush(const ApplyFunction &apply) {
	if (rows_ == 0) {
		Close();
		return;
	}
	AppendDeferred();
	Compacted out;
	out.only_inserts = !non_inserts_;
	out.max_commit_lsn = max_commit_lsn_;
	out.append_mode = options_.append_mode;
	for (const auto &c : columns_) {
		out.value_columns.push_back(c.name);
	}
	bool filled = false;
	for (size_t i = 0; i < columns_.size(); i++) {
		filled = filled || (unchanged_columns_[i] && !columns_[i].key);
	}
	if (non_inserts_ && filled && !options_.append_mode) {
		for (size_t n = 0; n < key_columns_.size(); n++) {
			out.lookup_columns.push_back(std::string(kLookupPrefix) + std::to_string(n));
		}
	}
	bool is_view = options_.append_mode || !non_inserts_;
	std::string relation = options_.append_mode ? kChangesRelation : kCompactedRelation;
	try {
		auto started = std::chrono::steady_clock::now();
		conn_->Execute("SET memory_limit = " + Q::QuoteLiteral(MemoryLimit(options_.flush_memory_mb)));
		out.relation = BuildRelation();
		auto stats = conn_->Query("SELECT count(*), count(*) FILTER (WHERE _op = 'D'), count(*) FILTER (WHERE "
		                          "_unchanged IS NOT NULL) FROM " +
		                          out.relation);
		out.rows = static_cast<uint64_t>(stats.GetInt(0, 0));
		out.deletes = static_cast<uint64_t>(stats.GetInt(1, 0));
		out.unchanged_rows = static_cast<uint64_t>(stats.GetInt(2, 0));
		out.load_ms = load_ms_;
		out.compact_ms = std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - started).count();
		apply(*conn_, out);
	} catch (...) {
		// Leave the buffer as it was so the flush can be retried.
		try {
			conn_->Execute("ROLLBACK");
		} catch (...) {
			// no transaction was open
		}
		DropRelation(relation, is_view);
		try {
			conn_->Execute("SET memory_limit = " + Q::QuoteLiteral(MemoryLimit(options_.buffer_memory_mb)));
		} catch (const std::exception &e) {
			log::Warn("flush.memory_limit_reset_failed", "table", label_, "error", e.what());
		}
		throw;
	}
	log::Debug("flush.buffer_flushed", "table", label_, "buffered", rows_, "rows", out.rows, "deletes", out.deletes);
	Close();
	ResetCounters();
}

} // namespace duckpipe::flush
