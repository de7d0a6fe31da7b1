/* Unit tests for the SIEM alert format (pawl/siem.h): CEF escaping and the
 * RFC 5424 message with RFC 6587 octet counting. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "pawl/siem.h"

static struct pawl_finding finding(void)
{
    struct pawl_finding f;
    memset(&f, 0, sizeof f);
    f.detector = "bola";
    f.owasp_uid = "API1:2023";
    f.owasp_name = "Broken Object Level Authorization";
    snprintf(f.title, sizeof f.title, "u|1 reached a=b\\c\nnext");
    snprintf(f.principal, sizeof f.principal, "u=1");
    snprintf(f.src_ip, sizeof f.src_ip, "10.0.0.1");
    snprintf(f.vins[0], sizeof f.vins[0], "1HGCM82633A004352");
    snprintf(f.vins[1], sizeof f.vins[1], "5YJ3E1EA7KF317000");
    f.nvins = 2;
    f.time_ms = 1795000000123LL;
    f.severity = 4;
    f.confidence = 3;
    f.related = 7;
    return f;
}

static void test_cef(void **state)
{
    (void)state;
    struct pawl_finding f = finding();
    char out[1024];
    size_t n = pawl_cef(&f, "pawl-bola-1", out, sizeof out);
    assert_int_equal(n, strlen(out));
    assert_string_equal(out, "CEF:0|pawl|pawl|1|bola|u\\|1 reached a=b\\\\c next|8|rt=1795000000123"
                             " suser=u\\=1 src=10.0.0.1 cs1Label=vehicles cs1=1HGCM82633A004352,5YJ3E1EA7KF317000"
                             " cs2Label=owasp cs2=API1:2023 cn1Label=related cn1=7 externalId=pawl-bola-1");
    assert_int_equal(pawl_cef(&f, "x", out, 40), 0);
}

static void test_syslog(void **state)
{
    (void)state;
    struct pawl_finding f = finding();
    char out[1024];
    const char *msg = "CEF:0|x";
    size_t n = pawl_syslog_frame(&f, "gw 1", "bola", msg, strlen(msg), out, sizeof out);
    const char *want = "<83>1 2026-11-18T11:06:40.123Z gw?1 pawl - bola - CEF:0|x";
    char framed[256];
    snprintf(framed, sizeof framed, "%zu %s", strlen(want), want);
    assert_string_equal(out, framed);
    assert_int_equal(n, strlen(framed));
    f.severity = 6;
    pawl_syslog_frame(&f, "", "", msg, strlen(msg), out, sizeof out);
    assert_non_null(strstr(out, " <81>1 "));
    assert_non_null(strstr(out, "Z - pawl - - - CEF"));
    assert_int_equal(pawl_syslog_frame(&f, "h", "m", msg, strlen(msg), out, 20), 0);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_cef),
        cmocka_unit_test(test_syslog),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
