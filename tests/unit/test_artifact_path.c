/* Artifact path safety and normalisation (rest-api.md §8.0, behaviours.md
 * #10), the mime rule (§8.2) and artifact URI resolution (§8.1). */
#include <string.h>

#include "artifacts/repo.h"
#include "core/escape.h"
#include "store/artifact_locations.h"
#include "test.h"

/* normalize(path) with the path given as a C string. */
static const char *norm(mfd_arena *a, const char *path) {
    const char *out = NULL;
    mfd_err err = mfd_artifact_path_normalize(a, path, strlen(path), &out);
    if (err) {
        mfd_err_free(err);
        return "<invalid>";
    }
    return out;
}

/* The path as the server hands it over: one URL-decoding round. */
static const char *norm_url(mfd_arena *a, const char *raw) {
    size_t len;
    const char *decoded = mfd_percent_decode(a, raw, strlen(raw), false, &len);
    const char *out = NULL;
    mfd_err err = mfd_artifact_path_normalize(a, decoded, len, &out);
    if (err) {
        CHECK_INT(err->code, MFD_INVALID_PARAMETER_VALUE);
        CHECK_STR(err->message, "Invalid path");
        mfd_err_free(err);
        return "<invalid>";
    }
    return out;
}

static void test_normal_paths(void) {
    mfd_arena *a = mfd_arena_new();
    CHECK_STR(norm(a, "model/MLmodel"), "model/MLmodel");
    CHECK_STR(norm(a, "a//b/./c/"), "a/b/c");
    CHECK_STR(norm(a, "./x"), "x");
    CHECK_STR(norm(a, ""), "");
    CHECK_STR(norm(a, "."), "");
    CHECK_STR(norm(a, "..."), "..."); /* not a parent segment */
    CHECK_STR(norm(a, "a..b/..c/d.."), "a..b/..c/d..");
    CHECK_STR(norm(a, "C/x"), "C/x");
    CHECK_STR(norm(a, "ab:c"), "ab:c"); /* a colon past a drive letter's place is fine */
    /* relative to a drive: names, as MLflow on Linux takes them (PureWindowsPath's
     * is_absolute() is false); only C:/ and C:\ are absolute */
    CHECK_STR(norm(a, "x:y.txt"), "x:y.txt");
    CHECK_STR(norm(a, "c:x"), "c:x");
    CHECK_STR(norm(a, "k:dir/f"), "k:dir/f");
    mfd_arena_free(a);
}

static void test_traversal_is_refused(void) {
    mfd_arena *a = mfd_arena_new();
    static const char *const bad[] = {
        "..",
        "../x",
        "a/../../x",
        "a/..",
        "/etc/passwd",
        "//server/share",
        "a\\b",
        "..\\x",
        "C:\\x",
        "C:/x",
        "a#b",
        "file:///etc",
        "file:x",
        "%2e%2e/x",
        "%2E%2E",
        "a/%2e%2e",
        "%252e%252e/x",
        "%25252e%25252e",
        "%2fetc",
        "%5c",
        "%23",
        "%00",
        "a%0ab",
        "a%7fb",
        "%2525252525252525252525252e", /* still decoding after 10 rounds */
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        const char *got = norm_url(a, bad[i]);
        if (strcmp(got, "<invalid>") != 0)
            fprintf(stderr, "accepted unsafe path %s as %s\n", bad[i], got);
        CHECK_STR(got, "<invalid>");
    }
    /* a NUL in the middle (an escaped %00 the server decoded) */
    CHECK(!mfd_artifact_path_is_safe(a, "a\0/../b", 7));
    CHECK(!mfd_artifact_path_is_safe(a, "a\nb", 3));
    mfd_arena_free(a);
}

static void test_in_progress_uploads_cannot_be_named(void) {
    mfd_arena *a = mfd_arena_new();
    CHECK_STR(norm(a, "d/.mlflowd-upload-123"), "<invalid>");
    CHECK_STR(norm(a, ".mlflowd-upload-x/y"), "<invalid>");
    CHECK_STR(norm(a, "d/.mlflowd-uploaded"), "d/.mlflowd-uploaded");
    mfd_arena_free(a);
}

static void test_depth_is_bounded(void) {
    mfd_arena *a = mfd_arena_new();
    mfd_strbuf sb;
    mfd_strbuf_init(&sb, a);
    for (int i = 0; i < 256; i++)
        mfd_strbuf_append(&sb, "d/");
    CHECK(strcmp(norm(a, sb.data), "<invalid>") != 0);
    mfd_strbuf_append(&sb, "one-too-many");
    CHECK_STR(norm(a, sb.data), "<invalid>");
    char name[258];
    memset(name, 'n', 256);
    name[256] = '\0';
    CHECK_STR(norm(a, name), "<invalid>"); /* longer than NAME_MAX */
    name[255] = '\0';
    CHECK_STR(norm(a, name), name);
    mfd_arena_free(a);
}

/* behaviours.md #10: names arrive partly escaped and are stored decoded once. */
static void test_escaped_names_round_trip(void) {
    mfd_arena *a = mfd_arena_new();
    CHECK_STR(norm_url(a, "100%.txt"), "100%.txt");       /* bare %: left as is */
    CHECK_STR(norm_url(a, "100%25.txt"), "100%.txt");     /* quoted */
    CHECK_STR(norm_url(a, "50%25off.txt"), "50%off.txt"); /* not decoded a second time */
    CHECK_STR(norm_url(a, "a+b.txt"), "a+b.txt");         /* '+' is not a space in a path */
    CHECK_STR(norm_url(a, "a%20b.txt"), "a b.txt");
    CHECK_STR(norm_url(a, "%C3%A9t%C3%A9.txt"), "\xC3\xA9t\xC3\xA9.txt");
    CHECK_STR(norm_url(a, "x%2541.txt"), "x%41.txt"); /* a literal %41 stays literal */
    CHECK_STR(norm_url(a, "%F0%9F%93%88.png"), "\xF0\x9F\x93\x88.png");
    /* log_image names: "%17..." would decode to a control character in a later
     * round; MLflow escapes it back, so the name is accepted as it is. */
    CHECK_STR(norm_url(a, "images/my%20img%25step%253%25timestamp%251700000000.png"),
              "images/my img%step%3%timestamp%1700000000.png");
    mfd_arena_free(a);
}

static void test_unescape(void) {
    mfd_arena *a = mfd_arena_new();
    size_t len;
    const char *s = mfd_percent_decode(a, "a%00b%zz%4", 10, false, &len);
    CHECK_INT(len, 8);
    CHECK(memcmp(s, "a\0b%zz%4", 9) == 0);
    CHECK_STR(mfd_percent_decode(a, "a+b%2B", 6, true, &len), "a b+");
    CHECK_STR(mfd_percent_decode(a, "a+b%2B", 6, false, &len), "a+b+");
    mfd_arena_free(a);
}

static void test_mime_types(void) {
    CHECK_STR(mfd_artifact_mime_type("model/MLmodel"), "text/plain");
    CHECK_STR(mfd_artifact_mime_type("MLproject"), "text/plain");
    CHECK_STR(mfd_artifact_mime_type("a/conda.yaml"), "text/plain");
    CHECK_STR(mfd_artifact_mime_type("x.json"), "text/plain");
    CHECK_STR(mfd_artifact_mime_type("x.py"), "text/plain");
    CHECK_STR(mfd_artifact_mime_type("x.csv"), "text/plain");
    CHECK_STR(mfd_artifact_mime_type("plot.png"), "image/png");
    CHECK_STR(mfd_artifact_mime_type("PLOT.PNG"), "image/png");
    CHECK_STR(mfd_artifact_mime_type("page.html"), "text/html");
    CHECK_STR(mfd_artifact_mime_type("model.pkl"), "application/octet-stream");
    CHECK_STR(mfd_artifact_mime_type("noext"), "application/octet-stream");
    CHECK_STR(mfd_artifact_mime_type(".bashrc"), "application/octet-stream");
    CHECK_STR(mfd_artifact_mime_type("a.tar.gz"), "application/x-tar");
    CHECK_STR(mfd_artifact_mime_type("a.tgz"), "application/x-tar");
    CHECK_STR(mfd_artifact_mime_type("data.csv.gz"), "text/csv");
    CHECK_STR(mfd_artifact_mime_type("x.TXT"), "text/plain"); /* via Python's table */
    CHECK_STR(mfd_artifact_mime_type("x.svg"), "image/svg+xml");
    CHECK_STR(mfd_artifact_mime_type("x.zip"), "application/zip");
}

static void check_resolve(const char *dest, const char *uri, const char *root, const char *prefix,
                          mfd_code code) {
    mfd_arena *a = mfd_arena_new();
    const char *got_root, *got_prefix;
    mfd_err err = mfd_artifact_uri_resolve(a, dest, uri, &got_root, &got_prefix);
    if (code != MFD_OK) {
        CHECK(err != NULL);
        if (err)
            CHECK_INT(err->code, code);
    } else {
        CHECK(err == NULL);
        if (!err) {
            CHECK_STR(got_root, root);
            CHECK_STR(got_prefix, prefix);
        }
    }
    mfd_err_free(err);
    mfd_arena_free(a);
}

static void test_uri_resolution(void) {
    const char *d = "/srv/art";
    check_resolve(d, "mlflow-artifacts:/1/abc/artifacts", d, "1/abc/artifacts", MFD_OK);
    check_resolve(d, "mlflow-artifacts://host:5000/1/abc/artifacts", d, "1/abc/artifacts", MFD_OK);
    check_resolve(d, "mlflow-artifacts:/", d, "", MFD_OK);
    check_resolve(d, "http://h:5000/api/2.0/mlflow-artifacts/artifacts/0/r/artifacts", d,
                  "0/r/artifacts", MFD_OK);
    check_resolve(d, "https://h/pre/api/2.0/mlflow-artifacts/artifacts", d, "", MFD_OK);
    check_resolve(d, "file:///tmp/mlruns/0/r/artifacts", "/tmp/mlruns/0/r/artifacts", "", MFD_OK);
    check_resolve(d, "file:/tmp/a%20b", "/tmp/a b", "", MFD_OK);
    check_resolve(d, "file://localhost/tmp/x", "/tmp/x", "", MFD_OK);
    check_resolve(d, "/abs/mlruns/1/r/artifacts", "/abs/mlruns/1/r/artifacts", "", MFD_OK);
    check_resolve(d, "./mlruns/1", "./mlruns/1", "", MFD_OK);
    check_resolve(d, "mlflow-artifacts:/../../etc", NULL, NULL, MFD_INVALID_PARAMETER_VALUE);
    check_resolve(NULL, "mlflow-artifacts:/1/r", NULL, NULL, MFD_NOT_IMPLEMENTED);
    check_resolve(d, "s3://bucket/1/r", "s3://bucket/1/r", "", MFD_OK);
    check_resolve(d, "S3://bucket/1/r/", "s3://bucket/1/r/", "", MFD_OK);
    check_resolve(d, "s3:bucket/1", NULL, NULL, MFD_INVALID_PARAMETER_VALUE);
    /* a query is not part of the key (parse_s3_compliant_uri); a fragment is refused */
    check_resolve(d, "s3://bucket/x/r/artifacts?versionId=1", "s3://bucket/x/r/artifacts", "",
                  MFD_OK);
    check_resolve(d, "s3://bucket/x#/r", NULL, NULL, MFD_INVALID_PARAMETER_VALUE);
    check_resolve(d, "s3://?x", NULL, NULL, MFD_INVALID_PARAMETER_VALUE);
    check_resolve(d, "gs://bucket/1/r", NULL, NULL, MFD_NOT_IMPLEMENTED);
    check_resolve(d, "http://h/other/path", NULL, NULL, MFD_NOT_IMPLEMENTED);
    check_resolve(d, "file://otherhost/x", NULL, NULL, MFD_NOT_IMPLEMENTED);
    check_resolve(d, "", NULL, NULL, MFD_INVALID_PARAMETER_VALUE);
}

/* Run and logged-model locations: MLflow's append_to_uri_path. */
static void test_location_append(void) {
    mfd_arena *a = mfd_arena_new();
    static const char *const cases[][2] = {
        {"s3://mlflow", "s3://mlflow/R/artifacts"},
        {"s3://b/x", "s3://b/x/R/artifacts"},
        {"s3://b/x/", "s3://b/x/R/artifacts"},
        {"s3://b/x?versionId=1", "s3://b/x/R/artifacts?versionId=1"},
        {"file:///etc#", "file:///etc/R/artifacts"},
        {"file:///etc?x", "file:///etc/R/artifacts?x"},
        {"file:///d#frag", "file:///d/R/artifacts#frag"},
        {"mlflow-artifacts:/#", "mlflow-artifacts:/R/artifacts"},
        {"mlflow-artifacts:/1", "mlflow-artifacts:/1/R/artifacts"},
        {"mlflow-artifacts://h:5000", "mlflow-artifacts://h:5000/R/artifacts"},
        {"mlflow-artifacts://h?x=1", "mlflow-artifacts://h/R/artifacts?x=1"},
        {"http://h", "http://h/R/artifacts"},
        {"/abs/x", "/abs/x/R/artifacts"},
        {"/abs/x#", "/abs/x#/R/artifacts"}, /* a path: "#" is a character */
        {"C:/x", "C:/x/R/artifacts"},
        {"", "R/artifacts"},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++)
        CHECK_STR(mfd_artifact_location_append(a, cases[i][0], "R/artifacts"), cases[i][1]);
    mfd_arena_free(a);
}

MFD_TEST_MAIN(MFD_TEST(test_normal_paths), MFD_TEST(test_traversal_is_refused),
              MFD_TEST(test_in_progress_uploads_cannot_be_named), MFD_TEST(test_depth_is_bounded),
              MFD_TEST(test_escaped_names_round_trip), MFD_TEST(test_unescape),
              MFD_TEST(test_mime_types), MFD_TEST(test_uri_resolution),
              MFD_TEST(test_location_append))
