/* civil.h: calendar arithmetic shared by the TUF client (expiry times) and
 * the core's log readers (nginx times). */
#ifndef PAWL_CIVIL_H
#define PAWL_CIVIL_H

#include <stdint.h>

/* Days since 1970-01-01 of a proleptic Gregorian date (month 1-12). */
int64_t pawl__days_from_civil(int64_t y, int64_t m, int64_t d);

#endif
