#include "core/duck/duck_numeric_div.hpp"

#include "core/common/numeric_div.hpp"
#include "core/duck/duck_connection.hpp"

#include <string>

#include <duckdb.h>

namespace duckpipe {

namespace {

constexpr const char *kDivisionByZero = "duckpipe_numeric_div: division by zero";

std::string_view TextAt(duckdb_string_t *data, idx_t row) {
	return {duckdb_string_t_data(&data[row]), duckdb_string_t_length(data[row])};
}

// Runs on DuckDB's threads: no exception may leave it.
void Divide(duckdb_function_info info, duckdb_data_chunk input, duckdb_vector output) noexcept {
	try {
		idx_t rows = duckdb_data_chunk_get_size(input);
		duckdb_vector a = duckdb_data_chunk_get_vector(input, 0);
		duckdb_vector b = duckdb_data_chunk_get_vector(input, 1);
		auto *a_data = static_cast<duckdb_string_t *>(duckdb_vector_get_data(a));
		auto *b_data = static_cast<duckdb_string_t *>(duckdb_vector_get_data(b));
		uint64_t *a_valid = duckdb_vector_get_validity(a);
		uint64_t *b_valid = duckdb_vector_get_validity(b);
		std::string out;
		for (idx_t row = 0; row < rows; row++) {
			if ((a_valid && !duckdb_validity_row_is_valid(a_valid, row)) ||
			    (b_valid && !duckdb_validity_row_is_valid(b_valid, row))) {
				duckdb_vector_ensure_validity_writable(output); // strict, as numeric_div is
				duckdb_validity_set_row_invalid(duckdb_vector_get_validity(output), row);
				continue;
			}
			switch (NumericDiv::Divide(TextAt(a_data, row), TextAt(b_data, row), out)) {
			case NumericDiv::Status::Ok:
				duckdb_vector_assign_string_element_len(output, row, out.data(), out.size());
				break;
			case NumericDiv::Status::DivisionByZero:
				duckdb_scalar_function_set_error(info, kDivisionByZero);
				return;
			case NumericDiv::Status::InvalidInput:
				duckdb_scalar_function_set_error(
				    info, ("duckpipe_numeric_div: not an exact number: " + std::string(TextAt(a_data, row)) + " / " +
				           std::string(TextAt(b_data, row)))
				              .c_str());
				return;
			}
		}
	} catch (const std::exception &e) {
		duckdb_scalar_function_set_error(info, e.what());
	} catch (...) {
		duckdb_scalar_function_set_error(info, "duckpipe_numeric_div failed");
	}
}

} // namespace

void DuckNumericDiv::Register(DuckConnection &duck) {
	duckdb_scalar_function function = duckdb_create_scalar_function();
	duckdb_scalar_function_set_name(function, "duckpipe_numeric_div");
	duckdb_logical_type varchar = duckdb_create_logical_type(DUCKDB_TYPE_VARCHAR);
	duckdb_scalar_function_add_parameter(function, varchar);
	duckdb_scalar_function_add_parameter(function, varchar);
	duckdb_scalar_function_set_return_type(function, varchar);
	duckdb_destroy_logical_type(&varchar);
	// Its own NULL handling (strict), so that a NULL row never reaches the arithmetic.
	duckdb_scalar_function_set_special_handling(function);
	duckdb_scalar_function_set_function(function, Divide);
	duckdb_state state = duckdb_register_scalar_function(duck.Raw(), function);
	duckdb_destroy_scalar_function(&function);
	if (state == DuckDBError) {
		throw Error(ErrorKind::Duck, "cannot register duckpipe_numeric_div in DuckDB");
	}
	duck.Execute("CREATE SCHEMA IF NOT EXISTS duckpipe");
	duck.Execute("CREATE OR REPLACE MACRO duckpipe.numeric_div(a, b) AS "
	             "duckpipe_numeric_div(CAST(a AS VARCHAR), CAST(b AS VARCHAR))");
}

bool DuckNumericDiv::IsDivisionByZero(std::string_view message) {
	return message.find(kDivisionByZero) != std::string_view::npos;
}

} // namespace duckpipe
