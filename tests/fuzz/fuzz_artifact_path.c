/* Fuzz target: artifact path safety and normalisation (rest-api.md §8.0,
 * src/artifacts/path.c), the stored-URI resolver and the MIME guess.
 * Input layout: byte 0 picks the mode, the rest is the path (NULs and all).
 *
 * Besides "no crash, no leak", it checks the invariant the file operations
 * rely on: whatever mfd_artifact_path_normalize accepts is relative, has no
 * empty, "." or ".." segment, no '\\', '#', control character or drive
 * root ("C:/"), and normalising it again gives it back unchanged. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "artifacts/repo.h"
#include "core/escape.h"

/* "C:/x": absolute to Python's PureWindowsPath ("C:x" and "C:" are not). */
static bool has_drive_root(const char *s) {
    return ((s[0] >= 'a' && s[0] <= 'z') || (s[0] >= 'A' && s[0] <= 'Z')) && s[1] == ':' &&
           (s[2] == '/' || s[2] == '\\');
}

static void check_normalized(mfd_arena *arena, const char *norm, bool again_too) {
    size_t len = strlen(norm);
    if (!strncmp(norm, "file:", 5))
        abort(); /* "./file:x" must not come out as a file: URI (corpus: regress-dot-file-uri) */
    if (len > 0 && (norm[0] == '/' || norm[len - 1] == '/'))
        abort(); /* absolute, or an empty last segment */
    if (strchr(norm, '\\') || strchr(norm, '#') || strstr(norm, "//"))
        abort();
    for (size_t i = 0; i < len; i++)
        if ((unsigned char)norm[i] < 0x20 || norm[i] == 0x7f)
            abort();
    if (has_drive_root(norm))
        abort();
    for (const char *seg = norm; *seg;) {
        size_t seg_len = strcspn(seg, "/");
        if ((seg_len == 1 && seg[0] == '.') || (seg_len == 2 && seg[0] == '.' && seg[1] == '.'))
            abort();
        seg += seg_len;
        if (*seg == '/')
            seg++;
    }
    if (!again_too)
        return; /* a joined name may pass the depth limit the gate keeps */
    const char *again = NULL;
    mfd_err err = mfd_artifact_path_normalize(arena, norm, len, &again);
    if (err || strcmp(again, norm) != 0)
        abort(); /* idempotent: a stored name must pass the gate again */
    mfd_err_free(err);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    if (size == 0)
        return 0;
    mfd_arena *arena = mfd_arena_new();
    const char *text = (const char *)data + 1;
    size_t len = size - 1;
    switch (data[0] % 4) {
    case 0: /* a raw URL tail: decoded once as the server does, then the gate */
    case 1: {
        size_t decoded_len;
        char *decoded = mfd_percent_decode(arena, text, len, data[0] & 1, &decoded_len);
        if (decoded_len > len)
            abort(); /* decoding never grows a string */
        const char *norm = NULL;
        mfd_err err = mfd_artifact_path_normalize(arena, decoded, decoded_len, &norm);
        if (err) {
            if (err->code != MFD_INVALID_PARAMETER_VALUE || norm)
                abort();
        } else {
            check_normalized(arena, norm, true);
            const char *joined = mfd_artifact_relpath_join(arena, "0/abc/artifacts", norm);
            check_normalized(arena, joined, false);
            (void)mfd_artifact_mime_type(mfd_artifact_path_basename(norm));
        }
        mfd_err_free(err);
        break;
    }
    case 2: { /* a stored artifact URI (NUL ends it, as a DB string would) */
        char *uri = mfd_arena_strndup(arena, text, len);
        const char *root = NULL, *prefix = NULL;
        static const char destination[] = "/srv/mlartifacts";
        mfd_err err = mfd_artifact_uri_resolve(arena, (data[0] & 4) ? NULL : destination, uri,
                                               &root, &prefix);
        if (!err && (!root || !prefix))
            abort();
        if (!err && root == destination)
            check_normalized(arena, prefix, true); /* a proxied prefix passed the gate */
        mfd_err_free(err);
        break;
    }
    case 3: { /* the MIME guess on any name */
        char *name = mfd_arena_strndup(arena, text, len);
        const char *mime = mfd_artifact_mime_type(name);
        if (!mime || !*mime)
            abort();
        (void)mfd_artifact_path_is_safe(arena, text, len);
        break;
    }
    }
    mfd_arena_free(arena);
    return 0;
}
