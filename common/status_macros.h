#pragma once

// RETURN_IF_ERROR / ASSIGN_OR_RETURN for absl::Status and absl::StatusOr (abseil 20220623
// ships neither).

#include "absl/status/status.h"
#include "absl/status/statusor.h"

#define NICSWITCH_CONCAT_INNER(a, b) a##b
#define NICSWITCH_CONCAT(a, b) NICSWITCH_CONCAT_INNER(a, b)

// Evaluates `expr` (an absl::Status) and returns it from the enclosing function if not OK.
#define RETURN_IF_ERROR(expr)                                               \
  do {                                                                      \
    if (::absl::Status nicswitch_status = (expr); !nicswitch_status.ok()) { \
      return nicswitch_status;                                              \
    }                                                                       \
  } while (0)

// ASSIGN_OR_RETURN(lhs, expr): evaluates `expr` (an absl::StatusOr<T>); on error returns its
// status, otherwise assigns (moves) the value to `lhs`, which may be a declaration:
//   ASSIGN_OR_RETURN(auto rule, ParseRule(text));
#define ASSIGN_OR_RETURN(lhs, expr) \
  NICSWITCH_ASSIGN_OR_RETURN_IMPL(NICSWITCH_CONCAT(nicswitch_statusor_, __LINE__), lhs, expr)

#define NICSWITCH_ASSIGN_OR_RETURN_IMPL(statusor, lhs, expr) \
  auto statusor = (expr);                                    \
  if (!statusor.ok()) {                                      \
    return std::move(statusor).status();                     \
  }                                                          \
  lhs = std::move(statusor).value()
