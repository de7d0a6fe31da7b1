/* stepup.h: pawld's check of an owner co-signed command token
 * (docs/formats/command-token.md) on a step-up route. No I/O: the caller reads
 * the vehicle's trust policy.
 *
 * The client sends the token base64url-encoded (RFC 4648 section 5, no
 * padding) in the step-up header. pawld parses it, reads the trust policy of
 * the vehicle the token names (aud), and runs the vehicle's own checks 1 to
 * 9 with it: signatures, required signer roles (e.g. "owner"), VIN, time
 * window, and a gateway-wide replay check on cti (a token is accepted once
 * per pawld). The sequence number is the vehicle's business (the authority
 * assigns it) and is not compared here. The caller then binds the token to
 * the request: its aud must be the VIN in the path and its cmd the command
 * the route stands for. Only then, once the request is allowed, is the
 * token id recorded (pawld_step_up_record): a token on a request refused
 * for anything else (no credentials, a rate limit, the vehicle's state) is
 * not used up, and nobody without an allowed request can fill the record
 * (review: 65,536 unauthenticated requests made every step-up fail). On an
 * allow pawld forwards the token; the vehicle checks it again, with its own
 * replay state. */
#ifndef PAWLD_STEPUP_H
#define PAWLD_STEPUP_H

#include <pthread.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "pawl/common.h"
#include "pawl/edge_token.h"

/* Token ids seen, shared by the workers (a mutex inside). */
struct pawld_replay {
    pthread_mutex_t lock;
    uint64_t key; /* random: where a token id lands is not the sender's choice */
    struct pawld_replay_slot {
        uint8_t cti[PAWL_EDGE_CTI_LEN];
        uint64_t until; /* UNIX seconds; 0: free */
    } *slots;
    size_t nslots;      /* a power of two */
};

/* nslots is rounded up to a power of two. Returns -1 on out of memory. */
int pawld_replay_init(struct pawld_replay *r, size_t nslots);
void pawld_replay_free(struct pawld_replay *r);

/* The record on disk (step_up.state), so that a restart does not accept a
 * token once more: PAWLD_REPLAY_MAGIC, then one PAWLD_REPLAY_ENTRY-byte
 * entry per recorded id: its 16 bytes, then the UNIX second its record ends
 * (8 bytes, little-endian). pawld appends an entry as it records an id and
 * rewrites the file with the live ones at start. */
#define PAWLD_REPLAY_MAGIC "PAWLSU1\n"
#define PAWLD_REPLAY_MAGIC_LEN 8
#define PAWLD_REPLAY_ENTRY 24
/* An entry's end later than now plus this is brought back to it (a window
 * is at most a token's lifetime plus the skew, a day each). */
#define PAWLD_REPLAY_AHEAD_MAX (2 * 86400)

void pawld_replay_entry(const uint8_t cti[PAWL_EDGE_CTI_LEN], uint64_t until,
                        uint8_t out[PAWLD_REPLAY_ENTRY]);

/* Records the ids of a state file's n bytes that are live at now into r.
 * Returns the number of entries read, or -1 with err set when the bytes
 * are not a state file, or when r has no room for an id (it never forgets
 * one). A last entry cut short (a host that lost power while appending) is
 * left out and counted in *cut (bytes). */
long pawld_replay_load(struct pawld_replay *r, const uint8_t *p, size_t n, uint64_t now, size_t *cut,
                       char *err, size_t cap);

/* A state file holding r's ids live at now: malloc'd, *n bytes; NULL when
 * memory is short. */
uint8_t *pawld_replay_dump(struct pawld_replay *r, uint64_t now, size_t *n);

struct pawld_step_up {
    uint8_t tok[PAWL_EDGE_TOKEN_MAX];
    size_t len;
    char vin[PAWL_EDGE_VIN_LEN + 1]; /* aud, when it is 17 VIN characters */
    char cmd[PAWL_EDGE_CMD_MAX + 1];
    char detail[160];                /* why not, on a refusal */
    uint8_t cti[PAWL_EDGE_CTI_LEN];  /* verified: its id, to be recorded until `until` */
    uint64_t until;
};

/* Decodes and parses the header value; fills vin and cmd. false with
 * detail set when it is not a well-formed token naming a VIN. */
bool pawld_step_up_parse(pawl_str header, struct pawld_step_up *s);

/* Runs the checks with the vehicle's trust policy (JSON, n bytes, where
 * names it in errors) at now (UNIX seconds), replay included, and keeps the
 * token id in s without recording it. false with detail set otherwise
 * (including a trust policy that does not load or is for another VIN). */
bool pawld_step_up_verify(struct pawld_step_up *s, const char *trust_json, size_t n,
                          const char *where, uint64_t now, struct pawld_replay *replay);

/* Records the token id of a verified s, once its request is allowed: true,
 * or false with detail set when another request recorded it meanwhile
 * (replay) or the record is full around it (it never forgets a live id). */
bool pawld_step_up_record(struct pawld_step_up *s, uint64_t now, struct pawld_replay *replay);

/* A vehicle's answer on vehicles/{VIN}/events/command-result:
 *   {"cti":"<32 lowercase or uppercase hex>","verdict":"accept"|"reject",
 *    "reason":"<text>","cmd":"<text>","seq":N}
 * (cmd and seq optional). On success fills cti, the status for the API
 * caller (200 accept, 409 reject) and body, the caller's JSON answer:
 * {"reason":"allowed"|"vehicle_refused","vehicle":{...},"detail":...,"status":409}
 * (detail and status on a refusal), NUL-terminated in cap bytes; when the
 * vehicle's whole answer does not fit, "vehicle" holds only its cti and
 * verdict. -1 for anything else (over PAWLD_RESULT_MAX bytes, not JSON, a
 * field missing or of the wrong type, a cap too small even for that). */
int pawld_command_result_parse(const void *payload, size_t n, uint8_t cti[PAWL_EDGE_CTI_LEN],
                               int *status, char *body, size_t cap);
/* Results longer than this are refused before they are parsed (-1): a
 * vehicle's 40 MB array took pawld to 3.2 GB and held the link's one
 * thread for 26 s (review). */
#define PAWLD_RESULT_MAX 16384

#endif
