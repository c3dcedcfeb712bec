/* path.c — artifact path safety (rest-api.md §8.0) and normalisation: the one
 * gate every artifact route passes a client-supplied path through.
 *
 * Invariants kept here:
 *   - A path that reaches the repository is relative, has no "", "." or ".."
 *     segment, no '\\', '#', control character or drive prefix, and no segment
 *     naming an in-progress upload: joining it under a root cannot climb out.
 *   - The name stored is the path decoded ONCE (what the client meant, the
 *     URL escapes of its HTTP library undone); the further decoding rounds
 *     MLflow applies are used only to refuse disguised traversals such as
 *     %252e%252e, never to rename a file (behaviours.md #10: "50%25off.txt"
 *     stores "50%off.txt", "100%.txt" stays as it is, '+' stays '+'). */
#include "repo.h"
#include "core/escape.h"

#include <stdbool.h>
#include <stdint.h>
#include <string.h>

enum {
    MAX_DECODE_ROUNDS = 10,
    MAX_DEPTH = 256,         /* segments; bounds the recursion of tree removal in local.c */
    MAX_SEGMENT_BYTES = 255, /* NAME_MAX */
};

static bool is_control(unsigned char c) {
    return c < 0x20 || c == 0x7f;
}

static bool has_control(const char *s, size_t len) {
    for (size_t i = 0; i < len; i++)
        if (is_control((unsigned char)s[i]))
            return true;
    return false;
}

/* MLflow escapes control characters that later decoding rounds produce back
 * to "%xx" text before it checks, so "%17" in a log_image name is harmless. */
static char *escape_controls(mfd_arena *arena, const char *s, size_t len, size_t *out_len) {
    char *out = mfd_arena_alloc(arena, len * 3 + 1);
    size_t n = 0;
    static const char hex[] = "0123456789abcdef";
    for (size_t i = 0; i < len; i++) {
        unsigned char c = (unsigned char)s[i];
        if (is_control(c)) {
            out[n++] = '%';
            out[n++] = hex[c >> 4];
            out[n++] = hex[c & 15];
        } else {
            out[n++] = (char)c;
        }
    }
    out[n] = '\0';
    *out_len = n;
    return out;
}

/* Names are JSON strings on the wire: a byte sequence that is not UTF-8
 * (an escaped %FF) could be stored but never listed. */
static bool is_utf8(const unsigned char *s, size_t len) {
    for (size_t i = 0; i < len;) {
        unsigned char c = s[i];
        size_t n = c < 0x80           ? 1
                   : (c >> 5) == 0x6  ? 2
                   : (c >> 4) == 0xe  ? 3
                   : (c >> 3) == 0x1e ? 4
                                      : 0;
        if (n == 0 || i + n > len)
            return false;
        uint32_t cp = n == 1 ? c : (uint32_t)(c & (0x7f >> n));
        for (size_t k = 1; k < n; k++) {
            if ((s[i + k] & 0xc0) != 0x80)
                return false;
            cp = (cp << 6) | (s[i + k] & 0x3f);
        }
        static const uint32_t min_for_length[] = {0, 0, 0x80, 0x800, 0x10000};
        if (cp < min_for_length[n] || cp > 0x10ffff || (cp >= 0xd800 && cp <= 0xdfff))
            return false; /* overlong, out of range or a surrogate */
        i += n;
    }
    return true;
}

/* "C:/x" (and "C:\\x", refused for its backslash anyway): what Python's
 * PureWindowsPath calls absolute. "C:x" and "C:" are relative to a drive,
 * and MLflow on Linux accepts them as names ("x:y.txt"). */
static bool is_drive_root(const char *s, size_t len) {
    char c = len > 0 ? s[0] : '\0';
    return len >= 3 && ((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z')) && s[1] == ':' &&
           (s[2] == '/' || s[2] == '\\');
}

static bool has_dotdot_segment(const char *s, size_t len) {
    size_t start = 0;
    for (size_t i = 0; i <= len; i++) {
        if (i == len || s[i] == '/') {
            if (i - start == 2 && s[start] == '.' && s[start + 1] == '.')
                return true;
            start = i + 1;
        }
    }
    return false;
}

/* The checks of §8.0 on one (fully decoded) form of the path. */
static bool form_is_safe(const char *s, size_t len) {
    if (memchr(s, '#', len) || memchr(s, '\\', len))
        return false;
    if (len > 0 && s[0] == '/') /* POSIX absolute, and //server/share */
        return false;
    if (is_drive_root(s, len)) /* C:\x, C:/x */
        return false;
    if (len >= 5 && strncmp(s, "file:", 5) == 0) /* a file: URI names an absolute place */
        return false;
    return !has_dotdot_segment(s, len);
}

bool mfd_artifact_path_is_safe(mfd_arena *arena, const char *path, size_t len) {
    /* A control character in the name itself (an escaped NUL, a newline) is
     * refused outright: no artifact is named so, and it would end up in headers. */
    if (has_control(path, len) || !is_utf8((const unsigned char *)path, len))
        return false;
    const char *cur = path;
    size_t cur_len = len;
    for (int round = 0;; round++) {
        size_t next_len;
        char *next = mfd_percent_decode(arena, cur, cur_len, false, &next_len);
        if (next_len == cur_len && memcmp(next, cur, cur_len) == 0)
            break;
        if (round == MAX_DECODE_ROUNDS) /* still changing: MLflow gives up too */
            return false;
        cur = next;
        cur_len = next_len;
    }
    size_t checked_len;
    const char *checked = escape_controls(arena, cur, cur_len, &checked_len);
    /* Decoding only turns escapes into characters, so what the checks look for
     * in the once-decoded name survives into this most decoded form. */
    return form_is_safe(checked, checked_len);
}

mfd_err mfd_artifact_path_normalize(mfd_arena *arena, const char *path, size_t len,
                                    const char **out) {
    *out = NULL;
    if (!mfd_artifact_path_is_safe(arena, path, len))
        return mfd_err_new(MFD_INVALID_PARAMETER_VALUE, "Invalid path");
    mfd_strbuf sb;
    mfd_strbuf_init(&sb, arena);
    size_t start = 0, depth = 0;
    for (size_t i = 0; i <= len; i++) {
        if (i < len && path[i] != '/')
            continue;
        size_t seg_len = i - start;
        const char *seg = path + start;
        start = i + 1;
        if (seg_len == 0 || (seg_len == 1 && seg[0] == '.'))
            continue;
        size_t prefix_len = strlen(MFD_ARTIFACT_UPLOAD_PREFIX);
        if (seg_len >= prefix_len && memcmp(seg, MFD_ARTIFACT_UPLOAD_PREFIX, prefix_len) == 0)
            return mfd_err_new(MFD_INVALID_PARAMETER_VALUE, "Invalid path");
        if (++depth > MAX_DEPTH || seg_len > MAX_SEGMENT_BYTES)
            return mfd_err_new(MFD_INVALID_PARAMETER_VALUE, "Invalid path");
        if (sb.len > 0)
            mfd_strbuf_append(&sb, "/");
        mfd_strbuf_appendn(&sb, seg, seg_len);
    }
    /* Dropping "." and empty segments can bring a drive name or "file:" to the
     * front ("./C:/x"): the normalised form must pass the same checks. */
    if (!mfd_artifact_path_is_safe(arena, sb.data, sb.len))
        return mfd_err_new(MFD_INVALID_PARAMETER_VALUE, "Invalid path");
    *out = sb.data;
    return NULL;
}

const char *mfd_artifact_relpath_join(mfd_arena *arena, const char *a, const char *b) {
    if (!a || !*a)
        return b ? b : "";
    if (!b || !*b)
        return a;
    return mfd_arena_sprintf(arena, "%s/%s", a, b);
}

const char *mfd_artifact_path_basename(const char *path) {
    const char *slash = strrchr(path, '/');
    return slash ? slash + 1 : path;
}
