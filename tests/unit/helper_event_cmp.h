/* Compares two API events member by member (the strict and the fast
 * reader must give the same one). */
#ifndef HELPER_EVENT_CMP_H
#define HELPER_EVENT_CMP_H

#include <stdbool.h>

#include "pawl/discover.h"

/* NULL when a and b are equal, else the name of the first member that differs. */
const char *th_event_diff(const struct pawl_api_event *a, const struct pawl_api_event *b);

#endif
