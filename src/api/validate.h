/* validate.h — MLflow's input rules shared by every service
 * (search-grammar.md §8, rest-api.md limits). All failures are
 * INVALID_PARAMETER_VALUE with MLflow's wording. */
#ifndef MFD_VALIDATE_H
#define MFD_VALIDATE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "core/arena.h"
#include "core/err.h"
#include "core/utf8.h" /* mfd_utf8_chars: lengths in code points */
#include "store/db.h"

/* Metric/param/tag key: non-empty, ^[/\w.\- :]*$, a normalised relative path,
 * at most 250 characters. `kind` is "metric", "param" or "tag" (used in the
 * message: "Invalid metric name: ..."). */
mfd_err mfd_validate_key(const char *key, const char *kind);

/* ^[/\w.\- :]*$ with Python's Unicode \w (mfd_utf8_word_chars_only). */
bool mfd_key_chars_ok(const char *key);
/* posixpath.normpath(key) == key and not ".", "..*" or "/..."; when not,
 * `norm` (at least strlen(key) + 2 bytes) holds the normalised form. Keys
 * without '/' (nearly all) need no normalisation to tell. */
bool mfd_key_resolves_to_itself(const char *key, char *norm);

/* "<what> '<value…>' had length N, which exceeded length limit of M".
 * Lengths count characters (code points), as Python does. */
mfd_err mfd_validate_max_length(const char *value, size_t limit, const char *what);

/* Byte offset of the first `chars` code points (for truncating values). */
size_t mfd_utf8_prefix_bytes(const char *s, size_t chars);

/* 32-hex-style run ids in log-batch: ^[a-zA-Z0-9][\w\-]{0,255}$ */
bool mfd_valid_run_id(const char *run_id);

/* Distinct experiment ids a search may name: each is a bound value, and
 * with a filter's at most 30,000 they stay under PostgreSQL's 65,535. */
enum { MFD_SEARCH_MAX_EXPERIMENTS = 30000 };

/* The experiment ids a search names, as integers: text that is no id (in
 * the tracking store's dialect) names no experiment and is dropped, as are
 * repeats; more than MFD_SEARCH_MAX_EXPERIMENTS distinct ones is a 400. */
mfd_err mfd_search_experiment_ids(mfd_arena *arena, mfd_dialect dialect, const char *const *ids,
                                  size_t n, int64_t **out, size_t *count);

#endif
