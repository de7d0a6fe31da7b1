/* The route trie: one node per distinct template prefix. A node has literal
 * children (found through one hash table of all edges) and at most one
 * {param} child; a path is
 * matched by a depth-first walk that prefers literals and backtracks to the
 * param child. Each trie node is reached by at most one prefix of the path,
 * so a match visits each node at most once: never a scan of all routes. */
#include "router.h"
#include "util.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

struct lit {
    char *name;
    size_t n;
    uint32_t child;
};

struct rnode {
    struct lit *lits;
    uint32_t nlit;
    size_t caplit;
    int32_t param;                    /* child index or -1 */
    int32_t by_method[PAWL_M__COUNT]; /* route index or -1 */
};

/* An edge of the trie in the lookup table: (parent node, literal) -> child. */
struct edge {
    uint32_t node;  /* parent + 1; 0 = empty */
    uint32_t tag;   /* the hash's high half: most mismatches end here */
    const struct lit *lit;
};

struct pawl_router {
    struct rnode *nodes;
    uint32_t n;
    size_t cap;
    struct edge *edges; /* open addressing, a power of two at most half full */
    size_t nedges;
    uint64_t seed;
};

static int32_t node_new(struct pawl_router *r)
{
    if (!pawl__grow(&r->nodes, &r->cap, r->n, sizeof *r->nodes, 64))
        return -1;
    struct rnode *x = &r->nodes[r->n];
    memset(x, 0, sizeof *x);
    x->param = -1;
    for (int m = 0; m < PAWL_M__COUNT; m++)
        x->by_method[m] = -1;
    return (int32_t)r->n++;
}

struct pawl_router *pawl__router_new(void)
{
    struct pawl_router *r = calloc(1, sizeof *r);
    if (r != NULL && node_new(r) < 0) {
        free(r);
        return NULL;
    }
    return r;
}

void pawl__router_free(struct pawl_router *r)
{
    if (r == NULL)
        return;
    for (uint32_t i = 0; i < r->n; i++) {
        for (uint32_t j = 0; j < r->nodes[i].nlit; j++)
            free(r->nodes[i].lits[j].name);
        free(r->nodes[i].lits);
    }
    free(r->nodes);
    free(r->edges);
    free(r);
}

/* x's child for literal s by comparing each, or -1. */
static int32_t scan_lits(const struct rnode *x, const char *s, size_t n)
{
    for (uint32_t i = 0; i < x->nlit; i++)
        if (x->lits[i].n == n && memcmp(x->lits[i].name, s, n) == 0)
            return (int32_t)x->lits[i].child;
    return -1;
}

/* Child for a literal segment, creating it when asked. -1 on failure. */
static int32_t lit_child(struct pawl_router *r, uint32_t node, const char *s, size_t n)
{
    int32_t c = scan_lits(&r->nodes[node], s, n); /* building only: linear is fine */
    if (c >= 0)
        return c;
    if ((c = node_new(r)) < 0)
        return -1;
    struct rnode *x = &r->nodes[node]; /* node_new may have moved the array */
    if (!pawl__grow(&x->lits, &x->caplit, x->nlit, sizeof *x->lits, 4))
        return -1;
    char *name = pawl__strndup(s, n);
    if (name == NULL)
        return -1;
    x->lits[x->nlit++] = (struct lit){ name, n, (uint32_t)c };
    return c;
}

static bool literal_ok(const char *s, size_t n)
{
    if (n == 0 || (n == 1 && s[0] == '.') || (n == 2 && s[0] == '.' && s[1] == '.'))
        return false;
    for (size_t i = 0; i < n; i++) {
        unsigned char c = (unsigned char)s[i];
        if (!(c >= 'a' && c <= 'z') && !(c >= 'A' && c <= 'Z') && !(c >= '0' && c <= '9') &&
            strchr("-._~!$&'()*+,=:@", c) == NULL)
            return false;
    }
    return true;
}

static bool param_ok(const char *s, size_t n)
{
    if (n < 3 || s[0] != '{' || s[n - 1] != '}')
        return false;
    for (size_t i = 1; i + 1 < n; i++) {
        unsigned char c = (unsigned char)s[i];
        if (!(c >= 'a' && c <= 'z') && !(c >= 'A' && c <= 'Z') && c != '_' &&
            !(i > 1 && c >= '0' && c <= '9'))
            return false;
    }
    return true;
}

/* Walk (creating) the template's nodes; returns the final node or -1 with err. */
static int32_t insert_path(struct pawl_router *r, struct pawl_route *rt, const char *vparam,
                           char *err, size_t errlen)
{
    const char *t = rt->path;
    int32_t node = 0;
    int seg = 0;
    if (t[0] != '/') {
        snprintf(err, errlen, "path template must start with '/'");
        return -1;
    }
    if (t[1] == '\0')
        return 0;
    for (const char *p = t + 1;; seg++) {
        const char *e = strchr(p, '/');
        size_t n = e ? (size_t)(e - p) : strlen(p);
        if (seg >= PAWL_PATH_MAX_SEGS) {
            snprintf(err, errlen, "path template has more than %d segments", PAWL_PATH_MAX_SEGS);
            return -1;
        }
        if (n > 0 && p[0] == '{') {
            if (!param_ok(p, n)) {
                snprintf(err, errlen, "bad parameter segment '%.*s' (want {name})", (int)n, p);
                return -1;
            }
            if (vparam && strlen(vparam) == n - 2 && memcmp(vparam, p + 1, n - 2) == 0)
                rt->vehicle_seg = seg;
            if (r->nodes[node].param < 0) {
                int32_t c = node_new(r);
                if (c < 0)
                    goto nomem;
                r->nodes[node].param = c;
            }
            node = r->nodes[node].param;
        } else {
            if (!literal_ok(p, n)) {
                snprintf(err, errlen, "bad literal segment '%.*s' in path template", (int)n, p);
                return -1;
            }
            if ((node = lit_child(r, (uint32_t)node, p, n)) < 0)
                goto nomem;
        }
        if (e == NULL)
            return node;
        p = e + 1;
    }
nomem:
    snprintf(err, errlen, "out of memory");
    return -1;
}

/* A parameter named twice in template t ("/v/{vin}/share/{vin}"): its
 * name, else NULL. Which one would the grant check and which one would the
 * upstream bind? (review finding: the grant was checked on the last, an
 * upstream may act on the first). */
static const char *repeated_param(const char *t, size_t *len)
{
    for (const char *a = strstr(t, "/{"); a != NULL; a = strstr(a + 1, "/{")) {
        size_t an = strcspn(a + 1, "/");
        for (const char *b = strstr(a + 1, "/{"); b != NULL; b = strstr(b + 1, "/{"))
            if (strcspn(b + 1, "/") == an && memcmp(a + 1, b + 1, an) == 0) {
                *len = an;
                return a + 1;
            }
    }
    return NULL;
}

pawl_err pawl__router_add(struct pawl_router *r, struct pawl_route *routes, uint32_t idx,
                          const char *vehicle_param, char *err, size_t errlen)
{
    struct pawl_route *rt = &routes[idx];
    rt->vehicle_seg = -1;
    size_t rn;
    const char *rep = repeated_param(rt->path, &rn);
    if (rep != NULL) {
        snprintf(err, errlen, "path template names the parameter '%.*s' twice", (int)rn, rep);
        return PAWL_EINVAL;
    }
    int32_t node = insert_path(r, rt, vehicle_param, err, errlen);
    if (node < 0)
        return PAWL_EINVAL;
    if (vehicle_param && rt->vehicle_seg < 0) {
        snprintf(err, errlen, "vehicle parameter '{%s}' is not in the path template",
                 vehicle_param);
        return PAWL_EINVAL;
    }
    for (int m = 0; m < PAWL_M__COUNT; m++) {
        if (!(rt->methods & (1u << m)))
            continue;
        int32_t prev = r->nodes[node].by_method[m];
        if (prev >= 0) {
            snprintf(err, errlen, "conflicts with route '%s' (%s on the same path)",
                     routes[prev].id, pawl_method_name((enum pawl_method)m));
            return PAWL_EINVAL;
        }
        r->nodes[node].by_method[m] = (int32_t)idx;
    }
    return PAWL_OK;
}

static uint64_t edge_hash(const struct pawl_router *r, uint32_t node, const char *s, size_t n)
{
    return pawl__hash64(r->seed, s, n) ^ (node + 1) * 0x9e3779b97f4a7c15ull;
}

pawl_err pawl__router_finish(struct pawl_router *r)
{
    size_t total = 0, ns = 16;
    for (uint32_t i = 0; i < r->n; i++)
        total += r->nodes[i].nlit;
    while (ns < 2 * total)
        ns *= 2;
    free(r->edges);
    if ((r->edges = calloc(ns, sizeof *r->edges)) == NULL)
        return PAWL_ENOMEM;
    r->nedges = ns;
    r->seed = pawl__seed();
    for (uint32_t i = 0; i < r->n; i++)
        for (uint32_t j = 0; j < r->nodes[i].nlit; j++) {
            const struct lit *l = &r->nodes[i].lits[j];
            uint64_t h = edge_hash(r, i, l->name, l->n);
            size_t k = h & (ns - 1);
            while (r->edges[k].node != 0)
                k = (k + 1) & (ns - 1);
            r->edges[k] = (struct edge){ i + 1, (uint32_t)(h >> 32), l };
        }
    return PAWL_OK;
}

static int32_t find_lit(const struct pawl_router *r, uint32_t node, pawl_str s)
{
    const struct rnode *x = &r->nodes[node];
    if (x->nlit <= 2 || r->edges == NULL) /* few children (or no table yet): compare them */
        return scan_lits(x, s.p, s.n);
    uint64_t h = edge_hash(r, node, s.p, s.n);
    for (size_t k = h & (r->nedges - 1);; k = (k + 1) & (r->nedges - 1)) {
        const struct edge *e = &r->edges[k];
        if (e->node == 0)
            return -1;
        if (e->node == node + 1 && e->tag == (uint32_t)(h >> 32) && e->lit->n == s.n &&
            memcmp(e->lit->name, s.p, s.n) == 0)
            return (int32_t)e->lit->child;
    }
}

struct walk {
    const struct pawl_router *r;
    const struct pawl_path *path;
    enum pawl_method m;
    bool method_mismatch;
};

static int32_t walk(struct walk *w, int32_t node, unsigned depth)
{
    const struct rnode *x = &w->r->nodes[node];
    if (depth == w->path->nseg) {
        if (x->by_method[w->m] >= 0)
            return x->by_method[w->m];
        for (int m = 0; m < PAWL_M__COUNT; m++)
            if (x->by_method[m] >= 0)
                w->method_mismatch = true;
        return -1;
    }
    int32_t c = find_lit(w->r, (uint32_t)node, w->path->seg[depth]);
    if (c >= 0) {
        int32_t got = walk(w, c, depth + 1);
        if (got >= 0)
            return got;
    }
    if (x->param >= 0)
        return walk(w, x->param, depth + 1);
    return -1;
}

enum pawl_match pawl__router_match(const struct pawl_router *r, const struct pawl_route *routes,
                                   const struct pawl_path *path, enum pawl_method m,
                                   const struct pawl_route **route)
{
    struct walk w = { r, path, m, false };
    *route = NULL;
    if (m >= PAWL_M__COUNT) {
        w.m = PAWL_M_GET; /* only to learn whether the path exists */
        return walk(&w, 0, 0) >= 0 || w.method_mismatch ? PAWL_MATCH_BAD_METHOD
                                                        : PAWL_MATCH_NO_ROUTE;
    }
    int32_t idx = walk(&w, 0, 0);
    if (idx >= 0) {
        *route = &routes[idx];
        return PAWL_MATCH_OK;
    }
    return w.method_mismatch ? PAWL_MATCH_BAD_METHOD : PAWL_MATCH_NO_ROUTE;
}
