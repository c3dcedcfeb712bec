/* validate.c — the name and length rules of MLflow's validation module. */
#include "validate.h"

#include <stdio.h>
#include <string.h>

size_t mfd_utf8_length(const char *s) {
    size_t n = 0;
    for (const unsigned char *p = (const unsigned char *)s; *p; p++)
        n += (*p & 0xC0) != 0x80;
    return n;
}

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

/* \w in Python's Unicode regex: letters, digits, underscore. Non-ASCII
 * characters are accepted as word characters (nearly all that appear in keys
 * are letters). */
static bool key_char_ok(unsigned char c) {
    return c >= 0x80 || (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
           (c >= '0' && c <= '9') || c == '_' || c == '/' || c == '.' || c == '-' || c == ' ' ||
           c == ':';
}

/* posixpath.normpath(key) == key, and not "." / "..*" / "/..." */
static bool is_normalised_path(const char *key) {
    if (!strcmp(key, ".") || strncmp(key, "..", 2) == 0 || key[0] == '/')
        return false;
    size_t len = strlen(key);
    if (len > 0 && key[len - 1] == '/')
        return false;
    if (strstr(key, "//"))
        return false;
    /* a "." or ".." segment anywhere changes under normpath */
    const char *seg = key;
    while (seg) {
        const char *slash = strchr(seg, '/');
        size_t seg_len = slash ? (size_t)(slash - seg) : strlen(seg);
        if ((seg_len == 1 && seg[0] == '.') || (seg_len == 2 && seg[0] == '.' && seg[1] == '.'))
            return false;
        seg = slash ? slash + 1 : NULL;
    }
    return true;
}

mfd_err mfd_validate_key(const char *key, const char *kind) {
    if (!key || !*key)
        return mfd_err_new(MFD_INVALID_PARAMETER_VALUE,
                           "Missing value for required parameter 'key'. See the API docs for more "
                           "information about request parameters.");
    for (const unsigned char *p = (const unsigned char *)key; *p; p++) {
        if (!key_char_ok(*p))
            return mfd_err_new(MFD_INVALID_PARAMETER_VALUE,
                               "Invalid %s name: '%s'. Names may only contain alphanumerics, "
                               "underscores (_), dashes (-), periods (.), spaces ( ), colon(:) and "
                               "slashes (/).",
                               kind, key);
    }
    if (!is_normalised_path(key))
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
    size_t len = mfd_utf8_length(value);
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
