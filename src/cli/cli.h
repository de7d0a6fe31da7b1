/* The pawl CLI: one file per subcommand group. Each entry point returns the
 * process exit code documented in docs/cli.md. */
#ifndef PAWL_CLI_H
#define PAWL_CLI_H

#include <stdio.h>

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

/* Read a whole file, at most max bytes, NUL-terminated. Returns NULL and
 * prints "pawl: PATH: why" on failure. */
char *pawl_cli_slurp(const char *path, size_t max, size_t *len);

#endif
