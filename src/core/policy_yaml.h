/* Internal: strict helpers over a libyaml document, used by the policy loader.
 * Every error names file:line:column of the offending node. */
#ifndef PAWL_POLICY_YAML_H
#define PAWL_POLICY_YAML_H

#include "pawl/common.h"
#include <yaml.h>

struct pawl__yl {
    yaml_document_t doc;
    const char *where;
    struct pawl_diag *d;
};

#define PAWL_YL_MAX_KEYS 512 /* keys per mapping: pawld's routes: and step_up.commands: name
                              * up to 512 routes (review finding: 32 made more than 32
                              * step-up routes impossible to configure) */

pawl_err pawl__yl_err(struct pawl__yl *y, const yaml_node_t *n, const char *fmt, ...)
    PAWL_PRINTF(3, 4);

/* Parse yaml[0..n) into y->doc after a first pass that refuses aliases,
 * anchors, tags, multiple documents and nesting deeper than max_depth. */
PAWL_MUST_CHECK pawl_err pawl__yl_load(struct pawl__yl *y, const char *yaml, size_t n,
                                       unsigned max_depth);
void pawl__yl_free(struct pawl__yl *y);

typedef pawl_err (*pawl__yl_key_fn)(struct pawl__yl *y, const char *key, yaml_node_t *val,
                                    void *ctx);

/* Call fn for each key of mapping node m (a duplicate key is an error).
 * fn returns PAWL_ENOTFOUND for a key it does not know, which becomes
 * "unknown key 'k' in <what>". */
PAWL_MUST_CHECK pawl_err pawl__yl_each(struct pawl__yl *y, yaml_node_t *m, const char *what,
                                       pawl__yl_key_fn fn, void *ctx);

yaml_node_t *pawl__yl_node(struct pawl__yl *y, int id);
PAWL_MUST_CHECK pawl_err pawl__yl_str(struct pawl__yl *y, yaml_node_t *n, size_t max, char **out);
PAWL_MUST_CHECK pawl_err pawl__yl_bool(struct pawl__yl *y, yaml_node_t *n, bool *out);
PAWL_MUST_CHECK pawl_err pawl__yl_int(struct pawl__yl *y, yaml_node_t *n, int64_t min,
                                      int64_t max, int64_t *out);
PAWL_MUST_CHECK pawl_err pawl__yl_num(struct pawl__yl *y, yaml_node_t *n, double *out);
/* "250ms", "30s", "5m", "2h", "1d" -> microseconds, within [1 ms, 365 d]. */
PAWL_MUST_CHECK pawl_err pawl__yl_duration_us(struct pawl__yl *y, yaml_node_t *n, int64_t *out);
PAWL_MUST_CHECK pawl_err pawl__yl_expect(struct pawl__yl *y, yaml_node_t *n, yaml_node_type_t t,
                                         const char *what);
bool pawl__yl_is_null(const yaml_node_t *n);
size_t pawl__yl_seq_len(const yaml_node_t *seq);
yaml_node_t *pawl__yl_seq_item(struct pawl__yl *y, const yaml_node_t *seq, size_t i);

#endif
