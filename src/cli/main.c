/* pawl: the command-line tool. See docs/cli.md. */
#include "cli.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

static void usage(FILE *f)
{
    fputs("usage: pawl <command> [options]\n"
          "\n"
          "commands:\n"
          "  decide        run the decision core over OCSF API Activity lines (stdin)\n"
          "  audit verify  verify a hash-chained, signed audit log\n"
          "  audit append  append JSON lines (stdin) to a signed audit log\n"
          "  token         issue, co-sign and inspect command tokens\n"
          "  vehicle verify  verify a command token as the vehicle does\n"
          "  vehicle update  Uptane full verification of OTA updates as a Primary\n"
          "  ota           create and sign TUF repositories of OTA images (keygen, repo)\n"
          "  pki           CAs whose keys live in a PKCS#11 token: issue, renew, revoke, crl, pin\n"
          "  analyze       API inventory with risk scores from API Activity or nginx logs\n"
          "\n"
          "Run 'pawl <command> --help' for a command's options.\n"
          "Exit codes: 0 ok, 1 verification failed, 2 usage, 3 invalid input file,\n"
          "4 writing output failed.\n",
          f);
}

char *pawl_cli_slurp(const char *path, size_t max, size_t *len)
{
    char err[600];
    char *buf = pawl_host_slurp(path, max, len, err, sizeof err);
    if (buf == NULL)
        fprintf(stderr, "pawl: %s\n", err);
    return buf;
}

int pawl_cli_read_token(const char *path, uint8_t *buf, size_t *n)
{
    FILE *f = strcmp(path, "-") == 0 ? stdin : fopen(path, "rb");
    if (f == NULL) {
        fprintf(stderr, "pawl: %s: %s\n", path, strerror(errno));
        return -1;
    }
    *n = fread(buf, 1, PAWL_EDGE_TOKEN_MAX + 1, f);
    bool bad = ferror(f) != 0;
    if (f != stdin)
        fclose(f);
    if (bad)
        fprintf(stderr, "pawl: %s: read error\n", path);
    return bad ? -1 : 0;
}

int main(int argc, char **argv)
{
    if (argc < 2) {
        usage(stderr);
        return PAWL_EXIT_USAGE;
    }
    if (strcmp(argv[1], "--help") == 0 || strcmp(argv[1], "-h") == 0) {
        usage(stdout);
        return PAWL_EXIT_OK;
    }
    if (strcmp(argv[1], "decide") == 0)
        return pawl_cli_decide(argc - 1, argv + 1);
    if (strcmp(argv[1], "audit") == 0)
        return pawl_cli_audit(argc - 1, argv + 1);
    if (strcmp(argv[1], "token") == 0)
        return pawl_cli_token(argc - 1, argv + 1);
    if (strcmp(argv[1], "vehicle") == 0)
        return pawl_cli_vehicle(argc - 1, argv + 1);
    if (strcmp(argv[1], "ota") == 0)
        return pawl_cli_ota(argc - 1, argv + 1);
    if (strcmp(argv[1], "pki") == 0)
        return pawl_cli_pki(argc - 1, argv + 1);
    if (strcmp(argv[1], "analyze") == 0)
        return pawl_cli_analyze(argc - 1, argv + 1);
    fprintf(stderr, "pawl: unknown command '%s'\n", argv[1]);
    usage(stderr);
    return PAWL_EXIT_USAGE;
}
