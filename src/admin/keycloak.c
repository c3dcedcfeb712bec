/* keycloak.c — `mlflowd admin keycloak`: the Keycloak objects an install
 * needs, through the Admin REST API exactly as sso-and-deploy.md §2.6 lists
 * them (R-HELM-11):
 *
 *   1. an admin token (client_credentials of a service account, or the
 *      password grant of admin-cli) from the admin realm;
 *   2. the OIDC client (confidential, code flow + PKCE S256) with
 *   3. its protocol mappers: audience, group membership (full paths), realm
 *      roles also in the ID token;
 *   5. a realm role for every role name in the role mappings;
 *   6. a group (and its parents) for every "/group/path" in them;
 *   7. each such group given the realm roles mapped to the same level.
 *
 * Idempotent: every object is looked up first (GET) and created only when
 * missing; 409 Conflict from a concurrent run counts as "there". An
 * existing client is not modified, except that missing mappers are added. */
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "admin.h"
#include "config/auth_ini.h"

enum { N_LEVELS = 5, MAX_ENTRIES = 64 };
static const char *const level_names[N_LEVELS] = {"admin", "MANAGE", "EDIT", "READ", "USE"};

typedef struct role_mappings {
    const char *entries[N_LEVELS][MAX_ENTRIES];
    int n[N_LEVELS];
} role_mappings;

typedef struct keycloak {
    mfd_arena *arena;
    const char *base;  /* https://kc.example.com[/auth], no trailing '/' */
    const char *realm; /* %-escaped */
    const char *token;
    mfd_admin_report report;
} keycloak;

/* --- HTTP ---------------------------------------------------------------- */

static const char *json_text(mfd_arena *arena, const json_t *value) {
    char *text = json_dumps(value, JSON_COMPACT | JSON_ENCODE_ANY);
    const char *copy = mfd_arena_strdup(arena, text ? text : "null");
    free(text);
    return copy;
}

/* An Admin REST call on /admin/realms/{realm}<path>; `body` is JSON or NULL. */
static mfd_err admin_call(keycloak *kc, const char *method, const char *path, const json_t *body,
                          mfd_http_answer *answer) {
    const char *text = body ? json_text(kc->arena, body) : NULL;
    mfd_http_call call = {
        .method = method,
        .url = mfd_arena_sprintf(kc->arena, "%s/admin/realms/%s%s", kc->base, kc->realm, path),
        .bearer = kc->token,
        .content_type = text ? "application/json" : NULL,
        .body = text,
        .body_len = text ? strlen(text) : 0,
    };
    mfd_err err = mfd_http_perform(kc->arena, &call, answer);
    if (err)
        return err;
    if (answer->status == 401 || answer->status == 403)
        return mfd_err_new(MFD_PERMISSION_DENIED,
                           "Keycloak refused %s %s (%ld): the admin account needs the "
                           "realm-management roles manage-clients, manage-realm and manage-users "
                           "(or realm-admin)",
                           method, path, answer->status);
    return NULL;
}

static mfd_err unexpected(const char *what, const mfd_http_answer *answer) {
    return mfd_err_new(MFD_INTERNAL_ERROR, "Keycloak: %s answered %ld: %.300s", what,
                       answer->status, answer->body ? answer->body : "");
}

/* A GET of `path`: *json its answer (new reference) when 200; NULL and no
 * error when 404 and `missing_ok`; any other status unexpected(`what`). */
static mfd_err admin_get(keycloak *kc, const char *path, const char *what, bool missing_ok,
                         mfd_http_answer *answer, json_t **json) {
    *json = NULL;
    mfd_err err = admin_call(kc, "GET", path, NULL, answer);
    if (err || (missing_ok && answer->status == 404))
        return err;
    if (answer->status != 200)
        return unexpected(what, answer);
    *json = mfd_http_json(answer);
    return NULL;
}

/* The id at the end of a Location header. */
static const char *location_id(keycloak *kc, const mfd_http_answer *answer) {
    if (!answer->location)
        return NULL;
    const char *slash = strrchr(answer->location, '/');
    return mfd_arena_strdup(kc->arena, slash ? slash + 1 : answer->location);
}

/* The token request's form for the admin's credentials (a service account,
 * else a user of admin-cli), or NULL when neither is whole: bad usage. */
static const char *admin_grant(mfd_arena *a, const char *client_id, const char *client_secret,
                               const char *username, const char *password) {
    if (client_id && *client_id && client_secret && *client_secret)
        return mfd_arena_sprintf(a, "grant_type=client_credentials&client_id=%s&client_secret=%s",
                                 mfd_http_escape(a, client_id, false),
                                 mfd_http_escape(a, client_secret, false));
    if (username && *username && password && *password)
        return mfd_arena_sprintf(
            a, "grant_type=password&client_id=admin-cli&username=%s&password=%s",
            mfd_http_escape(a, username, false), mfd_http_escape(a, password, false));
    return NULL;
}

static mfd_err get_token(keycloak *kc, const char *admin_realm, const char *form) {
    mfd_arena *a = kc->arena;
    mfd_http_call call = {
        .method = "POST",
        .url = mfd_arena_sprintf(a, "%s/realms/%s/protocol/openid-connect/token", kc->base,
                                 mfd_http_escape(a, admin_realm, false)),
        .content_type = "application/x-www-form-urlencoded",
        .body = form,
        .body_len = strlen(form),
    };
    mfd_http_answer answer;
    mfd_err err = mfd_http_perform(a, &call, &answer);
    if (err)
        return err;
    json_t *json = mfd_http_json(&answer);
    const char *token = json_string_value(json_object_get(json, "access_token"));
    if (answer.status == 200 && token)
        kc->token = mfd_arena_strdup(a, token);
    json_decref(json);
    if (!kc->token)
        return mfd_err_new(MFD_PERMISSION_DENIED,
                           "Keycloak: no admin token from realm '%s' (%ld): check the admin "
                           "credentials",
                           admin_realm, answer.status);
    return NULL;
}

/* --- 2, 3: the client and its mappers -------------------------------------- */

static json_t *mappers(const char *client_id) {
    return json_pack("[{s:s,s:s,s:s,s:{s:s,s:s,s:s}},"
                     "{s:s,s:s,s:s,s:{s:s,s:s,s:s,s:s,s:s}},"
                     "{s:s,s:s,s:s,s:{s:s,s:s,s:s,s:s,s:s}}]",
                     "name", "aud-mlflow", "protocol", "openid-connect", "protocolMapper",
                     "oidc-audience-mapper", "config", "included.client.audience", client_id,
                     "access.token.claim", "true", "id.token.claim", "false", /* audience */
                     "name", "groups", "protocol", "openid-connect", "protocolMapper",
                     "oidc-group-membership-mapper", "config", "claim.name", "groups", "full.path",
                     "true", "id.token.claim", "true", "access.token.claim", "true",
                     "userinfo.token.claim", "true", /* groups */
                     "name", "realm-roles-id", "protocol", "openid-connect", "protocolMapper",
                     "oidc-usermodel-realm-role-mapper", "config", "claim.name",
                     "realm_access.roles", "multivalued", "true", "jsonType.label", "String",
                     "id.token.claim", "true", "access.token.claim", "true");
}

static mfd_err find_client(keycloak *kc, const char *client_id, const char **id) {
    mfd_http_answer answer;
    json_t *list;
    mfd_err err = admin_get(kc,
                            mfd_arena_sprintf(kc->arena, "/clients?clientId=%s",
                                              mfd_http_escape(kc->arena, client_id, false)),
                            "GET clients", false, &answer, &list);
    if (err)
        return err;
    *id = NULL;
    size_t i;
    json_t *c;
    json_array_foreach(list, i, c) {
        const char *cid = json_string_value(json_object_get(c, "clientId"));
        const char *uuid = json_string_value(json_object_get(c, "id"));
        if (cid && uuid && !strcmp(cid, client_id))
            *id = mfd_arena_strdup(kc->arena, uuid);
    }
    json_decref(list);
    return NULL;
}

static mfd_err ensure_mappers(keycloak *kc, const char *client_id, const char *id) {
    const char *path = mfd_arena_sprintf(kc->arena, "/clients/%s/protocol-mappers/models", id);
    mfd_http_answer answer;
    json_t *existing;
    mfd_err err = admin_get(kc, path, "GET protocol mappers", false, &answer, &existing);
    if (err)
        return err;
    json_t *wanted = mappers(client_id);
    size_t i, j;
    json_t *m, *e;
    json_array_foreach(wanted, i, m) {
        const char *name = json_string_value(json_object_get(m, "name"));
        bool found = false;
        json_array_foreach(existing, j, e) {
            const char *n = json_string_value(json_object_get(e, "name"));
            found = found || (n && !strcmp(n, name));
        }
        if (found) {
            mfd_admin_note(&kc->report, MFD_UNCHANGED, "protocol mapper \"%s\"", name);
            continue;
        }
        if (!(err = admin_call(kc, "POST", path, m, &answer)) && answer.status != 201 &&
            answer.status != 409)
            err = unexpected("POST protocol mapper", &answer);
        if (err)
            break;
        mfd_admin_note(&kc->report, answer.status == 201 ? MFD_CREATED : MFD_UNCHANGED,
                       "protocol mapper \"%s\"", name);
    }
    json_decref(existing);
    json_decref(wanted);
    return err;
}

/* Adds to `have` (an array of strings, may be NULL) those of `want` it
 * lacks; the union as a new array, *added whether any was. */
static json_t *union_of(const json_t *have, const json_t *want, bool *added) {
    json_t *all = json_is_array(have) ? json_deep_copy(have) : json_array();
    size_t i, j;
    json_t *w, *h;
    json_array_foreach(want, i, w) {
        bool found = false;
        json_array_foreach(all, j, h) found = found || json_equal(h, w);
        if (!found) {
            json_array_append(all, w);
            *added = true;
        }
    }
    return all;
}

/* An existing client keeps what an admin set, and gets what this install
 * needs: its redirect URIs and web origins added, the proxy's secret (a
 * rotated one, a changed domain would otherwise break every login). */
static mfd_err update_client(keycloak *kc, const char *client_id, const char *id,
                             const char *secret, const json_t *uris, const json_t *origins) {
    const char *path = mfd_arena_sprintf(kc->arena, "/clients/%s", id);
    mfd_http_answer answer;
    json_t *have;
    mfd_err err = admin_get(kc, path, "GET client", false, &answer, &have);
    if (err)
        return err;
    bool changed = false;
    json_t *update = json_object();
    json_object_set_new(update, "redirectUris",
                        union_of(json_object_get(have, "redirectUris"), uris, &changed));
    json_object_set_new(update, "webOrigins",
                        union_of(json_object_get(have, "webOrigins"), origins, &changed));
    json_decref(have);
    bool new_secret = false;
    if (secret) {
        err = admin_call(kc, "GET", mfd_arena_sprintf(kc->arena, "%s/client-secret", path), NULL,
                         &answer);
        json_t *current = !err && answer.status == 200 ? mfd_http_json(&answer) : NULL;
        const char *value = json_string_value(json_object_get(current, "value"));
        new_secret = !err && (!value || strcmp(value, secret) != 0);
        json_decref(current);
        if (new_secret)
            json_object_set_new(update, "secret", json_string(secret));
    }
    if (!err && (changed || new_secret)) {
        err = admin_call(kc, "PUT", path, update, &answer);
        if (!err && answer.status != 204 && answer.status != 200)
            err = unexpected("PUT client", &answer);
        if (!err)
            mfd_admin_note(&kc->report, MFD_UPDATED, "client \"%s\" (%s%s%s)", client_id,
                           changed ? "redirect URIs and web origins" : "",
                           changed && new_secret ? ", " : "", new_secret ? "secret" : "");
    } else if (!err) {
        mfd_admin_note(&kc->report, MFD_UNCHANGED, "client \"%s\"", client_id);
    }
    json_decref(update);
    return err;
}

static mfd_err ensure_client(keycloak *kc, const char *client_id, const char *secret,
                             const mfd_cli_list *redirects, const char *domain) {
    const char *id;
    mfd_err err = find_client(kc, client_id, &id);
    if (err)
        return err;
    json_t *uris = json_array(), *origins = json_array(), *attributes = json_object();
    for (int i = 0; i < redirects->n; i++)
        json_array_append_new(uris, json_string(redirects->items[i]));
    if (domain) {
        if (!redirects->n)
            json_array_append_new(uris, json_string(mfd_arena_sprintf(
                                            kc->arena, "https://%s/oauth2/callback", domain)));
        json_array_append_new(origins,
                              json_string(mfd_arena_sprintf(kc->arena, "https://%s", domain)));
    }
    if (id) {
        err = update_client(kc, client_id, id, secret, uris, origins);
        json_decref(uris);
        json_decref(origins);
        json_decref(attributes);
        return err ? err : ensure_mappers(kc, client_id, id);
    }
    json_object_set_new(attributes, "pkce.code.challenge.method", json_string("S256"));
    if (domain)
        json_object_set_new(attributes, "post.logout.redirect.uris",
                            json_string(mfd_arena_sprintf(kc->arena, "https://%s/*", domain)));
    json_t *client = json_pack(
        "{s:s,s:s,s:b,s:b,s:s,s:b,s:b,s:b,s:o,s:o,s:o,s:o}", "clientId", client_id, "protocol",
        "openid-connect", "enabled", 1, "publicClient", 0, "clientAuthenticatorType",
        "client-secret", "standardFlowEnabled", 1, "directAccessGrantsEnabled", 0,
        "serviceAccountsEnabled", 0, "redirectUris", uris, "webOrigins", origins, "attributes",
        attributes, "protocolMappers", mappers(client_id));
    if (secret)
        json_object_set_new(client, "secret", json_string(secret));
    mfd_http_answer answer;
    err = admin_call(kc, "POST", "/clients", client, &answer);
    json_decref(client);
    if (err)
        return err;
    if (answer.status == 409) { /* created meanwhile by another run */
        mfd_admin_note(&kc->report, MFD_UNCHANGED, "client \"%s\"", client_id);
        if ((err = find_client(kc, client_id, &id)) || !id)
            return err ? err : unexpected("GET clients after 409", &answer);
        return ensure_mappers(kc, client_id, id);
    }
    if (answer.status != 201)
        return unexpected("POST clients", &answer);
    mfd_admin_note(&kc->report, MFD_CREATED, "client \"%s\" with its protocol mappers", client_id);
    return NULL;
}

/* --- 5: realm roles ------------------------------------------------------- */

/* The role's representation {id, name} (new reference), or NULL if missing. */
static mfd_err get_role(keycloak *kc, const char *name, json_t **role) {
    mfd_http_answer answer;
    json_t *json;
    *role = NULL;
    mfd_err err = admin_get(
        kc, mfd_arena_sprintf(kc->arena, "/roles/%s", mfd_http_escape(kc->arena, name, false)),
        "GET role", true, &answer, &json);
    if (err || answer.status == 404)
        return err;
    *role = json_pack("{s:O,s:O}", "id", json_object_get(json, "id"), "name",
                      json_object_get(json, "name"));
    json_decref(json);
    return *role ? NULL : unexpected("GET role (no id)", &answer);
}

static mfd_err ensure_role(keycloak *kc, const char *name, const char *level) {
    json_t *role;
    mfd_err err = get_role(kc, name, &role);
    if (err || role) {
        json_decref(role);
        if (!err)
            mfd_admin_note(&kc->report, MFD_UNCHANGED, "realm role \"%s\"", name);
        return err;
    }
    json_t *body = json_pack("{s:s,s:s}", "name", name, "description",
                             mfd_arena_sprintf(kc->arena, "MLflow level %s (mlflowd)", level));
    mfd_http_answer answer;
    err = admin_call(kc, "POST", "/roles", body, &answer);
    json_decref(body);
    if (!err && answer.status != 201 && answer.status != 409)
        err = unexpected("POST roles", &answer);
    if (!err)
        mfd_admin_note(&kc->report, answer.status == 201 ? MFD_CREATED : MFD_UNCHANGED,
                       "realm role \"%s\"", name);
    return err;
}

/* --- 6: groups by path ---------------------------------------------------- */

static mfd_err group_by_path(keycloak *kc, const char *path, const char **id) {
    mfd_http_answer answer;
    json_t *json;
    *id = NULL;
    mfd_err err = admin_get(kc,
                            mfd_arena_sprintf(kc->arena, "/group-by-path/%s",
                                              mfd_http_escape(kc->arena, path + 1, true)),
                            "GET group-by-path", true, &answer, &json);
    if (err || answer.status == 404)
        return err;
    const char *gid = json_string_value(json_object_get(json, "id"));
    *id = gid ? mfd_arena_strdup(kc->arena, gid) : NULL;
    json_decref(json);
    return *id ? NULL : unexpected("GET group-by-path (no id)", &answer);
}

/* `path` is "/a/b/c"; parents are made first. */
static mfd_err ensure_group(keycloak *kc, const char *path, const char **id) {
    mfd_err err = group_by_path(kc, path, id);
    if (err || *id) {
        if (!err)
            mfd_admin_note(&kc->report, MFD_UNCHANGED, "group \"%s\"", path);
        return err;
    }
    const char *last = strrchr(path, '/');
    const char *name = last + 1, *create_at = "/groups";
    if (last != path) {
        const char *parent_id;
        if ((err = ensure_group(kc, mfd_arena_strndup(kc->arena, path, (size_t)(last - path)),
                                &parent_id)))
            return err;
        create_at = mfd_arena_sprintf(kc->arena, "/groups/%s/children", parent_id);
    }
    json_t *body = json_pack("{s:s}", "name", name);
    mfd_http_answer answer;
    err = admin_call(kc, "POST", create_at, body, &answer);
    json_decref(body);
    if (err)
        return err;
    if (answer.status != 201 && answer.status != 409)
        return unexpected("POST groups", &answer);
    mfd_admin_note(&kc->report, answer.status == 201 ? MFD_CREATED : MFD_UNCHANGED, "group \"%s\"",
                   path);
    *id = answer.status == 201 ? location_id(kc, &answer) : NULL;
    return *id ? NULL : group_by_path(kc, path, id);
}

/* --- 7: realm roles of a group ---------------------------------------------- */

static mfd_err ensure_group_roles(keycloak *kc, const char *group_path, const char *group_id,
                                  const char *const *roles, int n_roles) {
    const char *path = mfd_arena_sprintf(kc->arena, "/groups/%s/role-mappings/realm", group_id);
    mfd_http_answer answer;
    json_t *have;
    mfd_err err = admin_get(kc, path, "GET group role mappings", false, &answer, &have);
    if (err)
        return err;
    json_t *add = json_array();
    for (int r = 0; r < n_roles && !err; r++) {
        bool found = false;
        size_t i;
        json_t *m;
        json_array_foreach(have, i, m) {
            const char *n = json_string_value(json_object_get(m, "name"));
            found = found || (n && !strcmp(n, roles[r]));
        }
        if (found) {
            mfd_admin_note(&kc->report, MFD_UNCHANGED, "realm role \"%s\" of group \"%s\"",
                           roles[r], group_path);
            continue;
        }
        json_t *role;
        if (!(err = get_role(kc, roles[r], &role)) && role) {
            json_array_append_new(add, role);
            mfd_admin_note(&kc->report, MFD_CREATED, "realm role \"%s\" of group \"%s\"", roles[r],
                           group_path);
        }
    }
    if (!err && json_array_size(add) > 0 && !(err = admin_call(kc, "POST", path, add, &answer)) &&
        answer.status != 204 && answer.status != 200)
        err = unexpected("POST group role mappings", &answer);
    json_decref(have);
    json_decref(add);
    return err;
}

/* --- role mappings ------------------------------------------------------------ */

static const char *env_lookup(const char *name) {
    return getenv(name);
}

static int level_index(const char *name) {
    for (int i = 0; i < N_LEVELS; i++)
        if (!strcasecmp(name, level_names[i]))
            return i;
    return -1;
}

/* Entries as the server reads them (sso_config.c): split on commas and the
 * INI's continuation lines, and oauth2-proxy's "role:" prefix dropped
 * ("role:x" is the realm role x, "role:client:x" the client role client:x). */
/* A group path as Keycloak's group-by-path reads it: "/a/b", no empty, "."
 * or ".." segment (libcurl would fold "..", and an empty name makes a group
 * named ""). */
static bool valid_group_path(const char *path) {
    if (path[0] != '/')
        return false;
    for (const char *seg = path + 1;;) {
        size_t len = strcspn(seg, "/");
        if (len == 0 || (len == 1 && seg[0] == '.') || (len == 2 && !strncmp(seg, "..", 2)))
            return false;
        if (!seg[len])
            return true;
        seg += len + 1;
    }
}

static mfd_err add_entries(mfd_arena *arena, role_mappings *rm, int level, const char *list) {
    char *copy = mfd_arena_strdup(arena, list);
    for (char *save = NULL, *item = strtok_r(copy, ",\n", &save); item;
         item = strtok_r(NULL, ",\n", &save)) {
        while (*item == ' ' || *item == '\t')
            item++;
        size_t len = strlen(item);
        while (len > 0 && (item[len - 1] == ' ' || item[len - 1] == '\t' || item[len - 1] == '\r'))
            item[--len] = '\0';
        if (!strncmp(item, "role:", 5))
            item += 5;
        if (!*item)
            continue;
        if (item[0] == '/' && !valid_group_path(item))
            return mfd_err_new(MFD_INVALID_PARAMETER_VALUE,
                               "group path '%s' (%s): expected /name/name..., without empty, '.' "
                               "or '..' parts",
                               item, level_names[level]);
        if (rm->n[level] == MAX_ENTRIES)
            return mfd_err_new(MFD_INVALID_PARAMETER_VALUE, "more than %d roles and groups for %s",
                               MAX_ENTRIES, level_names[level]);
        rm->entries[level][rm->n[level]++] = item;
    }
    return NULL;
}

static mfd_err read_mappings(mfd_arena *arena, const char *auth_config, const mfd_cli_list *flags,
                             role_mappings *rm) {
    memset(rm, 0, sizeof *rm);
    if (auth_config && *auth_config) {
        mfd_auth_ini *ini;
        mfd_err err = mfd_auth_ini_load(auth_config, env_lookup, &ini);
        if (err)
            return err;
        for (int l = 0; l < N_LEVELS; l++) {
            const char *v = mfd_auth_ini_get(ini, "role_mappings", level_names[l]);
            if (v && (err = add_entries(arena, rm, l, v))) {
                mfd_auth_ini_free(ini);
                return err;
            }
        }
        mfd_auth_ini_free(ini);
    }
    for (int i = 0; i < flags->n; i++) {
        const char *eq = strchr(flags->items[i], '=');
        int level = eq ? level_index(mfd_arena_strndup(arena, flags->items[i],
                                                       (size_t)(eq - flags->items[i])))
                       : -1;
        if (level < 0)
            return mfd_err_new(MFD_INVALID_PARAMETER_VALUE,
                               "--role-mapping '%s': expected LEVEL=role,/group,... with LEVEL "
                               "one of admin, MANAGE, EDIT, READ, USE",
                               flags->items[i]);
        mfd_err err = add_entries(arena, rm, level, eq + 1);
        if (err)
            return err;
    }
    return NULL;
}

static mfd_err provision(keycloak *kc, const role_mappings *rm, bool roles, bool groups) {
    mfd_err err = NULL;
    /* client roles belong to their client, which this command does not make */
    for (int l = 0; l < N_LEVELS && roles; l++)
        for (int i = 0; i < rm->n[l]; i++)
            if (rm->entries[l][i][0] != '/' && strchr(rm->entries[l][i], ':'))
                printf("skipped client role \"%s\" (%s): create it on its client\n",
                       rm->entries[l][i], level_names[l]);
    for (int l = 0; l < N_LEVELS && !err; l++)
        for (int i = 0; i < rm->n[l] && !err && roles; i++)
            if (rm->entries[l][i][0] != '/' && !strchr(rm->entries[l][i], ':'))
                err = ensure_role(kc, rm->entries[l][i], level_names[l]);
    for (int l = 0; l < N_LEVELS && !err && groups; l++) {
        const char *level_roles[MAX_ENTRIES];
        int n_roles = 0;
        for (int i = 0; i < rm->n[l]; i++)
            if (rm->entries[l][i][0] != '/' && !strchr(rm->entries[l][i], ':'))
                level_roles[n_roles++] = rm->entries[l][i];
        for (int i = 0; i < rm->n[l] && !err; i++) {
            const char *path = rm->entries[l][i], *id;
            if (path[0] != '/' || !path[1])
                continue;
            if (!(err = ensure_group(kc, path, &id)) && roles && n_roles)
                err = ensure_group_roles(kc, path, id, level_roles, n_roles);
        }
    }
    return err;
}

int mfd_admin_keycloak(int argc, char **argv) {
    const char *url = NULL, *realm = NULL, *admin_realm = "master", *admin_client_id = NULL,
               *admin_client_secret = NULL, *admin_username = NULL, *admin_password = NULL,
               *client_id = "mlflow", *client_secret = NULL, *domain = NULL, *auth_config = NULL;
    bool no_client = false, no_roles = false, no_groups = false;
    mfd_cli_list redirects = {0}, mappings = {0};
    const mfd_cli_option options[] = {
        {"--url", "MLFLOWD_KEYCLOAK_URL", MFD_CLI_STRING, &url,
         "Keycloak's base URL, e.g. https://kc.example.com (with /auth for Keycloak <= 16)"},
        {"--realm", "MLFLOWD_KEYCLOAK_REALM", MFD_CLI_STRING, &realm, "the realm to provision"},
        {"--admin-realm", "MLFLOWD_KEYCLOAK_ADMIN_REALM", MFD_CLI_STRING, &admin_realm,
         "realm of the admin account (master)"},
        {"--admin-client-id", "KEYCLOAK_ADMIN_CLIENT_ID", MFD_CLI_STRING, &admin_client_id,
         "service-account client with realm-management roles (preferred)"},
        {"--admin-client-secret", "KEYCLOAK_ADMIN_CLIENT_SECRET", MFD_CLI_STRING,
         &admin_client_secret, NULL},
        {"--admin-username", "KEYCLOAK_ADMIN", MFD_CLI_STRING, &admin_username,
         "admin user, with KEYCLOAK_ADMIN_PASSWORD (password grant of admin-cli)"},
        {"--admin-password", "KEYCLOAK_ADMIN_PASSWORD", MFD_CLI_STRING, &admin_password, NULL},
        {"--client-id", "MLFLOWD_KEYCLOAK_CLIENT_ID", MFD_CLI_STRING, &client_id,
         "the OIDC client to create (mlflow)"},
        {"--client-secret", "MLFLOWD_KEYCLOAK_CLIENT_SECRET", MFD_CLI_STRING, &client_secret, NULL},
        {"--domain", "MLFLOWD_DOMAIN", MFD_CLI_STRING, &domain,
         "public host name: redirect https://<domain>/oauth2/callback, web origin, logout URIs"},
        {"--redirect-uri", NULL, MFD_CLI_LIST, &redirects, "redirect URI (repeatable)"},
        {"--auth-config", "MLFLOW_AUTH_CONFIG_PATH", MFD_CLI_STRING, &auth_config,
         "auth INI whose [role_mappings] name the roles and /groups to create"},
        {"--role-mapping", NULL, MFD_CLI_LIST, &mappings,
         "LEVEL=role,/group/path,... in addition to the INI (repeatable)"},
        {"--no-client", NULL, MFD_CLI_FLAG, &no_client, "create no client"},
        {"--no-roles", NULL, MFD_CLI_FLAG, &no_roles, "create no realm roles"},
        {"--no-groups", NULL, MFD_CLI_FLAG, &no_groups, "create no groups"},
    };
    const mfd_cli cli = {
        "mlflowd admin keycloak --url URL --realm REALM [OPTIONS]",
        "Creates the OIDC client with its audience, groups and realm-roles mappers, a realm role "
        "for every role and a group for every /group/path of the role mappings, and gives each "
        "group the roles mapped to its level. Secrets come from the environment: "
        "KEYCLOAK_ADMIN_CLIENT_SECRET or KEYCLOAK_ADMIN_PASSWORD, and "
        "MLFLOWD_KEYCLOAK_CLIENT_SECRET "
        "(the new client's secret, e.g. oauth2-proxy's). Idempotent.",
        options, sizeof options / sizeof options[0]};
    bool stop;
    int rc = mfd_cli_parse(&cli, argc, argv, &stop);
    if (stop)
        return rc;
    if (!url || !realm) {
        fprintf(stderr, "mlflowd admin keycloak: --url and --realm are required\n");
        return 2;
    }
    keycloak kc = {.arena = mfd_arena_new(), .report = {.command = "keycloak"}};
    const char *grant =
        admin_grant(kc.arena, admin_client_id, admin_client_secret, admin_username, admin_password);
    if (!grant) {
        fprintf(stderr, "mlflowd admin keycloak: no Keycloak admin credentials: give "
                        "--admin-client-id and --admin-client-secret (a service account), or "
                        "--admin-username and --admin-password\n");
        mfd_arena_free(kc.arena);
        return 2;
    }
    size_t len = strlen(url);
    while (len > 0 && url[len - 1] == '/')
        len--;
    kc.base = mfd_arena_strndup(kc.arena, url, len);
    kc.realm = mfd_http_escape(kc.arena, realm, false);
    role_mappings rm;
    mfd_err err = read_mappings(kc.arena, auth_config, &mappings, &rm);
    if (!err)
        err = get_token(&kc, admin_realm, grant);
    if (!err && !no_client)
        err = ensure_client(&kc, client_id, client_secret && *client_secret ? client_secret : NULL,
                            &redirects, domain && *domain ? domain : NULL);
    if (!err)
        err = provision(&kc, &rm, !no_roles, !no_groups);
    if (!err)
        mfd_admin_summary(&kc.report);
    mfd_arena_free(kc.arena);
    return err ? mfd_cli_fail(err) : 0;
}
