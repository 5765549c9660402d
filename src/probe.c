/* probe.c -- placeholder */
#include "probe.h"
#include <stdio.h>
int probe_file(const char *path, struct probe_result *out, char *err, size_t errlen)
{ (void)path; (void)out; snprintf(err, errlen, "not implemented"); return PROBE_IO; }
json_t *probe_to_json(const struct probe_result *p) { (void)p; return json_object(); }
