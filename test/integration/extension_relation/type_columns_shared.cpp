// The types suite's column list and rows, compiled into this binary too (one list of every type).
#include "../types/type_columns.cpp"
