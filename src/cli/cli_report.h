/* cli_report.h: pawl analyze's report (cli_report.c). */
#ifndef PAWL_CLI_REPORT_H
#define PAWL_CLI_REPORT_H

#include <stdbool.h>
#include <stdio.h>

#include <jansson.h>

#include "pawl/detect.h"

struct pawl_report;

struct pawl_report *pawl_report_new(void);
void pawl_report_free(struct pawl_report *r);
/* Keeps what the report shows of a finding (up to 200,000). */
void pawl_report_add(struct pawl_report *r, const struct pawl_finding *f);
/* path ending in .html: an HTML page; otherwise text ("-": stdout). 0 or -1. */
int pawl_report_write(const struct pawl_report *r, json_t *inventory, const char *path);

#endif
