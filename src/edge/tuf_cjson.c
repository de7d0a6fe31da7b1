/* Canonical JSON (the form TUF signs), a byte buffer and error text for
 * the TUF client: see tuf_internal.h. */
#include "tuf_internal.h"

#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define CJSON_MAX_DEPTH 64 /* metadata nests 6 deep; custom fields get room */

int pawl__tuf_fail(char *err, size_t errn, const char *fmt, ...)
{
    if (errn > 0) {
        va_list ap;
        va_start(ap, fmt);
        vsnprintf(err, errn, fmt, ap);
        va_end(ap);
    }
    return -1;
}

int pawl__tuf_buf_put(struct tuf_buf *b, const void *p, size_t n)
{
    if (n > SIZE_MAX / 2 - b->n)
        return -1;
    if (b->n + n > b->cap) {
        size_t cap = b->cap ? b->cap : 256;
        while (cap < b->n + n)
            cap *= 2;
        uint8_t *q = realloc(b->p, cap);
        if (q == NULL)
            return -1;
        b->p = q;
        b->cap = cap;
    }
    if (n > 0)
        memcpy(b->p + b->n, p, n);
    b->n += n;
    return 0;
}

int pawl__tuf_buf_reserve(struct tuf_buf *b, size_t cap)
{
    if (cap <= b->cap)
        return 0;
    uint8_t *q = realloc(b->p, cap);
    if (q == NULL)
        return -1;
    b->p = q;
    b->cap = cap;
    return 0;
}

void pawl__tuf_buf_free(struct tuf_buf *b)
{
    free(b->p);
    b->p = NULL;
    b->n = b->cap = 0;
}

static int put_str(struct tuf_buf *b, const char *s, size_t n)
{
    if (pawl__tuf_buf_put(b, "\"", 1) != 0)
        return -1;
    size_t run = 0;
    for (size_t i = 0; i < n; i++) {
        if (s[i] != '"' && s[i] != '\\')
            continue;
        if (pawl__tuf_buf_put(b, s + run, i - run) != 0 || pawl__tuf_buf_put(b, "\\", 1) != 0)
            return -1;
        run = i;
    }
    if (pawl__tuf_buf_put(b, s + run, n - run) != 0)
        return -1;
    return pawl__tuf_buf_put(b, "\"", 1);
}

static int cmp_keys(const void *a, const void *b)
{
    return strcmp(*(const char *const *)a, *(const char *const *)b);
}

static int encode(json_t *v, struct tuf_buf *b, int depth, char *err, size_t errn);

static int encode_object(json_t *v, struct tuf_buf *b, int depth, char *err, size_t errn)
{
    size_t n = json_object_size(v), i = 0;
    const char **keys = calloc(n ? n : 1, sizeof *keys);
    if (keys == NULL)
        return TUF_ERR(err, errn, "canonical JSON: out of memory");
    const char *k;
    json_t *x;
    json_object_foreach(v, k, x) keys[i++] = k;
    qsort(keys, n, sizeof *keys, cmp_keys);
    int rc = pawl__tuf_buf_put(b, "{", 1);
    for (i = 0; rc == 0 && i < n; i++) {
        if (i > 0)
            rc = pawl__tuf_buf_put(b, ",", 1);
        if (rc == 0)
            rc = put_str(b, keys[i], strlen(keys[i]));
        if (rc == 0)
            rc = pawl__tuf_buf_put(b, ":", 1);
        if (rc == 0)
            rc = encode(json_object_get(v, keys[i]), b, depth + 1, err, errn);
    }
    free(keys);
    if (rc == 0)
        rc = pawl__tuf_buf_put(b, "}", 1);
    return rc;
}

static int encode(json_t *v, struct tuf_buf *b, int depth, char *err, size_t errn)
{
    char num[32];
    if (depth > CJSON_MAX_DEPTH)
        return TUF_ERR(err, errn, "canonical JSON: nested deeper than %d", CJSON_MAX_DEPTH);
    switch (json_typeof(v)) {
    case JSON_OBJECT:
        return encode_object(v, b, depth, err, errn);
    case JSON_ARRAY: {
        if (pawl__tuf_buf_put(b, "[", 1) != 0)
            return -1;
        for (size_t i = 0; i < json_array_size(v); i++) {
            if (i > 0 && pawl__tuf_buf_put(b, ",", 1) != 0)
                return -1;
            if (encode(json_array_get(v, i), b, depth + 1, err, errn) != 0)
                return -1;
        }
        return pawl__tuf_buf_put(b, "]", 1);
    }
    case JSON_STRING:
        return put_str(b, json_string_value(v), json_string_length(v));
    case JSON_INTEGER:
        snprintf(num, sizeof num, "%" JSON_INTEGER_FORMAT, json_integer_value(v));
        return pawl__tuf_buf_put(b, num, strlen(num));
    case JSON_REAL:
        return TUF_ERR(err, errn, "canonical JSON: real number %g has no canonical form",
                       json_real_value(v));
    case JSON_TRUE:
        return pawl__tuf_buf_put(b, "true", 4);
    case JSON_FALSE:
        return pawl__tuf_buf_put(b, "false", 5);
    case JSON_NULL:
        return pawl__tuf_buf_put(b, "null", 4);
    }
    return TUF_ERR(err, errn, "canonical JSON: unknown value type");
}

int pawl__tuf_cjson(json_t *v, struct tuf_buf *out, char *err, size_t errn)
{
    out->n = 0;
    if (errn > 0)
        err[0] = '\0';
    if (encode(v, out, 0, err, errn) != 0) {
        if (errn > 0 && err[0] == '\0')
            TUF_ERR(err, errn, "canonical JSON: out of memory");
        return -1;
    }
    return 0;
}

size_t pawl_tuf_quote(const char *name, char *out, size_t cap)
{
    static const char hex[] = "0123456789ABCDEF";
    size_t o = 0;
    for (const unsigned char *p = (const unsigned char *)name; *p; p++) {
        bool safe = (*p >= 'A' && *p <= 'Z') || (*p >= 'a' && *p <= 'z') ||
                    (*p >= '0' && *p <= '9') || *p == '_' || *p == '.' || *p == '-' ||
                    *p == '~';
        size_t need = safe ? 1 : 3;
        if (o + need >= cap)
            return 0;
        if (safe) {
            out[o++] = (char)*p;
        } else {
            out[o++] = '%';
            out[o++] = hex[*p >> 4];
            out[o++] = hex[*p & 15];
        }
    }
    if (o >= cap)
        return 0;
    out[o] = '\0';
    return o;
}
