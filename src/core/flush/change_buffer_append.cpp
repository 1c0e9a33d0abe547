// ChangeBuffer's appends: batches into the staging table (typed where the text has one canonical
// form, converted by DuckDB otherwise), or kept outside DuckDB until they are worth opening it for.
#include "core/flush/change_buffer.hpp"

#include "core/common/error.hpp"
#include "core/common/log.hpp"
#include "core/common/source_values.hpp"
#include "core/duck/duck_connection.hpp"
#include "core/flush/staging_appender.hpp"

#include <duckdb.h>

#include <chrono>
#include <optional>

namespace duckpipe::flush {

void ChangeBuffer::Append(const ChangeBatch &batch) {
	const ChangeBatch *one[] = {&batch};
	Append(std::span<const ChangeBatch *const>(one));
}

void ChangeBuffer::Append(std::span<const ChangeBatch *const> all) {
	std::vector<const ChangeBatch *> batches;
	for (const auto *b : all) {
		if (b->Rows() > 0) {
			batches.push_back(b);
		}
	}
	if (batches.empty()) {
		return;
	}
	ErrorContext ctx{.table = label_};
	bool seen = any_seq_;
	uint64_t last = last_seq_;
	for (const auto *b : batches) {
		const auto &batch = *b;
		if (batch.Columns() != columns_.size()) {
			throw Error(ErrorKind::Internal,
			            "change batch has " + std::to_string(batch.Columns()) + " columns, the buffer " +
			                std::to_string(columns_.size()),
			            ctx);
		}
		if (!batch.Complete()) {
			throw Error(ErrorKind::Internal, "change batch ends in an incomplete row", ctx);
		}
		if (seen && batch.Seq(0) <= last) {
			throw Error(ErrorKind::Internal,
			            "change seq " + std::to_string(batch.Seq(0)) + " is not above the buffered " +
			                std::to_string(last),
			            ctx);
		}
		seen = true;
		last = batch.Seq(batch.Rows() - 1);
		if (batch.HasUnchanged()) {
			for (size_t r = 0; r < batch.Rows(); r++) {
				for (size_t k : key_columns_) {
					if (batch.Kind(r, k) == CellKind::Unchanged) {
						throw Error(ErrorKind::Unsupported,
						            "key column \"" + columns_[k].name + "\" arrived as an unchanged TOAST value",
						            {.table = label_,
						             .hint = "a key value too large to store inline cannot be replicated; shorten it "
						                     "or set REPLICA IDENTITY FULL"});
					}
				}
			}
		}
	}
	int64_t incoming = 0;
	for (const auto *b : batches) {
		incoming += static_cast<int64_t>(b->Bytes());
	}
	if (!conn_ && deferred_bytes_ + incoming <= options_.defer_bytes) {
		for (const auto *b : batches) {
			deferred_.push_back(*b); // a copy holds no spare capacity: its Bytes() is what it keeps
			deferred_bytes_ += static_cast<int64_t>(deferred_.back().Bytes());
		}
	} else {
		AppendDeferred();
		auto started = std::chrono::steady_clock::now();
		AppendConverted(batches);
		load_ms_ += std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - started).count();
	}
	for (const auto *b : batches) {
		const auto &batch = *b;
		rows_ += batch.Rows();
		non_inserts_ = non_inserts_ || !batch.OnlyInserts();
		for (size_t r = 0; r < batch.Rows(); r++) {
			max_commit_lsn_ = std::max(max_commit_lsn_, batch.CommitLsn(r));
		}
		last_commit_lsn_ = batch.CommitLsn(batch.Rows() - 1);
	}
	any_seq_ = true;
	last_seq_ = last;
}

void ChangeBuffer::AppendDeferred() {
	if (deferred_.empty()) {
		EnsureBuffer();
		return;
	}
	auto started = std::chrono::steady_clock::now();
	EnsureBuffer();
	std::vector<const ChangeBatch *> batches;
	batches.reserve(deferred_.size());
	for (const auto &batch : deferred_) {
		batches.push_back(&batch);
	}
	AppendConverted(batches); // all-or-nothing: on failure the deferred batches stay for a retry
	deferred_.clear();
	deferred_bytes_ = 0;
	load_ms_ += std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - started).count();
}

void ChangeBuffer::AppendRows(const ChangeBatch &batch, StagingAppender &app) {
	size_t ncols = columns_.size();
	bool has_unchanged = batch.HasUnchanged();
	std::string unchanged;
	for (size_t r = 0; r < batch.Rows(); r++) {
		unchanged.clear();
		for (size_t c = 0; c < ncols; c++) {
			switch (batch.Kind(r, c)) {
			case CellKind::Text:
				app.Text(batch.Text(r, c));
				break;
			case CellKind::Null:
				app.Null();
				break;
			case CellKind::Unchanged:
				app.Null();
				if (!unchanged.empty()) {
					unchanged += ',';
				}
				unchanged += std::to_string(c);
				unchanged_columns_[c] = true;
				break;
			}
		}
		app.Int64(static_cast<int64_t>(batch.Seq(r)));
		app.UInt8(static_cast<uint8_t>(batch.Op(r)));
		if (has_unchanged && !unchanged.empty()) {
			app.Text(unchanged);
		} else {
			app.Null();
		}
		if (options_.append_mode) {
			app.Int64(static_cast<int64_t>(batch.CommitLsn(r).value));
		}
		app.EndRow();
	}
}

void ChangeBuffer::AppendConverted(std::span<const ChangeBatch *const> batches) {
	// Values in the canonical text form of their column's type are converted here and appended as
	// typed vectors; a batch holding anything else (or unchanged TOAST cells) takes the text path.
	if (typed_ && typed_->Build(batches)) {
		AppendWith(batches, typed_->Types(), typed_insert_sql_, [&](StagingAppender &app) {
			for (auto chunk : typed_->Chunks()) {
				app.Chunk(chunk);
			}
		});
		typed_appends_++;
		return;
	}
	// A query appender feeds the rows straight into the conversion INSERT, which skips materializing
	// them in a staging table (about 1.6x the throughput).
	std::vector<duckdb_type> types(columns_.size(), DUCKDB_TYPE_VARCHAR);
	types.insert(types.end(), {DUCKDB_TYPE_BIGINT, DUCKDB_TYPE_UTINYINT, DUCKDB_TYPE_VARCHAR});
	if (options_.append_mode) {
		types.push_back(DUCKDB_TYPE_BIGINT);
	}
	AppendWith(batches, types, insert_sql_, [&](StagingAppender &app) {
		for (const auto *b : batches) {
			AppendRows(*b, app);
		}
	});
}

void ChangeBuffer::AppendWith(std::span<const ChangeBatch *const> batches, const std::vector<duckdb_type> &types,
                              const std::string &sql, const std::function<void(StagingAppender &)> &fill) {
	// The transaction keeps the batches atomic even if the appender runs the INSERT more than once.
	conn_->Execute("BEGIN TRANSACTION");
	try {
		StagingAppender app(*conn_, sql, kBatchRelation, types, staging_names_, label_);
		fill(app);
		app.Close();
		conn_->Execute("COMMIT");
	} catch (...) {
		auto cause = std::current_exception();
		try {
			conn_->Execute("ROLLBACK");
		} catch (const std::exception &e) {
			// DuckDB has already ended the transaction after some failures (out of memory or disk).
			log::Debug("flush.rollback_failed", "table", label_, "error", e.what());
		}
		try {
			std::rethrow_exception(cause);
		} catch (const Error &e) {
			if (e.Kind() == ErrorKind::Io) {
				throw; // no room, not a value that does not convert: the batch is retried as it is
			}
		} catch (...) {
		}
		DiagnoseConversion(batches, cause);
	}
}

void ChangeBuffer::DiagnoseConversion(std::span<const ChangeBatch *const> batches, const std::exception_ptr &cause) {
	// DuckDB's message quotes the bad value but not the column: materialize the batches in the staging
	// table and convert each column on its own.
	try {
		StagingAppender app(*conn_, kStagingTable, label_);
		for (const auto *b : batches) {
			AppendRows(*b, app);
		}
		app.Close();
	} catch (const std::exception &e) {
		log::Warn("flush.diagnose_failed", "table", label_, "error", e.what());
		std::rethrow_exception(cause);
	}
	std::optional<Error> found;
	for (size_t i = 0; i < columns_.size() && !found; i++) {
		std::string expr = ColumnExpression(i);
		try {
			conn_->Query("SELECT count(" + expr + ") FROM " + kStagingTable);
		} catch (const Error &e) {
			// DuckDB's message quotes the value: a source value, kept out of logs unless debug.
			log::Debug("flush.conversion_failed", "table", label_, "column", columns_[i].name, "error", e.Message());
			found.emplace(ErrorKind::Unsupported,
			              "cannot convert column \"" + columns_[i].name + "\" of " + label_ + " to " +
			                  columns_[i].duck_type + ": " + SourceValueText(e.Message()),
			              ErrorContext{.table = label_,
			                           .statement = expr,
			                           .hint = "the PostgreSQL text value does not fit the lake type; fix the "
			                                   "column's type mapping (from_text) or the source value"});
		}
	}
	try {
		conn_->Execute("TRUNCATE " + std::string(kStagingTable));
	} catch (const std::exception &e) {
		log::Warn("flush.staging_truncate_failed", "table", label_, "error", e.what());
	}
	if (found) {
		throw *found;
	}
	std::rethrow_exception(cause);
}

} // namespace duckpipe::flush
