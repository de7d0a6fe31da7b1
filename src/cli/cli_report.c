/* The report of pawl analyze: a text summary, or an HTML page with inline
 * SVG charts (findings over time, by detector, top principals) and the
 * inventory ranked by risk. Every string from the input is escaped. */
#include "cli_report.h"

#include <stdlib.h>
#include <string.h>

#define MAX_KEPT 200000 /* findings kept for the report */
#define TOP 15

struct kept {
    int64_t time_ms;
    char detector[40];
    char who[128];
    int severity;
};

struct pawl_report {
    struct kept *k;
    size_t n, cap;
    uint64_t dropped;
};

struct pawl_report *pawl_report_new(void)
{
    return calloc(1, sizeof(struct pawl_report));
}

void pawl_report_free(struct pawl_report *r)
{
    if (r != NULL)
        free(r->k);
    free(r);
}

void pawl_report_add(struct pawl_report *r, const struct pawl_finding *f)
{
    if (r->n == r->cap) {
        size_t cap = r->cap ? r->cap * 2 : 256;
        struct kept *k = cap <= MAX_KEPT ? realloc(r->k, cap * sizeof *k) : NULL;
        if (k == NULL) {
            r->dropped++;
            return;
        }
        r->k = k;
        r->cap = cap;
    }
    struct kept *k = &r->k[r->n++];
    k->time_ms = f->time_ms;
    k->severity = f->severity;
    snprintf(k->detector, sizeof k->detector, "%s", f->detector);
    snprintf(k->who, sizeof k->who, "%s", f->principal[0] ? f->principal : f->src_ip);
}

/* ---- counting --------------------------------------------------------------------- */

struct count {
    const char *name;
    uint64_t n;
};

static int by_count(const void *a, const void *b)
{
    const struct count *x = a, *y = b;
    return x->n != y->n ? (x->n > y->n ? -1 : 1) : strcmp(x->name, y->name);
}

/* Distinct values of field (0: detector, 1: who) with their counts, sorted. */
static struct count *tally(const struct pawl_report *r, int field, size_t *nout)
{
    struct count *c = calloc(r->n + 1, sizeof *c);
    size_t n = 0;
    for (size_t i = 0; c && i < r->n; i++) {
        const char *v = field ? r->k[i].who : r->k[i].detector;
        size_t j = 0;
        while (j < n && strcmp(c[j].name, v) != 0)
            j++;
        if (j == n)
            c[n++].name = v;
        c[j].n++;
    }
    if (c)
        qsort(c, n, sizeof *c, by_count);
    *nout = n;
    return c;
}

/* ---- HTML ---------------------------------------------------------------------------- */

static void esc(FILE *f, const char *s)
{
    for (; s && *s; s++) {
        switch (*s) {
        case '<': fputs("&lt;", f); break;
        case '>': fputs("&gt;", f); break;
        case '&': fputs("&amp;", f); break;
        case '"': fputs("&quot;", f); break;
        case '\'': fputs("&#39;", f); break;
        default: fputc(*s, f);
        }
    }
}

/* Findings per hour as SVG bars. */
static void timeline(FILE *f, const struct pawl_report *r)
{
    int64_t lo = INT64_MAX, hi = INT64_MIN;
    for (size_t i = 0; i < r->n; i++) {
        lo = r->k[i].time_ms < lo ? r->k[i].time_ms : lo;
        hi = r->k[i].time_ms > hi ? r->k[i].time_ms : hi;
    }
    if (r->n == 0) {
        fputs("<p>No findings.</p>\n", f);
        return;
    }
    size_t hours = (size_t)((hi - lo) / 3600000) + 1, nb = hours > 240 ? 240 : hours;
    int64_t width = (hi - lo) / (int64_t)nb + 1;
    unsigned *bins = calloc(nb, sizeof *bins), max = 1;
    for (size_t i = 0; bins && i < r->n; i++) {
        size_t b = (size_t)((r->k[i].time_ms - lo) / width);
        bins[b < nb ? b : nb - 1]++;
    }
    for (size_t b = 0; bins && b < nb; b++)
        max = bins[b] > max ? bins[b] : max;
    fprintf(f, "<svg viewBox='0 0 %zu 120' width='100%%' height='140' role='img' "
               "aria-label='findings over time'>\n", nb * 6);
    for (size_t b = 0; bins && b < nb; b++)
        fprintf(f, "<rect x='%zu' y='%u' width='5' height='%u' fill='#c0392b'><title>%u</title></rect>\n",
                b * 6, 110 - 100 * bins[b] / max, 100 * bins[b] / max, bins[b]);
    fprintf(f, "</svg>\n<p class='note'>%zu findings between %lld and %lld (ms since the epoch), "
               "bars of %lld min</p>\n", r->n, (long long)lo, (long long)hi, (long long)(width / 60000));
    free(bins);
}

static void bars(FILE *f, const char *title, struct count *c, size_t n)
{
    uint64_t max = n ? c[0].n : 1;
    fprintf(f, "<h2>%s</h2>\n<table>\n", title);
    for (size_t i = 0; i < n && i < TOP; i++) {
        fputs("<tr><td>", f);
        esc(f, c[i].name);
        fprintf(f, "</td><td class='n'>%llu</td><td><div class='bar' style='width:%llupx'></div></td></tr>\n",
                (unsigned long long)c[i].n, (unsigned long long)(300 * c[i].n / max));
    }
    fputs("</table>\n", f);
}

static void inventory_table(FILE *f, json_t *inv)
{
    size_t i;
    json_t *op;
    fputs("<h2>API inventory, ranked by risk</h2>\n<table>\n<tr><th>risk</th><th>operation</th>"
          "<th>calls</th><th>principals</th><th>unauthenticated ok</th><th>why</th></tr>\n", f);
    json_array_foreach(json_object_get(inv, "operations"), i, op) {
        json_t *parts = json_object_get(json_object_get(op, "risk"), "parts");
        fprintf(f, "<tr><td class='n'>%lld</td><td><code>",
                (long long)json_integer_value(json_object_get(json_object_get(op, "risk"), "score")));
        esc(f, json_string_value(json_object_get(op, "operation")));
        fprintf(f, "</code></td><td class='n'>%lld</td><td class='n'>%lld</td><td class='n'>%lld</td><td>",
                (long long)json_integer_value(json_object_get(op, "count")),
                (long long)json_integer_value(json_object_get(op, "principals")),
                (long long)json_integer_value(json_object_get(json_object_get(op, "unauthenticated"), "succeeded")));
        const char *key;
        json_t *p;
        json_object_foreach(parts, key, p) {
            if (json_integer_value(json_object_get(p, "points")) == 0)
                continue;
            fprintf(f, "%s %lld", key, (long long)json_integer_value(json_object_get(p, "points")));
            if (json_object_get(p, "why")) {
                fputs(" (", f);
                esc(f, json_string_value(json_object_get(p, "why")));
                fputs(")", f);
            }
            fputs("; ", f);
        }
        fputs("</td></tr>\n", f);
    }
    fputs("</table>\n", f);
}

static int write_html(FILE *f, const struct pawl_report *r, json_t *inv)
{
    size_t nd, nw;
    struct count *det = tally(r, 0, &nd), *who = tally(r, 1, &nw);
    fputs("<!doctype html>\n<html lang='en'><head><meta charset='utf-8'><title>pawl analyze report</title>\n"
          "<meta http-equiv='Content-Security-Policy' content=\"default-src 'none'; style-src 'unsafe-inline'\">\n"
          "<style>body{font:14px sans-serif;margin:2em;max-width:1100px}table{border-collapse:collapse}"
          "td,th{padding:2px 8px;border-bottom:1px solid #ddd;text-align:left}.n{text-align:right}"
          ".bar{background:#c0392b;height:10px}.note{color:#666}</style></head><body>\n"
          "<h1>pawl analyze</h1>\n<h2>Findings over time</h2>\n", f);
    timeline(f, r);
    bars(f, "Findings by detector", det, nd);
    bars(f, "Top principals and addresses", who, nw);
    if (r->dropped)
        fprintf(f, "<p class='note'>%llu findings not shown (report limit)</p>\n", (unsigned long long)r->dropped);
    inventory_table(f, inv);
    fputs("</body></html>\n", f);
    free(det);
    free(who);
    return ferror(f) ? -1 : 0;
}

static int write_text(FILE *f, const struct pawl_report *r, json_t *inv)
{
    size_t nd, nw, i;
    struct count *det = tally(r, 0, &nd), *who = tally(r, 1, &nw);
    json_t *op;
    fprintf(f, "pawl analyze: %zu findings\n\nby detector:\n", r->n);
    for (size_t k = 0; k < nd; k++)
        fprintf(f, "  %-32s %llu\n", det[k].name, (unsigned long long)det[k].n);
    fputs("\ntop principals and addresses:\n", f);
    for (size_t k = 0; k < nw && k < TOP; k++)
        fprintf(f, "  %-32s %llu\n", who[k].name, (unsigned long long)who[k].n);
    fputs("\nriskiest operations:\n", f);
    json_array_foreach(json_object_get(inv, "operations"), i, op) {
        if (i == TOP)
            break;
        fprintf(f, "  %2lld  %s\n", (long long)json_integer_value(json_object_get(json_object_get(op, "risk"), "score")),
                json_string_value(json_object_get(op, "operation")));
    }
    free(det);
    free(who);
    return ferror(f) ? -1 : 0;
}

int pawl_report_write(const struct pawl_report *r, json_t *inventory, const char *path)
{
    size_t n = strlen(path);
    bool html = n > 5 && strcmp(path + n - 5, ".html") == 0;
    FILE *f = strcmp(path, "-") == 0 ? stdout : fopen(path, "w");
    if (f == NULL)
        return -1;
    int rc = html ? write_html(f, r, inventory) : write_text(f, r, inventory);
    if (f != stdout)
        rc = fclose(f) == 0 ? rc : -1;
    else
        rc = fflush(f) == 0 ? rc : -1;
    return rc;
}
