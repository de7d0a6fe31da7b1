/* siem_out.h: alerts to a SIEM as syslog over TLS (RFC 5425: RFC 5424
 * messages framed by octet counting), through a durable spool.
 *
 * Every alert is first appended to DIR/queue (fsync) and only then sent;
 * DIR/sent holds the offset of the first alert whose delivery is not yet
 * confirmed. Delivery is confirmed when the receiver's TCP stack has
 * acknowledged every byte written (the socket's send queue is empty): what
 * is confirmed is never sent again, what is not is sent again after a
 * reconnection (a partly received frame is dropped by the receiver at the
 * end of its session). So nothing is lost while the SIEM is down, and
 * nothing is sent twice once it is back, as long as the receiver reads what
 * its TCP stack acknowledged (rsyslog does). The spool is bounded; when it
 * is full, new alerts are refused with an error, never dropped silently.
 * Once everything is confirmed the spool starts again empty. */
#ifndef PAWL_SIEM_OUT_H
#define PAWL_SIEM_OUT_H

#include <stddef.h>
#include <stdint.h>

struct pawl_siem_cfg {
    const char *host;     /* the receiver */
    int port;
    const char *ca, *cert, *key; /* PEM: the receiver's CA; pawl's client certificate and key */
    const char *spool;    /* directory, created if missing */
    uint64_t max_spool;   /* bytes; 0: 64 MiB */
};

struct pawl_siem_out;

/* Opens the spool (alerts left by an earlier run are sent first). NULL
 * with err set. */
struct pawl_siem_out *pawl_siem_open(const struct pawl_siem_cfg *cfg, char *err, size_t errlen);

/* Appends one framed message to the spool (durable on return) and tries to
 * send what is pending without waiting for a receiver that is down. 0, or
 * -1 with err (spool full or not writable). */
int pawl_siem_enqueue(struct pawl_siem_out *s, const char *frame, size_t n, char *err, size_t errlen);

/* Tries, with retries and back-off, until everything is delivered and
 * confirmed or timeout_ms passed. Returns how many alerts are still
 * pending (0: all delivered). */
uint64_t pawl_siem_flush(struct pawl_siem_out *s, int64_t timeout_ms);

void pawl_siem_close(struct pawl_siem_out *s);

#endif
