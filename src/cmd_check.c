/* cmd_check.c -- jibri-pipeline check: the configuration, the directories and the storage. */
#include "base/config.h"
#include "base/fsutil.h"
#include "base/util.h"
#include "store/store.h"
#include "api/db.h"
#include "api/migrate.h"
#include "commands.h"

#include <errno.h>
#include <grp.h>
#include <limits.h>
#include <pwd.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/xattr.h>
#include <unistd.h>

#include <curl/curl.h>

/* The user systemd/jibri-pipeline.service runs the daemon as. */
#define SERVICE_USER "jibri-pipeline"

/*
 * `sudo jibri-pipeline check' reads the configuration as root, but the
 * service reads it as its own user: a root:root 0640 env file passes the
 * one and stops the other. So check also judges, from owner, group and
 * mode bits, whether the service user could read the env file and every
 * NAME_FILE secret (and search each directory above them). It does so for
 * the file the service reads (CONFIG_DEFAULT_PATH, no -c), or for any
 * file with --service-user USER; a user that does not exist is no
 * problem (nothing installed yet). POSIX ACLs are not judged: a file
 * carrying one is passed over.
 */

/* The service user's credentials: its uid and, as initgroups gives them,
 * its passwd group and every group that lists it (the unit adds its own
 * group with SupplementaryGroups=). */
struct service_user {
	const char *name;
	uid_t uid;
	gid_t gid;
	gid_t *groups;
	int ngroups;
};

static int
service_user_lookup(struct service_user *u, const char *name)
{
	struct passwd *pw;
	int n = 64, want;

	memset(u, 0, sizeof(*u));
	if ((pw = getpwnam(name)) == NULL)
		return -1;
	u->name = name;
	u->uid = pw->pw_uid;
	u->gid = pw->pw_gid;
	for (;;) {
		u->groups = xrealloc(u->groups, (size_t)n * sizeof(gid_t));
		want = n;
		if (getgrouplist(name, u->gid, u->groups, &want) >= 0) {
			u->ngroups = want;
			return 0;
		}
		if (n >= 65536) {          /* NGROUPS_MAX: cannot be */
			free(u->groups);
			u->groups = NULL;
			return -1;
		}
		n = want > n ? want : n * 2;
	}
}

static bool
in_groups(const struct service_user *u, gid_t gid)
{
	int i;

	for (i = 0; i < u->ngroups; i++)
		if (u->groups[i] == gid)
			return true;
	return false;
}

/* The rwx bits that apply to the user: the kernel takes the owner's when
 * it owns the file, else the group's when it is in the group, else the
 * others'. */
static unsigned
bits_for(const struct service_user *u, const struct stat *sb)
{
	if (sb->st_uid == u->uid)
		return (sb->st_mode >> 6) & 7;
	if (in_groups(u, sb->st_gid))
		return (sb->st_mode >> 3) & 7;
	return sb->st_mode & 7;
}

static bool
has_acl(const char *path)
{
	return getxattr(path, "system.posix_acl_access", NULL, 0) >= 0;
}

static void
owner_text(const struct stat *sb, char *buf, size_t size)
{
	struct passwd *pw = getpwuid(sb->st_uid);
	char user[64];
	struct group *gr;

	if (pw != NULL)
		snprintf(user, sizeof(user), "%s", pw->pw_name);
	else
		snprintf(user, sizeof(user), "%lu", (unsigned long)sb->st_uid);
	gr = getgrgid(sb->st_gid);
	if (gr != NULL)
		snprintf(buf, size, "%s:%s", user, gr->gr_name);
	else
		snprintf(buf, size, "%s:%lu", user, (unsigned long)sb->st_gid);
}

/* The command that gives the user bit (r or x) on path. */
static void
fix_text(const struct service_user *u, const struct stat *sb,
    const char *path, char bit, char *buf, size_t size)
{
	unsigned want = bit == 'r' ? 4 : 1;
	struct group *gr;
	char group[64];

	if (sb->st_uid == u->uid) {
		snprintf(buf, size, "chmod u+%c %s", bit, path);
		return;
	}
	if (in_groups(u, sb->st_gid)) {
		snprintf(buf, size, "chmod g+%c %s", bit, path);
		return;
	}
	if ((gr = getgrgid(u->gid)) != NULL)
		snprintf(group, sizeof(group), "%s", gr->gr_name);
	else
		snprintf(group, sizeof(group), "%lu", (unsigned long)u->gid);
	if (sb->st_mode & (want << 3))
		snprintf(buf, size, "chgrp %s %s", group, path);
	else
		snprintf(buf, size, "chgrp %s %s && chmod g+%c %s", group, path,
		    bit, path);
}

/* Report what keeps the service user from reading path (every directory
 * on the way to the file it resolves to needs x, the file r). label names
 * the file in the message. 1 when it cannot, 0 when it can or when this
 * cannot be judged (config_load already reported a missing file). */
static int
check_service_read(const struct service_user *u, const char *label,
    const char *path)
{
	char real[PATH_MAX], dir[PATH_MAX], fix[2 * PATH_MAX + 64];
	char owner[160];
	struct stat sb;
	const char *p;
	size_t n;

	if (realpath(path, real) == NULL)
		return 0;
	for (p = real; p != NULL; p = strchr(p + 1, '/')) {
		n = p == real ? 1 : (size_t)(p - real);
		memcpy(dir, real, n);
		dir[n] = '\0';
		if (stat(dir, &sb) < 0 || has_acl(dir))
			return 0;
		if ((bits_for(u, &sb) & 1) == 0) {
			owner_text(&sb, owner, sizeof(owner));
			fix_text(u, &sb, dir, 'x', fix, sizeof(fix));
			fprintf(stderr, "error: %s: the service user %s cannot "
			    "reach it: directory %s (owner %s mode %04o) is not "
			    "searchable for it: %s\n", label, u->name, dir, owner,
			    (unsigned)(sb.st_mode & 07777), fix);
			return 1;
		}
	}
	if (stat(real, &sb) < 0 || has_acl(real))
		return 0;
	if ((bits_for(u, &sb) & 4) == 0) {
		owner_text(&sb, owner, sizeof(owner));
		fix_text(u, &sb, path, 'r', fix, sizeof(fix));
		fprintf(stderr, "error: %s: the service user %s cannot read it "
		    "(owner %s mode %04o): %s\n", label, u->name, owner,
		    (unsigned)(sb.st_mode & 07777), fix);
		return 1;
	}
	return 0;
}

/* The env file and the NAME_FILE secrets, as the service user would read
 * them: the number of problems. */
/* A directory check created while running as root (STATE_DIR, file://
 * storage): the daemon runs as the service user with Jibri's group
 * (Group=jibri in the unit) and must be able to write in it. Without such
 * a user nothing changes. */
static void
give_to_service(const char *dir, const char *user)
{
	struct passwd *pw;
	struct group *gr;

	if (geteuid() != 0 || (pw = getpwnam(user)) == NULL)
		return;
	gr = getgrnam("jibri");
	if (chown(dir, pw->pw_uid, gr != NULL ? gr->gr_gid : pw->pw_gid) < 0)
		fprintf(stderr, "warning: %s: cannot give it to %s: %s\n", dir,
		    user, strerror(errno));
}

static int
check_service_user(const struct config *cfg, const char *name, bool asked)
{
	struct service_user u;
	char label[PATH_MAX + 80];
	int problems = 0;
	size_t i;

	if (!asked && (cfg->source == NULL ||
	    strcmp(cfg->source, CONFIG_DEFAULT_PATH) != 0))
		return 0;
	if (service_user_lookup(&u, name) < 0) {
		if (!asked)
			return 0;
		fprintf(stderr, "error: --service-user: `%s' is no user on this "
		    "host\n", name);
		return 1;
	}
	/* the service is not root, and the user itself has just read them */
	if (u.uid != 0 && u.uid != geteuid()) {
		if (cfg->source != NULL)
			problems += check_service_read(&u, cfg->source,
			    cfg->source);
		for (i = 0; i < cfg->nfiles; i++) {
			snprintf(label, sizeof(label), "%s: `%s'", cfg->files[i].key,
			    cfg->files[i].path);
			problems += check_service_read(&u, label,
			    cfg->files[i].path);
		}
	}
	free(u.groups);
	return problems;
}

/* With DATABASE_URL: whether the database answers and whether its schema
 * is this build's, a line each on stdout; a database that cannot be
 * reached is an error (1), an old schema only a warning (migrate, or
 * the daemon, brings it up to date). The number of problems. */
static int
check_database(const struct config *cfg)
{
	char err[2048];
	PGconn *conn;
	int version;

	if (cfg->database_url == NULL)
		return 0;
	if ((conn = db_connect(cfg->database_url, err, sizeof(err))) == NULL) {
		fprintf(stderr, "error: %s\n", err);
		return 1;
	}
	printf("database: answers (PostgreSQL %d.%d)\n",
	    PQserverVersion(conn) / 10000, PQserverVersion(conn) % 10000);
	if (migrate_version(conn, &version, err, sizeof(err)) < 0) {
		fprintf(stderr, "error: DATABASE_URL: %s\n", err);
		db_close(conn);
		return 1;
	}
	if (version == MIGRATE_VERSION)
		printf("database schema: current (version %d)\n", version);
	else if (version > MIGRATE_VERSION)
		printf("database schema: newer than this build (version %d, "
		    "this build knows %d): upgrade jibri-pipeline\n", version,
		    MIGRATE_VERSION);
	else
		printf("database schema: not current (version %d, this build "
		    "wants %d): run jibri-pipeline migrate\n", version,
		    MIGRATE_VERSION);
	db_close(conn);
	return 0;
}

static void
usage(void)
{
	fprintf(stderr, "usage: jibri-pipeline [-c ENV_FILE] check "
	    "[--service-user USER]\n");
}

int
check_main(int argc, char **argv)
{
	const char *user = SERVICE_USER;
	struct config *cfg;
	struct store *st;
	struct stat sb;
	char err[1024], *url, *msg;
	bool asked = false, state_new, store_new;
	int problems = 0, a;

	for (a = 1; a < argc; a++) {
		if (strcmp(argv[a], "--service-user") == 0 && a + 1 < argc) {
			user = argv[++a];
			asked = true;
		} else {
			usage();
			return 2;
		}
	}
	cfg = cmd_load_config(0);
	if (cfg == NULL)
		return 1;
	problems += check_service_user(cfg, user, asked);
	/* not errors: a recording host needs neither; a short secret is
	 * already warned about by config_load */
	if (cfg->jwt_secret == NULL)
		fprintf(stderr, "warning: JITSI_JWT_SECRET: not set: meetings "
		    "and room tokens are off (set it to Prosody's app_secret)\n");
	if (cfg->jitsi_domain == NULL)
		fprintf(stderr, "warning: JITSI_DOMAIN: not set: meetings and "
		    "room tokens are off (set it to the Jitsi host name)\n");
	errno = 0;
	if (stat(cfg->recordings_dir, &sb) < 0 || !S_ISDIR(sb.st_mode)) {
		fprintf(stderr, "error: RECORDINGS_DIR: `%s': %s\n",
		    cfg->recordings_dir, errno ? strerror(errno) :
		    "not a directory");
		problems++;
	} else if (access(cfg->recordings_dir, R_OK | X_OK) < 0) {
		fprintf(stderr, "error: RECORDINGS_DIR: `%s' is not readable by "
		    "this user: %s\n", cfg->recordings_dir, strerror(errno));
		problems++;
	}
	state_new = stat(cfg->state_dir, &sb) < 0;
	store_new = cfg->storage_path != NULL &&
	    stat(cfg->storage_path, &sb) < 0;
	if (fs_mkdirs(cfg->state_dir, 0750) < 0 ||
	    access(cfg->state_dir, W_OK | X_OK) < 0) {
		fprintf(stderr, "error: STATE_DIR: `%s' cannot be created or "
		    "written: %s\n", cfg->state_dir, strerror(errno));
		problems++;
	}
	curl_global_init(CURL_GLOBAL_DEFAULT);
	st = store_open_config(cfg, err, sizeof(err));
	if (st == NULL || store_check(st, err, sizeof(err)) != STORE_OK) {
		url = util_url_redact(cfg->storage_url);
		msg = util_url_redact(err);
		fprintf(stderr, "error: STORAGE_URL: `%s': %s\n", url, msg);
		free(url);
		free(msg);
		problems++;
	}
	store_close(st);
	curl_global_cleanup();
	/* what check made as root is the service's to write in */
	if (state_new)
		give_to_service(cfg->state_dir, user);
	if (store_new)
		give_to_service(cfg->storage_path, user);
	problems += check_database(cfg);
	config_unref(cfg);
	if (problems > 0)
		return 1;
	printf("configuration OK\n");
	return 0;
}
