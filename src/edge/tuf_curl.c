/* The TUF client's HTTP(S) fetcher on libcurl (pawl_tuf_curl_fetcher):
 * for hosts that want TLS to the repository. pawl-tuf-client uses the
 * lighter plain-HTTP fetcher of tuf_http.c instead. */
#include "tuf_internal.h"

#include <curl/curl.h>

int pawl_tuf_curl_global_init(void)
{
    return curl_global_init(CURL_GLOBAL_DEFAULT) == CURLE_OK ? 0 : -1;
}

struct curl_job {
    CURL *c;
    uint64_t max, got;
    pawl_tuf_sink_fn sink;
    void *sctx;
    long status;
    bool too_big, sink_failed;
};

static size_t curl_write(char *p, size_t size, size_t nmemb, void *ctx)
{
    struct curl_job *j = ctx;
    size_t n = size * nmemb;
    if (j->status == 0)
        curl_easy_getinfo(j->c, CURLINFO_RESPONSE_CODE, &j->status);
    if (j->status != 200)
        return 0; /* stop: the body of an error is not data */
    if (j->got + n > j->max) {
        j->too_big = true;
        return 0;
    }
    j->got += n;
    if (j->sink(j->sctx, (const uint8_t *)p, n) != 0) {
        j->sink_failed = true;
        return 0;
    }
    return n;
}

static int curl_fetch(void *ctx, const char *url, uint64_t max, pawl_tuf_sink_fn sink,
                      void *sctx, char *err, size_t errn)
{
    (void)ctx;
    struct curl_job j = {.max = max, .sink = sink, .sctx = sctx};
    char cerr[CURL_ERROR_SIZE] = "";
    j.c = curl_easy_init();
    if (j.c == NULL)
        return TUF_ERR(err, errn, "cannot start libcurl");
    curl_easy_setopt(j.c, CURLOPT_URL, url);
    curl_easy_setopt(j.c, CURLOPT_PROTOCOLS_STR, "http,https");
    curl_easy_setopt(j.c, CURLOPT_FOLLOWLOCATION, 0L);
    curl_easy_setopt(j.c, CURLOPT_NOSIGNAL, 1L);
    curl_easy_setopt(j.c, CURLOPT_CONNECTTIMEOUT, 30L);
    curl_easy_setopt(j.c, CURLOPT_LOW_SPEED_LIMIT, 1L);
    curl_easy_setopt(j.c, CURLOPT_LOW_SPEED_TIME, 30L);
    curl_easy_setopt(j.c, CURLOPT_WRITEFUNCTION, curl_write);
    curl_easy_setopt(j.c, CURLOPT_WRITEDATA, &j);
    curl_easy_setopt(j.c, CURLOPT_ERRORBUFFER, cerr);
    if (max < (uint64_t)INT64_MAX)
        curl_easy_setopt(j.c, CURLOPT_MAXFILESIZE_LARGE, (curl_off_t)max);
    CURLcode rc = curl_easy_perform(j.c);
    if (j.status == 0)
        curl_easy_getinfo(j.c, CURLINFO_RESPONSE_CODE, &j.status);
    curl_easy_cleanup(j.c);
    if (j.status == 403 || j.status == 404)
        return PAWL_TUF_NOTFOUND;
    if (j.too_big || rc == CURLE_FILESIZE_EXCEEDED)
        return TUF_ERR(err, errn, "more than the %llu bytes allowed", (unsigned long long)max);
    if (j.sink_failed)
        return TUF_ERR(err, errn, "the receiver refused the data");
    if (rc != CURLE_OK && j.status != 0 && j.status != 200)
        return TUF_ERR(err, errn, "HTTP status %ld", j.status);
    if (rc != CURLE_OK)
        return TUF_ERR(err, errn, "%s", cerr[0] ? cerr : curl_easy_strerror(rc));
    if (j.status != 200)
        return TUF_ERR(err, errn, "HTTP status %ld", j.status);
    return 0;
}

struct pawl_tuf_fetcher pawl_tuf_curl_fetcher(void)
{
    struct pawl_tuf_fetcher f = {curl_fetch, NULL};
    return f;
}

