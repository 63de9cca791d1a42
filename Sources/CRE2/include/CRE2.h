// A small C ABI over Google's RE2 (Debian libre2-dev), for the Relabel module.
// RE2 matches in time linear in the input; a compiled program is immutable and RE2
// documents its const matching methods as safe to call from many threads at once.
#ifndef TARGET_ALLOCATOR_CRE2_H
#define TARGET_ALLOCATOR_CRE2_H

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

typedef struct cre2_program cre2_program;

/// Compiles `pattern` (UTF-8, RE2 syntax, leftmost-first like Go). On failure returns NULL and
/// writes RE2's error code (`re2::RE2::ErrorCode`) to `error_code` and its message, truncated and
/// NUL-terminated, to `message`.
cre2_program *_Nullable cre2_compile(const char *_Nullable pattern, size_t length, int *_Nonnull error_code,
                                     char *_Nonnull message, size_t message_capacity);

void cre2_free(cre2_program *_Nullable program);

/// Capture groups, not counting the whole match.
int cre2_capture_count(const cre2_program *_Nonnull program);

/// Searches `text[start, length)` (the bytes before `start` are context for `\A`, `^` and `\b`).
/// `anchor_both` requires the match to span from `start` to the end. On a match returns 1 and
/// writes `groups` pairs of byte offsets to `offsets` (-1, -1 for a group that did not take
/// part); `groups` may be 0 when only the answer is needed.
int cre2_match(const cre2_program *_Nonnull program, const char *_Nullable text, size_t length, size_t start,
               int anchor_both, int64_t *_Nullable offsets, int groups);

#ifdef __cplusplus
}
#endif

#endif
