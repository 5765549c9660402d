/* remux.c -- placeholder */
#include "remux.h"
#include <stdio.h>
int remux_file(const char *in, const char *out_video, const char *out_audio,
    struct remux_result *res, char *err, size_t errlen)
{ (void)in; (void)out_video; (void)out_audio; (void)res; snprintf(err, errlen, "not implemented"); return REMUX_IO; }
