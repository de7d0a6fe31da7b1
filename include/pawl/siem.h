/* pawl/siem.h: a finding as a SIEM alert: a CEF body (ArcSight Common
 * Event Format 0) in an RFC 5424 syslog message, framed by octet counting
 * (RFC 6587 3.4.1, as RFC 5425 requires over TLS). No I/O: the transport,
 * its queue and spool come with the SIEM export (docs/detection.md). */
#ifndef PAWL_SIEM_H
#define PAWL_SIEM_H

#include <stddef.h>
#include <stdint.h>

#include "pawl/detect.h"

/* The CEF line of f with uid as externalId:
 *   CEF:0|pawl|pawl|1|<detector>|<title>|<0-10>|rt=<ms> suser=... src=...
 *   cs1Label=vehicles cs1=<VIN,...> cs2Label=owasp cs2=<API1:2023>
 *   cn1Label=related cn1=<n> externalId=<uid>
 * Header fields escape '\' and '|', extension values '\', '=' and line
 * breaks (as \n). Severity: OCSF 1..6 mapped to 2, 4, 6, 8, 9, 10. Returns
 * the length (NUL-terminated in out), 0 when cap is too small. */
size_t pawl_cef(const struct pawl_finding *f, const char *uid, char *out, size_t cap);

/* The framed syslog message "<LEN> <PRI>1 <TIMESTAMP> <HOST> pawl - <MSGID> - <msg>":
 * facility 10 (security/authorization), the finding's severity as syslog
 * severity (OCSF 6..1 -> 1 alert .. 6 informational), an RFC 3339
 * timestamp in UTC with milliseconds, host and msgid as printable ASCII
 * (other bytes '?', empty '-'). Returns the total length, 0 when cap is too
 * small. */
size_t pawl_syslog_frame(const struct pawl_finding *f, const char *host, const char *msgid,
                         const char *msg, size_t msglen, char *out, size_t cap);

#endif
