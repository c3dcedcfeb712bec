/* artifacts.c — temp probe. */
#include "api.h"
#include <stdio.h>
#include <string.h>
static mfd_err probe(mfd_request *req, mfd_response *res) {
    json_t *o = json_object();
    json_object_set_new(o, "path", json_stringn(req->path, strlen(req->path)));
    json_object_set_new(o, "tail", json_string(req->path_tail));
    json_t *q = json_array();
    for (size_t i = 0; i < req->n_query; i++) json_array_append_new(q, json_pack("[ss]", req->query[i].key, req->query[i].value));
    json_object_set_new(o, "q", q);
    res->json = o;
    return NULL;
}
const mfd_route mfd_api_artifacts_routes[] = {
    {"GET", "2.0/mlflow-artifacts/artifacts/<path>", probe, MFD_ROUTE_ARTIFACTS, NULL},
    {0},
};
