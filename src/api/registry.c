/* registry.c — the model registry service (rest-api.md §7): registered
 * models, their tags and aliases, latest versions, the RegisteredModel and
 * ModelVersion messages, and the route table of the whole service (the
 * version handlers live in registry_versions.c).
 *
 * Validation runs in MLflow's order: required fields, then names, tags,
 * versions and aliases, then the store's existence checks. */
#include <ctype.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "auth/auth.h"
#include "core/utf8.h"
#include "message.h"
#include "registry_api.h"
#include "search/search.h"
#include "validate.h"

enum { MAX_MODEL_SEARCH_RESULTS = 1000, DEFAULT_MODEL_SEARCH_RESULTS = 100, MAX_ALIAS = 255 };

/* ---- messages -------------------------------------------------------------------------------- */

static char *version_text(int64_t version, char buf[24]) {
    snprintf(buf, 24, "%lld", (long long)version);
    return buf;
}

json_t *mfd_registry_version_json(const mfd_model_version *mv, bool with_aliases) {
    json_t *o = json_object();
    char buf[24];
    mfd_json_set_str(o, "name", mv->name);
    mfd_json_set_str(o, "version", version_text(mv->version, buf));
    if (mv->creation_time) /* NULL in the database (another tool's row): left out, as MLflow */
        mfd_json_set_int(o, "creation_timestamp", mv->creation_time);
    if (mv->last_updated_time)
        mfd_json_set_int(o, "last_updated_timestamp", mv->last_updated_time);
    mfd_json_set_str(o, "user_id", mv->user_id);
    mfd_json_set_str(o, "current_stage", mv->current_stage);
    mfd_json_set_str(o, "description", mv->description);
    mfd_json_set_str(o, "source", mv->source);
    mfd_json_set_str(o, "run_id", mv->run_id);
    mfd_json_set_str(o, "status", mv->status);
    if (mv->status_message && *mv->status_message)
        mfd_json_set_str(o, "status_message", mv->status_message);
    if (mv->n_tags)
        json_object_set_new(o, "tags", mfd_json_key_values(mv->tags, mv->n_tags));
    mfd_json_set_str(o, "run_link", mv->run_link);
    if (with_aliases && mv->n_aliases) {
        json_t *aliases = json_array();
        for (size_t i = 0; i < mv->n_aliases; i++)
            json_array_append_new(aliases, json_string(mv->aliases[i]));
        json_object_set_new(o, "aliases", aliases);
    }
    return o;
}

static json_t *model_json(const mfd_registered_model *m) {
    json_t *o = json_object();
    char buf[24];
    mfd_json_set_str(o, "name", m->name);
    if (m->creation_time)
        mfd_json_set_int(o, "creation_timestamp", m->creation_time);
    if (m->last_updated_time)
        mfd_json_set_int(o, "last_updated_timestamp", m->last_updated_time);
    if (m->description && *m->description)
        mfd_json_set_str(o, "description", m->description);
    if (m->n_latest_versions) {
        json_t *list = json_array();
        for (size_t i = 0; i < m->n_latest_versions; i++)
            json_array_append_new(list, mfd_registry_version_json(&m->latest_versions[i], false));
        json_object_set_new(o, "latest_versions", list);
    }
    if (m->n_tags)
        json_object_set_new(o, "tags", mfd_json_key_values(m->tags, m->n_tags));
    if (m->n_aliases) {
        json_t *list = json_array();
        for (size_t i = 0; i < m->n_aliases; i++) {
            json_t *a = json_object();
            mfd_json_set_str(a, "alias", m->aliases[i].alias);
            mfd_json_set_str(a, "version", version_text(m->aliases[i].version, buf));
            json_array_append_new(list, a);
        }
        json_object_set_new(o, "aliases", list);
    }
    return o;
}

static json_t *model_item(const void *item) {
    return model_json(item);
}

static mfd_err answer_model(mfd_response *res, const mfd_registered_model *m) {
    res->json = json_object();
    json_object_set_new(res->json, "registered_model", model_json(m));
    return NULL;
}

static mfd_err answer_version(mfd_response *res, const mfd_model_version *mv) {
    res->json = json_object();
    json_object_set_new(res->json, "model_version", mfd_registry_version_json(mv, true));
    return NULL;
}

/* ---- shared validation ----------------------------------------------------------------------- */

mfd_err mfd_registry_parse_version(const char *text, int64_t *out) {
    /* Python's int(): surrounding whitespace and a sign are fine. */
    const char *p = text ? text : "";
    while (isspace((unsigned char)*p))
        p++;
    char *end;
    errno = 0;
    long long v = strtoll(p, &end, 10);
    bool ok = end != p && !errno && isdigit((unsigned char)end[-1]);
    while (ok && isspace((unsigned char)*end))
        end++;
    if (!ok || *end)
        return mfd_err_new(MFD_INVALID_PARAMETER_VALUE,
                           "Parameter 'version' must be an integer, got '%s'.", text ? text : "");
    *out = v;
    return NULL;
}

mfd_err mfd_registry_validate_tag(const char *key, const char *value) {
    mfd_err err = mfd_validate_key(key, "tag");
    if (!err)
        err = mfd_validate_max_length(value, MFD_REGISTRY_TAG_VALUE_MAX, "Tag value");
    return err;
}

mfd_err mfd_registry_canonical_stage(const char *stage, const char **out) {
    static const char *const stages[] = {"None", "Staging", "Production", "Archived"};
    for (size_t i = 0; i < 4; i++) {
        if (stage && strcasecmp(stage, stages[i]) == 0) {
            *out = stages[i];
            return NULL;
        }
    }
    return mfd_err_new(MFD_INVALID_PARAMETER_VALUE,
                       "Invalid Model Version stage: %s. Value must be one of None, Staging, "
                       "Production, Archived.",
                       stage ? stage : "");
}

mfd_err mfd_registry_read_tags(mfd_request *req, mfd_key_value **tags, size_t *n_tags) {
    json_t *array;
    mfd_err err = mfd_msg_array(req, "tags", &array);
    if (err)
        return err;
    size_t n = array ? json_array_size(array) : 0;
    mfd_key_value *list = mfd_arena_calloc(req->arena, n + 1, sizeof *list);
    for (size_t i = 0; i < n; i++) {
        json_t *t = json_array_get(array, i);
        if ((err = mfd_json_string(req, t, "key", mfd_arena_sprintf(req->arena, "tags[%zu].key", i),
                                   &list[i].key)) ||
            (err = mfd_json_string(req, t, "value",
                                   mfd_arena_sprintf(req->arena, "tags[%zu].value", i),
                                   &list[i].value)) ||
            (err = mfd_registry_validate_tag(list[i].key, list[i].value)))
            return err;
        if (!list[i].value)
            list[i].value = "";
    }
    *tags = list;
    *n_tags = n;
    return NULL;
}

mfd_err mfd_registry_read_search(mfd_request *req, int64_t fallback, int most, mfd_search_input *in,
                                 const char **page_token, int64_t *max_results) {
    const char **order_by;
    bool has_max;
    mfd_err err;
    if ((err = mfd_msg_string(req, "filter", &in->filter)) ||
        (err = mfd_msg_int64(req, "max_results", &has_max, max_results)) ||
        (err = mfd_msg_string_list(req, "order_by", &order_by, &in->n_order_by)) ||
        (err = mfd_msg_string(req, "page_token", page_token)))
        return err;
    in->order_by = order_by;
    if (!has_max)
        *max_results = fallback;
    if (*max_results > most)
        return mfd_err_new(MFD_INVALID_PARAMETER_VALUE,
                           "Invalid value for request parameter max_results. It must be at most "
                           "%d, but got value %lld",
                           most, (long long)*max_results);
    return NULL;
}

/* _validate_model_alias_name. */
static mfd_err validate_alias(const char *alias) {
    if (!mfd_utf8_word_chars_only(alias, "-")) /* MLflow: ^[\w\-]*$ */
        return mfd_err_new(MFD_INVALID_PARAMETER_VALUE,
                           "Invalid alias name: '%s'. Names may only contain alphanumerics, "
                           "underscores (_), and dashes (-).",
                           alias);
    mfd_err err = mfd_validate_max_length(alias, MAX_ALIAS, "Registered model alias name");
    if (err)
        return err;
    if (strcasecmp(alias, "latest") == 0)
        return mfd_err_new(MFD_INVALID_PARAMETER_VALUE,
                           "'latest' alias name (case insensitive) is reserved.");
    if ((alias[0] == 'v' || alias[0] == 'V') && alias[1]) {
        const char *p = alias + 1;
        while (isdigit((unsigned char)*p))
            p++;
        if (!*p)
            return mfd_err_new(MFD_INVALID_PARAMETER_VALUE, "Version alias name '%s' is reserved.",
                               alias);
    }
    return NULL;
}

/* ---- registered models ----------------------------------------------------------------------- */

static mfd_err create_model(mfd_request *req, mfd_response *res) {
    const char *name, *description;
    mfd_key_value *tags;
    size_t n_tags;
    mfd_conn *conn;
    mfd_registered_model m;
    mfd_err err;
    if ((err = mfd_msg_required_string(req, "name", &name)) ||
        (err = mfd_registry_read_tags(req, &tags, &n_tags)) ||
        (err = mfd_msg_string(req, "description", &description)) ||
        (err = mfd_api_conn(req, &conn)) ||
        (err = mfd_registry_create_model(conn, req->arena, name, description ? description : "",
                                         tags, n_tags, &m)))
        return err;
    return answer_model(res, &m);
}

static mfd_err get_model(mfd_request *req, mfd_response *res) {
    const char *name;
    mfd_conn *conn;
    mfd_registered_model m;
    mfd_err err;
    if ((err = mfd_msg_required_string(req, "name", &name)) || (err = mfd_api_conn(req, &conn)) ||
        (err = mfd_registry_get_model(conn, req->arena, name, &m)))
        return err;
    return answer_model(res, &m);
}

static mfd_err rename_model(mfd_request *req, mfd_response *res) {
    const char *name, *new_name;
    mfd_conn *conn;
    mfd_registered_model m;
    mfd_err err;
    if ((err = mfd_msg_required_string(req, "name", &name)) ||
        (err = mfd_msg_required_string(req, "new_name", &new_name)) ||
        (err = mfd_api_conn(req, &conn)) ||
        (err = mfd_registry_rename_model(conn, req->arena, name, new_name, &m)))
        return err;
    return answer_model(res, &m);
}

static mfd_err update_model(mfd_request *req, mfd_response *res) {
    const char *name, *description;
    mfd_conn *conn;
    mfd_registered_model m;
    mfd_err err;
    if ((err = mfd_msg_required_string(req, "name", &name)) ||
        (err = mfd_msg_string(req, "description", &description)) ||
        (err = mfd_api_conn(req, &conn)) ||
        (err =
             mfd_registry_update_model(conn, req->arena, name, description ? description : "", &m)))
        return err;
    return answer_model(res, &m);
}

static mfd_err delete_model(mfd_request *req, mfd_response *res) {
    const char *name;
    mfd_conn *conn;
    mfd_err err;
    if ((err = mfd_msg_required_string(req, "name", &name)) || (err = mfd_api_conn(req, &conn)) ||
        (err = mfd_registry_delete_model(conn, name)))
        return err;
    res->json = json_object();
    return NULL;
}

static mfd_err search_models(mfd_request *req, mfd_response *res) {
    mfd_search_input in;
    const char *page_token;
    int64_t max_results;
    mfd_err err =
        mfd_registry_read_search(req, DEFAULT_MODEL_SEARCH_RESULTS, MAX_MODEL_SEARCH_RESULTS, &in,
                                 &page_token, &max_results);
    if (err)
        return err;
    if (max_results < 1)
        return mfd_err_new(MFD_INVALID_PARAMETER_VALUE,
                           "Invalid value for request parameter max_results. It must be a "
                           "positive integer, but got value %lld",
                           (long long)max_results);
    mfd_search_sql sql;
    int64_t offset = 0;
    mfd_conn *conn;
    mfd_registered_model *models;
    size_t n;
    if ((err = mfd_search_registered_models(req->arena, &in, &sql)) ||
        (err = mfd_auth_restrict_search(req, MFD_AUTH_REGISTERED_MODEL, "rm.name", &sql)) ||
        (err = mfd_page_token_decode(page_token, &offset)) || (err = mfd_api_conn(req, &conn)) ||
        (err = mfd_registry_search_models(conn, req->arena, &sql, offset, max_results + 1, &models,
                                          &n)))
        return err;
    mfd_msg_search_page(req, res, "registered_models", models, sizeof *models, n, offset,
                        max_results, model_item);
    return NULL;
}

static mfd_err latest_versions(mfd_request *req, mfd_response *res) {
    const char *name;
    const char **stages;
    size_t n_stages;
    mfd_err err;
    if ((err = mfd_msg_required_string(req, "name", &name)) ||
        (err = mfd_msg_string_list(req, "stages", &stages, &n_stages)))
        return err;
    for (size_t i = 0; i < n_stages; i++)
        if ((err = mfd_registry_canonical_stage(stages[i], &stages[i])))
            return err;
    mfd_conn *conn;
    mfd_model_version *versions;
    size_t n;
    if ((err = mfd_api_conn(req, &conn)) ||
        (err =
             mfd_registry_latest_versions(conn, req->arena, name, stages, n_stages, &versions, &n)))
        return err;
    res->json = json_object();
    if (n) {
        json_t *list = json_array();
        for (size_t i = 0; i < n; i++)
            json_array_append_new(list, mfd_registry_version_json(&versions[i], true));
        json_object_set_new(res->json, "model_versions", list);
    }
    return NULL;
}

static mfd_err set_model_tag(mfd_request *req, mfd_response *res) {
    const char *name, *key, *value;
    mfd_conn *conn;
    mfd_err err;
    if ((err = mfd_msg_required_string(req, "name", &name)) ||
        (err = mfd_msg_required_string(req, "key", &key)) ||
        (err = mfd_msg_string(req, "value", &value)) ||
        (err = mfd_registry_validate_tag(key, value)) || (err = mfd_api_conn(req, &conn)) ||
        (err = mfd_registry_set_model_tag(conn, name, key, value ? value : "")))
        return err;
    res->json = json_object();
    return NULL;
}

static mfd_err delete_model_tag(mfd_request *req, mfd_response *res) {
    const char *name, *key;
    mfd_conn *conn;
    mfd_err err;
    if ((err = mfd_msg_required_string(req, "name", &name)) ||
        (err = mfd_msg_required_string(req, "key", &key)) || (err = mfd_validate_key(key, "tag")) ||
        (err = mfd_api_conn(req, &conn)) || (err = mfd_registry_delete_model_tag(conn, name, key)))
        return err;
    res->json = json_object();
    return NULL;
}

/* ---- aliases --------------------------------------------------------------------------------- */

static mfd_err set_alias(mfd_request *req, mfd_response *res) {
    const char *name, *alias, *version_str;
    int64_t version;
    mfd_conn *conn;
    mfd_err err;
    if ((err = mfd_msg_required_string(req, "name", &name)) ||
        (err = mfd_msg_required_string(req, "alias", &alias)) ||
        (err = mfd_msg_required_string(req, "version", &version_str)) ||
        (err = validate_alias(alias)) ||
        (err = mfd_registry_parse_version(version_str, &version)) ||
        (err = mfd_api_conn(req, &conn)) ||
        (err = mfd_registry_set_alias(conn, name, alias, version)))
        return err;
    res->json = json_object();
    return NULL;
}

static mfd_err delete_alias(mfd_request *req, mfd_response *res) {
    const char *name, *alias;
    mfd_conn *conn;
    mfd_err err;
    if ((err = mfd_msg_required_string(req, "name", &name)) ||
        (err = mfd_msg_required_string(req, "alias", &alias)) || (err = validate_alias(alias)) ||
        (err = mfd_api_conn(req, &conn)) || (err = mfd_registry_delete_alias(conn, name, alias)))
        return err;
    res->json = json_object();
    return NULL;
}

static mfd_err get_by_alias(mfd_request *req, mfd_response *res) {
    const char *name, *alias;
    mfd_conn *conn;
    mfd_err err;
    if ((err = mfd_msg_required_string(req, "name", &name)) ||
        (err = mfd_msg_required_string(req, "alias", &alias)) || (err = mfd_api_conn(req, &conn)))
        return err;
    if (strcasecmp(alias, "latest") == 0) {
        /* The first of get-latest-versions over every stage. */
        mfd_model_version *versions;
        size_t n;
        if ((err = mfd_registry_latest_versions(conn, req->arena, name, NULL, 0, &versions, &n)))
            return err;
        if (n == 0)
            return mfd_err_new(MFD_RESOURCE_DOES_NOT_EXIST,
                               "No model versions found for registered model '%s'", name);
        return answer_version(res, &versions[0]);
    }
    mfd_model_version mv;
    if ((err = validate_alias(alias)) ||
        (err = mfd_registry_get_version_by_alias(conn, req->arena, name, alias, &mv)))
        return err;
    return answer_version(res, &mv);
}

#define R(method, path, handler)                                                                   \
    { method, "2.0/mlflow/" path, handler, MFD_ROUTE_TRACKING, NULL }

const mfd_route mfd_api_registry_routes[] = {
    R("POST", "registered-models/create", create_model),
    R("POST", "registered-models/rename", rename_model),
    R("PATCH", "registered-models/update", update_model),
    R("DELETE", "registered-models/delete", delete_model),
    R("GET", "registered-models/get", get_model),
    R("GET", "registered-models/search", search_models),
    R("POST", "registered-models/get-latest-versions", latest_versions),
    R("GET", "registered-models/get-latest-versions", latest_versions),
    R("POST", "registered-models/set-tag", set_model_tag),
    R("DELETE", "registered-models/delete-tag", delete_model_tag),
    R("POST", "registered-models/alias", set_alias),
    R("DELETE", "registered-models/alias", delete_alias),
    R("GET", "registered-models/alias", get_by_alias),
    R("POST", "model-versions/create", mfd_registry_api_create_version),
    R("PATCH", "model-versions/update", mfd_registry_api_update_version),
    R("POST", "model-versions/transition-stage", mfd_registry_api_transition_stage),
    R("DELETE", "model-versions/delete", mfd_registry_api_delete_version),
    R("GET", "model-versions/get", mfd_registry_api_get_version),
    R("GET", "model-versions/search", mfd_registry_api_search_versions),
    R("GET", "model-versions/get-download-uri", mfd_registry_api_download_uri),
    R("POST", "model-versions/set-tag", mfd_registry_api_set_version_tag),
    R("DELETE", "model-versions/delete-tag", mfd_registry_api_delete_version_tag),
    {0},
};
