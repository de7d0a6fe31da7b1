/* pawl/edge_pin.h: certificate pin sets for the vehicle's TLS client
 * (libpawl-edge), the portable half.
 *
 * A pin is the SHA-256 of a certificate's DER SubjectPublicKeyInfo, written as
 * curl's CURLOPT_PINNEDPUBLICKEY writes it: "sha256//" and the standard base64
 * of the 32 bytes (with '=' padding: 44 characters). A pin set is one or more
 * pins separated by ';':
 *
 *     sha256//47DEQpj8HBSa+/TImW+5JCeuQeRkm5NMpJWZG3hSuFU=;sha256//...
 *
 * Stricter than curl on purpose, since a pin set that means something other
 * than what its author thought fails open or bricks the link:
 *   - only "sha256//" entries: curl also takes a PEM/DER file path or a
 *     bare file name; we do not (load the file and compute its pin with
 *     pawl_edge_pin_from_spki or pawl_edge_pin_from_cert instead);
 *   - no whitespace, no empty entry (so no leading, trailing or doubled ';');
 *   - canonical base64 only: exactly 43 alphabet characters and one '=', the
 *     unused low bits of the last character zero, so one pin has one spelling
 *     (pawl_edge_pin_format gives back the input byte for byte);
 *   - no pin twice, at most PAWL_EDGE_MAX_PINS pins;
 *   - at least two pins unless PAWL_EDGE_PIN_ALLOW_SINGLE is passed: the
 *     second is the backup (HPKP, RFC 7469 section 4.3). A vehicle with one
 *     pin loses its backend the day that key is rotated or lost.
 *
 * Which certificates count, and how the TLS client calls the check, is in
 * pawl/edge_pin_openssl.h (the host half, OpenSSL 3).
 *
 * Portable C99: nothing here allocates, does I/O, keeps global state or
 * includes OpenSSL; it builds for Cortex-M. NULL is never a valid argument
 * unless a comment says so. Functions are reentrant. */
#ifndef PAWL_EDGE_PIN_H
#define PAWL_EDGE_PIN_H

#include <stddef.h>
#include <stdint.h>
#include <stdbool.h>

#if !defined(PAWL_EDGE_MUST_CHECK)
#if defined(__GNUC__)
#define PAWL_EDGE_MUST_CHECK __attribute__((warn_unused_result))
#else
#define PAWL_EDGE_MUST_CHECK
#endif
#endif

/* ---- bounds ---------------------------------------------------------------- */

#define PAWL_EDGE_MAX_PINS 8u        /* pins in one set; more is an error */
#define PAWL_EDGE_PIN_HASH_LEN 32u   /* SHA-256 */
#define PAWL_EDGE_PIN_B64_LEN 44u    /* base64 of 32 bytes, padded */
#define PAWL_EDGE_PIN_PREFIX_STR "sha256//"
#define PAWL_EDGE_PIN_PREFIX_LEN 8u
/* One pin as text, without a NUL: "sha256//" + 44. */
#define PAWL_EDGE_PIN_STR_LEN (PAWL_EDGE_PIN_PREFIX_LEN + PAWL_EDGE_PIN_B64_LEN)
/* A whole set as text: pins, ';' between them, and a NUL. */
#define PAWL_EDGE_PINSET_STR_MAX (PAWL_EDGE_MAX_PINS * (PAWL_EDGE_PIN_STR_LEN + 1u))

/* ---- pin set --------------------------------------------------------------- */

/* Filled by pawl_edge_pin_parse: n in 1..PAWL_EDGE_MAX_PINS, pins in the
 * order written, all distinct. Plain data: copy it, keep it in flash. */
struct pawl_edge_pinset {
    unsigned n;
    uint8_t sha256[PAWL_EDGE_MAX_PINS][PAWL_EDGE_PIN_HASH_LEN];
};

/* ---- results --------------------------------------------------------------- */

/* One enum for parsing and for checking a chain (pawl/edge_pin_openssl.h).
 * Everything but PAWL_EDGE_PIN_OK means "do not trust this". */
enum pawl_edge_pin_result {
    PAWL_EDGE_PIN_OK = 0,
    PAWL_EDGE_PIN_EMPTY,      /* empty input, or an empty entry between ';' */
    PAWL_EDGE_PIN_PREFIX,     /* an entry that does not start "sha256//" */
    PAWL_EDGE_PIN_CHAR,       /* whitespace, NUL or a byte outside base64 */
    PAWL_EDGE_PIN_LENGTH,     /* not 44 base64 characters (32 bytes) */
    PAWL_EDGE_PIN_PADDING,    /* '=' misplaced or missing, or non-canonical */
    PAWL_EDGE_PIN_TOO_MANY,   /* more than PAWL_EDGE_MAX_PINS pins */
    PAWL_EDGE_PIN_DUPLICATE,  /* the same pin twice (it is no backup) */
    PAWL_EDGE_PIN_NO_BACKUP,  /* one pin, and PAWL_EDGE_PIN_ALLOW_SINGLE not given */
    PAWL_EDGE_PIN_MISMATCH,   /* no certificate of the chain is pinned */
    PAWL_EDGE_PIN_NO_CHAIN,   /* no chain, an empty chain, or no pin set attached */
    PAWL_EDGE_PIN_CRYPTO      /* a key could not be encoded or hashed */
};

/* A stable lowercase code: "ok", "empty", "prefix", "char", "length",
 * "padding", "too_many", "duplicate", "no_backup", "mismatch", "no_chain",
 * "crypto". Never NULL. */
const char *pawl_edge_pin_result_str(enum pawl_edge_pin_result r);

/* Where parsing stopped: the byte offset into the input of the first byte
 * that is wrong (for LENGTH: the first byte after "sha256//"; for DUPLICATE,
 * TOO_MANY and EMPTY: the start of the entry; for NO_BACKUP: the end of the
 * input), and a static English sentence for logs. */
struct pawl_edge_pin_error {
    size_t offset;
    const char *msg;
};

/* ---- parsing and formatting ------------------------------------------------ */

#define PAWL_EDGE_PIN_ALLOW_SINGLE 0x1u /* accept a set of one pin (tests, lab) */

/* Parses n bytes of s (no NUL needed; a NUL byte inside is an error) as a pin
 * set. flags: 0 or PAWL_EDGE_PIN_ALLOW_SINGLE. On success returns
 * PAWL_EDGE_PIN_OK and fills *out. On failure returns the first problem,
 * fills *err when err is not NULL, and leaves *out with n = 0 (so a failed
 * parse never leaves a usable set behind). */
PAWL_EDGE_MUST_CHECK enum pawl_edge_pin_result
pawl_edge_pin_parse(const char *s, size_t n, unsigned flags, struct pawl_edge_pinset *out,
                    struct pawl_edge_pin_error *err);

/* Writes one pin, "sha256//" and 44 base64 characters, and a NUL into dst. */
void pawl_edge_pin_format_one(const uint8_t sha256[PAWL_EDGE_PIN_HASH_LEN],
                              char dst[PAWL_EDGE_PIN_STR_LEN + 1]);

/* Writes the set as pawl_edge_pin_parse reads it, NUL-terminated, into dst
 * (capacity cap; PAWL_EDGE_PINSET_STR_MAX always fits). Returns the length
 * without the NUL, or 0 when it does not fit or set->n is 0 or above
 * PAWL_EDGE_MAX_PINS (dst then holds "" when cap > 0). */
PAWL_EDGE_MUST_CHECK size_t pawl_edge_pin_format(const struct pawl_edge_pinset *set, char *dst,
                                                 size_t cap);

/* ---- matching -------------------------------------------------------------- */

/* True when sha256 (a SHA-256 over a DER SubjectPublicKeyInfo) is one of the
 * set's pins. False for a set with n = 0 or n above the bound. Pins are
 * public values, so the comparison need not be constant time. */
PAWL_EDGE_MUST_CHECK bool pawl_edge_pin_match_digest(const struct pawl_edge_pinset *set,
                                                     const uint8_t sha256[PAWL_EDGE_PIN_HASH_LEN]);

#endif
