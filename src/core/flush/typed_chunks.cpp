#include "core/flush/typed_chunks.hpp"

#include "core/common/error.hpp"
#include "core/flush/pg_text_values.hpp"

namespace duckpipe::flush {

duckdb_type TextFormType(TextForm form) {
	switch (form) {
	case TextForm::Int16:
		return DUCKDB_TYPE_SMALLINT;
	case TextForm::Int32:
		return DUCKDB_TYPE_INTEGER;
	case TextForm::Int64:
		return DUCKDB_TYPE_BIGINT;
	case TextForm::Boolean:
		return DUCKDB_TYPE_BOOLEAN;
	case TextForm::Date:
		return DUCKDB_TYPE_DATE;
	case TextForm::Timestamp:
		return DUCKDB_TYPE_TIMESTAMP;
	case TextForm::TimestampTz:
		return DUCKDB_TYPE_TIMESTAMP_TZ;
	case TextForm::Sql:
	case TextForm::Text:
		break;
	}
	return DUCKDB_TYPE_VARCHAR;
}

TypedChunks::TypedChunks(std::vector<TextForm> forms, bool commit_lsn)
    : forms_(std::move(forms)), commit_lsn_(commit_lsn) {
	for (auto f : forms_) {
		types_.push_back(TextFormType(f));
	}
	types_.insert(types_.end(), {DUCKDB_TYPE_BIGINT, DUCKDB_TYPE_UTINYINT, DUCKDB_TYPE_VARCHAR});
	if (commit_lsn_) {
		types_.push_back(DUCKDB_TYPE_BIGINT);
	}
	for (auto t : types_) {
		logical_.push_back(duckdb_create_logical_type(t));
	}
}

TypedChunks::~TypedChunks() {
	Clear();
	for (auto &t : logical_) {
		duckdb_destroy_logical_type(&t);
	}
}

void TypedChunks::Clear() {
	for (auto &c : chunks_) {
		duckdb_destroy_data_chunk(&c);
	}
	chunks_.clear();
}

duckdb_data_chunk TypedChunks::NewChunk() {
	auto chunk = duckdb_create_data_chunk(logical_.data(), logical_.size());
	if (!chunk) {
		throw Error(ErrorKind::Duck, "cannot create a DuckDB data chunk for the change buffer");
	}
	chunks_.push_back(chunk);
	return chunk;
}

namespace {

// One column of the chunk being filled.
struct Target {
	duckdb_vector vector = nullptr;
	void *data = nullptr;
	uint64_t *validity = nullptr;

	void SetNull(idx_t row) {
		if (!validity) {
			duckdb_vector_ensure_validity_writable(vector);
			validity = duckdb_vector_get_validity(vector);
		}
		duckdb_validity_set_row_invalid(validity, row);
	}
	template <class T>
	T *As() {
		return static_cast<T *>(data);
	}
};

bool Convert(TextForm form, std::string_view text, Target &t, idx_t row) {
	using namespace pg_text;
	switch (form) {
	case TextForm::Int16:
		return ParseInt16(text, t.As<int16_t>()[row]);
	case TextForm::Int32:
		return ParseInt32(text, t.As<int32_t>()[row]);
	case TextForm::Int64:
		return ParseInt64(text, t.As<int64_t>()[row]);
	case TextForm::Boolean:
		return ParseBool(text, t.As<bool>()[row]);
	case TextForm::Date:
		return ParseDate(text, t.As<int32_t>()[row]);
	case TextForm::Timestamp:
		return ParseTimestamp(text, t.As<int64_t>()[row]);
	case TextForm::TimestampTz:
		return ParseTimestampTz(text, t.As<int64_t>()[row]);
	case TextForm::Text:
	case TextForm::Sql:
		// A VARCHAR vector must hold valid UTF-8; the text path's appender checks what it is given.
		if (!ValidUtf8(text)) {
			return false;
		}
		duckdb_vector_assign_string_element_len(t.vector, row, text.data(), text.size());
		return true;
	}
	return false;
}

} // namespace

bool TypedChunks::Build(std::span<const ChangeBatch *const> batches) {
	Clear();
	size_t ncols = forms_.size();
	idx_t capacity = duckdb_vector_size();
	std::vector<Target> targets(types_.size());
	duckdb_data_chunk chunk = nullptr;
	idx_t at = 0;
	auto finish = [&] {
		if (chunk) {
			duckdb_data_chunk_set_size(chunk, at);
		}
	};
	for (const auto *batch : batches) {
		if (batch->Columns() != ncols || batch->HasUnchanged()) {
			Clear();
			return false;
		}
		for (size_t r = 0; r < batch->Rows(); r++) {
			if (!chunk || at == capacity) {
				finish();
				chunk = NewChunk();
				at = 0;
				for (size_t c = 0; c < targets.size(); c++) {
					targets[c].vector = duckdb_data_chunk_get_vector(chunk, c);
					targets[c].data = duckdb_vector_get_data(targets[c].vector);
					targets[c].validity = nullptr;
				}
			}
			for (size_t c = 0; c < ncols; c++) {
				if (batch->Kind(r, c) != CellKind::Text) {
					targets[c].SetNull(at);
				} else if (!Convert(forms_[c], batch->Text(r, c), targets[c], at)) {
					Clear();
					return false;
				}
			}
			targets[ncols].As<int64_t>()[at] = static_cast<int64_t>(batch->Seq(r));
			targets[ncols + 1].As<uint8_t>()[at] = static_cast<uint8_t>(batch->Op(r));
			targets[ncols + 2].SetNull(at);
			if (commit_lsn_) {
				targets[ncols + 3].As<int64_t>()[at] = static_cast<int64_t>(batch->CommitLsn(r).value);
			}
			at++;
		}
	}
	finish();
	return true;
}

} // namespace duckpipe::flush
