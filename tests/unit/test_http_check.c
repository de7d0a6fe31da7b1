/* pawld's request-head checks (pawl/http_check.h): one test per smuggling
 * and parsing form the gateway issue lists, and the heads that must pass. */
#include "helper_common.h"

#include <stdio.h>
#include <string.h>

#include "pawl/http_check.h"

#define MAXH 300

struct head {
    struct pawl_http_header h[MAXH];
    struct pawl_http_head head;
};

static pawl_str S(const char *s)
{
    pawl_str r = {s, strlen(s)};
    return r;
}

/* "Name: value" pairs separated by "\x1f" (so values may hold CR, LF, NUL
 * stand-ins); the value is everything after ": ". */
static struct head *mk(struct head *o, const char *method, const char *target, int minor,
                       const char *const *hdrs, size_t n)
{
    memset(o, 0, sizeof *o);
    for (size_t i = 0; i < n; i++) {
        const char *colon = strstr(hdrs[i], ": ");
        assert_non_null(colon);
        o->h[i].name.p = hdrs[i];
        o->h[i].name.n = (size_t)(colon - hdrs[i]);
        o->h[i].value = S(colon + 2);
    }
    o->head.method = S(method);
    o->head.target = S(target);
    o->head.version_minor = minor;
    o->head.headers = o->h;
    o->head.nheaders = n;
    return o;
}

#define CHECK(want, method, target, minor, ...)                                          \
    do {                                                                                 \
        static const char *const hs[] = {__VA_ARGS__};                                   \
        struct head hd;                                                                  \
        struct pawl_http_verdict v;                                                      \
        pawl_http_check(&mk(&hd, method, target, minor, hs, sizeof hs / sizeof hs[0])->head, \
                        NULL, &v);                                                       \
        if (v.reason != (want))                                                          \
            fail_msg("%s %s: got %s (%s), want %s", method, target,                      \
                     pawl_reason_name(v.reason), v.detail, pawl_reason_name(want));     \
        if ((want) != PAWL_R_ALLOWED && v.detail[0] == '\0')                             \
            fail_msg("%s %s: a refusal without a detail", method, target);               \
    } while (0)

static void test_good_heads(void **state)
{
    (void)state;
    CHECK(PAWL_R_ALLOWED, "GET", "/api/v1/vehicles?x=1", 1, "Host: api.example.com");
    CHECK(PAWL_R_ALLOWED, "POST", "/a", 1, "Host: h", "Content-Length: 0");
    CHECK(PAWL_R_ALLOWED, "POST", "/a", 1, "host: h", "transfer-encoding: Chunked");
    CHECK(PAWL_R_ALLOWED, "GET", "/", 0, "User-Agent: x"); /* HTTP/1.0: Host optional */
    CHECK(PAWL_R_ALLOWED, "GET", "/", 1, "Host: h", "X-Empty: ", "X-Tab: a\tb",
          "X-Utf8: caf\xc3\xa9");
}

static void test_framing_and_values(void **state)
{
    (void)state;
    struct head hd;
    struct pawl_http_verdict v;
    static const char *const te[] = {"Host: h", "Transfer-Encoding: chunked"};
    pawl_http_check(&mk(&hd, "POST", "/a", 1, te, 2)->head, NULL, &v);
    assert_int_equal(v.framing, PAWL_HTTP_CHUNKED);
    static const char *const cl[] = {"Host: h", "Content-Length: 42", "Authorization: Bearer t"};
    pawl_http_check(&mk(&hd, "POST", "/a", 1, cl, 3)->head, NULL, &v);
    assert_int_equal(v.framing, PAWL_HTTP_LENGTH);
    assert_int_equal(v.content_length, 42);
    assert_int_equal(v.authorization.n, 8);
    assert_memory_equal(v.host.p, "h", 1);
}

static void test_content_length_and_transfer_encoding(void **state)
{
    (void)state;
    CHECK(PAWL_R_BAD_REQUEST, "POST", "/a", 1, "Host: h", "Content-Length: 5",
          "Transfer-Encoding: chunked");
    CHECK(PAWL_R_BAD_REQUEST, "POST", "/a", 1, "Host: h", "Transfer-Encoding: chunked",
          "Content-Length: 5");
}

static void test_content_length_forms(void **state)
{
    (void)state;
    CHECK(PAWL_R_BAD_REQUEST, "POST", "/a", 1, "Host: h", "Content-Length: 5",
          "Content-Length: 5");
    CHECK(PAWL_R_BAD_REQUEST, "POST", "/a", 1, "Host: h", "Content-Length: 5, 5");
    CHECK(PAWL_R_BAD_REQUEST, "POST", "/a", 1, "Host: h", "Content-Length: +5");
    CHECK(PAWL_R_BAD_REQUEST, "POST", "/a", 1, "Host: h", "Content-Length: -1");
    CHECK(PAWL_R_BAD_REQUEST, "POST", "/a", 1, "Host: h", "Content-Length: 0x10");
    CHECK(PAWL_R_BAD_REQUEST, "POST", "/a", 1, "Host: h", "Content-Length: ");
    CHECK(PAWL_R_BAD_REQUEST, "POST", "/a", 1, "Host: h", "Content-Length: 5 ");
    CHECK(PAWL_R_BAD_REQUEST, "POST", "/a", 1, "Host: h", "Content-Length: 99999999999999999999");
    CHECK(PAWL_R_BODY_TOO_LARGE, "POST", "/a", 1, "Host: h", "Content-Length: 1048577");
    CHECK(PAWL_R_ALLOWED, "POST", "/a", 1, "Host: h", "Content-Length: 1048576");
}

static void test_transfer_encoding_forms(void **state)
{
    (void)state;
    CHECK(PAWL_R_BAD_REQUEST, "POST", "/a", 1, "Host: h", "Transfer-Encoding: gzip, chunked");
    CHECK(PAWL_R_BAD_REQUEST, "POST", "/a", 1, "Host: h", "Transfer-Encoding: chunked, chunked");
    CHECK(PAWL_R_BAD_REQUEST, "POST", "/a", 1, "Host: h", "Transfer-Encoding: chunkedx");
    CHECK(PAWL_R_BAD_REQUEST, "POST", "/a", 1, "Host: h", "Transfer-Encoding: identity");
    CHECK(PAWL_R_BAD_REQUEST, "POST", "/a", 1, "Host: h", "Transfer-Encoding: chunked",
          "Transfer-Encoding: chunked");
    CHECK(PAWL_R_BAD_REQUEST, "POST", "/a", 0, "Transfer-Encoding: chunked");
    CHECK(PAWL_R_BAD_REQUEST, "POST", "/a", 1, "Host: h", "Transfer-Encoding : chunked");
}

static void test_obs_fold_and_control_bytes(void **state)
{
    (void)state;
    CHECK(PAWL_R_BAD_REQUEST, "GET", "/", 1, "Host: h", "X-A:  folded");
    CHECK(PAWL_R_BAD_REQUEST, "GET", "/", 1, "Host: h", "X-A: \tfolded");
    CHECK(PAWL_R_BAD_REQUEST, "GET", "/", 1, "Host: h", "X-A: a\r\n b");
    CHECK(PAWL_R_BAD_REQUEST, "GET", "/", 1, "Host: h", "X-A: a\nX-Pawl-Principal: admin");
    CHECK(PAWL_R_BAD_REQUEST, "GET", "/", 1, "Host: h", "X-A: a\rb");
    CHECK(PAWL_R_BAD_REQUEST, "GET", "/", 1, "Host: h", "X-A: a\x01");
    CHECK(PAWL_R_BAD_REQUEST, "GET", "/", 1, "Host: h", "X-A: a\x7f");
    /* a NUL inside a value: the array's length, not the C string's */
    struct head hd;
    struct pawl_http_verdict v;
    static const char *const one[] = {"Host: h", "X-A: ab"};
    mk(&hd, "GET", "/", 1, one, 2);
    static const char nul[] = {'a', '\0', 'b'};
    hd.h[1].value.p = nul;
    hd.h[1].value.n = 3;
    pawl_http_check(&hd.head, NULL, &v);
    assert_int_equal(v.reason, PAWL_R_BAD_REQUEST);
    assert_non_null(strstr(v.detail, "NUL"));
}

static void test_header_names_and_host(void **state)
{
    (void)state;
    CHECK(PAWL_R_BAD_REQUEST, "GET", "/", 1, "Host: h", "X A: b");
    CHECK(PAWL_R_BAD_REQUEST, "GET", "/", 1, "Host: h", "X:A: b");
    CHECK(PAWL_R_BAD_REQUEST, "GET", "/", 1, "Host: h", ": b");
    CHECK(PAWL_R_BAD_REQUEST, "GET", "/", 1, "X-A: b");                /* 1.1 without Host */
    CHECK(PAWL_R_BAD_REQUEST, "GET", "/", 1, "Host: a", "Host: b");    /* two Hosts */
    CHECK(PAWL_R_BAD_REQUEST, "GET", "/", 1, "Host: h", "Upgrade: h2c");
    CHECK(PAWL_R_BAD_REQUEST, "GET", "/", 1, "Host: h", "upgrade: websocket");
    /* another method or path for the application than the one decided on */
    CHECK(PAWL_R_BAD_REQUEST, "GET", "/", 1, "Host: h", "X-HTTP-Method-Override: DELETE");
    CHECK(PAWL_R_BAD_REQUEST, "POST", "/", 1, "Host: h", "x-http-method: PUT");
    CHECK(PAWL_R_BAD_REQUEST, "POST", "/", 1, "Host: h", "X-Method-Override: PUT");
    CHECK(PAWL_R_BAD_REQUEST, "GET", "/", 1, "Host: h", "X-Original-URL: /admin");
    CHECK(PAWL_R_BAD_REQUEST, "GET", "/", 1, "Host: h", "X_Rewrite_URL: /admin");
    CHECK(PAWL_R_ALLOWED, "GET", "/", 1, "Host: h", "X-Original-URI: /v"); /* nginx's auth_request */
    CHECK(PAWL_R_ALLOWED, "GET", "/", 1, "Host: h", "X-HTTP-Method-Overrides: x");
    CHECK(PAWL_R_BAD_REQUEST, "GET", "/", 1, "Host: h", "Authorization: Bearer a",
          "Authorization: Bearer b");
}

/* Every byte value, as a header-name byte and as a value byte, against
 * RFC 9110 written out here independently of the checker's tables. */
static void test_every_byte(void **state)
{
    (void)state;
    for (int b = 0; b < 256; b++) {
        char name[8] = "X-A", value[8] = "v";
        name[1] = (char)b, value[1] = (char)b;
        struct pawl_http_header h[2] = {{S("Host"), S("h")}, {{name, 3}, {value, 3}}};
        struct pawl_http_head head = {.method = S("GET"), .target = S("/"), .version_minor = 1,
                                      .headers = h, .nheaders = 2};
        struct pawl_http_verdict v;
        value[2] = 'w';
        h[1].value.n = 0; /* the name alone first */
        pawl_http_check(&head, NULL, &v);
        bool tchar = (b >= 'a' && b <= 'z') || (b >= 'A' && b <= 'Z') || (b >= '0' && b <= '9') ||
                     (b != 0 && strchr("!#$%&'*+-.^_`|~", b) != NULL);
        if ((v.reason == PAWL_R_ALLOWED) != tchar)
            fail_msg("name byte 0x%02x: got %s, want %s", b, pawl_reason_name(v.reason),
                     tchar ? "allowed" : "refused");
        h[1].name = S("X-A");
        h[1].value.n = 3;
        pawl_http_check(&head, NULL, &v);
        bool vchar = b == '\t' || (b >= 0x20 && b != 0x7f);
        if ((v.reason == PAWL_R_ALLOWED) != vchar)
            fail_msg("value byte 0x%02x: got %s, want %s", b, pawl_reason_name(v.reason),
                     vchar ? "allowed" : "refused");
        /* at every offset of a longer value (the scan reads eight bytes at a time) */
        char longer[27];
        for (size_t at = 1; at < sizeof longer; at++) {
            memset(longer, 'v', sizeof longer);
            longer[at] = (char)b;
            h[1].value = (pawl_str){longer, sizeof longer};
            pawl_http_check(&head, NULL, &v);
            if ((v.reason == PAWL_R_ALLOWED) != vchar)
                fail_msg("value byte 0x%02x at %zu: got %s", b, at, pawl_reason_name(v.reason));
        }
        h[1].value = (pawl_str){value, 3};
    }
}

static void test_targets_and_versions(void **state)
{
    (void)state;
    CHECK(PAWL_R_BAD_REQUEST, "GET", "http://evil.example/api", 1, "Host: h");
    CHECK(PAWL_R_BAD_REQUEST, "CONNECT", "evil.example:443", 1, "Host: h");
    CHECK(PAWL_R_BAD_REQUEST, "OPTIONS", "*", 1, "Host: h");
    CHECK(PAWL_R_BAD_REQUEST, "GET", "api", 1, "Host: h");
    CHECK(PAWL_R_BAD_REQUEST, "GET", "", 1, "Host: h");
    CHECK(PAWL_R_BAD_REQUEST, "GET", "/a b", 1, "Host: h");
    CHECK(PAWL_R_BAD_REQUEST, "GET", "/a#frag", 1, "Host: h");
    CHECK(PAWL_R_BAD_REQUEST, "GET", "/caf\xc3\xa9", 1, "Host: h");
    CHECK(PAWL_R_BAD_REQUEST, "GET", "/", 2, "Host: h");
    CHECK(PAWL_R_BAD_REQUEST, "G ET", "/", 1, "Host: h");
    CHECK(PAWL_R_BAD_REQUEST, "", "/", 1, "Host: h");
}

static void test_limits(void **state)
{
    (void)state;
    static char big[9000];
    static const char *many[MAXH];
    struct head hd;
    struct pawl_http_verdict v;
    memset(big, 'a', sizeof big - 1);
    memcpy(big, "X-Big: ", 7);
    static const char *const one[1] = {big};
    pawl_http_check(&mk(&hd, "GET", "/", 0, one, 1)->head, NULL, &v);
    assert_int_equal(v.reason, PAWL_R_HEADERS_TOO_LARGE);
    many[0] = "Host: h";
    for (size_t i = 1; i < 65; i++)
        many[i] = "X-A: b";
    pawl_http_check(&mk(&hd, "GET", "/", 1, many, 64)->head, NULL, &v);
    assert_int_equal(v.reason, PAWL_R_ALLOWED);
    pawl_http_check(&mk(&hd, "GET", "/", 1, many, 65)->head, NULL, &v);
    assert_int_equal(v.reason, PAWL_R_HEADERS_TOO_LARGE);
    /* the whole head: 8 headers of 5000 bytes under a 32 KiB limit */
    static char h5k[5001];
    memset(h5k, 'b', 5000);
    memcpy(h5k, "X-M: ", 5);
    for (size_t i = 1; i < 9; i++)
        many[i] = h5k;
    pawl_http_check(&mk(&hd, "GET", "/", 1, many, 9)->head, NULL, &v);
    assert_int_equal(v.reason, PAWL_R_HEADERS_TOO_LARGE);
    assert_non_null(strstr(v.detail, "request head"));
    struct pawl_http_limits tight = {2, 100, 1000, 10};
    static const char *const two[] = {"Host: h", "Content-Length: 11"};
    pawl_http_check(&mk(&hd, "POST", "/", 1, two, 2)->head, &tight, &v);
    assert_int_equal(v.reason, PAWL_R_BODY_TOO_LARGE);
}

static void test_reserved_headers(void **state)
{
    (void)state;
    pawl_str id = S("X-Pawl-Principal");
    assert_true(pawl_http_is_reserved(S("x-pawl-principal"), id));
    assert_true(pawl_http_is_reserved(S("X-Pawl-Anything"), S("")));
    assert_true(pawl_http_is_reserved(S("X-Forwarded-For"), id));
    assert_true(pawl_http_is_reserved(S("Forwarded"), id));
    assert_true(pawl_http_is_reserved(S("Connection"), id));
    assert_true(pawl_http_is_reserved(S("X-Vehicle-Owner"), S("x-vehicle-owner")));
    /* review: every X-Forwarded-* (an upstream may trust -Host, -Port,
     * -Client-Cert), and '_' for '-', which CGI-style upstreams (WSGI,
     * PHP) fold to the same variable as the reserved name */
    assert_true(pawl_http_is_reserved(S("X-Forwarded-Host"), id));
    assert_true(pawl_http_is_reserved(S("x-forwarded-client-cert"), id));
    assert_true(pawl_http_is_reserved(S("X-Forwarded-Prefix"), id));
    assert_true(pawl_http_is_reserved(S("X_Pawl_Principal"), id));
    assert_true(pawl_http_is_reserved(S("Content_Length"), id)); /* review: it was forwarded */
    assert_true(pawl_http_is_reserved(S("content-length"), id));
    assert_true(pawl_http_is_reserved(S("Expect"), id));
    assert_false(pawl_http_is_reserved(S("Content-Type"), id));
    assert_true(pawl_http_is_reserved(S("x_pawl-anything"), S("")));
    assert_true(pawl_http_is_reserved(S("X_Forwarded_For"), id));
    assert_true(pawl_http_is_reserved(S("X_Real_IP"), id));
    assert_true(pawl_http_is_reserved(S("X_Vehicle_Owner"), S("x-vehicle-owner")));
    assert_false(pawl_http_is_reserved(S("X_Forwarded"), id));
    assert_true(pawl_http_is_reserved(S("X-Pawl-Principal2x"), S("")));
    assert_false(pawl_http_is_reserved(S("X-Vehicle-Owners"), S("x-vehicle-owner")));
    assert_false(pawl_http_is_reserved(S("Authorization"), id));
    /* the step-up header and its lookalikes (proxy.c forwards the exact one only) */
    assert_true(pawl_http_name_eq(S("X_Cmd_Token"), S("x-cmd-token")));
    assert_true(pawl_http_name_eq(S("X-CMD-TOKEN"), S("x-cmd-token")));
    assert_false(pawl_http_name_eq(S("X-Cmd-Tokens"), S("x-cmd-token")));
    assert_false(pawl_http_name_eq(S("X-Cmd-Toke"), S("x-cmd-token")));
    assert_false(pawl_http_name_eq(S("X.Cmd-Token"), S("x-cmd-token")));
    assert_false(pawl_http_is_reserved(S("X-Pawl"), id));
    assert_false(pawl_http_is_reserved(S("Content-Type"), id));
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_good_heads),
        cmocka_unit_test(test_framing_and_values),
        cmocka_unit_test(test_content_length_and_transfer_encoding),
        cmocka_unit_test(test_content_length_forms),
        cmocka_unit_test(test_transfer_encoding_forms),
        cmocka_unit_test(test_obs_fold_and_control_bytes),
        cmocka_unit_test(test_header_names_and_host),
        cmocka_unit_test(test_every_byte),
        cmocka_unit_test(test_targets_and_versions),
        cmocka_unit_test(test_limits),
        cmocka_unit_test(test_reserved_headers),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
