/* metrics.c — lock-free request counters and their Prometheus exposition.
 *
 * Invariants:
 *  - A series (route pattern, method, status) owns one slot of a fixed
 *    open-addressing table. A slot goes FREE -> CLAIMING -> READY once and
 *    never back, so a READY slot's key fields are immutable and readers need
 *    no lock. The thread that wins the FREE -> CLAIMING exchange writes the
 *    key and then publishes READY with release order; a thread looking for
 *    the same key waits out the few stores of a CLAIMING slot, so a series
 *    never gets two slots.
 *  - Counts are relaxed atomic adds: a scrape may see a request counted in
 *    _count but not yet in a bucket, which Prometheus tolerates.
 *  - Route patterns are compared by pointer: they are the static strings of
 *    the route tables. When the table is full, requests are counted in
 *    mlflowd_http_requests_dropped_total instead of failing. */
#include "metrics.h"

#include <stdatomic.h>
#include <stdint.h>
#include <string.h>
#include <time.h>

enum { SLOT_FREE, SLOT_CLAIMING, SLOT_READY };
enum { N_SLOTS = 1024 };

/* prometheus_flask_exporter's default buckets (mlflow server --expose-prometheus). */
static const double bucket_bounds[] = {0.005, 0.01, 0.025, 0.05, 0.075, 0.1, 0.25,
                                       0.5,   0.75, 1.0,   2.5,  5.0,   7.5, 10.0};
#define N_BUCKETS (sizeof bucket_bounds / sizeof bucket_bounds[0])

static const char *const method_names[] = {"GET",    "POST", "PUT",     "PATCH",
                                           "DELETE", "HEAD", "OPTIONS", "other"};
enum { N_METHODS = sizeof method_names / sizeof method_names[0] };

typedef struct series_slot {
    _Atomic int state;
    const char *route; /* NULL = no route matched */
    int method;
    int status;
    _Atomic uint64_t count;
    _Atomic uint64_t buckets[N_BUCKETS]; /* per bucket, not cumulative */
    _Atomic uint64_t sum_us;
} series_slot;

static series_slot slots[N_SLOTS];
static _Atomic uint64_t dropped;
static _Atomic uint64_t auth_decisions[4];
static _Atomic uint64_t password_derivations;
static _Atomic int db_pool_size;
static _Atomic int db_in_use;
static _Atomic int64_t start_time;

static int method_index(const char *method) {
    for (int i = 0; i < N_METHODS - 1; i++)
        if (!strcmp(method, method_names[i]))
            return i;
    return N_METHODS - 1;
}

static size_t slot_hash(const char *route, int method, int status) {
    uint64_t h = (uint64_t)(uintptr_t)route * 0x9E3779B97F4A7C15ull;
    h ^= ((uint64_t)status << 8 | (uint64_t)method) * 0xC2B2AE3D27D4EB4Full;
    h ^= h >> 29;
    return (size_t)(h % N_SLOTS);
}

static series_slot *find_slot(const char *route, int method, int status) {
    size_t i = slot_hash(route, method, status);
    for (size_t probe = 0; probe < N_SLOTS; probe++, i = (i + 1) % N_SLOTS) {
        series_slot *s = &slots[i];
        int state = atomic_load_explicit(&s->state, memory_order_acquire);
        if (state == SLOT_FREE) {
            int expected = SLOT_FREE;
            if (atomic_compare_exchange_strong_explicit(&s->state, &expected, SLOT_CLAIMING,
                                                        memory_order_acq_rel,
                                                        memory_order_acquire)) {
                s->route = route;
                s->method = method;
                s->status = status;
                atomic_store_explicit(&s->state, SLOT_READY, memory_order_release);
                return s;
            }
            state = expected;
        }
        while (state == SLOT_CLAIMING) /* a few stores away from READY */
            state = atomic_load_explicit(&s->state, memory_order_acquire);
        if (s->route == route && s->method == method && s->status == status)
            return s;
    }
    return NULL;
}

void mfd_metrics_observe_request(const char *route, const char *method, int status, double seconds,
                                 mfd_metrics_auth auth) {
    int64_t expected = 0;
    atomic_compare_exchange_strong_explicit(&start_time, &expected, (int64_t)time(NULL),
                                            memory_order_relaxed, memory_order_relaxed);
    if (auth != MFD_METRICS_AUTH_NONE)
        atomic_fetch_add_explicit(&auth_decisions[auth], 1, memory_order_relaxed);
    series_slot *s = find_slot(route, method_index(method), status);
    if (!s) {
        atomic_fetch_add_explicit(&dropped, 1, memory_order_relaxed);
        return;
    }
    atomic_fetch_add_explicit(&s->count, 1, memory_order_relaxed);
    if (seconds < 0)
        seconds = 0;
    atomic_fetch_add_explicit(&s->sum_us, (uint64_t)(seconds * 1e6), memory_order_relaxed);
    for (size_t b = 0; b < N_BUCKETS; b++) {
        if (seconds <= bucket_bounds[b]) {
            atomic_fetch_add_explicit(&s->buckets[b], 1, memory_order_relaxed);
            break;
        }
    }
}

mfd_metrics_auth mfd_metrics_auth_decision(bool auth_on, bool authenticated, int status) {
    if (!auth_on)
        return MFD_METRICS_AUTH_NONE;
    if (status == 401)
        return MFD_METRICS_AUTH_UNAUTHENTICATED;
    if (status == 403)
        return MFD_METRICS_AUTH_FORBIDDEN;
    return authenticated ? MFD_METRICS_AUTH_ALLOWED : MFD_METRICS_AUTH_NONE;
}

static void (*search_cache_read)(void *ctx, mfd_metrics_search_cache *out);
static void *search_cache_ctx;

void mfd_metrics_set_search_cache_source(void (*read)(void *ctx, mfd_metrics_search_cache *out),
                                         void *ctx) {
    search_cache_ctx = ctx;
    search_cache_read = read;
}

void mfd_metrics_set_db_pool_size(int size) {
    atomic_store_explicit(&db_pool_size, size, memory_order_relaxed);
    int64_t expected = 0;
    atomic_compare_exchange_strong_explicit(&start_time, &expected, (int64_t)time(NULL),
                                            memory_order_relaxed, memory_order_relaxed);
}

void mfd_metrics_password_derivation(void) {
    atomic_fetch_add_explicit(&password_derivations, 1, memory_order_relaxed);
}

void mfd_metrics_db_borrowed(void) {
    atomic_fetch_add_explicit(&db_in_use, 1, memory_order_relaxed);
}

void mfd_metrics_db_returned(void) {
    atomic_fetch_sub_explicit(&db_in_use, 1, memory_order_relaxed);
}

/* --- exposition ---------------------------------------------------------- */

/* Route label: "/api/<pattern>" for versioned routes, the path for bare ones. */
static void append_route(mfd_strbuf *sb, const char *route) {
    if (!route)
        mfd_strbuf_append(sb, "unmatched");
    else if (route[0] == '/')
        mfd_strbuf_append(sb, route);
    else
        mfd_strbuf_appendf(sb, "/api/%s", route);
}

static void append_labels(mfd_strbuf *sb, const series_slot *s, bool with_status) {
    mfd_strbuf_appendf(sb, "{method=\"%s\",route=\"", method_names[s->method]);
    append_route(sb, s->route); /* patterns hold no '"', '\\' or newline */
    mfd_strbuf_append(sb, "\"");
    if (with_status)
        mfd_strbuf_appendf(sb, ",status=\"%d\"", s->status);
}

static void header(mfd_strbuf *sb, const char *name, const char *type, const char *help) {
    mfd_strbuf_appendf(sb, "# HELP %s %s\n# TYPE %s %s\n", name, help, name, type);
}

static bool ready(const series_slot *s) {
    return atomic_load_explicit(&((series_slot *)s)->state, memory_order_acquire) == SLOT_READY;
}

static uint64_t load(_Atomic uint64_t *v) {
    return atomic_load_explicit(v, memory_order_relaxed);
}

/* One histogram per (route, method): the slots of all its statuses summed. */
static void render_histograms(mfd_strbuf *sb) {
    const char *name = "mlflowd_http_request_duration_seconds";
    header(sb, name, "histogram", "Time from the request's arrival to its answer being queued.");
    for (size_t i = 0; i < N_SLOTS; i++) {
        const series_slot *first = &slots[i];
        if (!ready(first))
            continue;
        bool seen = false;
        for (size_t j = 0; j < i && !seen; j++)
            seen = ready(&slots[j]) && slots[j].route == first->route &&
                   slots[j].method == first->method;
        if (seen)
            continue;
        uint64_t buckets[N_BUCKETS] = {0}, count = 0, sum_us = 0;
        for (size_t k = i; k < N_SLOTS; k++) {
            series_slot *s = &slots[k];
            if (!ready(s) || s->route != first->route || s->method != first->method)
                continue;
            for (size_t b = 0; b < N_BUCKETS; b++)
                buckets[b] += load(&s->buckets[b]);
            count += load(&s->count);
            sum_us += load(&s->sum_us);
        }
        uint64_t cumulative = 0;
        for (size_t b = 0; b < N_BUCKETS; b++) {
            cumulative += buckets[b];
            mfd_strbuf_appendf(sb, "%s_bucket", name);
            append_labels(sb, first, false);
            mfd_strbuf_appendf(sb, ",le=\"%g\"} %llu\n", bucket_bounds[b],
                               (unsigned long long)cumulative);
        }
        mfd_strbuf_appendf(sb, "%s_bucket", name);
        append_labels(sb, first, false);
        mfd_strbuf_appendf(sb, ",le=\"+Inf\"} %llu\n", (unsigned long long)count);
        mfd_strbuf_appendf(sb, "%s_sum", name);
        append_labels(sb, first, false);
        mfd_strbuf_appendf(sb, "} %.6f\n", (double)sum_us / 1e6);
        mfd_strbuf_appendf(sb, "%s_count", name);
        append_labels(sb, first, false);
        mfd_strbuf_appendf(sb, "} %llu\n", (unsigned long long)count);
    }
}

const char *mfd_metrics_render(mfd_arena *arena) {
    mfd_strbuf sb;
    mfd_strbuf_init(&sb, arena);
    header(&sb, "mlflowd_build_info", "gauge", "The running mlflowd and the MLflow API it serves.");
    mfd_strbuf_appendf(&sb, "mlflowd_build_info{version=\"%s\"} 1\n", MFD_VERSION);
    int64_t started = atomic_load_explicit(&start_time, memory_order_relaxed);
    if (started) {
        header(&sb, "process_start_time_seconds", "gauge",
               "Start time of the process since the Unix epoch in seconds.");
        mfd_strbuf_appendf(&sb, "process_start_time_seconds %lld\n", (long long)started);
    }

    header(&sb, "mlflowd_http_requests_total", "counter",
           "HTTP requests answered, by route pattern, method and status.");
    for (size_t i = 0; i < N_SLOTS; i++) {
        series_slot *s = &slots[i];
        if (!ready(s))
            continue;
        mfd_strbuf_append(&sb, "mlflowd_http_requests_total");
        append_labels(&sb, s, true);
        mfd_strbuf_appendf(&sb, "} %llu\n", (unsigned long long)load(&s->count));
    }
    header(&sb, "mlflowd_http_requests_dropped_total", "counter",
           "Requests not broken down by route because the series table was full.");
    mfd_strbuf_appendf(&sb, "mlflowd_http_requests_dropped_total %llu\n",
                       (unsigned long long)load(&dropped));
    render_histograms(&sb);

    static const char *const decisions[] = {NULL, "allowed", "unauthenticated", "forbidden"};
    header(&sb, "mlflowd_auth_decisions_total", "counter",
           "Requests to protected endpoints by the auth layer's decision (auth on only).");
    for (int d = MFD_METRICS_AUTH_ALLOWED; d <= MFD_METRICS_AUTH_FORBIDDEN; d++)
        mfd_strbuf_appendf(&sb, "mlflowd_auth_decisions_total{decision=\"%s\"} %llu\n",
                           decisions[d], (unsigned long long)load(&auth_decisions[d]));

    header(&sb, "mlflowd_auth_password_derivations_total", "counter",
           "Password key derivations run for Basic logins the credential cache did not answer.");
    mfd_strbuf_appendf(&sb, "mlflowd_auth_password_derivations_total %llu\n",
                       (unsigned long long)load(&password_derivations));

    int size = atomic_load_explicit(&db_pool_size, memory_order_relaxed);
    int in_use = atomic_load_explicit(&db_in_use, memory_order_relaxed);
    if (in_use < 0)
        in_use = 0;
    header(&sb, "mlflowd_db_pool_size", "gauge", "Connections the tracking DB pool may hold.");
    mfd_strbuf_appendf(&sb, "mlflowd_db_pool_size %d\n", size);
    header(&sb, "mlflowd_db_pool_connections", "gauge",
           "Tracking DB pool connections borrowed by requests (in_use) and free (idle).");
    mfd_strbuf_appendf(&sb, "mlflowd_db_pool_connections{state=\"in_use\"} %d\n", in_use);
    mfd_strbuf_appendf(&sb, "mlflowd_db_pool_connections{state=\"idle\"} %d\n",
                       size > in_use ? size - in_use : 0);
    if (search_cache_read) {
        mfd_metrics_search_cache c;
        search_cache_read(search_cache_ctx, &c);
        header(&sb, "mlflowd_search_cache_searches_total", "counter",
               "Run searches the run-search cache could take, by whether it answered them "
               "(hit) or the database did (miss: not loaded yet, or catching up failed).");
        mfd_strbuf_appendf(&sb, "mlflowd_search_cache_searches_total{result=\"hit\"} %llu\n",
                           (unsigned long long)c.hits);
        mfd_strbuf_appendf(&sb, "mlflowd_search_cache_searches_total{result=\"miss\"} %llu\n",
                           (unsigned long long)c.misses);
        header(&sb, "mlflowd_search_cache_experiments", "gauge",
               "Experiments the run-search cache holds.");
        mfd_strbuf_appendf(&sb, "mlflowd_search_cache_experiments %llu\n",
                           (unsigned long long)c.experiments);
        header(&sb, "mlflowd_search_cache_runs", "gauge", "Runs the run-search cache holds.");
        mfd_strbuf_appendf(&sb, "mlflowd_search_cache_runs %llu\n", (unsigned long long)c.runs);
        header(&sb, "mlflowd_search_cache_bytes", "gauge",
               "Memory the run-search cache holds, about (--search-cache-mb bounds it).");
        mfd_strbuf_appendf(&sb, "mlflowd_search_cache_bytes %llu\n", (unsigned long long)c.bytes);
    }
    return sb.data;
}
