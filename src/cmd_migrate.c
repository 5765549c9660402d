/* cmd_migrate.c -- jibri-pipeline migrate: create the database tables that are missing. */
#include "base/config.h"
#include "api/db.h"
#include "api/migrate.h"
#include "commands.h"

#include <stdio.h>
#include <string.h>

int
migrate_main(int argc, char **argv)
{
	struct config *cfg;
	PGconn *conn = NULL;
	char err[2048];
	int version, rc = 1;

	(void)argv;
	if (argc != 1) {
		fprintf(stderr, "usage: jibri-pipeline [-c ENV_FILE] migrate\n");
		return 2;
	}
	if ((cfg = cmd_load_config(0)) == NULL)
		return 1;
	if (cfg->database_url == NULL) {
		fprintf(stderr, "error: DATABASE_URL is not set: set it to the "
		    "PostgreSQL database to migrate (postgresql://USER:PASSWORD"
		    "@HOST:PORT/DB) in the env file or the environment\n");
		goto done;
	}
	if ((conn = db_connect(cfg->database_url, err, sizeof(err))) == NULL) {
		fprintf(stderr, "error: %s\n", err);
		goto done;
	}
	if (migrate_run(conn, err, sizeof(err)) < 0 ||
	    migrate_version(conn, &version, err, sizeof(err)) < 0) {
		fprintf(stderr, "error: DATABASE_URL: migrate: %s: nothing was "
		    "changed; fix the cause and run it again\n", err);
		goto done;
	}
	printf("database schema up to date (version %d)\n", version);
	rc = 0;
done:
	db_close(conn);
	config_unref(cfg);
	return rc;
}
