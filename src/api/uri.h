/* uri.h — the few pieces of Python's urllib and pathlib that MLflow's
 * location checks are written in (experiment artifact locations, model
 * version sources), reproduced so the same inputs pass or fail. */
#ifndef MFD_API_URI_H
#define MFD_API_URI_H

#include <stdbool.h>

#include "core/arena.h"
#include "core/err.h"
#include "store/registry.h"

/* urllib.parse.urlparse: every part is "" when absent; scheme lower-cased. */
typedef struct mfd_uri {
    const char *scheme, *netloc, *path, *params, *query, *fragment;
} mfd_uri;

void mfd_uri_parse(mfd_arena *arena, const char *url, mfd_uri *out);

/* urllib.parse.unquote (plus=false) / unquote_plus (plus=true): valid %XX
 * escapes decoded, everything else kept. May yield NUL bytes, which end
 * the returned string early; *had_nul says so when non-NULL. */
char *mfd_uri_unquote(mfd_arena *arena, const char *s, bool plus, bool *had_nul);

/* pathlib.PurePosixPath(path).as_posix(): no empty or "." segments, no
 * trailing slash; "" stays "" (pathlib would say "."). ".." is kept. */
char *mfd_uri_normalise_path(mfd_arena *arena, const char *path);

/* pathlib's resolve() without symbolic links: absolute against the working
 * directory, "." and ".." segments folded ("/" at the top). */
char *mfd_uri_resolve_path(mfd_arena *arena, const char *path);

/* mlflow.utils.uri.is_local_uri for a parsed URI: no scheme, or file: */
bool mfd_uri_is_local(const mfd_uri *uri);
/* file:/x with a host that is not local (so not a valid local URI). */
bool mfd_uri_has_remote_host(const mfd_uri *uri);

/* What a model version's source names when it is a models:/ URI (MLflow's
 * _parse_model_uri): sets in->source_kind, and source_model_id or
 * source_name and source_version, from in->source; 400 for a models:/ URI
 * that names neither. Read so by the handler and by the auth layer. */
mfd_err mfd_uri_parse_models_source(mfd_arena *arena, mfd_model_version_new *in);

#endif
