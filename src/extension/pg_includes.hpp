#pragma once

// The PostgreSQL server headers, for the extension's .cpp files only (never a header, never the
// core). Include every C++ standard header first: port.h redefines printf and friends as macros.
extern "C" {
#include "postgres.h"

#include "fmgr.h"
#include "miscadmin.h"
#include "utils/builtins.h"
#include "utils/elog.h"
}
