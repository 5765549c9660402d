/* migrate.h -- the database schema: create what is missing, never drop or rewrite. */
#ifndef JP_MIGRATE_H
#define JP_MIGRATE_H

#include <stddef.h>

#include <libpq-fe.h>

/* The schema version this build creates and expects; jibri_pipeline_schema
 * holds one row per version applied. Raise it with every change to the
 * tables in migrate.c. */
#define MIGRATE_VERSION 1

/*
 * Bring the database up to MIGRATE_VERSION: tables room, meeting and
 * recording (Reflector's, so an existing Reflector database is used as
 * it is), meeting_event (the pipeline's append-only event table) and
 * jibri_pipeline_schema. A table that is missing is created; a column
 * that is missing from an existing table is added (ADD COLUMN: existing
 * rows get the column's default, or NULL; nothing else about them
 * changes); an index that is missing is created. Nothing is ever
 * dropped, retyped or updated, so running it again changes nothing.
 * One transaction under an advisory lock: two processes migrating at
 * once take turns, and a failure leaves the database as it was. A lock
 * held by another session (a long transaction on a table) makes it fail
 * after MIGRATE_LOCK_TIMEOUT instead of queueing every client behind it.
 * 0, or -1 with err naming the step that failed.
 */
int migrate_run(PGconn *conn, char *err, size_t errlen);

/* The lock_timeout of migrate_run's statements. */
#define MIGRATE_LOCK_TIMEOUT "10s"

/* The schema version the database holds (0: none, never migrated) in
 * *version: 0, or -1 with err. */
int migrate_version(PGconn *conn, int *version, char *err, size_t errlen);

#endif
