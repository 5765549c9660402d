/* migrate.c -- the database schema: create what is missing, never drop or rewrite. */
#include "api/migrate.h"

#include "base/util.h"
#include "api/db.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/*
 * One table drives the schema: every column of every table, in order.
 * create is the column's definition in CREATE TABLE; add is the one used
 * to add it to a table that exists without it, which must work on a
 * table full of rows (so never NOT NULL without a DEFAULT, and no
 * PRIMARY KEY: an existing table has its own). add NULL: never added
 * (the key of a table that the pipeline alone creates).
 *
 * room, meeting and recording are Reflector's tables (types as its
 * migrations make them: text ids, timestamptz, the same defaults), so
 * that the pipeline can share a Reflector database and the
 * application's SQL keeps working. meeting.events stays json (not
 * jsonb): Reflector reads it and key order matters to nobody, but json
 * keeps it byte for byte as written.
 */
struct migrate_column {
	const char *table;
	const char *name;
	const char *create;
	const char *add;
};

/* a column whose two forms are the same */
#define COL(table, name, def) { table, name, def, def }

static const struct migrate_column migrate_columns[] = {
	{ "room", "id", "text PRIMARY KEY", "text" },
	{ "room", "name", "text NOT NULL UNIQUE", "text" },
	COL("room", "user_id", "text"),
	{ "room", "created_at", "timestamptz NOT NULL DEFAULT now()",
	    "timestamptz DEFAULT now()" },
	COL("room", "zulip_auto_post", "boolean NOT NULL DEFAULT false"),
	COL("room", "zulip_stream", "text"),
	COL("room", "zulip_topic", "text"),
	COL("room", "is_locked", "boolean NOT NULL DEFAULT false"),
	COL("room", "room_mode", "text NOT NULL DEFAULT 'normal'"),
	COL("room", "recording_type", "text NOT NULL DEFAULT 'cloud'"),
	COL("room", "recording_trigger", "text NOT NULL DEFAULT 'automatic-2nd-participant'"),
	COL("room", "is_shared", "boolean NOT NULL DEFAULT false"),
	COL("room", "platform", "text NOT NULL DEFAULT 'whereby'"),

	{ "meeting", "id", "text PRIMARY KEY", "text" },
	COL("meeting", "room_name", "text"),
	COL("meeting", "room_url", "text"),
	COL("meeting", "host_room_url", "text"),
	COL("meeting", "start_date", "timestamptz"),
	COL("meeting", "end_date", "timestamptz"),
	COL("meeting", "user_id", "text"),
	COL("meeting", "room_id", "text"),
	COL("meeting", "is_locked", "boolean NOT NULL DEFAULT false"),
	COL("meeting", "room_mode", "text NOT NULL DEFAULT 'normal'"),
	COL("meeting", "recording_type", "text NOT NULL DEFAULT 'cloud'"),
	COL("meeting", "recording_trigger", "text NOT NULL DEFAULT 'automatic-2nd-participant'"),
	COL("meeting", "num_clients", "integer NOT NULL DEFAULT 0"),
	COL("meeting", "is_active", "boolean NOT NULL DEFAULT true"),
	COL("meeting", "platform", "text NOT NULL DEFAULT 'whereby'"),
	COL("meeting", "events", "json NOT NULL DEFAULT '[]'"),

	{ "recording", "id", "text PRIMARY KEY", "text" },
	COL("recording", "meeting_id", "text"),
	COL("recording", "bucket_name", "text"),
	COL("recording", "object_key", "text"),
	COL("recording", "recorded_at", "timestamptz"),
	COL("recording", "status", "text NOT NULL DEFAULT 'pending'"),

	/* append-only: one row per stored event, never updated. event is
	 * the element of meeting.events as written (json keeps its bytes);
	 * the other columns are what counting needs: occupant (NULL: counts
	 * nobody) joined (+1) or left (-1) at event_time, in scope ("" the
	 * main room, else the breakout room). dedup_key (NULL: none) makes
	 * a retried event a no-op. */
	{ "meeting_event", "id", "bigserial PRIMARY KEY", NULL },
	{ "meeting_event", "meeting_id", "text NOT NULL", NULL },
	{ "meeting_event", "received_at",
	    "timestamptz NOT NULL DEFAULT now()", NULL },
	{ "meeting_event", "type", "text NOT NULL", NULL },
	{ "meeting_event", "event", "json NOT NULL", NULL },
	{ "meeting_event", "dedup_key", "text", NULL },
	{ "meeting_event", "occupant", "text", NULL },
	{ "meeting_event", "scope", "text NOT NULL DEFAULT ''", NULL },
	{ "meeting_event", "delta", "smallint NOT NULL DEFAULT 0", NULL },
	{ "meeting_event", "event_time", "timestamptz NOT NULL", NULL },
	{ "meeting_event", "reported_count", "integer", NULL },

	/* what meeting.events held before the pipeline first wrote it (a
	 * Reflector meeting's own events): kept in front of the new ones */
	{ "meeting_event_base", "meeting_id", "text PRIMARY KEY", NULL },
	{ "meeting_event_base", "events", "json NOT NULL", NULL },
	{ "meeting_event_base", "captured_at",
	    "timestamptz NOT NULL DEFAULT now()", NULL },

	{ "jibri_pipeline_schema", "version", "integer PRIMARY KEY", NULL },
	{ "jibri_pipeline_schema", "applied_at",
	    "timestamptz NOT NULL DEFAULT now()", NULL },
};

/* Table constraints beyond the columns' own, by table (CREATE only). */
static const struct {
	const char *table;
	const char *constraint;
} migrate_constraints[] = {
	{ "meeting_event", "UNIQUE (meeting_id, dedup_key)" },
};

/* Indexes: the lookups the endpoint makes (a meeting by its room name,
 * a meeting's events in order). Named jp_*: a Reflector index on the
 * same columns under its own name is left alone. */
static const struct {
	const char *name;
	const char *table;
	const char *columns;
} migrate_indexes[] = {
	{ "jp_meeting_room_name_idx", "meeting", "room_name" },
	{ "jp_recording_meeting_id_idx", "recording", "meeting_id" },
	{ "jp_meeting_event_meeting_id_idx", "meeting_event", "meeting_id, id" },
};

#define MIGRATE_NCOLUMNS (sizeof(migrate_columns) / sizeof(migrate_columns[0]))

/* pg_advisory_xact_lock's key: "jpmigr" in ASCII, for nobody else's. */
#define MIGRATE_LOCK_KEY "116983276513650"

/* Append to an allocated buffer. */
static void
migrate_cat(char **buf, size_t *len, const char *s)
{
	size_t n = strlen(s);

	*buf = xrealloc(*buf, *len + n + 1);
	memcpy(*buf + *len, s, n + 1);
	*len += n;
}

/* Whether relation name (table or index, in the search path) exists:
 * 1, 0, or -1 with err. */
static int
migrate_exists(PGconn *conn, const char *name, char *err, size_t errlen)
{
	const char *params[1] = { name };
	PGresult *r;
	int yes;

	if (db_exec(conn, "look up a table", "SELECT to_regclass($1) IS NOT NULL",
	    1, params, &r, err, errlen) < 0)
		return -1;
	yes = PQntuples(r) == 1 && strcmp(PQgetvalue(r, 0, 0), "t") == 0;
	PQclear(r);
	return yes;
}

/* CREATE TABLE IF NOT EXISTS table, with every column of the table. */
static int
migrate_create(PGconn *conn, const char *table, char *err, size_t errlen)
{
	char *sql = NULL, what[128];
	size_t len = 0, i;
	int first = 1, rc;

	migrate_cat(&sql, &len, "CREATE TABLE IF NOT EXISTS ");
	migrate_cat(&sql, &len, table);
	migrate_cat(&sql, &len, " (");
	for (i = 0; i < MIGRATE_NCOLUMNS; i++) {
		if (strcmp(migrate_columns[i].table, table) != 0)
			continue;
		migrate_cat(&sql, &len, first ? "" : ", ");
		migrate_cat(&sql, &len, migrate_columns[i].name);
		migrate_cat(&sql, &len, " ");
		migrate_cat(&sql, &len, migrate_columns[i].create);
		first = 0;
	}
	for (i = 0; i < sizeof(migrate_constraints) /
	    sizeof(migrate_constraints[0]); i++) {
		if (strcmp(migrate_constraints[i].table, table) != 0)
			continue;
		migrate_cat(&sql, &len, ", ");
		migrate_cat(&sql, &len, migrate_constraints[i].constraint);
	}
	migrate_cat(&sql, &len, ")");
	snprintf(what, sizeof(what), "create table %s", table);
	rc = db_exec(conn, what, sql, 0, NULL, NULL, err, errlen);
	free(sql);
	return rc;
}

/* Add the columns table lacks (it existed before: someone else's, or an
 * older version's). Only missing ones are named: ALTER TABLE takes an
 * exclusive lock even when IF NOT EXISTS finds nothing to do, and a
 * live Reflector database should not queue behind a no-op. */
static int
migrate_add_columns(PGconn *conn, const char *table, char *err,
    size_t errlen)
{
	const char *params[1] = { table };
	const struct migrate_column *c;
	char *sql = NULL, what[160];
	PGresult *r = NULL;
	int i, n, found, rc = -1;
	size_t k;

	if (db_exec(conn, "list the columns of a table",
	    "SELECT column_name FROM information_schema.columns "
	    "WHERE table_schema = current_schema() AND table_name = $1",
	    1, params, &r, err, errlen) < 0)
		goto fail;
	n = PQntuples(r);
	for (k = 0; k < MIGRATE_NCOLUMNS; k++) {
		c = &migrate_columns[k];
		if (strcmp(c->table, table) != 0 || c->add == NULL)
			continue;
		for (found = 0, i = 0; i < n && !found; i++)
			found = strcmp(PQgetvalue(r, i, 0), c->name) == 0;
		if (found)
			continue;
		if (asprintf(&sql, "ALTER TABLE %s ADD COLUMN IF NOT EXISTS "
		    "%s %s", table, c->name, c->add) < 0) {
			snprintf(err, errlen, "add column %s.%s: out of memory",
			    table, c->name);
			sql = NULL;
			goto fail;
		}
		snprintf(what, sizeof(what), "add column %s.%s", table, c->name);
		if (db_exec(conn, what, sql, 0, NULL, NULL, err, errlen) < 0)
			goto fail;
		free(sql);
		sql = NULL;
	}
	rc = 0;
fail:
	free(sql);
	PQclear(r);
	return rc;
}

static int
migrate_tables(PGconn *conn, char *err, size_t errlen)
{
	const char *table, *last = NULL;
	char *sql = NULL, what[160];
	size_t i;
	int e;

	for (i = 0; i < MIGRATE_NCOLUMNS; i++) {
		table = migrate_columns[i].table;
		if (last != NULL && strcmp(last, table) == 0)
			continue;
		last = table;
		if ((e = migrate_exists(conn, table, err, errlen)) < 0)
			return -1;
		if (e == 0 && migrate_create(conn, table, err, errlen) < 0)
			return -1;
		if (e == 1 && migrate_add_columns(conn, table, err,
		    errlen) < 0)
			return -1;
	}
	for (i = 0; i < sizeof(migrate_indexes) / sizeof(migrate_indexes[0]);
	    i++) {
		if ((e = migrate_exists(conn, migrate_indexes[i].name, err,
		    errlen)) < 0)
			return -1;
		if (e == 1)
			continue;
		if (asprintf(&sql, "CREATE INDEX IF NOT EXISTS %s ON %s (%s)",
		    migrate_indexes[i].name, migrate_indexes[i].table,
		    migrate_indexes[i].columns) < 0) {
			snprintf(err, errlen, "create index %s: out of memory",
			    migrate_indexes[i].name);
			return -1;
		}
		snprintf(what, sizeof(what), "create index %s",
		    migrate_indexes[i].name);
		e = db_exec(conn, what, sql, 0, NULL, NULL, err, errlen);
		free(sql);
		if (e < 0)
			return -1;
	}
	return 0;
}

int
migrate_run(PGconn *conn, char *err, size_t errlen)
{
	const char *key[1] = { MIGRATE_LOCK_KEY };
	char version[16], sub[512];
	const char *params[1] = { version };

	if (db_exec(conn, "begin the migration", "BEGIN", 0, NULL, NULL, err,
	    errlen) < 0)
		return -1;
	if (db_exec(conn, "set the migration's lock timeout",
	    "SET LOCAL lock_timeout = '" MIGRATE_LOCK_TIMEOUT "'", 0, NULL,
	    NULL, err, errlen) < 0)
		goto fail;
	/* another jibri-pipeline migrating now: wait for it, then find
	 * everything done */
	if (db_exec(conn, "wait for another migration (advisory lock)",
	    "SELECT pg_advisory_xact_lock($1::bigint)", 1, key, NULL, err,
	    errlen) < 0)
		goto fail;
	if (migrate_tables(conn, err, errlen) < 0)
		goto fail;
	snprintf(version, sizeof(version), "%d", MIGRATE_VERSION);
	if (db_exec(conn, "record the schema version",
	    "INSERT INTO jibri_pipeline_schema (version) VALUES ($1::integer) "
	    "ON CONFLICT (version) DO NOTHING", 1, params, NULL, err,
	    errlen) < 0)
		goto fail;
	if (db_exec(conn, "commit the migration", "COMMIT", 0, NULL, NULL, err,
	    errlen) < 0)
		goto fail;
	return 0;
fail:
	/* keep the first error: the rollback's own would only say the
	 * transaction was aborted */
	(void)db_exec(conn, "roll back the migration", "ROLLBACK", 0, NULL,
	    NULL, sub, sizeof(sub));
	return -1;
}

int
migrate_version(PGconn *conn, int *version, char *err, size_t errlen)
{
	PGresult *r;
	int e;

	*version = 0;
	if ((e = migrate_exists(conn, "jibri_pipeline_schema", err,
	    errlen)) < 0)
		return -1;
	if (e == 0)
		return 0;
	if (db_exec(conn, "read the schema version",
	    "SELECT coalesce(max(version), 0) FROM jibri_pipeline_schema", 0,
	    NULL, &r, err, errlen) < 0)
		return -1;
	if (PQntuples(r) == 1)
		*version = (int)strtol(PQgetvalue(r, 0, 0), NULL, 10);
	PQclear(r);
	return 0;
}
