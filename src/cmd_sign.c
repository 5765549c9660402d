/* cmd_sign.c -- jibri-pipeline sign: the X-Jitsi-Signature of a file, as `openssl dgst -sha256 -hmac` prints it. */
#include "base/config.h"
#include "base/hash.h"
#include "base/util.h"
#include "commands.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define SIGN_MAX (64 << 20)

int
sign_main(int argc, char **argv)
{
	char hex[HASH_HEX_LEN];
	struct config *cfg;
	size_t len = 0, cap = 1 << 16, n;
	char *buf;
	FILE *f;

	if (argc != 2) {
		fprintf(stderr, "usage: jibri-pipeline [-c ENV_FILE] sign FILE|-\n");
		return 2;
	}
	cfg = cmd_load_config(1);
	if (cfg == NULL)
		return 1;
	if (cfg->webhook_secret == NULL) {
		fprintf(stderr, "error: JITSI_WEBHOOK_SECRET: not set\n");
		config_unref(cfg);
		return 1;
	}
	f = strcmp(argv[1], "-") == 0 ? stdin : fopen(argv[1], "rbe");
	if (f == NULL) {
		fprintf(stderr, "error: %s: %s\n", argv[1], strerror(errno));
		config_unref(cfg);
		return 1;
	}
	buf = xmalloc(cap);
	while ((n = fread(buf + len, 1, cap - len, f)) > 0) {
		len += n;
		if (len == cap) {
			if (cap >= SIGN_MAX) {
				fprintf(stderr, "error: %s: larger than %d MiB\n",
				    argv[1], SIGN_MAX >> 20);
				goto fail;
			}
			cap *= 2;
			buf = xrealloc(buf, cap);
		}
	}
	if (ferror(f)) {
		fprintf(stderr, "error: %s: %s\n", argv[1], strerror(errno));
		goto fail;
	}
	hash_hmac_sha256_hex(cfg->webhook_secret, strlen(cfg->webhook_secret),
	    buf, len, hex);
	printf("%s\n", hex);
	if (f != stdin)
		fclose(f);
	free(buf);
	config_unref(cfg);
	return 0;
fail:
	if (f != stdin)
		fclose(f);
	free(buf);
	config_unref(cfg);
	return 1;
}
