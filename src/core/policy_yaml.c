/* see policy_yaml.h */
#include "policy_yaml.h"
#include "util.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

pawl_err pawl__yl_err(struct pawl__yl *y, const yaml_node_t *n, const char *fmt, ...)
{
    va_list ap;
    char msg[sizeof y->d->msg];
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    pawl__diagf(y->d, y->where, n ? (unsigned)n->start_mark.line + 1 : 0,
                n ? (unsigned)n->start_mark.column + 1 : 0, "%s", msg);
    return PAWL_EINVAL;
}

static pawl_err mark_err(struct pawl__yl *y, yaml_mark_t m, const char *msg)
{
    pawl__diagf(y->d, y->where, (unsigned)m.line + 1, (unsigned)m.column + 1, "%s", msg);
    return PAWL_EPARSE;
}

static pawl_err parser_err(struct pawl__yl *y, yaml_parser_t *p)
{
    yaml_mark_t m = p->problem_mark;
    char msg[256];
    snprintf(msg, sizeof msg, "YAML syntax: %s%s%s", p->problem ? p->problem : "error",
             p->context ? " " : "", p->context ? p->context : "");
    return mark_err(y, m, msg);
}

static pawl_err open_node(struct pawl__yl *y, const yaml_event_t *ev, bool anchored_or_tagged,
                          unsigned *depth, unsigned max_depth)
{
    if (anchored_or_tagged)
        return mark_err(y, ev->start_mark, "YAML anchors and tags are not allowed");
    if (++*depth > max_depth)
        return mark_err(y, ev->start_mark, "nesting too deep");
    return PAWL_OK;
}

/* Refuse what the policy never needs and what makes YAML dangerous to load:
 * aliases (billion laughs), tags, several documents, deep nesting. */
static pawl_err prepass(struct pawl__yl *y, const char *yaml, size_t n, unsigned max_depth)
{
    yaml_parser_t p;
    yaml_event_t ev;
    unsigned depth = 0, docs = 0;
    pawl_err e = PAWL_OK;
    if (!yaml_parser_initialize(&p))
        return PAWL_ENOMEM;
    yaml_parser_set_input_string(&p, (const unsigned char *)yaml, n);
    for (bool done = false; !done && e == PAWL_OK;) {
        if (!yaml_parser_parse(&p, &ev)) {
            e = parser_err(y, &p);
            break;
        }
        switch (ev.type) {
        case YAML_STREAM_END_EVENT: done = true; break;
        case YAML_DOCUMENT_START_EVENT:
            if (++docs > 1)
                e = mark_err(y, ev.start_mark, "more than one YAML document");
            break;
        case YAML_ALIAS_EVENT: e = mark_err(y, ev.start_mark, "YAML aliases are not allowed"); break;
        case YAML_SCALAR_EVENT:
            if (ev.data.scalar.anchor || (ev.data.scalar.tag && !ev.data.scalar.plain_implicit &&
                                          !ev.data.scalar.quoted_implicit))
                e = mark_err(y, ev.start_mark, "YAML anchors and tags are not allowed");
            break;
        case YAML_SEQUENCE_START_EVENT:
            e = open_node(y, &ev, ev.data.sequence_start.anchor || ev.data.sequence_start.tag,
                          &depth, max_depth);
            break;
        case YAML_MAPPING_START_EVENT:
            e = open_node(y, &ev, ev.data.mapping_start.anchor || ev.data.mapping_start.tag,
                          &depth, max_depth);
            break;
        case YAML_SEQUENCE_END_EVENT:
        case YAML_MAPPING_END_EVENT: depth--; break;
        default: break;
        }
        yaml_event_delete(&ev);
    }
    yaml_parser_delete(&p);
    return e;
}

pawl_err pawl__yl_load(struct pawl__yl *y, const char *yaml, size_t n, unsigned max_depth)
{
    yaml_parser_t p;
    pawl_err e;
    memset(&y->doc, 0, sizeof y->doc);
    if ((e = prepass(y, yaml, n, max_depth)) != PAWL_OK)
        return e;
    if (!yaml_parser_initialize(&p))
        return PAWL_ENOMEM;
    yaml_parser_set_input_string(&p, (const unsigned char *)yaml, n);
    if (!yaml_parser_load(&p, &y->doc)) {
        e = parser_err(y, &p);
        yaml_parser_delete(&p);
        return e;
    }
    yaml_parser_delete(&p);
    if (yaml_document_get_root_node(&y->doc) == NULL) {
        yaml_document_delete(&y->doc);
        memset(&y->doc, 0, sizeof y->doc);
        pawl__diagf(y->d, y->where, 0, 0, "empty document");
        return PAWL_EPARSE;
    }
    return PAWL_OK;
}

void pawl__yl_free(struct pawl__yl *y)
{
    yaml_document_delete(&y->doc);
}

yaml_node_t *pawl__yl_node(struct pawl__yl *y, int id)
{
    return yaml_document_get_node(&y->doc, id);
}

static const char *type_name(yaml_node_type_t t)
{
    return t == YAML_MAPPING_NODE ? "a mapping" : t == YAML_SEQUENCE_NODE ? "a list" : "a scalar";
}

pawl_err pawl__yl_expect(struct pawl__yl *y, yaml_node_t *n, yaml_node_type_t t, const char *what)
{
    if (n->type != t)
        return pawl__yl_err(y, n, "%s must be %s, not %s", what, type_name(t),
                            type_name(n->type));
    return PAWL_OK;
}

bool pawl__yl_is_null(const yaml_node_t *n)
{
    if (n->type != YAML_SCALAR_NODE || n->data.scalar.style != YAML_PLAIN_SCALAR_STYLE)
        return false;
    const char *s = (const char *)n->data.scalar.value;
    return n->data.scalar.length == 0 || strcmp(s, "null") == 0 || strcmp(s, "~") == 0;
}

pawl_err pawl__yl_each(struct pawl__yl *y, yaml_node_t *m, const char *what, pawl__yl_key_fn fn,
                       void *ctx)
{
    const char *seen[PAWL_YL_MAX_KEYS];
    unsigned nseen = 0;
    pawl_err e = pawl__yl_expect(y, m, YAML_MAPPING_NODE, what);
    if (e != PAWL_OK)
        return e;
    for (yaml_node_pair_t *pr = m->data.mapping.pairs.start; pr < m->data.mapping.pairs.top; pr++) {
        yaml_node_t *k = pawl__yl_node(y, pr->key), *v = pawl__yl_node(y, pr->value);
        if (k->type != YAML_SCALAR_NODE)
            return pawl__yl_err(y, k, "keys in %s must be scalars", what);
        const char *key = (const char *)k->data.scalar.value;
        for (unsigned i = 0; i < nseen; i++)
            if (strcmp(seen[i], key) == 0)
                return pawl__yl_err(y, k, "duplicate key '%s' in %s", key, what);
        if (nseen == PAWL_YL_MAX_KEYS)
            return pawl__yl_err(y, k, "too many keys in %s", what);
        seen[nseen++] = key;
        e = fn(y, key, v, ctx);
        if (e == PAWL_ENOTFOUND)
            return pawl__yl_err(y, k, "unknown key '%s' in %s", key, what);
        if (e != PAWL_OK)
            return e;
    }
    return PAWL_OK;
}

pawl_err pawl__yl_str(struct pawl__yl *y, yaml_node_t *n, size_t max, char **out)
{
    if (n->type != YAML_SCALAR_NODE || pawl__yl_is_null(n))
        return pawl__yl_err(y, n, "expected a string");
    size_t len = n->data.scalar.length;
    if (len == 0 || len > max)
        return pawl__yl_err(y, n, "string must be 1 to %zu bytes", max);
    if (memchr(n->data.scalar.value, '\0', len) != NULL)
        return pawl__yl_err(y, n, "string contains NUL");
    free(*out); /* a key given twice is refused earlier; this only drops a default */
    *out = pawl__strndup((const char *)n->data.scalar.value, len);
    return *out ? PAWL_OK : PAWL_ENOMEM;
}

static const char *plain(yaml_node_t *n)
{
    if (n->type != YAML_SCALAR_NODE || n->data.scalar.style != YAML_PLAIN_SCALAR_STYLE)
        return NULL;
    return (const char *)n->data.scalar.value;
}

pawl_err pawl__yl_bool(struct pawl__yl *y, yaml_node_t *n, bool *out)
{
    const char *s = plain(n);
    if (s && strcmp(s, "true") == 0)
        *out = true;
    else if (s && strcmp(s, "false") == 0)
        *out = false;
    else
        return pawl__yl_err(y, n, "expected true or false");
    return PAWL_OK;
}

pawl_err pawl__yl_int(struct pawl__yl *y, yaml_node_t *n, int64_t min, int64_t max, int64_t *out)
{
    const char *s = plain(n);
    if (s == NULL || pawl__parse_i64(s, n->data.scalar.length, min, max, out) != PAWL_OK)
        return pawl__yl_err(y, n, "expected an integer from %lld to %lld", (long long)min,
                            (long long)max);
    return PAWL_OK;
}

pawl_err pawl__yl_num(struct pawl__yl *y, yaml_node_t *n, double *out)
{
    const char *s = plain(n);
    char *end = NULL;
    if (s && strcmp(s, "true") == 0) {
        *out = 1;
        return PAWL_OK;
    }
    if (s && strcmp(s, "false") == 0) {
        *out = 0;
        return PAWL_OK;
    }
    if (s == NULL || n->data.scalar.length == 0 || n->data.scalar.length > 64)
        return pawl__yl_err(y, n, "expected a number or true/false");
    *out = strtod(s, &end);
    if (end != s + n->data.scalar.length || !isfinite(*out))
        return pawl__yl_err(y, n, "expected a finite number");
    return PAWL_OK;
}

pawl_err pawl__yl_duration_us(struct pawl__yl *y, yaml_node_t *n, int64_t *out)
{
    static const struct { const char *u; int64_t us; } units[] = {
        { "ms", 1000 }, { "s", 1000000 }, { "m", 60000000 }, { "h", 3600000000LL },
        { "d", 86400000000LL },
    };
    const char *s = plain(n);
    size_t len = s ? n->data.scalar.length : 0, digits = 0;
    int64_t v;
    while (digits < len && s[digits] >= '0' && s[digits] <= '9')
        digits++;
    for (size_t i = 0; s && digits > 0 && i < sizeof units / sizeof units[0]; i++) {
        if (strcmp(s + digits, units[i].u) != 0)
            continue;
        if (pawl__parse_i64(s, digits, 1, 365 * 86400000000LL / units[i].us, &v) != PAWL_OK)
            break;
        *out = v * units[i].us;
        return PAWL_OK;
    }
    return pawl__yl_err(y, n, "expected a duration such as 250ms, 30s, 5m, 2h or 1d (at most 365d)");
}

size_t pawl__yl_seq_len(const yaml_node_t *seq)
{
    return (size_t)(seq->data.sequence.items.top - seq->data.sequence.items.start);
}

yaml_node_t *pawl__yl_seq_item(struct pawl__yl *y, const yaml_node_t *seq, size_t i)
{
    return pawl__yl_node(y, seq->data.sequence.items.start[i]);
}
