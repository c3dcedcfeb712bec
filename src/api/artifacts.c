/* artifacts.c — every artifact endpoint: the proxy under
 * /api/2.0/mlflow-artifacts/ (rest-api.md §8.2), the run listing
 * artifacts/list (§5.16), the UI downloads /get-artifact and
 * /model-versions/get-artifact (§3), the logged-model artifact listing and
 * download (§6.9) and the ajax upload-artifact (§8.3).
 *
 * Every client path goes through mfd_artifact_path_normalize() (§8.0), read
 * from the request as sent (req->raw_path / raw_query) so that escapes the
 * server's decoding would hide, such as %00, are seen. Files are streamed:
 * downloads hand the server an fd, uploads are written to disk as they come. */
#include <stdlib.h>
#include <string.h>

#include "api.h"
#include "core/escape.h"
#include "artifact_owner.h"
#include "artifacts/repo.h"
#include "message.h"
#include "store/artifact_locations.h"

enum { UI_UPLOAD_MAX_BYTES = 10 * 1024 * 1024 };

static bool is_hex(char c) {
    return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'f') || (c >= 'A' && c <= 'F');
}

/* --- reading paths from the request ------------------------------------ */

/* The <path> tail of the route as the client sent it. req->path is
 * req->raw_path with valid %XX escapes decoded, one byte each, so walking
 * the raw path while counting decoded bytes finds where the tail starts. */
static const char *raw_tail(const mfd_request *req, size_t *len) {
    size_t path_len = strlen(req->path);
    if (req->path_tail < req->path || req->path_tail > req->path + path_len || !req->raw_path) {
        *len = strlen(req->path_tail);
        return req->path_tail;
    }
    size_t skip = (size_t)(req->path_tail - req->path), decoded = 0;
    const char *p = req->raw_path;
    while (*p && decoded < skip) {
        p += (p[0] == '%' && is_hex(p[1]) && is_hex(p[2])) ? 3 : 1;
        decoded++;
    }
    *len = strlen(p);
    return p;
}

/* The route's <path>, checked and normalised ("" = the root). */
static const char *decoded_tail(mfd_request *req, size_t *len) {
    size_t raw_len;
    const char *raw = raw_tail(req, &raw_len);
    return mfd_percent_decode(req->arena, raw, raw_len, false, len);
}

static mfd_err tail_path(mfd_request *req, const char **rel) {
    size_t len;
    const char *path = decoded_tail(req, &len);
    return mfd_artifact_path_normalize(req->arena, path, len, rel);
}

/* The path of a file to write (`len` bytes, decoded): normalised as any
 * artifact path, and refused when it names the root or ends in an empty or
 * "." segment ("dir/", "dir/."): that names a directory (MLflow fails to
 * write it), and normalising it would write a file named "dir". */
static mfd_err file_path(mfd_request *req, const char *path, size_t len, const char **rel) {
    size_t last = len;
    while (last > 0 && path[last - 1] != '/')
        last--;
    bool names_dir = last == len || (len - last == 1 && path[last] == '.');
    mfd_err err = mfd_artifact_path_normalize(req->arena, path, len, rel);
    if (!err && (!**rel || names_dir))
        err = mfd_err_new(MFD_INVALID_PARAMETER_VALUE, "Invalid path");
    return err;
}

/* The first value of query parameter `field` as sent, form-decoded with any
 * NUL kept (*len); NULL when absent. */
static const char *raw_query_value(mfd_request *req, const char *field, size_t *len) {
    const char *q = req->raw_query ? req->raw_query : "";
    while (*q) {
        size_t pair_len = strcspn(q, "&");
        size_t key_len = strcspn(q, "=&");
        size_t k_len;
        const char *key = mfd_percent_decode(req->arena, q, key_len, true, &k_len);
        if (k_len == strlen(field) && !memcmp(key, field, k_len)) {
            const char *value = q + key_len + (key_len < pair_len ? 1 : 0);
            size_t value_len = pair_len - (size_t)(value - q);
            return mfd_percent_decode(req->arena, value, value_len, true, len);
        }
        q += pair_len + (q[pair_len] ? 1 : 0);
    }
    return NULL;
}

/* Query parameter `field` with its true length; NULL when absent. */
static const char *query_field(mfd_request *req, const char *field, size_t *len) {
    if (req->raw_query && *req->raw_query)
        return raw_query_value(req, field, len);
    for (size_t i = 0; i < req->n_query; i++) { /* no raw query: the decoded one */
        if (!strcmp(req->query[i].key, field)) {
            *len = strlen(req->query[i].value);
            return req->query[i].value;
        }
    }
    return NULL;
}

/* A string field of the request message (GET query or JSON body, §1.1) with
 * its true length; NULL when absent. */
static mfd_err message_field(mfd_request *req, const char *field, const char **out, size_t *len) {
    *out = NULL;
    *len = 0;
    if (!strcmp(req->method, "GET") && req->n_query > 0) {
        *out = query_field(req, field, len);
        return NULL;
    }
    mfd_err err = mfd_msg_string(req, field, out);
    if (!err && *out)
        *len = json_string_length(json_object_get(mfd_msg_body(req), field));
    return err;
}

/* An optional path field, checked and normalised; *rel = NULL when absent. */
static mfd_err path_field(mfd_request *req, const char *field, const char **rel) {
    const char *value;
    size_t len;
    *rel = NULL;
    mfd_err err = message_field(req, field, &value, &len);
    if (err || !value)
        return err;
    return mfd_artifact_path_normalize(req->arena, value, len, rel);
}

/* --- answers ------------------------------------------------------------ */

/* RFC 6266 attr-char: what may stand unescaped in filename*=. */
static bool is_attr_char(unsigned char c) {
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
           strchr("!#$&+-.^_`|~", c) != NULL;
}

/* MLflow's "attachment; filename=<name>" for plain ASCII names; names it
 * cannot put in a header (non-ASCII: MLflow answers 500) get an ASCII
 * fallback plus the exact UTF-8 name in filename*. */
static const char *content_disposition(mfd_arena *arena, const char *name) {
    bool plain = true;
    for (const unsigned char *p = (const unsigned char *)name; *p; p++)
        if (*p >= 0x80 || *p == '"' || *p == '\\' || *p == ';' || *p == ',')
            plain = false;
    if (plain)
        return mfd_arena_sprintf(arena, "attachment; filename=%s", name);
    mfd_strbuf fallback, encoded;
    mfd_strbuf_init(&fallback, arena);
    mfd_strbuf_init(&encoded, arena);
    for (const unsigned char *p = (const unsigned char *)name; *p; p++) {
        char c = (*p >= 0x80 || *p == '"' || *p == '\\') ? '_' : (char)*p;
        mfd_strbuf_appendn(&fallback, &c, 1);
        if (is_attr_char(*p))
            mfd_strbuf_appendn(&encoded, (const char *)p, 1);
        else
            mfd_strbuf_appendf(&encoded, "%%%02X", *p);
    }
    return mfd_arena_sprintf(arena, "attachment; filename=\"%s\"; filename*=UTF-8''%s",
                             fallback.data, encoded.data);
}

/* Streams file `rel` under `root` as an attachment (§8.2 headers). */
static mfd_err send_file(mfd_request *req, mfd_response *res, const char *root, const char *rel) {
    mfd_api_conn_release(req); /* nothing more to read from the DB while the file streams */
    mfd_err err = mfd_artifact_download(root, rel, res);
    if (err)
        return err;
    res->content_type = mfd_artifact_mime_type(rel);
    mfd_response_header(res, "Content-Disposition",
                        content_disposition(req->arena, mfd_artifact_path_basename(rel)));
    mfd_response_header(res, "X-Content-Type-Options", "nosniff");
    return NULL;
}

/* FileInfo[] (§2) of directory `prefix/rel` under `root`; each entry's path
 * is `rel/<name>`, or just the name when `basenames`. */
static mfd_err list_files(mfd_request *req, const char *root, const char *prefix, const char *rel,
                          bool basenames, json_t **out) {
    mfd_artifact_file *files;
    size_t n;
    *out = NULL;
    const char *dir = mfd_artifact_relpath_join(req->arena, prefix, rel);
    mfd_err err = mfd_artifact_list(req->arena, root, dir, &files, &n);
    if (err || n == 0)
        return err;
    json_t *array = json_array();
    for (size_t i = 0; i < n; i++) {
        const char *path =
            basenames ? files[i].name : mfd_artifact_relpath_join(req->arena, rel, files[i].name);
        json_t *path_json = json_string(path);
        if (!path_json) /* not UTF-8: put there by hand, never through the API */
            continue;
        json_t *info = json_object();
        json_object_set_new(info, "path", path_json);
        json_object_set_new(info, "is_dir", json_boolean(files[i].is_dir));
        if (!files[i].is_dir && files[i].size > 0) /* empty files: omitted (behaviours #9) */
            mfd_json_set_int(info, "file_size", files[i].size);
        json_array_append_new(array, info);
    }
    if (json_array_size(array) == 0) {
        json_decref(array);
        array = NULL;
    }
    *out = array;
    return NULL;
}

/* --- the proxy: /mlflow-artifacts/ (§8.2) ------------------------------ */

static const char *destination(mfd_request *req) {
    return mfd_artifact_repo_root(req->app->artifacts);
}

static mfd_err download_artifact(mfd_request *req, mfd_response *res) {
    const char *rel;
    mfd_err err = tail_path(req, &rel);
    return err ? err : send_file(req, res, destination(req), rel);
}

static mfd_err begin_upload_artifact(mfd_request *req, mfd_upload *upload) {
    const char *rel;
    size_t len;
    const char *path = decoded_tail(req, &len);
    mfd_err err = file_path(req, path, len, &rel);
    return err ? err : mfd_artifact_upload_begin(destination(req), rel, upload);
}

static mfd_err upload_artifact(mfd_request *req, mfd_response *res) {
    mfd_err err = mfd_artifact_upload_finish(req->upload);
    if (!err)
        res->json = json_object();
    return err;
}

static mfd_err delete_artifact(mfd_request *req, mfd_response *res) {
    const char *rel;
    mfd_err err = tail_path(req, &rel);
    if (!err && !*rel) /* never the whole destination */
        err = mfd_err_new(MFD_INVALID_PARAMETER_VALUE, "Invalid path");
    if (!err)
        err = mfd_artifact_delete(destination(req), rel);
    if (!err)
        res->json = json_object();
    return err;
}

static mfd_err list_proxied_artifacts(mfd_request *req, mfd_response *res) {
    const char *rel;
    json_t *files;
    mfd_err err = path_field(req, "path", &rel);
    if (!err)
        err = list_files(req, destination(req), rel ? rel : "", "", true, &files);
    if (err)
        return err;
    res->json = json_object();
    if (files)
        json_object_set_new(res->json, "files", files);
    return NULL;
}

/* Every mpu call is checked as MLflow checks it: the route's path and the
 * message's types first, then the storage — a local directory answers 501
 * with the exact message the client falls back to one PUT on, so nothing
 * more is asked of that request — and only then the values S3 needs. */
typedef struct multipart_call {
    const char *dir;  /* the route's <path>: the directory of the file */
    const char *path; /* the client's local file (its base name is used) */
    const char *upload_id;
} multipart_call;

static mfd_err multipart_begin(mfd_request *req, multipart_call *call) {
    call->upload_id = NULL;
    mfd_err err = tail_path(req, &call->dir);
    if (!err)
        err = mfd_msg_required_string(req, "path", &call->path);
    if (!err)
        err = mfd_msg_string(req, "upload_id", &call->upload_id);
    return err;
}

/* The file: the route's directory joined with the base name of the local
 * file, as MLflow's S3 repository names it; a Windows path (C:\Users\me\m.bin)
 * gives its base name too. */
static mfd_err multipart_file(mfd_request *req, const multipart_call *call, const char **rel) {
    const char *name = call->path;
    for (const char *p = call->path; *p; p++)
        if (*p == '/' || *p == '\\')
            name = p + 1;
    if (!*name) /* "dir/": no file name */
        return mfd_err_new(MFD_INVALID_PARAMETER_VALUE, "Invalid path");
    const char *joined = mfd_artifact_relpath_join(req->arena, call->dir, name);
    return file_path(req, joined, strlen(joined), rel);
}

static mfd_err multipart_upload_id(const multipart_call *call) {
    if (!call->upload_id || !*call->upload_id)
        return mfd_missing_param("upload_id");
    if (strlen(call->upload_id) > 1024)
        return mfd_err_new(MFD_INVALID_PARAMETER_VALUE, "upload_id is too long");
    return NULL;
}

/* complete and abort, once their message is read: the storage, the file
 * and the upload. */
static mfd_err multipart_target(mfd_request *req, const multipart_call *call, const char **rel) {
    mfd_err err = mfd_artifact_mpu_check(destination(req));
    if (!err)
        err = multipart_file(req, call, rel);
    return err ? err : multipart_upload_id(call);
}

static mfd_err create_multipart_upload(mfd_request *req, mfd_response *res) {
    multipart_call call;
    const char *rel = NULL, *upload_id = NULL, **urls = NULL;
    bool present;
    int64_t n_parts = 0;
    mfd_err err = multipart_begin(req, &call);
    if (!err)
        err = mfd_msg_int64(req, "num_parts", &present, &n_parts);
    if (!err)
        err = mfd_artifact_mpu_check(destination(req));
    if (!err)
        err = multipart_file(req, &call, &rel);
    if (!err && (n_parts < 0 || n_parts > MFD_ARTIFACT_MPU_MAX_PARTS))
        err = mfd_err_new(MFD_INVALID_PARAMETER_VALUE,
                          "num_parts must be between 0 and %d (S3's limit), got %lld",
                          MFD_ARTIFACT_MPU_MAX_PARTS, (long long)n_parts);
    if (!err)
        err = mfd_artifact_mpu_create(req->arena, destination(req), rel, (size_t)n_parts,
                                      &upload_id, &urls);
    if (err)
        return err;
    json_t *credentials = json_array();
    for (int64_t i = 0; i < n_parts; i++) {
        json_t *credential = json_object();
        mfd_json_set_str(credential, "url", urls[i]);
        mfd_json_set_int(credential, "part_number", i + 1);
        json_object_set_new(credential, "headers", json_object());
        json_array_append_new(credentials, credential);
    }
    res->json = json_object();
    mfd_json_set_str(res->json, "upload_id", upload_id);
    json_object_set_new(res->json, "credentials", credentials);
    return NULL;
}

static int compare_parts(const void *a, const void *b) {
    const mfd_artifact_part *x = a, *y = b;
    return (x->number > y->number) - (x->number < y->number);
}

/* parts[]: {part_number, etag, url}, at least one, each part once; sorted by
 * number, as S3 wants them. */
static mfd_err multipart_parts(mfd_request *req, json_t *array, mfd_artifact_part **parts,
                               size_t *n) {
    *n = json_array_size(array);
    if (*n == 0)
        return mfd_err_new(MFD_INVALID_PARAMETER_VALUE, "An upload is made of one part at least");
    if (*n > MFD_ARTIFACT_MPU_MAX_PARTS)
        return mfd_err_new(MFD_INVALID_PARAMETER_VALUE, "An upload has at most %d parts",
                           MFD_ARTIFACT_MPU_MAX_PARTS);
    *parts = mfd_arena_calloc(req->arena, *n, sizeof **parts);
    mfd_err err = NULL;
    for (size_t i = 0; i < *n && !err; i++) {
        json_t *part = json_array_get(array, i);
        const char *number_name = mfd_arena_sprintf(req->arena, "parts[%zu].part_number", i);
        const char *etag_name = mfd_arena_sprintf(req->arena, "parts[%zu].etag", i);
        bool present;
        err = mfd_json_int64(part, "part_number", number_name, &present, &(*parts)[i].number);
        if (!err &&
            (!present || (*parts)[i].number < 1 || (*parts)[i].number > MFD_ARTIFACT_MPU_MAX_PARTS))
            err = mfd_err_new(MFD_INVALID_PARAMETER_VALUE,
                              "Invalid value for parameter '%s': a number from 1 to %d",
                              number_name, MFD_ARTIFACT_MPU_MAX_PARTS);
        if (!err)
            err = mfd_json_string(req, part, "etag", etag_name, &(*parts)[i].etag);
        if (!err && (!(*parts)[i].etag || !*(*parts)[i].etag))
            err = mfd_missing_param(etag_name);
    }
    if (err)
        return err;
    qsort(*parts, *n, sizeof **parts, compare_parts);
    for (size_t i = 1; i < *n; i++)
        if ((*parts)[i].number == (*parts)[i - 1].number)
            return mfd_err_new(MFD_INVALID_PARAMETER_VALUE, "Part %lld is given twice",
                               (long long)(*parts)[i].number);
    return NULL;
}

static mfd_err complete_multipart_upload(mfd_request *req, mfd_response *res) {
    multipart_call call;
    const char *rel = NULL;
    json_t *array;
    mfd_artifact_part *parts = NULL;
    size_t n_parts = 0;
    mfd_err err = multipart_begin(req, &call);
    if (!err && !(err = mfd_msg_array(req, "parts", &array)) && !array)
        err = mfd_missing_param("parts");
    if (!err)
        err = multipart_target(req, &call, &rel);
    if (!err)
        err = multipart_parts(req, array, &parts, &n_parts);
    if (!err)
        err = mfd_artifact_mpu_complete(req->arena, destination(req), rel, call.upload_id, parts,
                                        n_parts);
    if (!err)
        res->json = json_object();
    return err;
}

static mfd_err abort_multipart_upload(mfd_request *req, mfd_response *res) {
    multipart_call call;
    const char *rel = NULL;
    mfd_err err = multipart_begin(req, &call);
    if (!err)
        err = multipart_target(req, &call, &rel);
    if (!err)
        err = mfd_artifact_mpu_abort(req->arena, destination(req), rel, call.upload_id);
    if (!err)
        res->json = json_object();
    return err;
}

/* --- artifacts of runs, model versions and logged models --------------- */

/* `runs:/<run_id>[/<path>]` as the run's artifact location joined with the
 * path (what MLflow's RunsArtifactRepository reads). */
static mfd_err follow_runs_uri(mfd_request *req, mfd_conn *conn, const char *uri,
                               const char **out) {
    const char *id = uri + strlen("runs:/");
    size_t id_len = strcspn(id, "/");
    const char *run_id = mfd_arena_strndup(req->arena, id, id_len), *rel = "";
    mfd_err err = id[id_len] ? mfd_artifact_path_normalize(req->arena, id + id_len + 1,
                                                           strlen(id + id_len + 1), &rel)
                             : NULL;
    if (!err)
        err = mfd_artifact_location_run(conn, req->arena, run_id, out);
    if (!err && *rel) /* on the path, before any query (upstream's get_artifact_uri) */
        *out = mfd_artifact_location_append(req->arena, *out, rel);
    return err;
}

/* Where `uri` keeps its files; `models:/<model_id>` (a registry source
 * without a resolved storage_location) is followed to the logged model,
 * `runs:/<run_id>/<path>` (a version registered from a run) to the run's. */
static mfd_err resolve_location(mfd_request *req, const char *uri, const char **root,
                                const char **prefix) {
    bool logged_model = !strncmp(uri, "models:/", 8) && !strchr(uri + 8, '/');
    bool run = !strncmp(uri, "runs:/", 6);
    if (logged_model || run) {
        mfd_conn *conn;
        mfd_err err = mfd_api_conn(req, &conn);
        if (!err)
            err = logged_model ? mfd_artifact_location_logged_model(conn, req->arena, uri + 8, &uri)
                               : follow_runs_uri(req, conn, uri, &uri);
        if (err)
            return err;
    }
    const char *dest = req->app->artifacts ? destination(req) : NULL;
    return mfd_artifact_uri_resolve(req->arena, dest, uri, root, prefix);
}

static mfd_err run_location(mfd_request *req, const char *run_id, const char **uri) {
    mfd_conn *conn;
    mfd_err err = mfd_api_conn(req, &conn);
    return err ? err : mfd_artifact_location_run(conn, req->arena, run_id, uri);
}

static mfd_err logged_model_location(mfd_request *req, const char **uri) {
    mfd_conn *conn;
    mfd_err err = mfd_api_conn(req, &conn);
    return err ? err
               : mfd_artifact_location_logged_model(conn, req->arena, req->path_params[0], uri);
}

/* {root_uri, files} listing of `rel` below a stored location (§5.16, §6.9). */
static mfd_err list_location(mfd_request *req, mfd_response *res, const char *uri,
                             const char *rel) {
    const char *root, *prefix;
    json_t *files = NULL;
    mfd_err err = resolve_location(req, uri, &root, &prefix);
    if (!err)
        err = list_files(req, root, prefix, rel ? rel : "", false, &files);
    if (err)
        return err;
    res->json = json_object();
    json_object_set_new(res->json, "root_uri", json_string(uri));
    if (files)
        json_object_set_new(res->json, "files", files);
    return NULL;
}

/* File `rel` of the location `uri`; `check_owner`: a location its creator
 * chose (a model version's), read only where the user may read the file
 * (artifact_owner.h). */
static mfd_err send_location_file(mfd_request *req, mfd_response *res, const char *uri,
                                  const char *rel, bool check_owner) {
    const char *root, *prefix;
    mfd_err err = resolve_location(req, uri, &root, &prefix);
    if (!err && !*rel)
        err = mfd_err_new(MFD_RESOURCE_DOES_NOT_EXIST, "Artifact '' is a directory, not a file");
    const char *file = err ? NULL : mfd_artifact_relpath_join(req->arena, prefix, rel);
    bool refused = false;
    if (!err && check_owner)
        err = mfd_api_check_file_owner(req, res, req->app->artifacts ? destination(req) : NULL,
                                       root, file, MFD_PERM_READ, false, &refused);
    return err || refused ? err : send_file(req, res, root, file);
}

static mfd_err list_run_artifacts(mfd_request *req, mfd_response *res) {
    const char *run_id, *rel, *uri;
    mfd_err err = mfd_msg_run_id(req, &run_id);
    if (!err)
        err = path_field(req, "path", &rel);
    if (!err)
        err = run_location(req, run_id, &uri);
    return err ? err : list_location(req, res, uri, rel);
}

/* A required path parameter of the UI downloads. */
static mfd_err required_path(mfd_request *req, const char *field, const char **rel) {
    mfd_err err = path_field(req, field, rel);
    if (!err && (!*rel || !**rel))
        err = mfd_missing_param(field);
    return err;
}

static mfd_err get_run_artifact(mfd_request *req, mfd_response *res) {
    const char *run_id, *rel, *uri;
    mfd_err err = mfd_msg_run_id(req, &run_id);
    if (!err)
        err = required_path(req, "path", &rel);
    if (!err)
        err = run_location(req, run_id, &uri);
    return err ? err : send_location_file(req, res, uri, rel, false);
}

static mfd_err get_model_version_artifact(mfd_request *req, mfd_response *res) {
    const char *name, *version_text, *rel, *uri;
    int64_t version;
    mfd_conn *conn;
    mfd_err err = mfd_msg_required_string(req, "name", &name);
    if (!err)
        err = mfd_msg_required_string(req, "version", &version_text);
    if (!err && !mfd_parse_int64(version_text, &version))
        err = mfd_err_new(MFD_INVALID_PARAMETER_VALUE,
                          "Parameter 'version' must be an integer, got '%s'.", version_text);
    if (!err)
        err = required_path(req, "path", &rel);
    if (!err)
        err = mfd_api_conn(req, &conn);
    if (!err)
        err = mfd_artifact_location_model_version(conn, req->arena, name, version, &uri);
    return err ? err : send_location_file(req, res, uri, rel, true);
}

static mfd_err list_logged_model_artifacts(mfd_request *req, mfd_response *res) {
    const char *rel, *uri;
    mfd_err err = path_field(req, "artifact_directory_path", &rel);
    if (!err)
        err = logged_model_location(req, &uri);
    return err ? err : list_location(req, res, uri, rel);
}

static mfd_err get_logged_model_artifact(mfd_request *req, mfd_response *res) {
    const char *rel, *uri;
    mfd_err err = path_field(req, "artifact_file_path", &rel);
    if (!err && (!rel || !*rel))
        err = mfd_err_new(MFD_BAD_REQUEST,
                          "Request must include the \"artifact_file_path\" query parameter.");
    if (!err)
        err = logged_model_location(req, &uri);
    return err ? err : send_location_file(req, res, uri, rel, false);
}

/* --- the UI's upload (§8.3): ?run_uuid=&path=, raw body ≤ 10 MB --------- */

static mfd_err begin_ui_upload(mfd_request *req, mfd_upload *upload) {
    const char *uri, *root, *prefix, *rel = NULL;
    size_t run_len, path_len;
    const char *run_id = query_field(req, "run_uuid", &run_len);
    const char *path = query_field(req, "path", &path_len);
    mfd_err err = NULL;
    if (!run_id || !*run_id)
        err = mfd_err_new(MFD_INVALID_PARAMETER_VALUE, "Request must specify run_uuid.");
    else if (!path || !path_len)
        err = mfd_err_new(MFD_INVALID_PARAMETER_VALUE, "Request must specify path.");
    else
        err = file_path(req, path, path_len, &rel);
    const char *length = err ? NULL : req->header(req, "Content-Length");
    if (length && strtoull(length, NULL, 10) > UI_UPLOAD_MAX_BYTES)
        err = mfd_err_new(MFD_INVALID_PARAMETER_VALUE,
                          "Artifact size is too large. Max size is 10MB.");
    if (!err)
        err = run_location(req, run_id, &uri);
    if (!err)
        err = resolve_location(req, uri, &root, &prefix);
    const char *file = err ? NULL : mfd_artifact_relpath_join(req->arena, prefix, rel);
    /* The run's location is its experiment's, which its creator chose: it may
     * lie in another user's experiment (mlflow-artifacts:/<their id>), where
     * the proxy's rule would refuse this write. */
    mfd_response owner_answer = {.fd = -1};
    bool refused = false;
    if (!err)
        err = mfd_api_check_file_owner(req, &owner_answer,
                                       req->app->artifacts ? destination(req) : NULL, root, file,
                                       MFD_PERM_EDIT, false, &refused);
    mfd_api_conn_release(req); /* not held while the body arrives */
    if (!err && refused)
        err = mfd_err_new(MFD_PERMISSION_DENIED,
                          "Permission denied: the run's artifacts are in another experiment");
    if (err)
        return err;
    return mfd_artifact_upload_begin(root, file, upload);
}

static mfd_err ui_upload(mfd_request *req, mfd_response *res) {
    if (req->upload->size == 0)
        return mfd_err_new(MFD_INVALID_PARAMETER_VALUE, "Request must specify data.");
    if (req->upload->size > UI_UPLOAD_MAX_BYTES)
        return mfd_err_new(MFD_INVALID_PARAMETER_VALUE,
                           "Artifact size is too large. Max size is 10MB.");
    return upload_artifact(req, res);
}

#define PROXY    MFD_ROUTE_ARTIFACTS
#define TRACKING MFD_ROUTE_TRACKING

const mfd_route mfd_api_artifacts_routes[] = {
    {"GET", "2.0/mlflow-artifacts/artifacts/<path>", download_artifact, PROXY, NULL},
    {"PUT", "2.0/mlflow-artifacts/artifacts/<path>", upload_artifact, PROXY, begin_upload_artifact},
    {"DELETE", "2.0/mlflow-artifacts/artifacts/<path>", delete_artifact, PROXY, NULL},
    {"GET", "2.0/mlflow-artifacts/artifacts", list_proxied_artifacts, PROXY, NULL},
    {"POST", "2.0/mlflow-artifacts/mpu/create/<path>", create_multipart_upload, PROXY, NULL},
    {"POST", "2.0/mlflow-artifacts/mpu/complete/<path>", complete_multipart_upload, PROXY, NULL},
    {"POST", "2.0/mlflow-artifacts/mpu/abort/<path>", abort_multipart_upload, PROXY, NULL},
    {"GET", "2.0/mlflow/artifacts/list", list_run_artifacts, TRACKING, NULL},
    {"GET", "2.0/mlflow/logged-models/{model_id}/artifacts/directories",
     list_logged_model_artifacts, TRACKING, NULL},
    {"GET", "2.0/mlflow/logged-models/{model_id}/artifacts/files", get_logged_model_artifact,
     TRACKING | MFD_ROUTE_AJAX_ONLY, NULL},
    {"POST", "2.0/mlflow/upload-artifact", ui_upload, TRACKING | MFD_ROUTE_AJAX_ONLY,
     begin_ui_upload},
    /* MLflow serves these two at <static prefix><pattern> (_add_static_prefix); the bare
     * spelling stays for servers without a prefix and for existing links. */
    {"GET", "/get-artifact", get_run_artifact, TRACKING | MFD_ROUTE_BARE | MFD_ROUTE_PREFIXED,
     NULL},
    {"GET", "/model-versions/get-artifact", get_model_version_artifact,
     TRACKING | MFD_ROUTE_BARE | MFD_ROUTE_PREFIXED, NULL},
    {0},
};
