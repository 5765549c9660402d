/* cmd_token.c -- jibri-pipeline token: mint a Jitsi room token (or its meeting URL), or judge one as Prosody would. */
#include "base/config.h"
#include "base/util.h"
#include "api/token.h"
#include "commands.h"

#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* --ttl is at least what config.c allows for JWT_TTL, and at most ten
 * years: exp stays a number every JSON reader holds exactly. */
#define CMD_TOKEN_TTL_MIN 60
#define CMD_TOKEN_TTL_MAX (10 * 366 * 86400LL)

/* Prosody's MUC room names (XMPP nodeprep) hold none of these, nor
 * spaces or control characters; and a JID node is at most 1023 bytes. */
#define CMD_TOKEN_ROOM_BAD "\"&'/:<>@"
#define CMD_TOKEN_ROOM_MAX 1023

/* What the command line asked for. */
struct cmd_token_args {
	const char *room;
	const char *name;
	const char *id;
	const char *ttl;
	const char *verify;            /* the token, or "-" for stdin */
	const char *bench;             /* hidden: mint this many, print rate */
	bool moderator;
	bool url;
};

static int
cmd_token_usage(void)
{
	fprintf(stderr, "usage: jibri-pipeline [-c ENV_FILE] token --room ROOM "
	    "[--moderator] [--name NAME] [--id ID] [--ttl 2h] [--url]\n"
	    "       jibri-pipeline [-c ENV_FILE] token --verify TOKEN|- "
	    "[--room ROOM]\n");
	return 2;
}

/* Parse argv into a; 0, or -1 after printing what is wrong. Options come
 * in any order; each at most once. */
static int
cmd_token_parse(int argc, char **argv, struct cmd_token_args *a)
{
	static const char *const valued[] = { "--room", "--name", "--id",
	    "--ttl", "--verify", "--bench" };
	const char **slot[] = { &a->room, &a->name, &a->id, &a->ttl,
	    &a->verify, &a->bench };
	size_t k;
	int i;

	memset(a, 0, sizeof(*a));
	for (i = 1; i < argc; i++) {
		for (k = 0; k < sizeof(valued) / sizeof(valued[0]); k++)
			if (strcmp(argv[i], valued[k]) == 0)
				break;
		if (k < sizeof(valued) / sizeof(valued[0])) {
			if (i + 1 >= argc) {
				fprintf(stderr, "jibri-pipeline: token: %s needs "
				    "a value\n", argv[i]);
				return -1;
			}
			if (*slot[k] != NULL) {
				fprintf(stderr, "jibri-pipeline: token: %s given "
				    "twice\n", argv[i]);
				return -1;
			}
			*slot[k] = argv[++i];
		} else if (strcmp(argv[i], "--moderator") == 0) {
			a->moderator = true;
		} else if (strcmp(argv[i], "--url") == 0) {
			a->url = true;
		} else {
			fprintf(stderr, "jibri-pipeline: token: unknown %s `%s'\n",
			    argv[i][0] == '-' ? "option" : "argument", argv[i]);
			return -1;
		}
	}
	if (a->verify != NULL && (a->moderator || a->url || a->name != NULL ||
	    a->id != NULL || a->ttl != NULL || a->bench != NULL)) {
		fprintf(stderr, "jibri-pipeline: token: --verify takes only "
		    "--room\n");
		return -1;
	}
	if (a->verify == NULL && a->room == NULL) {
		fprintf(stderr, "jibri-pipeline: token: --room or --verify is "
		    "needed\n");
		return -1;
	}
	return 0;
}

/* Whether room can be a room name in a token (and, with url, in a URL). */
static bool
cmd_token_room_ok(const char *room, bool url)
{
	const unsigned char *p;

	if (room[0] == '\0' || strlen(room) > CMD_TOKEN_ROOM_MAX) {
		fprintf(stderr, "jibri-pipeline: token: --room `%s': want 1 to "
		    "%d bytes\n", room, CMD_TOKEN_ROOM_MAX);
		return false;
	}
	if (strcmp(room, "*") == 0) {
		if (!url)
			return true;
		fprintf(stderr, "jibri-pipeline: token: --room `*' (any room) "
		    "has no meeting URL: drop --url or name the room\n");
		return false;
	}
	for (p = (const unsigned char *)room; *p != '\0'; p++) {
		if (*p <= ' ' || *p == 0x7f || strchr(CMD_TOKEN_ROOM_BAD, *p)) {
			fprintf(stderr, "jibri-pipeline: token: --room `%s': a "
			    "Jitsi room name holds no spaces, control characters "
			    "or any of %s\n", room, CMD_TOKEN_ROOM_BAD);
			return false;
		}
	}
	return true;
}

/* The token to judge: the argument, or stdin for "-"; surrounding white
 * space (a pasted newline) removed. Newly allocated; NULL after printing
 * why. */
static char *
cmd_token_read(const char *arg)
{
	size_t len, start = 0;
	char *buf;

	if (strcmp(arg, "-") == 0) {
		buf = xmalloc(TOKEN_MAX + 2);
		len = fread(buf, 1, TOKEN_MAX + 1, stdin);
		buf[len] = '\0';
		if (ferror(stdin)) {
			fprintf(stderr, "error: --verify -: cannot read stdin\n");
			free(buf);
			return NULL;
		}
	} else {
		buf = xstrdup(arg);
		len = strlen(buf);
	}
	while (len > 0 && strchr(" \t\r\n", buf[len - 1]) != NULL)
		buf[--len] = '\0';
	while (buf[start] != '\0' && strchr(" \t\r\n", buf[start]) != NULL)
		start++;
	memmove(buf, buf + start, len - start + 1);
	return buf;
}

static int
cmd_token_verify(const struct config *cfg, const struct cmd_token_args *a)
{
	struct token_report rep;
	char *tok;
	bool ok;

	if ((tok = cmd_token_read(a->verify)) == NULL)
		return 1;
	ok = token_verify(cfg, tok, a->room, util_now_ms() / 1000, &rep);
	explicit_bzero(tok, strlen(tok));
	free(tok);
	token_report_print(&rep, stdout);
	if (fflush(stdout) == EOF)
		return 1;
	return ok ? 0 : 1;
}

/* --bench N: mint N tokens as asked and print how many per second. */
static int
cmd_token_bench(const struct config *cfg, const char *count, const char *room,
    const char *id, const char *name, bool moderator, int64_t ttl)
{
	int64_t n, i, t0, ms, now;
	char err[512];
	char *tok;

	if (util_parse_i64(count, &n) < 0 || n < 1 || n > 100000000) {
		fprintf(stderr, "jibri-pipeline: token: --bench `%s': want a "
		    "count from 1 to 100000000\n", count);
		return 2;
	}
	now = util_now_ms() / 1000;
	t0 = util_mono_ms();
	for (i = 0; i < n; i++) {
		tok = token_mint(cfg, room, id, name, moderator, now, now + ttl,
		    err, sizeof(err));
		if (tok == NULL) {
			fprintf(stderr, "error: %s\n", err);
			return 1;
		}
		free(tok);
	}
	ms = util_mono_ms() - t0;
	printf("%lld tokens in %lld ms: %.0f tokens/s\n", (long long)n,
	    (long long)ms, (double)n * 1000.0 / (double)(ms > 0 ? ms : 1));
	return fflush(stdout) == EOF ? 1 : 0;
}

static int
cmd_token_mint(const struct config *cfg, const struct cmd_token_args *a)
{
	const char *name = a->name, *id = a->id;
	char uuid[37], err[1024], *room = NULL, *tok = NULL, *url = NULL, *p;
	int64_t ttl = cfg->jwt_ttl, now;
	int rc = 1;

	if (a->ttl != NULL && (util_parse_duration(a->ttl, &ttl) < 0 ||
	    ttl < CMD_TOKEN_TTL_MIN || ttl > CMD_TOKEN_TTL_MAX)) {
		fprintf(stderr, "jibri-pipeline: token: --ttl `%s' is not a "
		    "duration like 30m, 8h or 7d (from 1m to 10 years)\n",
		    a->ttl);
		return 2;
	}
	if (!cmd_token_room_ok(a->room, a->url))
		return 2;
	if (name == NULL)
		name = a->moderator ? "Moderator" : "Participant";
	if (id == NULL) {
		util_uuid4(uuid);
		id = uuid;
	}
	if (cfg->jwt_secret == NULL) {
		fprintf(stderr, "error: JITSI_JWT_SECRET: not set: room tokens "
		    "are signed with it (the same value as Prosody's "
		    "app_secret)\n");
		return 1;
	}
	if (cfg->jitsi_domain == NULL) {
		fprintf(stderr, "error: JITSI_DOMAIN: not set: room tokens carry "
		    "it as sub, meeting URLs as their host\n");
		return 1;
	}
	if (a->bench != NULL)
		return cmd_token_bench(cfg, a->bench, a->room, id, name,
		    a->moderator, ttl);
	now = util_now_ms() / 1000;
	tok = token_mint(cfg, a->room, id, name, a->moderator, now, now + ttl,
	    err, sizeof(err));
	if (tok == NULL) {
		fprintf(stderr, "error: %s\n", err);
		goto out;
	}
	if (a->url) {
		/* the room as the token names it: lower case */
		room = xstrdup(a->room);
		for (p = room; *p != '\0'; p++)
			if (*p >= 'A' && *p <= 'Z')
				*p = (char)(*p - 'A' + 'a');
		url = token_url(cfg, room, tok);
		printf("%s\n", url);
	} else {
		printf("%s\n", tok);
	}
	rc = fflush(stdout) == EOF ? 1 : 0;
out:
	/* the token and its URL are credentials until exp */
	if (tok != NULL)
		explicit_bzero(tok, strlen(tok));
	if (url != NULL)
		explicit_bzero(url, strlen(url));
	free(tok);
	free(url);
	free(room);
	return rc;
}

int
token_main(int argc, char **argv)
{
	struct cmd_token_args a;
	struct config *cfg;
	int rc;

	if (cmd_token_parse(argc, argv, &a) < 0)
		return cmd_token_usage();
	cfg = cmd_load_config(1);
	if (cfg == NULL)
		return 1;
	rc = a.verify != NULL ? cmd_token_verify(cfg, &a) :
	    cmd_token_mint(cfg, &a);
	config_unref(cfg);
	return rc;
}
