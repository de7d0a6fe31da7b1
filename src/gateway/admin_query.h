/* admin_query.h: the query of pawld's admin DELETE /blocks
 * (principal=<percent-encoded> or address=<ip>). No I/O. */
#ifndef PAWLD_ADMIN_QUERY_H
#define PAWLD_ADMIN_QUERY_H

#include <stdbool.h>
#include <stddef.h>

#include "pawl/common.h"

/* Decodes query (what follows '?') into out: true with *principal (false:
 * an address) and *n bytes written, false for anything else: another key,
 * a second parameter, a bad %XX escape, an empty value, or more than cap
 * bytes. */
bool pawld_unblock_query(pawl_str query, bool *principal, char *out, size_t cap, size_t *n);

#endif
