/* see pawl/discover.h */
#include "pawl/discover.h"
#include "civil.h"
#include "util.h"

#include <jansson.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* ---- object ids ------------------------------------------------------------ */

/* The ISO 3779 value of a VIN character, -1 for a character no VIN has
 * (I, O, Q, lower case, anything else). One table lookup: every path
 * segment of every event is looked at. */
static int vin_value(char c)
{
    static const signed char t[256] = {
        ['0'] = 1, ['1'] = 2, ['2'] = 3, ['3'] = 4, ['4'] = 5, ['5'] = 6, ['6'] = 7, ['7'] = 8, ['8'] = 9,
        ['9'] = 10, ['A'] = 2, ['B'] = 3, ['C'] = 4, ['D'] = 5, ['E'] = 6, ['F'] = 7, ['G'] = 8, ['H'] = 9,
        ['J'] = 2, ['K'] = 3, ['L'] = 4, ['M'] = 5, ['N'] = 6, ['P'] = 8, ['R'] = 10, ['S'] = 3, ['T'] = 4,
        ['U'] = 5, ['V'] = 6, ['W'] = 7, ['X'] = 8, ['Y'] = 9, ['Z'] = 10,
    }; /* value + 1, so that 0 means "not a VIN character" */
    return t[(unsigned char)c] - 1;
}

bool pawl_vin_check_digit_ok(pawl_str v)
{
    static const int weights[17] = {8, 7, 6, 5, 4, 3, 2, 10, 0, 9, 8, 7, 6, 5, 4, 3, 2};
    int sum = 0;
    if (v.n != 17)
        return false;
    for (size_t i = 0; i < 17; i++) {
        int x = vin_value(v.p[i]);
        if (x < 0)
            return false;
        sum += x * weights[i];
    }
    int check = sum % 11;
    return v.p[8] == (check == 10 ? 'X' : (char)('0' + check));
}

static bool is_hex(char c)
{
    return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'f') || (c >= 'A' && c <= 'F');
}

static bool is_digit(char c)
{
    return c >= '0' && c <= '9';
}

/* ISO 3779 shape, and a valid check digit (North American VINs) or a
 * numeric serial in positions 13-17 (VINs elsewhere need no check digit). */
static bool vin_like(pawl_str s)
{
    if (s.n != 17)
        return false;
    bool letter = false;
    for (size_t i = 0; i < 17; i++) {
        if (vin_value(s.p[i]) < 0)
            return false;
        letter |= !is_digit(s.p[i]);
    }
    bool serial = true;
    for (size_t i = 12; i < 17; i++)
        serial &= is_digit(s.p[i]);
    return letter && (pawl_vin_check_digit_ok(s) || serial);
}

static bool uuid_like(pawl_str s)
{
    if (s.n != 36)
        return false;
    for (size_t i = 0; i < 36; i++) {
        bool dash = i == 8 || i == 13 || i == 18 || i == 23;
        if (dash ? s.p[i] != '-' : !is_hex(s.p[i]))
            return false;
    }
    return true;
}

static bool email_like(pawl_str s)
{
    const char *at = memchr(s.p, '@', s.n);
    if (at == NULL || at == s.p)
        return false;
    pawl_str dom = {at + 1, s.n - (size_t)(at + 1 - s.p)};
    const char *dot = memchr(dom.p, '.', dom.n);
    return dom.n >= 3 && dot != NULL && dot != dom.p && dot != dom.p + dom.n - 1 &&
           memchr(dom.p, '@', dom.n) == NULL;
}

/* counts of digits, hex letters, upper-case letters, other bytes */
static void classes(pawl_str s, size_t *dig, size_t *hexl, size_t *upper, size_t *dash, size_t *other)
{
    *dig = *hexl = *upper = *dash = *other = 0;
    for (size_t i = 0; i < s.n; i++) {
        char c = s.p[i];
        if (is_digit(c))
            (*dig)++;
        else if (is_hex(c))
            (*hexl)++;
        if (c >= 'A' && c <= 'Z')
            (*upper)++;
        else if (c == '-')
            (*dash)++;
        else if (!is_digit(c) && !(c >= 'a' && c <= 'f'))
            (*other)++;
    }
}

/* A random-looking id (base62, base64url): 16 to 64 of A-Z a-z 0-9 '_' '-',
 * with capitals, small letters and digits all present. */
static bool token_like(pawl_str s)
{
    bool up = false, low = false, dig = false;
    if (s.n < 16 || s.n > 64)
        return false;
    for (size_t i = 0; i < s.n; i++) {
        char c = s.p[i];
        up |= c >= 'A' && c <= 'Z';
        low |= c >= 'a' && c <= 'z';
        dig |= is_digit(c);
        if (!(c >= 'A' && c <= 'Z') && !(c >= 'a' && c <= 'z') && !is_digit(c) && c != '_' && c != '-')
            return false;
    }
    return up && low && dig;
}

unsigned pawl_id_kind_of(pawl_str s)
{
    size_t dig, hexl, upper, dash, other;
    if (s.n == 0)
        return 0;
    if (vin_like(s))
        return PAWL_ID_VIN;
    if (uuid_like(s))
        return PAWL_ID_UUID;
    if (email_like(s))
        return PAWL_ID_EMAIL;
    classes(s, &dig, &hexl, &upper, &dash, &other);
    if (dig == s.n && s.n <= 19)
        return PAWL_ID_INT;
    bool lower_hex = hexl > 0 && upper == 0 && dash == 0 && other == 0;
    bool upper_hex = dig + hexl == s.n && upper == hexl;
    if (s.n >= 12 && s.n <= 64 && dig > 0 && hexl > 0 && dig + hexl == s.n && (lower_hex || upper_hex))
        return PAWL_ID_HEX;
    bool plate_chars = upper + dig + dash == s.n && upper >= 1 && dig >= 1;
    if (s.n >= 5 && s.n <= 10 && plate_chars && s.p[0] != '-' && s.p[s.n - 1] != '-')
        return PAWL_ID_PLATE;
    return token_like(s) ? PAWL_ID_TOKEN : 0;
}

const char *pawl_id_placeholder(unsigned kind)
{
    switch (kind) {
    case PAWL_ID_VIN: return "{vin}";
    case PAWL_ID_UUID: return "{uuid}";
    case PAWL_ID_INT: return "{int}";
    case PAWL_ID_HEX: return "{hex}";
    case PAWL_ID_EMAIL: return "{email}";
    case PAWL_ID_PLATE: return "{plate}";
    case PAWL_ID_TOKEN: return "{id}";
    default: return NULL;
    }
}

size_t pawl_path_template(pawl_str path, char *out, size_t cap, unsigned *kinds)
{
    size_t o = 0, i = 0;
    if (path.n == 0 || path.p[0] != '/' || cap == 0)
        return 0;
    for (size_t k = 0, len; k < path.n; k += len) {
        len = pawl__utf8_seq((const uint8_t *)path.p + k, path.n - k);
        if (len == 0 || (unsigned char)path.p[k] < 0x20 || path.p[k] == 0x7f)
            return 0; /* control bytes (NUL among them) and invalid UTF-8 are no part of a path */
    }
    for (pawl_str seg; pawl__next_segment(path, &i, &seg);) {
        unsigned k = pawl_id_kind_of(seg);
        const char *ph = pawl_id_placeholder(k);
        size_t len = ph ? strlen(ph) : seg.n;
        if (o + 1 + len >= cap)
            return 0;
        out[o++] = '/';
        memcpy(out + o, ph ? ph : seg.p, len);
        o += len;
        *kinds |= k;
    }
    out[o] = '\0';
    return o;
}

/* ---- events ---------------------------------------------------------------- */

static pawl_err fail(struct pawl_diag *d, const char *where, unsigned lineno, const char *msg)
{
    pawl__diagf(d, where, lineno, 0, "%s", msg);
    return PAWL_EINVAL;
}

static pawl_str jstr(json_t *o, const char *a, const char *b)
{
    json_t *v = json_object_get(o, a);
    if (b)
        v = json_object_get(v, b);
    pawl_str s = {"", 0};
    if (json_is_string(v)) {
        s.p = json_string_value(v);
        s.n = json_string_length(v);
    }
    return s;
}

pawl_err pawl_api_event_check(const struct pawl_api_fields *f, struct pawl_api_event *e, const char *where,
                              unsigned lineno, struct pawl_diag *d)
{
    memset(e, 0, sizeof *e);
    if (!f->is_object)
        return fail(d, where, lineno, "not a JSON object");
    if (f->has_class && (!f->class_int || f->class_uid != 6003))
        return fail(d, where, lineno, "class_uid is not 6003 (API Activity)");
    if (!f->time_int || !f->code_int || f->code < 100 || f->code > 599)
        return fail(d, where, lineno, "time (ms) and http_response.code (100-599) are required");
    if (f->method.n == 0 || f->path.n == 0 || f->path.p[0] != '/')
        return fail(d, where, lineno, "http_request.http_method and an absolute http_request.url.path are required");
    if (f->time < 0 || f->time > (1LL << 53))
        return fail(d, where, lineno, "time must be milliseconds since 1970 (0 to 2^53)");
    e->time_ms = f->time;
    e->method = f->method;
    e->path = f->path;
    e->status = (int)f->code;
    e->resp_len = f->len_int && f->len >= 0 ? f->len : -1;
    e->principal = f->principal;
    e->session = f->session;
    e->src_ip = f->src_ip;
    e->country = f->country;
    e->user_type = f->user_type;
    for (unsigned i = 0; i < f->nroles && i < PAWL_DISC_MAX_ROLES; i++)
        e->roles[e->nroles++] = f->roles[i];
    return PAWL_OK;
}

static bool jint(json_t *v, int64_t *out)
{
    *out = json_is_integer(v) ? json_integer_value(v) : 0;
    return json_is_integer(v);
}

pawl_err pawl_api_event_from_json(json_t *j, struct pawl_api_event *e, const char *where,
                                  unsigned lineno, struct pawl_diag *d)
{
    struct pawl_api_fields f;
    memset(&f, 0, sizeof f);
    json_t *req = json_object_get(j, "http_request"), *resp = json_object_get(j, "http_response");
    json_t *user = json_object_get(json_object_get(j, "actor"), "user"), *cls = json_object_get(j, "class_uid");
    f.is_object = json_is_object(j);
    f.has_class = cls != NULL;
    f.class_int = jint(cls, &f.class_uid);
    f.time_int = jint(json_object_get(j, "time"), &f.time);
    f.code_int = jint(json_object_get(resp, "code"), &f.code);
    f.len_int = jint(json_object_get(resp, "length"), &f.len);
    f.method = jstr(req, "http_method", NULL);
    f.path = jstr(json_object_get(req, "url"), "path", NULL);
    f.principal = jstr(user, "uid", NULL);
    f.session = jstr(json_object_get(j, "actor"), "session", "uid");
    f.src_ip = jstr(j, "src_endpoint", "ip");
    f.country = jstr(json_object_get(j, "src_endpoint"), "location", "country");
    f.user_type = jstr(user, "type", NULL);
    size_t i;
    json_t *g;
    json_array_foreach(json_object_get(user, "groups"), i, g) {
        pawl_str name = jstr(g, "name", NULL);
        if (name.n > 0 && f.nroles < PAWL_DISC_MAX_ROLES)
            f.roles[f.nroles++] = name;
    }
    return pawl_api_event_check(&f, e, where, lineno, d);
}

static bool num(const char *p, size_t n, int *out)
{
    int v = 0;
    for (size_t i = 0; i < n; i++) {
        if (!is_digit(p[i]))
            return false;
        v = v * 10 + (p[i] - '0');
    }
    *out = v;
    return n > 0;
}

/* "10/Oct/2000:13:55:36 -0700" (26 bytes) -> ms since the epoch */
static bool nginx_time(const char *p, size_t n, int64_t *ms)
{
    static const char months[] = "JanFebMarAprMayJunJulAugSepOctNovDec";
    int day, year, hh, mi, ss, tz;
    const char *m = n == 26 ? strstr(months, (char[4]){p[3], p[4], p[5], '\0'}) : NULL;
    if (m == NULL || (m - months) % 3 != 0 || p[2] != '/' || p[6] != '/' || p[11] != ':' ||
        p[14] != ':' || p[17] != ':' || p[20] != ' ' || (p[21] != '+' && p[21] != '-') ||
        !num(p, 2, &day) || !num(p + 7, 4, &year) || !num(p + 12, 2, &hh) || !num(p + 15, 2, &mi) ||
        !num(p + 18, 2, &ss) || !num(p + 22, 4, &tz) || day < 1 || day > 31 || hh > 23 || mi > 59 ||
        ss > 60)
        return false;
    int64_t off = (tz / 100 * 60 + tz % 100) * (p[21] == '-' ? -1 : 1);
    int64_t s = pawl__days_from_civil(year, (m - months) / 3 + 1, day) * 86400 + hh * 3600 + mi * 60 + ss;
    *ms = (s - off * 60) * 1000;
    return true;
}

/* The next space-separated field of [p, end) from *at; quoted with "" or [] when open is set. */
static bool field(const char **at, const char *end, char open, pawl_str *out)
{
    const char *p = *at;
    char close = open == '[' ? ']' : '"';
    if (open) {
        if (p >= end || *p != open)
            return false;
        p++;
    }
    const char *s = p;
    while (p < end && (open ? *p != close : *p != ' '))
        p += open == '"' && *p == '\\' && p + 1 < end ? 2 : 1;
    if (open && p >= end)
        return false;
    out->p = s;
    out->n = (size_t)(p - s);
    p += open ? 1 : 0;
    if (p < end && *p == ' ')
        p++;
    *at = p;
    return true;
}

pawl_err pawl_nginx_parse(const char *line, size_t n, struct pawl_api_event *e, const char *where,
                          unsigned lineno, struct pawl_diag *d)
{
    const char *at = line, *end = line + n;
    pawl_str ip, dash, user, t, request, status, bytes;
    memset(e, 0, sizeof *e);
    if (!field(&at, end, 0, &ip) || !field(&at, end, 0, &dash) || !field(&at, end, 0, &user) ||
        !field(&at, end, '[', &t) || !field(&at, end, '"', &request) || !field(&at, end, 0, &status) ||
        !field(&at, end, 0, &bytes))
        return fail(d, where, lineno, "not an nginx combined log line");
    if (!nginx_time(t.p, t.n, &e->time_ms))
        return fail(d, where, lineno, "the time is not [dd/Mon/yyyy:HH:MM:SS +zzzz]");
    const char *sp1 = memchr(request.p, ' ', request.n);
    const char *sp2 = sp1 ? memchr(sp1 + 1, ' ', (size_t)(request.p + request.n - sp1 - 1)) : NULL;
    if (sp1 == NULL || sp2 == NULL || sp1[1] != '/')
        return fail(d, where, lineno, "the request is not \"METHOD /path PROTOCOL\"");
    e->method = (pawl_str){request.p, (size_t)(sp1 - request.p)};
    const char *q = memchr(sp1 + 1, '?', (size_t)(sp2 - sp1 - 1));
    e->path = (pawl_str){sp1 + 1, (size_t)((q ? q : sp2) - sp1 - 1)};
    if (status.n != 3 || !num(status.p, 3, &e->status) || e->status < 100)
        return fail(d, where, lineno, "the status is not a 3-digit HTTP status");
    int len;
    e->resp_len = bytes.n <= 9 && num(bytes.p, bytes.n, &len) ? len : -1;
    if (!(user.n == 1 && user.p[0] == '-'))
        e->principal = user;
    e->src_ip = ip;
    return PAWL_OK;
}

/* ---- the inventory ---------------------------------------------------------- */

#define HLL_BITS 10
#define HLL_M (1u << HLL_BITS)
#define MAX_OP_ROLES 16
#define TEMPLATE_MAX 1024

struct op {
    char *key;              /* "METHOD /template" */
    size_t method_len;
    uint64_t count, status[5], unauth, unauth_ok, by_type[4];
    int64_t first, last, len_min, len_max;
    uint64_t len_n;
    double len_sum;
    unsigned kinds;
    char *roles[MAX_OP_ROLES];
    unsigned nroles;
    uint8_t hll[HLL_M];     /* distinct principals */
};

struct pawl_inventory {
    struct op **slots;      /* open addressing, power of two */
    size_t cap, nops, max_ops;
    uint64_t events, dropped;
};

pawl_err pawl_inventory_new(size_t max_ops, struct pawl_inventory **out)
{
    struct pawl_inventory *inv = calloc(1, sizeof *inv);
    size_t cap = 16;
    while (cap < 2 * max_ops)
        cap *= 2;
    if (inv == NULL || (inv->slots = calloc(cap, sizeof *inv->slots)) == NULL) {
        free(inv);
        return PAWL_ENOMEM;
    }
    inv->cap = cap;
    inv->max_ops = max_ops;
    *out = inv;
    return PAWL_OK;
}

void pawl_inventory_free(struct pawl_inventory *inv)
{
    if (inv == NULL)
        return;
    for (size_t i = 0; i < inv->cap; i++)
        if (inv->slots[i]) {
            for (unsigned r = 0; r < inv->slots[i]->nroles; r++)
                free(inv->slots[i]->roles[r]);
            free(inv->slots[i]->key);
            free(inv->slots[i]);
        }
    free(inv->slots);
    free(inv);
}

/* The operation for key, created when there is room; NULL otherwise. */
static struct op *find_op(struct pawl_inventory *inv, const char *key, size_t n, size_t method_len,
                          bool *nomem)
{
    size_t i = pawl__sketch_hash((pawl_str){key, n}) & (inv->cap - 1);
    while (inv->slots[i] && strcmp(inv->slots[i]->key, key) != 0)
        i = (i + 1) & (inv->cap - 1);
    if (inv->slots[i] || inv->nops == inv->max_ops)
        return inv->slots[i];
    struct op *o = calloc(1, sizeof *o);
    if (o == NULL || (o->key = pawl__strndup(key, n)) == NULL) {
        free(o);
        *nomem = true;
        return NULL;
    }
    o->method_len = method_len;
    o->first = INT64_MAX;
    o->last = INT64_MIN;
    o->len_min = INT64_MAX;
    inv->slots[i] = o;
    inv->nops++;
    return o;
}

static void add_roles(struct op *o, const struct pawl_api_event *e)
{
    for (unsigned r = 0; r < e->nroles; r++) {
        bool seen = false;
        for (unsigned k = 0; k < o->nroles && !seen; k++)
            seen = strlen(o->roles[k]) == e->roles[r].n && memcmp(o->roles[k], e->roles[r].p, e->roles[r].n) == 0;
        if (!seen && o->nroles < MAX_OP_ROLES && e->roles[r].n < 64) {
            char *copy = pawl__strndup(e->roles[r].p, e->roles[r].n);
            if (copy != NULL)
                o->roles[o->nroles++] = copy;
        }
    }
}

static unsigned type_index(pawl_str t)
{
    static const char *const types[] = {"User", "Admin", "Service"};
    for (unsigned i = 0; i < 3; i++)
        if (pawl__str_eq(t, types[i]))
            return i;
    return 3;
}

pawl_err pawl_inventory_add(struct pawl_inventory *inv, const struct pawl_api_event *e)
{
    char key[TEMPLATE_MAX + 32];
    unsigned kinds = 0;
    if (e->method.n == 0 || e->method.n > 16)
        return PAWL_EINVAL;
    for (size_t i = 0; i < e->method.n; i++)
        if (e->method.p[i] < 'A' || e->method.p[i] > 'Z')
            return PAWL_EINVAL; /* a method is a token of capitals */
    memcpy(key, e->method.p, e->method.n);
    key[e->method.n] = ' ';
    size_t t = pawl_path_template(e->path, key + e->method.n + 1, TEMPLATE_MAX, &kinds);
    if (t == 0)
        return PAWL_EINVAL;
    bool nomem = false;
    struct op *o = find_op(inv, key, e->method.n + 1 + t, e->method.n, &nomem);
    inv->events++;
    if (o == NULL) {
        inv->dropped++;
        return nomem ? PAWL_ENOMEM : PAWL_OK;
    }
    o->count++;
    o->status[e->status / 100 - 1 < 5 ? e->status / 100 - 1 : 4]++;
    o->kinds |= kinds;
    o->first = e->time_ms < o->first ? e->time_ms : o->first;
    o->last = e->time_ms > o->last ? e->time_ms : o->last;
    if (e->resp_len >= 0) {
        o->len_min = e->resp_len < o->len_min ? e->resp_len : o->len_min;
        o->len_max = e->resp_len > o->len_max ? e->resp_len : o->len_max;
        o->len_sum += (double)e->resp_len;
        o->len_n++;
    }
    if (e->principal.n == 0) {
        o->unauth++;
        o->unauth_ok += e->status < 400;
    } else {
        pawl__hll_add(o->hll, HLL_BITS, pawl__sketch_hash(e->principal));
        o->by_type[type_index(e->user_type)]++;
    }
    add_roles(o, e);
    return PAWL_OK;
}

/* ---- risk ------------------------------------------------------------------- */

/* The template's words, lower case, each between spaces: " api v1 vehicles
 * {vin} commands door unlock ". */
static void words_of(const char *tmpl, char *out, size_t cap)
{
    size_t o = 0;
    out[o++] = ' ';
    for (const char *p = tmpl; *p && o + 2 < cap; p++) {
        char c = *p;
        bool sep = c == '/' || c == '.' || c == '-' || c == '_' || c == ' ';
        out[o++] = sep ? ' ' : (c >= 'A' && c <= 'Z') ? (char)(c - 'A' + 'a') : c;
    }
    out[o++] = ' ';
    out[o] = '\0';
}

static bool any_word(const char *words, const char *const *list)
{
    char w[40];
    for (size_t i = 0; list[i]; i++) {
        snprintf(w, sizeof w, " %s ", list[i]);
        if (strstr(words, w))
            return true;
    }
    return false;
}

struct risk {
    int capability, data, auth, objects, reach;
    const char *cap_why, *data_why, *auth_why;
};

static const char *const CONTROL[] = {"commands", "command", "unlock", "lock", "start", "stop",
                                      "engine", "horn", "flash", "honk", "remote", "climate", NULL};
static const char *const OTA[] = {"ota", "firmware", "update", "updates", "campaigns", "software", NULL};
static const char *const ADMIN[] = {"admin", "internal", "management", "manage", "debug", "actuator", NULL};
static const char *const LOCATION[] = {"location", "locations", "position", "gps", "trips", "trip",
                                       "history", "route", "geofence", NULL};
static const char *const PERSONAL[] = {"owner", "owners", "user", "users", "profile", "account",
                                       "accounts", "email", "phone", "address", "customer",
                                       "customers", "contacts", "license", "key", "keys", NULL};
static const char *const VEHICLES[] = {"vehicles", "vehicle", "cars", "fleet", NULL};

static void score_op(const struct op *o, bool vins_leak, struct risk *r)
{
    char words[TEMPLATE_MAX + 8];
    bool write = !(o->method_len == 3 && memcmp(o->key, "GET", 3) == 0) &&
                 !(o->method_len == 4 && memcmp(o->key, "HEAD", 4) == 0);
    words_of(o->key + o->method_len + 1, words, sizeof words);
    memset(r, 0, sizeof *r);
    r->capability = 1, r->cap_why = "read";
    if (write)
        r->capability = 2, r->cap_why = "write";
    if (any_word(words, ADMIN))
        r->capability = 3, r->cap_why = "admin";
    if (any_word(words, OTA) && write)
        r->capability = 4, r->cap_why = "ota";
    if (any_word(words, CONTROL) && (write || (o->kinds & PAWL_ID_VIN)) && any_word(words, VEHICLES))
        r->capability = 4, r->cap_why = "vehicle control";
    r->data_why = "none";
    if (any_word(words, PERSONAL))
        r->data = 2, r->data_why = "personal data";
    if (any_word(words, LOCATION))
        r->data = 2, r->data_why = "location";
    uint64_t authed = o->count - o->unauth;
    r->auth_why = "service only";
    if (o->unauth_ok > 0)
        r->auth = 3, r->auth_why = "unauthenticated calls succeed";
    else if (authed > o->by_type[2])
        r->auth = 1, r->auth_why = "users";
    r->objects = o->kinds ? 1 : 0;
    if (o->kinds & (PAWL_ID_VIN | PAWL_ID_INT | PAWL_ID_EMAIL | PAWL_ID_PLATE))
        r->objects = 2; /* guessable or leaked ids: BOLA-prone */
    r->reach = vins_leak && (o->kinds & PAWL_ID_VIN) ? 1 : 0;
}

static int total(const struct risk *r)
{
    int s = r->capability + r->data + r->auth + r->objects + r->reach;
    return s > 10 ? 10 : s;
}

/* Does any operation hand out VINs? A successful collection read of
 * vehicles (no id in its path). */
static bool vins_leak(const struct pawl_inventory *inv)
{
    char words[TEMPLATE_MAX + 8];
    for (size_t i = 0; i < inv->cap; i++) {
        const struct op *o = inv->slots[i];
        if (o == NULL || o->kinds != 0 || o->status[1] == 0 || memcmp(o->key, "GET ", 4) != 0)
            continue;
        words_of(o->key + 4, words, sizeof words);
        if (any_word(words, VEHICLES))
            return true;
    }
    return false;
}

static json_t *kinds_json(unsigned kinds)
{
    json_t *a = json_array();
    for (unsigned k = 1; k <= PAWL_ID_TOKEN; k <<= 1)
        if (kinds & k)
            json_array_append_new(a, json_string(pawl_id_placeholder(k)));
    return a;
}

static json_t *op_json(const struct op *o, bool leak)
{
    struct risk r;
    score_op(o, leak, &r);
    json_t *roles = json_array();
    for (unsigned i = 0; i < o->nroles; i++)
        json_array_append_new(roles, json_string(o->roles[i]));
    json_t *j = json_pack(
        "{s:s, s:s#, s:s, s:I, s:{s:I, s:I, s:I, s:I, s:I}, s:I, s:o, s:{s:I, s:I}, s:I, s:I, s:o,"
        " s:{s:i, s:{s:{s:i, s:s}, s:{s:i, s:s}, s:{s:i, s:s}, s:{s:i}, s:{s:i}}}}",
        "operation", o->key, "method", o->key, (int)o->method_len, "path", o->key + o->method_len + 1,
        "count", (json_int_t)o->count, "status", "1xx", (json_int_t)o->status[0], "2xx",
        (json_int_t)o->status[1], "3xx", (json_int_t)o->status[2], "4xx", (json_int_t)o->status[3],
        "5xx", (json_int_t)o->status[4], "principals", (json_int_t)llround(o->count > o->unauth ? pawl__hll_count(o->hll, NULL, HLL_BITS) : 0),
        "roles", roles, "unauthenticated", "calls", (json_int_t)o->unauth, "succeeded",
        (json_int_t)o->unauth_ok, "first_seen", (json_int_t)o->first, "last_seen", (json_int_t)o->last,
        "object_ids", kinds_json(o->kinds), "risk", "score", total(&r), "parts", "capability",
        "points", r.capability, "why", r.cap_why, "data", "points", r.data, "why", r.data_why, "auth",
        "points", r.auth, "why", r.auth_why, "object_ids", "points", r.objects, "reachability",
        "points", r.reach);
    if (j != NULL && o->len_n > 0)
        json_object_set_new(j, "response_bytes", json_pack("{s:I, s:I, s:I}", "min", (json_int_t)o->len_min,
                                                           "max", (json_int_t)o->len_max, "mean",
                                                           (json_int_t)llround(o->len_sum / (double)o->len_n)));
    return j;
}

static int by_risk(const void *a, const void *b)
{
    json_t *x = *(json_t *const *)a, *y = *(json_t *const *)b;
    json_int_t sx = json_integer_value(json_object_get(json_object_get(x, "risk"), "score"));
    json_int_t sy = json_integer_value(json_object_get(json_object_get(y, "risk"), "score"));
    if (sx != sy)
        return sx > sy ? -1 : 1;
    return strcmp(json_string_value(json_object_get(x, "operation")),
                  json_string_value(json_object_get(y, "operation")));
}

json_t *pawl_inventory_json(const struct pawl_inventory *inv)
{
    bool leak = vins_leak(inv);
    json_t **ops = calloc(inv->nops + 1, sizeof *ops), *arr = json_array();
    size_t n = 0;
    bool ok = ops != NULL && arr != NULL;
    for (size_t i = 0; ok && i < inv->cap; i++)
        if (inv->slots[i] && (ops[n] = op_json(inv->slots[i], leak)) != NULL)
            n++;
    if (ok)
        qsort(ops, n, sizeof *ops, by_risk);
    for (size_t i = 0; ok && i < n; i++)
        ok = json_array_append_new(arr, ops[i]) == 0;
    free(ops);
    json_t *out = ok ? json_pack("{s:o, s:I, s:I}", "operations", arr, "events", (json_int_t)inv->events,
                                 "dropped", (json_int_t)inv->dropped)
                     : NULL;
    if (out == NULL && !ok)
        json_decref(arr);
    return out;
}
