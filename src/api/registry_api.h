/* registry_api.h — what the two halves of the registry service share:
 * api/registry.c (registered models, aliases, the route table) and
 * api/registry_versions.c (model versions). Nobody else includes it. */
#ifndef MFD_API_REGISTRY_API_H
#define MFD_API_REGISTRY_API_H

#include <jansson.h>
#include <stdbool.h>
#include <stdint.h>

#include "api.h"
#include "search/search.h"
#include "store/registry.h"

enum { MFD_REGISTRY_TAG_VALUE_MAX = 100000 };

/* The ModelVersion message (rest-api.md §2); aliases only when asked. */
json_t *mfd_registry_version_json(const mfd_model_version *mv, bool with_aliases);
/* _validate_model_version: "Parameter 'version' must be an integer, got '<v>'." */
mfd_err mfd_registry_parse_version(const char *text, int64_t *out);
/* Registry tag rules: tag-name rules and length 250 for the key, 100000
 * characters for the value. */
mfd_err mfd_registry_validate_tag(const char *key, const char *value);
/* get_canonical_stage: None/Staging/Production/Archived, any case;
 * 400 "Invalid Model Version stage: ..." otherwise. */
mfd_err mfd_registry_canonical_stage(const char *stage, const char **out);
/* Reads the `tags` array of {key, value} of the request, validated. */
mfd_err mfd_registry_read_tags(mfd_request *req, mfd_key_value **tags, size_t *n_tags);

/* The request fields both registry searches read: filter and order_by into
 * `in`, page_token, and max_results (`fallback` when absent; more than `most`
 * refused in MLflow's words). Below 1 is left to the caller: MLflow words
 * that refusal differently for models and for versions. */
mfd_err mfd_registry_read_search(mfd_request *req, int64_t fallback, int most, mfd_search_input *in,
                                 const char **page_token, int64_t *max_results);

/* Model version handlers (registry_versions.c), routed by registry.c. */
mfd_err mfd_registry_api_create_version(mfd_request *req, mfd_response *res);
mfd_err mfd_registry_api_update_version(mfd_request *req, mfd_response *res);
mfd_err mfd_registry_api_transition_stage(mfd_request *req, mfd_response *res);
mfd_err mfd_registry_api_delete_version(mfd_request *req, mfd_response *res);
mfd_err mfd_registry_api_get_version(mfd_request *req, mfd_response *res);
mfd_err mfd_registry_api_search_versions(mfd_request *req, mfd_response *res);
mfd_err mfd_registry_api_download_uri(mfd_request *req, mfd_response *res);
mfd_err mfd_registry_api_set_version_tag(mfd_request *req, mfd_response *res);
mfd_err mfd_registry_api_delete_version_tag(mfd_request *req, mfd_response *res);

#endif
