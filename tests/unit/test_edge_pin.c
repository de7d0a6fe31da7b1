/* Unit tests for pawl/edge_pin.h and pawl/edge_pin_openssl.h: the pin-set
 * parser (every reject path, with its offset), formatting, pins computed by
 * the openssl CLI, and real TLS handshakes over loopback against a server
 * thread whose CA, intermediate and leaf are made here. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <arpa/inet.h>
#include <netinet/in.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/x509v3.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <unistd.h>

#include "pawl/edge_pin.h"
#include "pawl/edge_pin_openssl.h"

/* SHA-256("") and SHA-256("abc") (FIPS 180-2 example), in base64. */
#define PIN_A "sha256//47DEQpj8HBSa+/TImW+5JCeuQeRkm5NMpJWZG3hSuFU="
#define PIN_B "sha256//ungWv48Bz+pBQUDeXa4iI7ADYaOWF3qctBD/YfIAFa0="
#define PLEN 52 /* strlen(PIN_A) */
#define BODY 8  /* offset of the base64 in a pin */

static const uint8_t sha_empty[32] = {
    0xe3, 0xb0, 0xc4, 0x42, 0x98, 0xfc, 0x1c, 0x14, 0x9a, 0xfb, 0xf4, 0xc8, 0x99, 0x6f, 0xb9, 0x24,
    0x27, 0xae, 0x41, 0xe4, 0x64, 0x9b, 0x93, 0x4c, 0xa4, 0x95, 0x99, 0x1b, 0x78, 0x52, 0xb8, 0x55,
};

/* ---- parser ------------------------------------------------------------------ */

struct bad {
    const char *s;
    size_t n; /* 0: strlen(s) */
    enum pawl_edge_pin_result r;
    size_t offset;
};

static const struct bad bads[] = {
    { "", 0, PAWL_EDGE_PIN_EMPTY, 0 },
    { PIN_A, 0, PAWL_EDGE_PIN_NO_BACKUP, PLEN },
    { PIN_A ";", 0, PAWL_EDGE_PIN_EMPTY, PLEN + 1 },                 /* trailing ';' */
    { ";" PIN_A ";" PIN_B, 0, PAWL_EDGE_PIN_EMPTY, 0 },              /* leading ';' */
    { PIN_A ";;" PIN_B, 0, PAWL_EDGE_PIN_EMPTY, PLEN + 1 },          /* doubled ';' */
    { PIN_A "; " PIN_B, 0, PAWL_EDGE_PIN_CHAR, PLEN + 1 },           /* space after ';' */
    { " " PIN_A ";" PIN_B, 0, PAWL_EDGE_PIN_CHAR, 0 },
    { PIN_A ";" PIN_B "\n", 0, PAWL_EDGE_PIN_CHAR, 2 * PLEN + 1 },   /* newline at the end */
    { "sha256// 47DEQpj8HBSa+/TImW+5JCeuQeRkm5NMpJWZG3hSuFU=;" PIN_B, 0, PAWL_EDGE_PIN_CHAR, 8 },
    { "sha384//47DEQpj8HBSa+/TImW+5JCeuQeRkm5NMpJWZG3hSuFU=;" PIN_B, 0, PAWL_EDGE_PIN_PREFIX, 3 },
    { "SHA256//47DEQpj8HBSa+/TImW+5JCeuQeRkm5NMpJWZG3hSuFU=;" PIN_B, 0, PAWL_EDGE_PIN_PREFIX, 0 },
    { "/etc/pawl/backend.pem", 0, PAWL_EDGE_PIN_PREFIX, 0 },         /* curl's file form */
    { PIN_A ";sha256/", 0, PAWL_EDGE_PIN_PREFIX, PLEN + 8 },         /* ends in the prefix */
    { PIN_A ";" "47DEQpj8HBSa+/TImW+5JCeuQeRkm5NMpJWZG3hSuFU=", 0, PAWL_EDGE_PIN_PREFIX, PLEN + 1 },
    /* bad base64 */
    { "sha256//47DEQpj8HBSa+/TImW+5JCeuQeRk!5NMpJWZG3hSuFU=;" PIN_B, 0, PAWL_EDGE_PIN_CHAR, 36 },
    { "sha256//47DEQpj8HBSa-_TImW+5JCeuQeRkm5NMpJWZG3hSuFU=;" PIN_B, 0, PAWL_EDGE_PIN_CHAR, 20 },
    { "sha256//47DEQpj8HBSa+/TImW+5JCeuQeRk\0" "5NMpJWZG3hSuFU=;" PIN_B, PLEN + 1 + PLEN,
      PAWL_EDGE_PIN_CHAR, 36 },
    /* wrong length */
    { "sha256//47DEQpj8HBSa+/TImW+5JCeuQeRkm5NMpJWZG3hS;" PIN_B, 0, PAWL_EDGE_PIN_LENGTH, BODY },
    { PIN_A "A;" PIN_B, 0, PAWL_EDGE_PIN_LENGTH, BODY },
    { "sha256//47DEQpj8HBSa+/TImW+5JCeuQeRkm5NMpJWZG3hSuFUAAAAA;" PIN_B, 0, PAWL_EDGE_PIN_LENGTH,
      BODY },
    { "sha256//;" PIN_B, 0, PAWL_EDGE_PIN_LENGTH, BODY },
    { PIN_A ";sha256//ungWv48Bz+pBQUDeXa4iI7ADYaOWF3qctBD/YfIAFa0D", 0, PAWL_EDGE_PIN_LENGTH,
      PLEN + 1 + BODY },                                             /* 44 data, no '=' */
    /* padding */
    { "sha256//47DEQpj8HBSa+/TImW+5JCeuQeRkm5NMpJWZG3hSuFU;" PIN_B, 0, PAWL_EDGE_PIN_PADDING,
      PLEN - 1 },                                                    /* '=' missing */
    { "sha256//47DEQpj8HBSa+/TImW+5JCeuQeRkm5NMpJWZG3hSuF==;" PIN_B, 0, PAWL_EDGE_PIN_PADDING,
      PLEN - 2 },
    { "sha256//47DEQpj8HBSa=/TImW+5JCeuQeRkm5NMpJWZG3hSuFU=;" PIN_B, 0, PAWL_EDGE_PIN_PADDING, 20 },
    { "sha256//47DEQpj8HBSa+/TImW+5JCeuQeRkm5NMpJWZG3hSuFV=;" PIN_B, 0, PAWL_EDGE_PIN_PADDING,
      PLEN - 2 },                                                    /* unused bits set */
    /* the set */
    { PIN_A ";" PIN_A, 0, PAWL_EDGE_PIN_DUPLICATE, PLEN + 1 },
    { PIN_B ";" PIN_A ";" PIN_B, 0, PAWL_EDGE_PIN_DUPLICATE, 2 * (PLEN + 1) },
};

static void parser_rejects_with_offset(void **state)
{
    (void)state;
    for (size_t i = 0; i < sizeof bads / sizeof bads[0]; i++) {
        const struct bad *b = &bads[i];
        size_t n = b->n ? b->n : strlen(b->s);
        struct pawl_edge_pinset set;
        struct pawl_edge_pin_error e = { 9999, NULL };
        memset(&set, 0xa5, sizeof set);
        enum pawl_edge_pin_result r = pawl_edge_pin_parse(b->s, n, 0, &set, &e);
        if (r != b->r || e.offset != b->offset)
            print_error("case %zu: got %s at %zu (%s), want %s at %zu\n", i,
                        pawl_edge_pin_result_str(r), e.offset, e.msg ? e.msg : "-",
                        pawl_edge_pin_result_str(b->r), b->offset);
        assert_int_equal(r, b->r);
        assert_int_equal(e.offset, b->offset);
        assert_non_null(e.msg);
        assert_true(strlen(e.msg) > 10);
        assert_int_equal(set.n, 0); /* nothing usable left behind */
        assert_int_equal(set.sha256[0][0], 0);
    }
}

static void parser_messages_name_the_problem(void **state)
{
    struct pawl_edge_pinset set;
    struct pawl_edge_pin_error e;
    (void)state;
    assert_int_equal(pawl_edge_pin_parse(PIN_A "; " PIN_B, 2 * PLEN + 2, 0, &set, &e),
                     PAWL_EDGE_PIN_CHAR);
    assert_non_null(strstr(e.msg, "whitespace"));
    assert_int_equal(pawl_edge_pin_parse("/etc/pawl/backend.pem", 21, 0, &set, &e),
                     PAWL_EDGE_PIN_PREFIX);
    assert_non_null(strstr(e.msg, "file paths"));
    assert_int_equal(pawl_edge_pin_parse(PIN_A, PLEN, 0, &set, &e), PAWL_EDGE_PIN_NO_BACKUP);
    assert_non_null(strstr(e.msg, "backup"));
    /* err may be NULL */
    assert_int_equal(pawl_edge_pin_parse(PIN_A ";", PLEN + 1, 0, &set, NULL), PAWL_EDGE_PIN_EMPTY);
}

static void parser_accepts_and_round_trips(void **state)
{
    static const char two[] = PIN_A ";" PIN_B;
    struct pawl_edge_pinset set;
    struct pawl_edge_pin_error e;
    char buf[PAWL_EDGE_PINSET_STR_MAX];
    (void)state;
    assert_int_equal(pawl_edge_pin_parse(two, sizeof two - 1, 0, &set, &e), PAWL_EDGE_PIN_OK);
    assert_int_equal(set.n, 2);
    assert_memory_equal(set.sha256[0], sha_empty, 32);
    assert_true(pawl_edge_pin_match_digest(&set, sha_empty));
    assert_int_equal(pawl_edge_pin_format(&set, buf, sizeof buf), sizeof two - 1);
    assert_string_equal(buf, two);
    /* Too small a buffer: 0 and "". */
    assert_int_equal(pawl_edge_pin_format(&set, buf, sizeof two - 1), 0);
    assert_string_equal(buf, "");
    /* One pin only with the flag. */
    assert_int_equal(pawl_edge_pin_parse(PIN_A, PLEN, PAWL_EDGE_PIN_ALLOW_SINGLE, &set, &e),
                     PAWL_EDGE_PIN_OK);
    assert_int_equal(set.n, 1);
    assert_false(pawl_edge_pin_match_digest(&set, (const uint8_t[32]){ 0 }));
}

/* Eight distinct pins parse and format back byte for byte; a ninth is one
 * too many, reported at its own start. */
static void parser_bound(void **state)
{
    char in[PAWL_EDGE_PINSET_STR_MAX + PAWL_EDGE_PIN_STR_LEN + 1], out[PAWL_EDGE_PINSET_STR_MAX];
    struct pawl_edge_pinset set;
    struct pawl_edge_pin_error e;
    size_t k = 0;
    (void)state;
    for (unsigned i = 0; i <= PAWL_EDGE_MAX_PINS; i++) {
        uint8_t d[32] = { (uint8_t)i, 0x42 };
        if (i > 0)
            in[k++] = ';';
        pawl_edge_pin_format_one(d, in + k);
        k += PAWL_EDGE_PIN_STR_LEN;
    }
    size_t eight = PAWL_EDGE_MAX_PINS * (PAWL_EDGE_PIN_STR_LEN + 1) - 1;
    assert_int_equal(pawl_edge_pin_parse(in, eight, 0, &set, &e), PAWL_EDGE_PIN_OK);
    assert_int_equal(set.n, PAWL_EDGE_MAX_PINS);
    assert_int_equal(pawl_edge_pin_format(&set, out, sizeof out), eight);
    assert_memory_equal(out, in, eight);
    assert_int_equal(pawl_edge_pin_parse(in, k, 0, &set, &e), PAWL_EDGE_PIN_TOO_MANY);
    assert_int_equal(e.offset, eight + 1);
}

/* ---- pins of certificates ------------------------------------------------------ */

struct pki {
    EVP_PKEY *root_key, *int_key, *leaf_key, *other_key, *decoy_key;
    X509 *root, *inter, *leaf, *other_root, *decoy;
    SSL_CTX *srv, *srv_decoy; /* leaf+intermediate; the same plus the decoy */
    char pin_root[PAWL_EDGE_PIN_STR_LEN + 1], pin_int[PAWL_EDGE_PIN_STR_LEN + 1];
    char pin_leaf[PAWL_EDGE_PIN_STR_LEN + 1], pin_decoy[PAWL_EDGE_PIN_STR_LEN + 1];
};
static struct pki P;

static EVP_PKEY *p256(void)
{
    EVP_PKEY *k = EVP_PKEY_Q_keygen(NULL, NULL, "EC", "P-256");
    if (k == NULL)
        abort();
    return k;
}

static void add_ext(X509 *x, X509 *issuer, int nid, const char *value)
{
    X509V3_CTX v3;
    X509V3_set_ctx_nodb(&v3);
    X509V3_set_ctx(&v3, issuer, x, NULL, NULL, 0);
    X509_EXTENSION *ext = X509V3_EXT_conf_nid(NULL, &v3, nid, value);
    if (ext == NULL || !X509_add_ext(x, ext, -1))
        abort();
    X509_EXTENSION_free(ext);
}

/* A certificate for key named cn, signed by issuer (NULL: self-signed). */
static X509 *mk_cert(EVP_PKEY *key, const char *cn, X509 *issuer, EVP_PKEY *issuer_key, int ca)
{
    static long serial = 1;
    X509 *x = X509_new();
    X509_NAME *name = X509_get_subject_name(x);
    if (x == NULL || !X509_set_version(x, 2) ||
        !ASN1_INTEGER_set(X509_get_serialNumber(x), serial++) ||
        !X509_gmtime_adj(X509_getm_notBefore(x), -3600) ||
        !X509_gmtime_adj(X509_getm_notAfter(x), 86400) || !X509_set_pubkey(x, key) ||
        !X509_NAME_add_entry_by_txt(name, "CN", MBSTRING_ASC, (const unsigned char *)cn, -1, -1, 0) ||
        !X509_set_issuer_name(x, issuer ? X509_get_subject_name(issuer) : name))
        abort();
    add_ext(x, issuer ? issuer : x, NID_basic_constraints, ca ? "critical,CA:TRUE" : "critical,CA:FALSE");
    add_ext(x, issuer ? issuer : x, NID_key_usage,
            ca ? "critical,keyCertSign,cRLSign" : "critical,digitalSignature");
    add_ext(x, issuer ? issuer : x, NID_subject_key_identifier, "hash");
    if (issuer != NULL)
        add_ext(x, issuer, NID_authority_key_identifier, "keyid:always");
    if (!ca) {
        add_ext(x, issuer ? issuer : x, NID_subject_alt_name, "DNS:localhost,IP:127.0.0.1");
        add_ext(x, issuer ? issuer : x, NID_ext_key_usage, "serverAuth");
    }
    if (X509_sign(x, issuer_key ? issuer_key : key, EVP_sha256()) <= 0)
        abort();
    return x;
}

static SSL_CTX *server_ctx(int with_decoy)
{
    SSL_CTX *c = SSL_CTX_new(TLS_server_method());
    if (c == NULL || SSL_CTX_use_certificate(c, P.leaf) != 1 ||
        SSL_CTX_use_PrivateKey(c, P.leaf_key) != 1 || SSL_CTX_add1_chain_cert(c, P.inter) != 1 ||
        (with_decoy && SSL_CTX_add1_chain_cert(c, P.decoy) != 1))
        abort();
    return c;
}

static int setup(void **state)
{
    (void)state;
    signal(SIGPIPE, SIG_IGN); /* a client that aborts must not kill the server thread */
    P.root_key = p256();
    P.int_key = p256();
    P.leaf_key = p256();
    P.other_key = p256();
    P.decoy_key = p256();
    P.root = mk_cert(P.root_key, "pawl test root", NULL, NULL, 1);
    P.inter = mk_cert(P.int_key, "pawl test intermediate", P.root, P.root_key, 1);
    P.leaf = mk_cert(P.leaf_key, "localhost", P.inter, P.int_key, 0);
    P.other_root = mk_cert(P.other_key, "pawl other root", NULL, NULL, 1);
    P.decoy = mk_cert(P.decoy_key, "pawl decoy", NULL, NULL, 1);
    if (pawl_edge_pin_from_cert(P.root, P.pin_root) != 0 ||
        pawl_edge_pin_from_cert(P.inter, P.pin_int) != 0 ||
        pawl_edge_pin_from_cert(P.leaf, P.pin_leaf) != 0 ||
        pawl_edge_pin_from_cert(P.decoy, P.pin_decoy) != 0)
        abort();
    P.srv = server_ctx(0);
    P.srv_decoy = server_ctx(1);
    return 0;
}

static int teardown(void **state)
{
    (void)state;
    SSL_CTX_free(P.srv);
    SSL_CTX_free(P.srv_decoy);
    X509 *certs[] = { P.root, P.inter, P.leaf, P.other_root, P.decoy };
    EVP_PKEY *keys[] = { P.root_key, P.int_key, P.leaf_key, P.other_key, P.decoy_key };
    for (size_t i = 0; i < 5; i++) {
        X509_free(certs[i]);
        EVP_PKEY_free(keys[i]);
    }
    return 0;
}

static void pin_known_answer(void **state)
{
    char s[PAWL_EDGE_PIN_STR_LEN + 1];
    (void)state;
    pawl_edge_pin_format_one(sha_empty, s);
    assert_string_equal(s, PIN_A);
    assert_int_equal(pawl_edge_pin_from_spki((const uint8_t *)"abc", 3, s), 0);
    assert_string_equal(s, PIN_B);
}

/* The pin we compute equals the one the docs' openssl pipeline computes. */
static void pin_matches_openssl_cli(void **state)
{
    char dir[] = "/tmp/pawl-pin-XXXXXX", path[64], cmd[512], line[128] = "sha256//";
    (void)state;
    assert_non_null(mkdtemp(dir));
    snprintf(path, sizeof path, "%s/cert.pem", dir);
    FILE *f = fopen(path, "w");
    assert_non_null(f);
    assert_int_equal(PEM_write_X509(f, P.inter), 1);
    fclose(f);
    snprintf(cmd, sizeof cmd,
             "openssl x509 -pubkey -noout -in %s | openssl pkey -pubin -outform der | "
             "openssl dgst -sha256 -binary | base64", path);
    FILE *p = popen(cmd, "r");
    assert_non_null(p);
    char *got = fgets(line + 8, (int)sizeof line - 8, p);
    int st = pclose(p);
    unlink(path);
    rmdir(dir);
    if (got == NULL || st != 0)
        skip(); /* no openssl or base64 binary */
    line[strcspn(line, "\n")] = '\0';
    assert_string_equal(line, P.pin_int);
}

static void match_spki_and_chain(void **state)
{
    struct pawl_edge_pinset set;
    struct pawl_edge_pin_error e;
    char s[2 * PAWL_EDGE_PIN_STR_LEN + 2];
    unsigned char *der = NULL;
    (void)state;
    snprintf(s, sizeof s, "%s;%s", P.pin_int, PIN_A);
    assert_int_equal(pawl_edge_pin_parse(s, strlen(s), 0, &set, &e), PAWL_EDGE_PIN_OK);

    int n = i2d_PUBKEY(P.int_key, &der);
    assert_true(n > 0);
    assert_true(pawl_edge_pin_match_spki(&set, der, (size_t)n));
    OPENSSL_free(der);
    der = NULL;
    n = i2d_PUBKEY(P.leaf_key, &der);
    assert_false(pawl_edge_pin_match_spki(&set, der, (size_t)n));
    OPENSSL_free(der);

    STACK_OF(X509) *chain = sk_X509_new_null();
    assert_int_equal(pawl_edge_pin_check_chain(&set, NULL), PAWL_EDGE_PIN_NO_CHAIN);
    assert_int_equal(pawl_edge_pin_check_chain(&set, chain), PAWL_EDGE_PIN_NO_CHAIN);
    sk_X509_push(chain, P.leaf);
    assert_int_equal(pawl_edge_pin_check_chain(&set, chain), PAWL_EDGE_PIN_MISMATCH);
    sk_X509_push(chain, P.inter);
    assert_int_equal(pawl_edge_pin_check_chain(&set, chain), PAWL_EDGE_PIN_OK);
    sk_X509_free(chain);
}

/* ---- TLS over loopback ------------------------------------------------------- */

struct server {
    SSL_CTX *ctx;
    int lfd;
    int accepted; /* the server's own view: 1 when its handshake completed */
};

static void set_timeout(int fd)
{
    struct timeval tv = { 10, 0 };
    setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
    setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof tv);
}

/* Accepts one connection, completes the handshake and sends "pawl". */
static void *serve(void *arg)
{
    struct server *s = arg;
    int fd = accept(s->lfd, NULL, NULL);
    if (fd < 0)
        return NULL;
    set_timeout(fd);
    SSL *ssl = SSL_new(s->ctx);
    if (ssl != NULL && SSL_set_fd(ssl, fd) == 1 && SSL_accept(ssl) == 1) {
        s->accepted = 1;
        if (SSL_write(ssl, "pawl", 4) == 4)
            SSL_shutdown(ssl);
    }
    SSL_free(ssl);
    close(fd);
    ERR_clear_error();
    return NULL;
}

/* Connects a client with cctx to a fresh server on 127.0.0.1, checking the
 * name host. Returns 1 when the handshake succeeded and "pawl" arrived, else
 * 0; *verify is SSL_get_verify_result. */
static int handshake(SSL_CTX *srv, SSL_CTX *cctx, const char *host, long *verify)
{
    struct server s = { srv, socket(AF_INET, SOCK_STREAM, 0), 0 };
    struct sockaddr_in a = { .sin_family = AF_INET, .sin_port = 0 };
    socklen_t alen = sizeof a;
    pthread_t th;
    char buf[8] = { 0 };
    int ok = 0;

    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    assert_true(s.lfd >= 0);
    assert_int_equal(bind(s.lfd, (struct sockaddr *)&a, sizeof a), 0);
    assert_int_equal(listen(s.lfd, 1), 0);
    assert_int_equal(getsockname(s.lfd, (struct sockaddr *)&a, &alen), 0);
    assert_int_equal(pthread_create(&th, NULL, serve, &s), 0);

    int fd = socket(AF_INET, SOCK_STREAM, 0);
    assert_int_equal(connect(fd, (struct sockaddr *)&a, sizeof a), 0);
    set_timeout(fd);
    SSL *ssl = SSL_new(cctx);
    assert_non_null(ssl);
    assert_int_equal(SSL_set_fd(ssl, fd), 1);
    assert_int_equal(SSL_set1_host(ssl, host), 1);
    if (SSL_connect(ssl) == 1 && SSL_read(ssl, buf, 4) == 4 && memcmp(buf, "pawl", 4) == 0)
        ok = 1;
    *verify = SSL_get_verify_result(ssl);
    SSL_free(ssl);
    close(fd);
    pthread_join(th, NULL);
    close(s.lfd);
    ERR_clear_error();
    assert_true(!ok || s.accepted);
    return ok;
}

/* A client trusting `anchor`, pinned to the set "p1;p2". */
static SSL_CTX *client(X509 *anchor, const char *p1, const char *p2)
{
    char s[2 * PAWL_EDGE_PIN_STR_LEN + 2];
    struct pawl_edge_pinset set;
    struct pawl_edge_pin_error e;
    SSL_CTX *c = SSL_CTX_new(TLS_client_method());
    assert_non_null(c);
    assert_int_equal(X509_STORE_add_cert(SSL_CTX_get_cert_store(c), anchor), 1);
    snprintf(s, sizeof s, "%s;%s", p1, p2);
    assert_int_equal(pawl_edge_pin_parse(s, strlen(s), 0, &set, &e), PAWL_EDGE_PIN_OK);
    assert_int_equal(pawl_edge_pin_attach(c, &set), 0);
    return c;
}

static void tls_case(X509 *anchor, SSL_CTX *srv, const char *host, const char *p1,
                     const char *p2, int want_ok, long want_verify)
{
    long verify = -1;
    SSL_CTX *c = client(anchor, p1, p2);
    int ok = handshake(srv, c, host, &verify);
    SSL_CTX_free(c);
    if (ok != want_ok || verify != want_verify)
        print_error("handshake %d (%s), want %d (%s)\n", ok, X509_verify_cert_error_string(verify),
                    want_ok, X509_verify_cert_error_string(want_verify));
    assert_int_equal(ok, want_ok);
    assert_int_equal(verify, want_verify);
}

static void tls_leaf_pin(void **state)
{
    (void)state;
    tls_case(P.root, P.srv, "localhost", P.pin_leaf, PIN_A, 1, X509_V_OK);
}

static void tls_intermediate_pin(void **state)
{
    (void)state;
    tls_case(P.root, P.srv, "localhost", P.pin_int, PIN_A, 1, X509_V_OK);
}

static void tls_root_pin(void **state)
{
    (void)state;
    tls_case(P.root, P.srv, "127.0.0.1", P.pin_root, PIN_A, 1, X509_V_OK);
}

static void tls_backup_pin(void **state)
{
    (void)state;
    tls_case(P.root, P.srv, "localhost", PIN_A, P.pin_leaf, 1, X509_V_OK);
}

static void tls_no_pin_matches(void **state)
{
    (void)state;
    tls_case(P.root, P.srv, "localhost", PIN_A, PIN_B, 0, X509_V_ERR_APPLICATION_VERIFICATION);
}

/* Pinning never replaces CA verification: an untrusted CA fails with
 * OpenSSL's own error even though the leaf and intermediate are pinned. */
static void tls_untrusted_ca_despite_pin(void **state)
{
    (void)state;
    tls_case(P.other_root, P.srv, "localhost", P.pin_leaf, P.pin_int, 0,
             X509_V_ERR_UNABLE_TO_GET_ISSUER_CERT_LOCALLY);
}

/* ... nor host name verification. */
static void tls_wrong_host_despite_pin(void **state)
{
    (void)state;
    tls_case(P.root, P.srv, "telematics.example.com", P.pin_leaf, P.pin_int, 0,
             X509_V_ERR_HOSTNAME_MISMATCH);
}

/* A pinned certificate that the server merely sends along is not in the
 * verified chain and does not count. */
static void tls_pinned_decoy_not_in_chain(void **state)
{
    (void)state;
    tls_case(P.root, P.srv_decoy, "localhost", P.pin_decoy, PIN_A, 0,
             X509_V_ERR_APPLICATION_VERIFICATION);
    tls_case(P.root, P.srv_decoy, "localhost", P.pin_decoy, P.pin_leaf, 1, X509_V_OK);
}

/* The callback without an attached pin set fails closed. */
static void tls_callback_without_pins(void **state)
{
    long verify = -1;
    (void)state;
    SSL_CTX *c = SSL_CTX_new(TLS_client_method());
    assert_non_null(c);
    assert_int_equal(X509_STORE_add_cert(SSL_CTX_get_cert_store(c), P.root), 1);
    SSL_CTX_set_verify(c, SSL_VERIFY_PEER, pawl_edge_pin_verify_cb);
    assert_int_equal(handshake(P.srv, c, "localhost", &verify), 0);
    assert_int_equal(verify, X509_V_ERR_APPLICATION_VERIFICATION);
    SSL_CTX_free(c);
}

/* attach copies the set (the caller's may go away) and a second attach
 * replaces the first; it refuses an empty set; it forces SSL_VERIFY_PEER. */
static void tls_attach_copies_and_replaces(void **state)
{
    struct pawl_edge_pinset set, empty = { 0 };
    struct pawl_edge_pin_error e;
    char s[2 * PAWL_EDGE_PIN_STR_LEN + 2];
    long verify = -1;
    (void)state;
    SSL_CTX *c = client(P.root, PIN_A, PIN_B); /* matches nothing */
    assert_int_equal(pawl_edge_pin_attach(c, &empty), -1);
    snprintf(s, sizeof s, "%s;%s", PIN_A, P.pin_leaf);
    assert_int_equal(pawl_edge_pin_parse(s, strlen(s), 0, &set, &e), PAWL_EDGE_PIN_OK);
    SSL_CTX_set_verify(c, SSL_VERIFY_NONE, NULL);
    assert_int_equal(pawl_edge_pin_attach(c, &set), 0);
    assert_true(SSL_CTX_get_verify_mode(c) & SSL_VERIFY_PEER);
    memset(&set, 0, sizeof set);
    assert_int_equal(handshake(P.srv, c, "localhost", &verify), 1);
    assert_int_equal(verify, X509_V_OK);
    SSL_CTX_free(c);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(parser_rejects_with_offset),
        cmocka_unit_test(parser_messages_name_the_problem),
        cmocka_unit_test(parser_accepts_and_round_trips),
        cmocka_unit_test(parser_bound),
        cmocka_unit_test(pin_known_answer),
        cmocka_unit_test(pin_matches_openssl_cli),
        cmocka_unit_test(match_spki_and_chain),
        cmocka_unit_test(tls_leaf_pin),
        cmocka_unit_test(tls_intermediate_pin),
        cmocka_unit_test(tls_root_pin),
        cmocka_unit_test(tls_backup_pin),
        cmocka_unit_test(tls_no_pin_matches),
        cmocka_unit_test(tls_untrusted_ca_despite_pin),
        cmocka_unit_test(tls_wrong_host_despite_pin),
        cmocka_unit_test(tls_pinned_decoy_not_in_chain),
        cmocka_unit_test(tls_callback_without_pins),
        cmocka_unit_test(tls_attach_copies_and_replaces),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
