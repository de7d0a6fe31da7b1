/* The pawl CLI: one file per subcommand group. Each entry point returns the
 * process exit code documented in docs/cli.md. */
#ifndef PAWL_CLI_H
#define PAWL_CLI_H

#include <stdbool.h>
#include <stdio.h>

#include <stdint.h>

#include <openssl/evp.h>

#include "host.h"
#include "pawl/edge_token.h"

/* Exit codes shared by every subcommand. */
enum {
    PAWL_EXIT_OK = 0,      /* success; for decide: every request was allowed or denied */
    PAWL_EXIT_FAIL = 1,    /* verification failed (tampering) */
    PAWL_EXIT_USAGE = 2,   /* bad command line */
    PAWL_EXIT_INPUT = 3,   /* a configuration file (policy, JWKS, grants, key) is invalid or unreadable */
    PAWL_EXIT_IO = 4,      /* writing the output or the audit log failed */
};

int pawl_cli_decide(int argc, char **argv);
int pawl_cli_audit(int argc, char **argv);
int pawl_cli_token(int argc, char **argv);
int pawl_cli_vehicle(int argc, char **argv);
/* pawl vehicle update: Uptane full verification (cli_vehicle_update.c). */
int pawl_cli_vehicle_update(int argc, char **argv);
int pawl_cli_ota(int argc, char **argv);
/* pawl pki: CAs with keys in a PKCS#11 token (cli_pki.c). */
int pawl_cli_pki(int argc, char **argv);
/* pawl analyze: API discovery over logs (cli_analyze.c). */
int pawl_cli_analyze(int argc, char **argv);

/* Reads a command token file ("-": stdin) into buf, which holds
 * PAWL_EDGE_TOKEN_MAX + 1 bytes: a longer file is read that far, so that the
 * parser calls it malformed rather than the CLI an I/O error. Returns 0, or
 * -1 after printing "pawl: PATH: why". */
int pawl_cli_read_token(const char *path, uint8_t *buf, size_t *n);

/* Read a whole file, at most max bytes, NUL-terminated. Returns NULL and
 * prints "pawl: PATH: why" on failure. */
char *pawl_cli_slurp(const char *path, size_t max, size_t *len);

#endif
