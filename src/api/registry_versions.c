/* registry_versions.c — model version endpoints of the registry service
 * (rest-api.md §7.8–7.14, 7.16, 7.18), routed by registry.c.
 *
 * The source checks of version creation live here, written after
 * handlers._validate_source_run/_validate_source_model and
 * _validate_non_local_source_contains_relative_paths: a local source must
 * lie inside the artifact directory of the run (or logged model) given, any
 * other source must be an absolute, already-normalised path once fully
 * URL-decoded. Paths are compared lexically (symbolic links are not
 * resolved). */
#include <regex.h>
#include <stdlib.h>
#include <string.h>

#include "auth/auth.h"
#include "message.h"
#include "registry_api.h"
#include "search/search.h"
#include "uri.h"
#include "validate.h"

enum { MAX_VERSION_SEARCH_RESULTS = 200000 };

/* ---- source checks --------------------------------------------------------------------------- */

/* local_file_uri_to_path, then resolve(). */
static char *local_path(mfd_arena *arena, const char *location, const mfd_uri *uri) {
    const char *path = uri->scheme[0] ? uri->path : location;
    return mfd_uri_resolve_path(arena, mfd_uri_unquote(arena, path, false, NULL));
}

static bool path_within(const char *dir, const char *path) {
    size_t n = strlen(dir);
    if (strcmp(dir, "/") == 0)
        return true;
    return strncmp(dir, path, n) == 0 && (path[n] == '\0' || path[n] == '/');
}

static mfd_err relative_source_error(const char *source) {
    return mfd_err_new(MFD_INVALID_PARAMETER_VALUE,
                       "Invalid model version source: '%s'. If supplying a source as an http, "
                       "https, local file path, ftp, objectstore, or mlflow-artifacts uri, an "
                       "absolute path must be provided without relative path references present. "
                       "Please provide an absolute path.",
                       source);
}

static mfd_err check_non_local_source(mfd_arena *arena, const char *source) {
    const char *s = source;
    bool had_nul = false;
    for (;;) {
        bool nul;
        const char *unquoted = mfd_uri_unquote(arena, s, true, &nul);
        had_nul = had_nul || nul;
        if (strcmp(unquoted, s) == 0 || nul)
            break;
        s = unquoted;
    }
    if (had_nul)
        return relative_source_error(source);
    for (const char *p = s; *p;) {
        size_t seg = strcspn(p, "/");
        if (seg == 2 && p[0] == '.' && p[1] == '.')
            return relative_source_error(source);
        p += seg;
        if (*p)
            p++;
    }
    mfd_uri uri;
    mfd_uri_parse(arena, s, &uri);
    /* re.sub("/+", "/", path.rstrip("/")) must already be resolve()d. */
    mfd_strbuf path;
    mfd_strbuf_init(&path, arena);
    for (const char *p = uri.path; *p; p++)
        if (!(*p == '/' && path.len > 0 && path.data[path.len - 1] == '/'))
            mfd_strbuf_appendn(&path, p, 1);
    while (path.len > 0 && path.data[path.len - 1] == '/')
        path.data[--path.len] = '\0';
    if (strcmp(mfd_uri_resolve_path(arena, path.data), path.data) != 0)
        return relative_source_error(source);
    return NULL;
}

/* _validate_source_run / _validate_source_model. `owner` is the run id or
 * model id; local sources need one whose artifact directory contains them. */
static mfd_err check_source(mfd_request *req, mfd_conn *conn, const char *source, const char *owner,
                            bool owner_is_model) {
    mfd_uri uri;
    mfd_uri_parse(req->arena, source, &uri);
    if (!mfd_uri_is_local(&uri))
        return check_non_local_source(req->arena, source);
    if (mfd_uri_has_remote_host(&uri))
        return mfd_err_new(MFD_INVALID_PARAMETER_VALUE,
                           "%s is not a valid remote uri. For remote access on windows, please "
                           "consider using a different scheme such as SMB (e.g. "
                           "smb://<hostname>/<path>).",
                           source);
    const char *shown = source;
    if (owner && *owner) {
        const char *root;
        mfd_err err = owner_is_model
                          ? mfd_registry_logged_model_location(conn, req->arena, owner, &root)
                          : mfd_registry_run_artifact_uri(conn, req->arena, owner, &root);
        if (err)
            return err;
        shown = local_path(req->arena, source, &uri);
        mfd_uri root_uri;
        mfd_uri_parse(req->arena, root, &root_uri);
        if (mfd_uri_is_local(&root_uri) && !mfd_uri_has_remote_host(&root_uri) &&
            path_within(local_path(req->arena, root, &root_uri), shown))
            return NULL;
    }
    return mfd_err_new(MFD_INVALID_PARAMETER_VALUE,
                       "Invalid model version source: '%s'. To use a local path as a model "
                       "version source, the %s request parameter has to be specified and the "
                       "local path has to be contained within the artifact directory of the %s "
                       "specified by the %s.",
                       shown, owner_is_model ? "model_id" : "run_id",
                       owner_is_model ? "model" : "run", owner_is_model ? "model_id" : "run_id");
}

/* MLFLOW_CREATE_MODEL_VERSION_SOURCE_VALIDATION_REGEX (re.search); the
 * pattern compiled at start (config.c), so it compiles here too. */
static mfd_err check_source_regex(const mfd_request *req, const char *source) {
    const char *pattern = req->app->config->source_validation_regex;
    if (!pattern || !*source)
        return NULL;
    regex_t re;
    bool matched = false;
    if (regcomp(&re, pattern, REG_EXTENDED | REG_NOSUB) == 0) {
        matched = regexec(&re, source, 0, NULL, 0) == 0;
        regfree(&re);
    }
    return matched ? NULL
                   : mfd_err_new(MFD_INVALID_PARAMETER_VALUE, "Invalid model version source: '%s'.",
                                 source);
}

/* ---- handlers -------------------------------------------------------------------------------- */

static mfd_err answer_version(mfd_response *res, const mfd_model_version *mv) {
    res->json = json_object();
    json_object_set_new(res->json, "model_version", mfd_registry_version_json(mv, true));
    return NULL;
}

mfd_err mfd_registry_api_create_version(mfd_request *req, mfd_response *res) {
    mfd_model_version_new in = {0};
    mfd_key_value *tags;
    json_t *tag_array;
    mfd_err err;
    if ((err = mfd_msg_required_string(req, "name", &in.name)) ||
        (err = mfd_msg_required_string(req, "source", &in.source)) ||
        (err = mfd_msg_string(req, "run_id", &in.run_id)) ||
        (err = mfd_msg_array(req, "tags", &tag_array)) ||
        (err = mfd_msg_string(req, "run_link", &in.run_link)) ||
        (err = mfd_msg_string(req, "description", &in.description)) ||
        (err = mfd_msg_string(req, "model_id", &in.model_id)) ||
        (err = check_source_regex(req, in.source)))
        return err;
    /* Absent strings are protobuf's "" and are stored as such. */
    in.run_id = in.run_id ? in.run_id : "";
    in.run_link = in.run_link ? in.run_link : "";
    in.description = in.description ? in.description : "";
    for (size_t i = 0; tag_array && i < json_array_size(tag_array); i++) {
        const char *key = json_string_value(json_object_get(json_array_get(tag_array, i), "key"));
        in.is_prompt = in.is_prompt || (key && strcmp(key, MFD_PROMPT_TAG_KEY) == 0);
    }
    mfd_conn *conn;
    if ((err = mfd_api_conn(req, &conn)))
        return err;
    if (!in.is_prompt) {
        bool by_model = in.model_id && *in.model_id;
        if ((err =
                 check_source(req, conn, in.source, by_model ? in.model_id : in.run_id, by_model)))
            return err;
    }
    if ((err = mfd_registry_read_tags(req, &tags, &in.n_tags)) ||
        (err = mfd_uri_parse_models_source(req->arena, &in)))
        return err;
    in.tags = tags;
    mfd_model_version mv;
    if ((err = mfd_registry_create_version(conn, req->arena, &in, &mv)))
        return err;
    return answer_version(res, &mv);
}

/* name and version, both required, the version an integer. */
/* Search results carry no aliases (rest-api.md §2). */
static json_t *version_item(const void *item) {
    return mfd_registry_version_json(item, false);
}

static mfd_err name_and_version(mfd_request *req, const char **name, int64_t *version) {
    const char *text;
    mfd_err err;
    if ((err = mfd_msg_required_string(req, "name", name)) ||
        (err = mfd_msg_required_string(req, "version", &text)))
        return err;
    return mfd_registry_parse_version(text, version);
}

mfd_err mfd_registry_api_get_version(mfd_request *req, mfd_response *res) {
    const char *name;
    int64_t version;
    mfd_conn *conn;
    mfd_model_version mv;
    mfd_err err;
    if ((err = name_and_version(req, &name, &version)) || (err = mfd_api_conn(req, &conn)) ||
        (err = mfd_registry_get_version(conn, req->arena, name, version, &mv)))
        return err;
    return answer_version(res, &mv);
}

mfd_err mfd_registry_api_update_version(mfd_request *req, mfd_response *res) {
    const char *name, *description;
    int64_t version;
    mfd_conn *conn;
    mfd_model_version mv;
    mfd_err err;
    if ((err = name_and_version(req, &name, &version)) ||
        (err = mfd_msg_string(req, "description", &description)) ||
        (err = mfd_api_conn(req, &conn)) ||
        (err = mfd_registry_update_version(conn, req->arena, name, version, description, &mv)))
        return err;
    return answer_version(res, &mv);
}

mfd_err mfd_registry_api_transition_stage(mfd_request *req, mfd_response *res) {
    const char *name, *version_text, *stage;
    bool has_archive = false, archive = false;
    int64_t version;
    mfd_err err;
    if ((err = mfd_msg_required_string(req, "name", &name)) ||
        (err = mfd_msg_required_string(req, "version", &version_text)) ||
        (err = mfd_msg_required_string(req, "stage", &stage)) ||
        (err = mfd_msg_bool(req, "archive_existing_versions", &has_archive, &archive)) ||
        (err = mfd_registry_canonical_stage(stage, &stage)))
        return err;
    archive = has_archive && archive;
    /* Upstream raises this as INTERNAL_ERROR; it is the caller's mistake. */
    if (archive && strcmp(stage, "Staging") != 0 && strcmp(stage, "Production") != 0)
        return mfd_err_new(MFD_INVALID_PARAMETER_VALUE,
                           "Model version transition cannot archive existing model versions "
                           "because '%s' is not an Active stage. Valid stages are ['Staging', "
                           "'Production']",
                           stage);
    mfd_conn *conn;
    mfd_model_version mv;
    if ((err = mfd_registry_parse_version(version_text, &version)) ||
        (err = mfd_api_conn(req, &conn)) ||
        (err = mfd_registry_transition_stage(conn, req->arena, name, version, stage, archive, &mv)))
        return err;
    return answer_version(res, &mv);
}

mfd_err mfd_registry_api_delete_version(mfd_request *req, mfd_response *res) {
    const char *name;
    int64_t version;
    mfd_conn *conn;
    mfd_err err;
    if ((err = name_and_version(req, &name, &version)) || (err = mfd_api_conn(req, &conn)) ||
        (err = mfd_registry_delete_version(conn, name, version)))
        return err;
    res->json = json_object();
    return NULL;
}

mfd_err mfd_registry_api_download_uri(mfd_request *req, mfd_response *res) {
    const char *name, *uri;
    int64_t version;
    mfd_conn *conn;
    mfd_err err;
    if ((err = name_and_version(req, &name, &version)) || (err = mfd_api_conn(req, &conn)) ||
        (err = mfd_registry_download_uri(conn, req->arena, name, version, &uri)))
        return err;
    res->json = json_object();
    mfd_json_set_str(res->json, "artifact_uri", uri);
    return NULL;
}

mfd_err mfd_registry_api_search_versions(mfd_request *req, mfd_response *res) {
    mfd_search_input in;
    const char *page_token;
    int64_t max_results;
    mfd_err err =
        mfd_registry_read_search(req, MAX_VERSION_SEARCH_RESULTS, MAX_VERSION_SEARCH_RESULTS, &in,
                                 &page_token, &max_results);
    if (err)
        return err;
    if (max_results < 1)
        return mfd_err_new(MFD_INVALID_PARAMETER_VALUE,
                           "Invalid value for max_results. It must be a positive integer, but got "
                           "%lld",
                           (long long)max_results);
    mfd_search_sql sql;
    int64_t offset = 0;
    mfd_conn *conn;
    mfd_model_version *versions;
    size_t n;
    if ((err = mfd_search_model_versions(req->arena, &in, &sql)) ||
        (err = mfd_auth_restrict_search(req, MFD_AUTH_REGISTERED_MODEL, "mv.name", &sql)) ||
        (err = mfd_page_token_decode(page_token, &offset)) || (err = mfd_api_conn(req, &conn)) ||
        (err = mfd_registry_search_versions(conn, req->arena, &sql, offset, max_results + 1,
                                            &versions, &n)))
        return err;
    mfd_msg_search_page(req, res, "model_versions", versions, sizeof *versions, n, offset,
                        max_results, version_item);
    return NULL;
}

mfd_err mfd_registry_api_set_version_tag(mfd_request *req, mfd_response *res) {
    const char *name, *key, *value;
    int64_t version;
    mfd_conn *conn;
    mfd_err err;
    if ((err = name_and_version(req, &name, &version)) ||
        (err = mfd_msg_required_string(req, "key", &key)) ||
        (err = mfd_msg_string(req, "value", &value)) ||
        (err = mfd_registry_validate_tag(key, value)) || (err = mfd_api_conn(req, &conn)) ||
        (err = mfd_registry_set_version_tag(conn, name, version, key, value ? value : "")))
        return err;
    res->json = json_object();
    return NULL;
}

mfd_err mfd_registry_api_delete_version_tag(mfd_request *req, mfd_response *res) {
    const char *name, *key;
    int64_t version;
    mfd_conn *conn;
    mfd_err err;
    if ((err = name_and_version(req, &name, &version)) ||
        (err = mfd_msg_required_string(req, "key", &key)) || (err = mfd_validate_key(key, "tag")) ||
        (err = mfd_api_conn(req, &conn)) ||
        (err = mfd_registry_delete_version_tag(conn, name, version, key)))
        return err;
    res->json = json_object();
    return NULL;
}
