/* server_body.c — the body calls of a request: a JSON body read into memory
 * (within --max-body-size and the budget all bodies share, which counts what
 * reading it as JSON will take once it is in), an upload written to its
 * file, a refused body read a little and dropped.
 *
 * Invariants: what is counted in the shared budget is exactly what each
 * request holds (st->body_held: its body's bytes, then the estimate of its
 * parsed tree; given back once per request); a body
 * with a declared length never takes more memory than that length; a refused
 * body is read at most up to its allowance before the connection is dropped. */
#include <errno.h>
#include <microhttpd.h>
#include <stdatomic.h>
#include <stdint.h>
#include <string.h>
#include <unistd.h>

#include "core/json_cost.h"
#include "server_internal.h"

/* JSON bodies are read into memory (up to --max-body-size each); the bytes
 * received of all of them together may be at most this many times that (and
 * at least 256 MiB). Beyond it a request is answered 503, which the client
 * retries, rather than letting many large bodies in progress take all
 * memory. Bytes are counted as they arrive, so that a client announcing a
 * large body and sending nothing holds nothing; a body's first
 * MFD_BODY_ALWAYS_ADMITTED bytes pass even when the budget is spent, so small
 * requests go on while large ones wait. */
enum { MFD_BODY_BUDGET_BODIES = 4, MFD_BODY_ALWAYS_ADMITTED = 64 << 10 };
static _Atomic size_t body_bytes_held;

static size_t body_budget(const mfd_config *cfg) {
    size_t floor = (size_t)256 << 20;
    if (cfg->max_body_bytes > SIZE_MAX / MFD_BODY_BUDGET_BODIES)
        return SIZE_MAX;
    size_t budget = cfg->max_body_bytes * MFD_BODY_BUDGET_BODIES;
    return budget < floor ? floor : budget;
}

/* Counts the body's bytes up to `total` received; false when they would pass
 * the budget (nothing counted). */
static bool take_body_bytes(const mfd_config *cfg, size_t *held, size_t total) {
    size_t n = total - *held;
    size_t before = atomic_fetch_add(&body_bytes_held, n);
    if (total > MFD_BODY_ALWAYS_ADMITTED && before + n > body_budget(cfg)) {
        atomic_fetch_sub(&body_bytes_held, n);
        return false;
    }
    *held = total;
    return true;
}

static mfd_err body_budget_error(void) {
    return mfd_err_new(MFD_TEMPORARILY_UNAVAILABLE,
                       "The server is reading too many large request bodies at once; try again");
}

mfd_err mfd_server_body_charge_parse(const mfd_app *app, request_state *st) {
    if (st->body.len == 0)
        return NULL;
    size_t cost = mfd_json_parse_cost(st->body.data, st->body.len);
    if (cost <= st->body_held)
        return NULL;
    size_t budget = body_budget(app->config);
    if (cost > budget) {
        st->res.status = 413;
        return mfd_err_new(MFD_INVALID_PARAMETER_VALUE,
                           "Request body of %zu bytes holds too many JSON values: reading it "
                           "would take about %zu MiB, more than the %zu MiB the request bodies "
                           "in progress may take together",
                           st->body.len, cost >> 20, budget >> 20);
    }
    if (!take_body_bytes(app->config, &st->body_held, cost))
        return body_budget_error();
    return NULL;
}

/* How much of a refused (over-limit) chunked body is read before hanging up. */
enum { MFD_DRAIN_ALLOWANCE = 1 << 20 };

void mfd_server_body_release(size_t held) {
    atomic_fetch_sub(&body_bytes_held, held);
}

enum MHD_Result mfd_server_receive_body(const mfd_app *app, request_state *st,
                                        const char *upload_data, size_t *upload_data_size) {
    if (st->early_error && !st->have_upload) {
        /* Refused body: drain at most MFD_DRAIN_ALLOWANCE more, then hang up rather
         * than read whatever a client keeps sending. */
        st->drained += *upload_data_size;
        *upload_data_size = 0;
        return st->drained > MFD_DRAIN_ALLOWANCE ? MHD_NO : MHD_YES;
    }
    if (st->answered_early) {
        /* Refused (401/403): read and drop as much as an accepted JSON body
         * may be, so that a client that sends before it reads (the mlflow
         * client) sees the refusal rather than a reset; not more. */
        st->drained += *upload_data_size;
        *upload_data_size = 0;
        size_t allowance = app->config->max_body_bytes > MFD_DRAIN_ALLOWANCE
                               ? app->config->max_body_bytes
                               : MFD_DRAIN_ALLOWANCE;
        return st->drained > allowance ? MHD_NO : MHD_YES;
    }
    if (st->have_upload) {
        const char *p = upload_data;
        size_t left = *upload_data_size;
        while (left > 0 && !st->early_error) {
            ssize_t n = write(st->upload.fd, p, left);
            if (n < 0 && errno == EINTR)
                continue;
            if (n < 0)
                st->early_error =
                    mfd_err_new(MFD_INTERNAL_ERROR, "cannot write upload: %s", strerror(errno));
            else {
                p += n;
                left -= (size_t)n;
                st->upload.size += (uint64_t)n;
            }
        }
    } else if (!st->early_error) {
        size_t need = st->body.len + *upload_data_size;
        if (need > app->config->max_body_bytes) {
            /* A body without Content-Length (chunked) passed the limit. libmicrohttpd
             * can answer only after the headers or after the whole body, so we drop
             * what follows and answer 413 when it ends (finish_request, server_request.c). */
            st->res.status = 413;
            st->early_error = mfd_err_new(MFD_INVALID_PARAMETER_VALUE,
                                          "Request body exceeds the limit of %zu bytes",
                                          app->config->max_body_bytes);
        } else if (!take_body_bytes(app->config, &st->body_held, need)) {
            st->early_error = body_budget_error();
        } else {
            /* With a declared length, grow by doubling but never past it: a
             * 64 MiB body takes 64 MiB, not 128. */
            if (st->body_declared >= need && need + 1 > st->body.cap) {
                size_t cap = st->body.cap * 2 > need + 1 ? st->body.cap * 2 : need + 1;
                if (cap > st->body_declared + 1)
                    cap = st->body_declared + 1;
                mfd_strbuf_reserve_exact(&st->body, cap - st->body.len - 1);
            }
            mfd_strbuf_appendn(&st->body, upload_data, *upload_data_size);
        }
    }
    *upload_data_size = 0;
    return MHD_YES;
}
