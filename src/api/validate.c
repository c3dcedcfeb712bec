/* validate.c — the name and length rules of MLflow's validation module. */
#include "validate.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/utf8.h"
#include "store/experiments.h"

size_t mfd_utf8_prefix_bytes(const char *s, size_t chars) {
    const unsigned char *p = (const unsigned char *)s;
    size_t seen = 0;
    for (; *p; p++) {
        if ((*p & 0xC0) != 0x80) {
            if (seen == chars)
                break;
            seen++;
        }
    }
    return (size_t)(p - (const unsigned char *)s);
}

bool mfd_key_chars_ok(const char *key) {
    return mfd_utf8_word_chars_only(key, "/.- :");
}

/* posixpath.normpath into `out` (at least strlen(path) + 2 bytes). */
static void normpath(const char *path, char *out) {
    size_t n_lead = path[0] == '/' ? (path[1] == '/' && path[2] != '/' ? 2 : 1) : 0;
    const char *segments[512];
    size_t lengths[512], n = 0;
    for (const char *p = path; *p;) {
        while (*p == '/')
            p++;
        const char *start = p;
        while (*p && *p != '/')
            p++;
        size_t len = (size_t)(p - start);
        if (len == 0 || (len == 1 && start[0] == '.'))
            continue;
        if (len == 2 && start[0] == '.' && start[1] == '.' &&
            (n > 0 && !(lengths[n - 1] == 2 && !strncmp(segments[n - 1], "..", 2)))) {
            n--;
            continue;
        }
        if (len == 2 && start[0] == '.' && start[1] == '.' && n == 0 && n_lead)
            continue;
        if (n < 512) {
            segments[n] = start;
            lengths[n++] = len;
        }
    }
    char *w = out;
    for (size_t i = 0; i < n_lead; i++)
        *w++ = '/';
    for (size_t i = 0; i < n; i++) {
        if (i)
            *w++ = '/';
        memcpy(w, segments[i], lengths[i]);
        w += lengths[i];
    }
    if (w == out)
        *w++ = '.';
    *w = '\0';
}

bool mfd_key_resolves_to_itself(const char *key, char *norm) {
    if (!strchr(key, '/') && strcmp(key, ".") != 0 && strncmp(key, "..", 2) != 0)
        return true;
    normpath(key, norm);
    return strcmp(norm, key) == 0 && strcmp(norm, ".") != 0 && strncmp(norm, "..", 2) != 0 &&
           norm[0] != '/';
}

mfd_err mfd_validate_key(const char *key, const char *kind) {
    if (!key || !*key)
        return mfd_err_new(MFD_INVALID_PARAMETER_VALUE,
                           "Missing value for required parameter 'key'. See the API docs for more "
                           "information about request parameters.");
    if (!mfd_key_chars_ok(key))
        return mfd_err_new(MFD_INVALID_PARAMETER_VALUE,
                           "Invalid %s name: '%s'. Names may only contain alphanumerics, "
                           "underscores (_), dashes (-), periods (.), spaces ( ), colon(:) and "
                           "slashes (/).",
                           kind, key);
    char small[512];
    size_t need = strlen(key) + 2;
    char *norm = need <= sizeof small ? small : malloc(need);
    if (!norm)
        return mfd_err_new(MFD_INTERNAL_ERROR, "out of memory");
    bool unique = mfd_key_resolves_to_itself(key, norm);
    if (norm != small)
        free(norm);
    if (!unique)
        return mfd_err_new(MFD_INVALID_PARAMETER_VALUE,
                           "Invalid %s name: '%s'. Names may be treated as files in certain cases, "
                           "and must not resolve to other names when treated as such. This name "
                           "would resolve to a different path",
                           kind, key);
    const char *what = kind[0] == 'm' ? "Metric name" : kind[0] == 'p' ? "Param key" : "Tag key";
    return mfd_validate_max_length(key, 250, what);
}

mfd_err mfd_validate_max_length(const char *value, size_t limit, const char *what) {
    if (!value)
        return NULL;
    size_t len = mfd_utf8_chars(value);
    if (len <= limit)
        return NULL;
    size_t shown = mfd_utf8_prefix_bytes(value, 250);
    return mfd_err_new(MFD_INVALID_PARAMETER_VALUE,
                       "%s '%.*s' had length %zu, which exceeded length limit of %zu", what,
                       (int)shown, value, len, limit);
}

bool mfd_valid_run_id(const char *run_id) {
    const unsigned char *p = (const unsigned char *)run_id;
    if (!p || !*p)
        return false;
    if (!((*p >= 'a' && *p <= 'z') || (*p >= 'A' && *p <= 'Z') || (*p >= '0' && *p <= '9')))
        return false;
    size_t n = 1;
    for (p++; *p; p++, n++) {
        bool word = (*p >= 'a' && *p <= 'z') || (*p >= 'A' && *p <= 'Z') ||
                    (*p >= '0' && *p <= '9') || *p == '_' || *p == '-' || *p >= 0x80;
        if (!word || n > 255)
            return false;
    }
    return true;
}

static int compare_ids(const void *a, const void *b) {
    int64_t x = *(const int64_t *)a, y = *(const int64_t *)b;
    return (x > y) - (x < y);
}

mfd_err mfd_search_experiment_ids(mfd_arena *arena, mfd_dialect dialect, const char *const *ids,
                                  size_t n, int64_t **out, size_t *count) {
    int64_t *values = mfd_arena_alloc(arena, (n + 1) * sizeof *values);
    size_t parsed = 0;
    for (size_t i = 0; i < n; i++)
        if (mfd_experiment_id_parse(dialect, ids[i], &values[parsed]))
            parsed++;
    qsort(values, parsed, sizeof *values, compare_ids);
    size_t distinct = 0;
    for (size_t i = 0; i < parsed; i++)
        if (distinct == 0 || values[distinct - 1] != values[i])
            values[distinct++] = values[i];
    if (distinct > MFD_SEARCH_MAX_EXPERIMENTS)
        return mfd_err_new(MFD_INVALID_PARAMETER_VALUE,
                           "A search may name at most %d experiments (experiment_ids names %zu)",
                           MFD_SEARCH_MAX_EXPERIMENTS, distinct);
    *out = values;
    *count = distinct;
    return NULL;
}
