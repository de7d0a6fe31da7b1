/* see pawl/event.h */
#include "pawl/event.h"
#include "util.h"

#include <jansson.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

void pawl_event_in_free(struct pawl_event_in *ev)
{
    json_decref(ev->root);
    ev->root = NULL;
}

static pawl_err ev_err(struct pawl_diag *d, const char *where, unsigned lineno, const char *msg)
{
    pawl__diagf(d, where, lineno, 0, "%s", msg);
    return PAWL_EINVAL;
}

static bool get_str(json_t *o, const char *k1, const char *k2, pawl_str *out)
{
    json_t *v = json_object_get(o, k1);
    if (k2)
        v = json_object_get(v, k2);
    if (!json_is_string(v))
        return false;
    out->p = json_string_value(v);
    out->n = json_string_length(v);
    return true;
}

/* The bearer token of the single Authorization header; 1 = none, -1 = ambiguous. */
static int bearer(json_t *hdrs, pawl_str *tok)
{
    size_t i;
    json_t *h;
    int found = 0;
    json_array_foreach(hdrs, i, h) {
        pawl_str name, val;
        if (!get_str(h, "name", NULL, &name) || name.n != 13 ||
            strncasecmp(name.p, "authorization", 13) != 0)
            continue;
        if (found++ || !get_str(h, "value", NULL, &val))
            return -1;
        if (val.n > 7 && strncasecmp(val.p, "bearer ", 7) == 0) {
            tok->p = val.p + 7;
            tok->n = val.n - 7;
            while (tok->n && *tok->p == ' ') {
                tok->p++;
                tok->n--;
            }
        }
    }
    return found ? 0 : 1;
}

static pawl_err fields(json_t *o, struct pawl_request *rq, const char *where, unsigned lineno,
                       struct pawl_diag *d)
{
    json_t *cls = json_object_get(o, "class_uid"), *tm = json_object_get(o, "time");
    json_t *hr = json_object_get(o, "http_request");
    if (cls && (!json_is_integer(cls) || json_integer_value(cls) != 6003))
        return ev_err(d, where, lineno, "class_uid: not an API Activity event (6003)");
    if (!json_is_integer(tm) || json_integer_value(tm) < 0)
        return ev_err(d, where, lineno, "time: must be milliseconds since the epoch");
    rq->time_ms = json_integer_value(tm);
    if (!get_str(hr, "http_method", NULL, &rq->method) || rq->method.n == 0 || rq->method.n > 16)
        return ev_err(d, where, lineno, "http_request.http_method: missing or not a method");
    if (!get_str(json_object_get(hr, "url"), "path", NULL, &rq->path))
        return ev_err(d, where, lineno, "http_request.url.path: missing or not a string");
    json_t *hdrs = json_object_get(hr, "http_headers");
    if (hdrs && !json_is_array(hdrs))
        return ev_err(d, where, lineno, "http_request.http_headers: must be an array");
    if (hdrs && bearer(hdrs, &rq->bearer) < 0)
        return ev_err(d, where, lineno, "http_request.http_headers: more than one Authorization header");
    if (rq->bearer.n > PAWL_EVENT_MAX_TOKEN)
        return ev_err(d, where, lineno, "Authorization: bearer token longer than 8192 bytes");
    return PAWL_OK;
}

pawl_err pawl_event_parse(const char *line, size_t n, const char *where, unsigned lineno,
                          struct pawl_event_in *out, struct pawl_diag *d)
{
    json_error_t jerr;
    memset(out, 0, sizeof *out);
    if (n > PAWL_EVENT_MAX_LINE) {
        pawl__diagf(d, where, lineno, 0, "line longer than %u bytes", PAWL_EVENT_MAX_LINE);
        return PAWL_ELIMIT;
    }
    out->root = json_loadb(line, n, JSON_REJECT_DUPLICATES, &jerr);
    if (out->root == NULL) {
        pawl__diagf(d, where, lineno, (unsigned)jerr.column, "invalid JSON: %s", jerr.text);
        return PAWL_EPARSE;
    }
    if (!json_is_object(out->root))
        return ev_err(d, where, lineno, "an API Activity line must be a JSON object");
    return fields(out->root, &out->rq, where, lineno, d);
}

int pawl__activity_id(pawl_str m)
{
    if (pawl__str_eq(m, "POST"))
        return 1;
    if (pawl__str_eq(m, "GET") || pawl__str_eq(m, "HEAD"))
        return 2;
    if (pawl__str_eq(m, "PUT") || pawl__str_eq(m, "PATCH"))
        return 3;
    if (pawl__str_eq(m, "DELETE"))
        return 4;
    return 99;
}

/* The object at o[k], created (or replaced when not an object). */
static json_t *obj(json_t *o, const char *k)
{
    json_t *v = json_object_get(o, k);
    if (json_is_object(v))
        return v;
    v = json_object();
    json_object_set_new(o, k, v);
    return v;
}

static void redact(json_t *ev)
{
    json_t *hdrs = json_object_get(json_object_get(ev, "http_request"), "http_headers"), *h;
    size_t i;
    json_array_foreach(hdrs, i, h) {
        pawl_str name;
        if (get_str(h, "name", NULL, &name) &&
            ((name.n == 13 && strncasecmp(name.p, "authorization", 13) == 0) ||
             (name.n == 6 && strncasecmp(name.p, "cookie", 6) == 0)))
            json_object_set_new(h, "value", json_string("REDACTED"));
    }
}

static const char *user_type(const struct pawl_principal *p)
{
    for (unsigned i = 0; i < p->nroles; i++)
        if (strcmp(p->roles[i], "admin") == 0)
            return "Admin";
    return p->via == PAWL_AUTH_CERT ? "Service" : "User";
}

static void set_actor(json_t *ev, const struct pawl_decision *dec)
{
    json_t *actor = obj(ev, "actor");
    json_object_del(actor, "user");
    json_object_del(actor, "session");
    if (!dec->authenticated)
        return; /* a claimed identity that pawl did not verify is not repeated */
    json_t *user = obj(actor, "user"), *groups = json_array();
    const struct pawl_principal *p = &dec->principal;
    json_object_set_new(user, "uid", json_string(p->uid));
    json_object_set_new(user, "type", json_string(user_type(p)));
    for (unsigned i = 0; i < p->nroles; i++) {
        json_t *g = json_object();
        json_object_set_new(g, "name", json_string(p->roles[i]));
        json_array_append_new(groups, g);
    }
    json_object_set_new(user, "groups", groups);
    if (p->org[0])
        json_object_set_new(obj(user, "org"), "uid", json_string(p->org));
    if (p->session[0])
        json_object_set_new(obj(actor, "session"), "uid", json_string(p->session));
}

static void set_route(json_t *ev, pawl_str method, const struct pawl_decision *dec)
{
    if (dec->route) {
        char op[PAWL_PATH_MAX + 32];
        snprintf(op, sizeof op, "%.*s %s", (int)method.n, method.p, dec->route->path);
        json_object_set_new(obj(ev, "api"), "operation", json_string(op));
    }
    if (dec->vin[0]) {
        json_t *res = json_array(), *v = json_object();
        json_object_set_new(v, "type", json_string("vehicle"));
        json_object_set_new(v, "uid", json_string(dec->vin));
        json_array_append_new(res, v);
        json_object_set_new(ev, "resources", res);
    }
}

json_t *pawl_event_decision(json_t *base, int64_t time_ms, pawl_str method,
                            const struct pawl_decision *dec)
{
    json_t *ev = json_is_object(base) ? json_deep_copy(base) : json_object();
    if (ev == NULL)
        return NULL;
    int act = pawl__activity_id(method);
    bool allowed = dec->reason == PAWL_R_ALLOWED;
    json_object_set_new(ev, "class_uid", json_integer(6003));
    json_object_set_new(ev, "category_uid", json_integer(6));
    json_object_set_new(ev, "activity_id", json_integer(act));
    json_object_set_new(ev, "type_uid", json_integer(600300 + act));
    json_object_set_new(ev, "time", json_integer(time_ms));
    if (!json_is_integer(json_object_get(ev, "severity_id")))
        json_object_set_new(ev, "severity_id", json_integer(1));
    json_t *md = obj(ev, "metadata");
    json_object_set_new(md, "version", json_string("1.3.0"));
    json_object_set_new(obj(md, "product"), "name", json_string("pawl"));
    json_t *resp = obj(ev, "http_response");
    if (!allowed || !json_is_integer(json_object_get(resp, "code")))
        json_object_set_new(resp, "code", json_integer(dec->status));
    int code = (int)json_integer_value(json_object_get(resp, "code"));
    json_object_set_new(ev, "status_id", json_integer(code < 400 ? 1 : 2));
    json_object_set_new(ev, "action_id", json_integer(allowed ? 1 : 2));
    json_object_set_new(ev, "disposition", json_string(pawl_reason_name(dec->reason)));
    char why[sizeof dec->detail + 64];
    /* NULL when truncation split a UTF-8 sequence */
    json_t *detail = json_string(pawl_decision_why(dec, why, sizeof why));
    json_object_set_new(ev, "status_detail", detail ? detail : json_string(""));
    set_actor(ev, dec);
    set_route(ev, method, dec);
    redact(ev);
    return ev;
}

char *pawl_event_dump(json_t *ev, size_t *len)
{
    char *s = json_dumps(ev, JSON_COMPACT | JSON_ENSURE_ASCII);
    if (s && len)
        *len = strlen(s);
    return s;
}
