/* db.h -- PostgreSQL through libpq: connecting with DATABASE_URL, checked statements. */
#ifndef JP_DB_H
#define JP_DB_H

#include <stddef.h>

#include <libpq-fe.h>

/* Seconds libpq waits for the server to answer a connection attempt,
 * unless DATABASE_URL sets connect_timeout itself: a database that is
 * down must not hold `check' or the daemon's start for libpq's default
 * of forever. */
#define DB_CONNECT_TIMEOUT "5"

/* Connect with url (DATABASE_URL: a postgresql:// URL or a libpq
 * "key=value" string). NULL on failure with err naming DATABASE_URL,
 * the URL with its password redacted and libpq's reason (also
 * redacted). The connection reports itself as application_name
 * jibri-pipeline and speaks UTF-8. */
PGconn *db_connect(const char *url, char *err, size_t errlen);

/* Close a connection; NULL is fine. */
void db_close(PGconn *conn);

/* A copy of text (a DATABASE_URL, or a message that may quote it) with
 * the password of url removed: the userinfo of every URL in it becomes
 * "***" (util_url_redact) and every literal occurrence of the password
 * url carries (in its userinfo, ?password= or password=) becomes "***".
 * Newly allocated (xmalloc). */
char *db_redact(const char *url, const char *text);

/*
 * Run one statement, parameterised ($1..$n, nparams text values in
 * params; NULL entries are SQL NULL): the only way this program sends
 * SQL with values in it. what names the statement's purpose for the
 * error ("create table meeting"). Success is PGRES_COMMAND_OK or
 * PGRES_TUPLES_OK: 0, with the result in *res when res is not NULL
 * (PQclear it). Anything else: -1, err = "what: the server's message"
 * (with its SQLSTATE), *res NULL.
 */
int db_exec(PGconn *conn, const char *what, const char *sql, int nparams,
    const char *const *params, PGresult **res, char *err, size_t errlen);

#endif
