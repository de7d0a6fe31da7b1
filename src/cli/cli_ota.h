/* pawl ota: the parts of the OEM repository tool shared by cli_ota.c
 * (keygen, init, rotate, the repository's files) and cli_ota_repo.c (add,
 * delegate, publish). See docs/ota-publish.md. */
#ifndef PAWL_CLI_OTA_H
#define PAWL_CLI_OTA_H

#include <jansson.h>

#include "cli.h"
#include "pawl/ota.h"

#define OTA_MAX_MULTI 64            /* values of one repeatable option */
#define OTA_JSON_MAX (64u << 20)    /* bytes of one metadata or config file */
#define OTA_MAX_BITS 16             /* hash bins the CLI creates: 2^16 files */
#define OTA_DAY 86400

/* Repeated option values. */
struct ota_strv {
    const char *v[OTA_MAX_MULTI];
    size_t n;
};

/* One option of a verb: a value (val), repeated values (multi) or a flag. */
struct ota_opt {
    const char *name;
    const char **val;
    struct ota_strv *multi;
    bool *flag;
};

/* Parses argv[1..] (argv[0] is the verb) against opts; on a problem prints
 * "pawl: ota VERB: why" and returns -1. */
int pawl__ota_opts(const char *verb, int argc, char **argv, const struct ota_opt *opts, size_t n);

/* An open repository: DIR/keys.json and the published root. */
struct ota_repo {
    const char *dir;
    json_t *cfg;  /* keys.json */
    json_t *root; /* "signed" of metadata/root.json */
    int64_t now;
};

/* Loads DIR/keys.json and DIR/metadata/root.json; 0 or -1 (printed). */
int pawl__ota_open(struct ota_repo *r, const char *dir);
void pawl__ota_close(struct ota_repo *r);

/* DIR/sub/name into out; -1 (printed) when it does not fit. */
int pawl__ota_path(const struct ota_repo *r, const char *sub, const char *name, char *out,
                   size_t cap);

/* A JSON file, duplicates refused, at most OTA_JSON_MAX bytes. *out is
 * NULL and 0 returned when the file does not exist and missing_ok. */
int pawl__ota_read_json(const char *path, bool missing_ok, json_t **out);
/* Writes bytes to path through a temporary file and rename, creating the
 * parent directories; mode for a new file. */
int pawl__ota_write(const char *path, const void *p, size_t n, unsigned mode);
int pawl__ota_write_json(const char *path, const json_t *v);
int pawl__ota_mkdirs(const char *dir);

/* Signers for the keys files of cfg.roles[cfgname]: loaded once per file
 * and kept in a cache (struct ota_keys) until pawl__ota_keys_free. */
struct ota_key {
    char *file;
    EVP_PKEY *pkey;
    struct pawl_ota_signer s;
};
struct ota_keys {
    struct ota_key **k; /* one allocation per key: signer pointers stay valid */
    size_t n, cap;
};
/* The signer of one PEM file (cached). NULL after printing the reason. */
const struct pawl_ota_signer *pawl__ota_key(struct ota_keys *ks, const char *file,
                                            const char *role);
void pawl__ota_keys_free(struct ota_keys *ks);

/* Signs signed_ for `role` with those of its key files (cfg.roles[cfgname])
 * that keyids lists, refusing fewer than threshold of them; *out is the
 * document (free()). Extra signers (old root keys) may be given. */
int pawl__ota_sign_role(struct ota_repo *r, struct ota_keys *ks, const char *role,
                        const char *cfgname, const json_t *signed_, const json_t *keyids,
                        int64_t threshold, const struct pawl_ota_signer *const *extra,
                        size_t nextra, char **out, size_t *outn);

/* Signs root (by its root keys in keys.json and the extra signers) and
 * writes metadata/VERSION.root.json and metadata/root.json. */
int pawl__ota_write_root(struct ota_repo *r, struct ota_keys *ks, json_t *root,
                         const struct pawl_ota_signer *const *extra, size_t nextra);

/* Days of validity of a role from cfg.expires_days ("targets" for
 * delegated roles). */
int64_t pawl__ota_days(const struct ota_repo *r, const char *role);

/* Re-signs what changed (and the roles in refresh, "all" for every one):
 * see docs/ota-publish.md. Prints one line per new version. */
int pawl__ota_publish(struct ota_repo *r, struct ota_keys *ks, const struct ota_strv *refresh);

/* The verbs. */
int pawl__ota_add(int argc, char **argv);
int pawl__ota_delegate(int argc, char **argv);
int pawl__ota_set_custom(int argc, char **argv);
int pawl__ota_publish_cmd(int argc, char **argv);

/* The staged "signed" of a targets role (DIR/staged/NAME.json). */
int pawl__ota_staged_load(const struct ota_repo *r, const char *role, json_t **out);
int pawl__ota_staged_save(const struct ota_repo *r, const char *role, const json_t *v);

/* The key files of cfg.roles[name].keys as {"file", "keyid"} objects. */
json_t *pawl__ota_cfg_role(const struct ota_repo *r, const char *name);

/* Loads a key file for a role and returns its {"file": realpath, "keyid"}
 * entry and the key object in *pub (borrowed from the cache). */
json_t *pawl__ota_key_entry(struct ota_keys *ks, const char *file, const char *role,
                            const json_t **pub);

#endif
