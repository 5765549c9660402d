/* main.c -- jibri-pipeline: the subcommand table. */
#include "base/config.h"
#include "base/log.h"
#include "commands.h"

#include <stdio.h>
#include <string.h>


static const struct {
	const char *name;
	int (*fn)(int argc, char **argv);
	const char *usage;
	const char *help;
} commands[] = {
	{ "run", run_main, "run", "run the daemon in the foreground (systemd)" },
	{ "check", check_main, "check [--service-user USER]",
	    "check the configuration, storage and what the service user can read" },
	{ "status", status_main, "status [--json]", "show the queue" },
	{ "retry", retry_main, "retry ID|--failed", "retry failed jobs" },
	{ "probe", probe_main, "probe FILE", "print what a media file holds (JSON)" },
	{ "remux", remux_main, "remux IN OUT [--audio A]",
	    "fast-start MP4 (+ audio-only file) by stream copy" },
	{ "salvage", salvage_main, "salvage BROKEN OUT [--reference REF] [--json]",
	    "rebuild a playable MP4 from a killed recording (no moov)" },
	{ "sign", sign_main, "sign FILE", "print the X-Jitsi-Signature of FILE" },
	{ "put", put_main, "put FILE KEY [--resume STATE] [--content-type T]",
	    "store FILE under KEY in the configured storage" },
	{ "migrate", migrate_main, "migrate",
	    "create the database tables that are missing (DATABASE_URL)" },
	{ "token", token_main, "token --room R|--verify T",
	    "print a Jitsi room token (JWT), or say why Prosody refuses one" },
};

static void
usage(FILE *f)
{
	size_t i;

	fprintf(f, "usage: jibri-pipeline [-c ENV_FILE] COMMAND [ARGS]\n\n");
	for (i = 0; i < sizeof(commands) / sizeof(commands[0]); i++)
		fprintf(f, "  %-26s %s\n", commands[i].usage, commands[i].help);
	fprintf(f, "\nThe configuration is read from ENV_FILE (default %s when it "
	    "exists),\nthen the environment. See README.md.\n",
	    CONFIG_DEFAULT_PATH);
}

/* -c ENV_FILE may also follow the subcommand (`jibri-pipeline check -c
 * FILE'): taken out of its arguments (up to a `--'), which are shifted
 * down; the new count. */
static int
global_options(int argc, char **argv)
{
	int i = 1, j;

	while (i < argc && strcmp(argv[i], "--") != 0) {
		if (strcmp(argv[i], "-c") == 0 && i + 1 < argc) {
			cmd_config_path = argv[i + 1];
			for (j = i; j + 2 <= argc; j++)
				argv[j] = argv[j + 2];
			argc -= 2;
			continue;
		}
		i++;
	}
	return argc;
}

int
main(int argc, char **argv)
{
	size_t i;
	int a = 1;

	while (a < argc && argv[a][0] == '-') {
		if (strcmp(argv[a], "-c") == 0 && a + 1 < argc) {
			cmd_config_path = argv[a + 1];
			a += 2;
		} else if (strcmp(argv[a], "-h") == 0 ||
		    strcmp(argv[a], "--help") == 0) {
			usage(stdout);
			return 0;
		} else if (strcmp(argv[a], "--version") == 0) {
			printf("jibri-pipeline %s\n", JP_VERSION);
			return 0;
		} else {
			fprintf(stderr, "jibri-pipeline: unknown option `%s'\n",
			    argv[a]);
			usage(stderr);
			return 2;
		}
	}
	if (a >= argc) {
		usage(stderr);
		return 2;
	}
	for (i = 0; i < sizeof(commands) / sizeof(commands[0]); i++) {
		if (strcmp(argv[a], commands[i].name) == 0)
			return commands[i].fn(global_options(argc - a, argv + a),
			    argv + a);
	}
	fprintf(stderr, "jibri-pipeline: unknown command `%s'\n", argv[a]);
	usage(stderr);
	return 2;
}
