/* The inventory against an OpenAPI 3 document (pawl/discover.h):
 * shadow, zombie, drift and unused operations. */
#include "pawl/discover.h"
#include "util.h"

#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define SEG_MAX 64

static const char *const METHODS[] = {"get", "put", "post", "delete", "patch", "head", "options", NULL};

/* Splits a path into segments, parameters ("{...}") as "{}". */
static size_t segments(const char *path, char seg[SEG_MAX][128])
{
    size_t n = 0;
    for (const char *p = path; *p && n < SEG_MAX;) {
        p += *p == '/';
        const char *end = strchr(p, '/');
        size_t len = end ? (size_t)(end - p) : strlen(p);
        bool param = len >= 2 && p[0] == '{' && p[len - 1] == '}';
        snprintf(seg[n++], 128, "%.*s", param ? 2 : (int)(len < 127 ? len : 127), param ? "{}" : p);
        p += len;
    }
    return n;
}

/* A documented path matches a traffic path when every segment is equal or
 * the document's is a parameter. Returns 1 + the number of equal literal
 * segments (the most specific match wins: /orders/all over /orders/{id}),
 * or 0. */
static int path_match(const char *doc, const char *seen)
{
    char a[SEG_MAX][128], b[SEG_MAX][128];
    size_t na = segments(doc, a), nb = segments(seen, b);
    int literal = 0;
    if (na != nb)
        return 0;
    for (size_t i = 0; i < na; i++) {
        if (strcmp(a[i], "{}") != 0 && strcmp(a[i], b[i]) != 0)
            return 0;
        literal += strcmp(a[i], "{}") != 0;
    }
    return 1 + literal;
}

/* "v2", "v2.7", "v4.0": the version number, else -1. */
static double version_of(const char *seg)
{
    char *end;
    if (seg[0] != 'v' || seg[1] < '0' || seg[1] > '9')
        return -1;
    double v = strtod(seg + 1, &end);
    return *end == '\0' ? v : -1;
}

/* A path with its version segment replaced by every documented version:
 * the documented operation with a newer version that the old one shadows,
 * or NULL. */
static const char *newer_version(json_t *docs, const char *method, const char *seen)
{
    char a[SEG_MAX][128], b[SEG_MAX][128];
    size_t nb = segments(seen, b), i;
    json_t *d;
    json_array_foreach(docs, i, d) {
        const char *op = json_string_value(json_array_get(d, 0)), *path = json_string_value(json_array_get(d, 1));
        size_t na = segments(path, a);
        bool same = strcmp(op, method) == 0 && na == nb, newer = false;
        for (size_t k = 0; same && k < na; k++) {
            double va = version_of(a[k]), vb = version_of(b[k]);
            if (va >= 0 && vb >= 0)
                newer |= va > vb;
            else
                same = strcmp(a[k], "{}") == 0 || strcmp(a[k], b[k]) == 0;
        }
        if (same && newer)
            return path;
    }
    return NULL;
}

/* [["GET", "/base/path", secured, [status classes declared]], ...] */
static json_t *documented(json_t *spec, const char *base)
{
    json_t *out = json_array(), *item, *global = json_object_get(spec, "security");
    const char *path;
    json_object_foreach(json_object_get(spec, "paths"), path, item) {
        for (size_t m = 0; METHODS[m]; m++) {
            json_t *op = json_object_get(item, METHODS[m]), *resp, *v;
            const char *code;
            if (!json_is_object(op))
                continue;
            char up[16], full[2048], classes[8] = "";
            size_t k;
            for (k = 0; METHODS[m][k] && k < sizeof up - 1; k++)
                up[k] = (char)(METHODS[m][k] - 'a' + 'A');
            up[k] = '\0';
            snprintf(full, sizeof full, "%s%s", base, path);
            json_t *sec = json_object_get(op, "security");
            sec = sec ? sec : global;
            resp = json_object_get(op, "responses");
            json_object_foreach(resp, code, v)
                if (code[0] >= '1' && code[0] <= '5' && !strchr(classes, code[0]) && strlen(classes) < 6)
                    classes[strlen(classes)] = code[0];
            if (json_object_get(resp, "default") || resp == NULL)
                snprintf(classes, sizeof classes, "12345");
            json_array_append_new(out, json_pack("[s, s, b, s]", up, full,
                                                 json_array_size(sec) > 0, classes));
        }
    }
    return out;
}

/* The path part of the first server URL ("" when none, or "/"). */
static void base_path(json_t *spec, char *out, size_t cap)
{
    const char *url = json_string_value(json_object_get(json_array_get(json_object_get(spec, "servers"), 0), "url"));
    const char *p = url ? strstr(url, "://") : NULL;
    p = p ? strchr(p + 3, '/') : (url && url[0] == '/' ? url : NULL);
    snprintf(out, cap, "%s", p ? p : "");
    size_t n = strlen(out);
    if (n > 0 && out[n - 1] == '/')
        out[n - 1] = '\0';
}

static void drift(json_t *op, json_t *doc, json_t *list)
{
    static const char *const cls[] = {"1xx", "2xx", "3xx", "4xx", "5xx"};
    const char *declared = json_string_value(json_array_get(doc, 3));
    json_t *st = json_object_get(op, "status");
    char why[200];
    for (int c = 0; c < 5; c++)
        if (json_integer_value(json_object_get(st, cls[c])) > 0 && !strchr(declared, '1' + c)) {
            snprintf(why, sizeof why, "answers %s, which the document does not declare", cls[c]);
            json_array_append_new(list, json_pack("{s:O, s:s}", "operation", json_object_get(op, "operation"), "why", why));
        }
    if (json_is_true(json_array_get(doc, 2)) &&
        json_integer_value(json_object_get(json_object_get(op, "unauthenticated"), "succeeded")) > 0)
        json_array_append_new(list, json_pack("{s:O, s:s}", "operation", json_object_get(op, "operation"), "why",
                                              "unauthenticated calls succeed on an operation the document secures"));
}

pawl_err pawl_inventory_openapi(json_t *inventory, json_t *spec, const char *where, struct pawl_diag *d)
{
    char base[1024];
    const char *ver = json_string_value(json_object_get(spec, "openapi"));
    if (ver == NULL || strncmp(ver, "3.", 2) != 0 || !json_is_object(json_object_get(spec, "paths"))) {
        pawl__diagf(d, where, 0, 0, "not an OpenAPI 3 document (openapi: 3.x and paths are required)");
        return PAWL_EINVAL;
    }
    base_path(spec, base, sizeof base);
    json_t *docs = documented(spec, base), *used = json_array();
    json_t *shadow = json_array(), *zombie = json_array(), *drifts = json_array(), *unused = json_array();
    size_t i, k;
    json_t *op, *doc;
    json_array_foreach(json_object_get(inventory, "operations"), i, op) {
        const char *m = json_string_value(json_object_get(op, "method")), *p = json_string_value(json_object_get(op, "path"));
        json_t *hit = NULL;
        int best = 0, score;
        json_array_foreach(docs, k, doc)
            if (strcmp(json_string_value(json_array_get(doc, 0)), m) == 0 &&
                (score = path_match(json_string_value(json_array_get(doc, 1)), p)) > best) {
                best = score;
                hit = doc;
            }
        json_object_set_new(op, "documented", json_boolean(hit != NULL));
        const char *newer = hit ? NULL : newer_version(docs, m, p);
        if (hit) {
            json_array_append(used, hit);
            drift(op, hit, drifts);
        } else if (newer && json_integer_value(json_object_get(json_object_get(op, "status"), "2xx")) > 0) {
            json_array_append_new(zombie, json_pack("{s:O, s:s}", "operation", json_object_get(op, "operation"),
                                                    "newer", newer));
        } else {
            json_array_append(shadow, json_object_get(op, "operation"));
        }
    }
    json_array_foreach(docs, k, doc) {
        bool seen = false;
        for (size_t u = 0; u < json_array_size(used) && !seen; u++)
            seen = json_array_get(used, u) == doc;
        if (!seen)
            json_array_append_new(unused, json_pack("s++", json_string_value(json_array_get(doc, 0)), " ",
                                                    json_string_value(json_array_get(doc, 1))));
    }
    json_object_set_new(inventory, "openapi", json_pack("{s:o, s:o, s:o, s:o}", "shadow", shadow, "zombie", zombie,
                                                         "drift", drifts, "unused", unused));
    json_decref(used);
    json_decref(docs);
    return PAWL_OK;
}
