/* db.c -- PostgreSQL through libpq: connecting with DATABASE_URL, checked statements. */
#include "api/db.h"

#include "base/util.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* libpq's messages end in a newline (sometimes several lines, with
 * double spaces): one line for ours. */
static void
db_trim(char *s)
{
	char *p, *o;

	for (p = o = s; *p != '\0'; p++) {
		if (*p == '\n' || *p == '\r' || *p == '\t')
			*p = ' ';
		if (*p == ' ' && (o == s || o[-1] == ' '))
			continue;
		*o++ = *p;
	}
	while (o > s && o[-1] == ' ')
		o--;
	*o = '\0';
}

/* The password url carries, as libpq reads it (NULL when none). */
static char *
db_password(const char *url)
{
	PQconninfoOption *opts, *o;
	char *pw = NULL;

	if ((opts = PQconninfoParse(url, NULL)) == NULL)
		return NULL;
	for (o = opts; o->keyword != NULL; o++)
		if (strcmp(o->keyword, "password") == 0 && o->val != NULL &&
		    o->val[0] != '\0')
			pw = xstrdup(o->val);
	PQconninfoFree(opts);
	return pw;
}

/* Replace every occurrence of needle in s (allocated) by "***",
 * searching on after each replacement (a password may hold "*"). */
static char *
db_blank(char *s, const char *needle)
{
	size_t n = strlen(needle), at = 0, off;
	char *p, *out;

	while ((p = strstr(s + at, needle)) != NULL) {
		off = (size_t)(p - s);
		out = xmalloc(strlen(s) - n + 3 + 1);
		memcpy(out, s, off);
		memcpy(out + off, "***", 3);
		memcpy(out + off + 3, p + n, strlen(p + n) + 1);
		free(s);
		s = out;
		at = off + 3;
	}
	return s;
}

char *
db_redact(const char *url, const char *text)
{
	const char *p;
	char *out, *pw, *raw;

	out = util_url_redact(text);
	if ((pw = db_password(url)) != NULL)
		out = db_blank(out, pw);
	/* and each password= as written (percent-encoded, quoted, or in a
	 * string libpq cannot parse, whose message may quote it) */
	for (p = url; (p = strstr(p, "password=")) != NULL; p++) {
		raw = xstrdup(p + strlen("password="));
		raw[strcspn(raw, "& \t")] = '\0';
		if (raw[0] != '\0' && (pw == NULL || strcmp(raw, pw) != 0))
			out = db_blank(out, raw);
		free(raw);
	}
	if (pw != NULL) {
		explicit_bzero(pw, strlen(pw));
		free(pw);
	}
	return out;
}

PGconn *
db_connect(const char *url, char *err, size_t errlen)
{
	/* before dbname: the URL's own settings override these */
	const char *keys[] = { "connect_timeout", "application_name",
	    "client_encoding", "dbname", NULL };
	const char *vals[] = { DB_CONNECT_TIMEOUT, "jibri-pipeline", "UTF8",
	    url, NULL };
	char *shown = NULL, *why = NULL, *msg;
	PGconn *conn;

	conn = PQconnectdbParams(keys, vals, 1);
	if (conn == NULL) {
		snprintf(err, errlen, "DATABASE_URL: out of memory connecting");
		return NULL;
	}
	if (PQstatus(conn) == CONNECTION_OK)
		return conn;
	msg = xstrdup(PQerrorMessage(conn));
	db_trim(msg);
	shown = db_redact(url, url);
	why = db_redact(url, msg);
	snprintf(err, errlen, "DATABASE_URL: `%s': cannot connect: %s: check "
	    "that the server runs and the URL's host, port, user, password "
	    "and database", shown, why);
	free(msg);
	free(shown);
	free(why);
	PQfinish(conn);
	return NULL;
}

void
db_close(PGconn *conn)
{
	if (conn != NULL)
		PQfinish(conn);
}

int
db_exec(PGconn *conn, const char *what, const char *sql, int nparams,
    const char *const *params, PGresult **res, char *err, size_t errlen)
{
	ExecStatusType st;
	const char *state;
	PGresult *r;
	char *msg;

	if (res != NULL)
		*res = NULL;
	r = PQexecParams(conn, sql, nparams, NULL, params, NULL, NULL, 0);
	st = r != NULL ? PQresultStatus(r) : PGRES_FATAL_ERROR;
	if (st == PGRES_COMMAND_OK || st == PGRES_TUPLES_OK) {
		if (res != NULL)
			*res = r;
		else
			PQclear(r);
		return 0;
	}
	msg = xstrdup(r != NULL && PQresultErrorMessage(r)[0] != '\0' ?
	    PQresultErrorMessage(r) : PQerrorMessage(conn));
	db_trim(msg);
	state = r != NULL ? PQresultErrorField(r, PG_DIAG_SQLSTATE) : NULL;
	if (state != NULL)
		snprintf(err, errlen, "%s: %s (SQLSTATE %s)", what, msg, state);
	else
		snprintf(err, errlen, "%s: %s", what, msg);
	free(msg);
	PQclear(r);
	return -1;
}
