/* test_db.c -- unit tests of db.c: DATABASE_URL's password never shown. */
#include "api/db.h"

#include "unit.h"

static void
check_redact(const char *url, const char *text, const char *want)
{
	char *got = db_redact(url, text);

	CHECK_STR(got, want);
	free(got);
}

static void
db_redact_forms(void)
{
	/* a URL: its userinfo, and the password wherever it is quoted */
	check_redact("postgresql://jp:s3cret@db:5432/x",
	    "postgresql://jp:s3cret@db:5432/x", "postgresql://***@db:5432/x");
	check_redact("postgresql://jp:s3cret@db/x",
	    "FATAL: role s3cret?", "FATAL: role ***?");
	/* percent-encoded: libpq's value and the raw spelling */
	check_redact("postgresql://jp@db/x?password=p%26q",
	    "p&q p%26q", "*** ***");
	/* ?password= and key=value */
	check_redact("postgresql://jp@db/x?password=zz9&sslmode=require",
	    "postgresql://jp@db/x?password=zz9&sslmode=require",
	    "postgresql://***@db/x?password=***&sslmode=require");
	check_redact("host=db user=jp password=zz9 dbname=x",
	    "host=db user=jp password=zz9 dbname=x",
	    "host=db user=jp password=*** dbname=x");
	/* a string libpq cannot parse still loses its password= value */
	check_redact("host=db password=zz9 port='5",
	    "bad: host=db password=zz9 port='5", "bad: host=db password=*** port='5");
	/* a password of stars ends (each match replaced once) */
	check_redact("host=db password=*", "a*b", "a***b");
	check_redact("postgresql://u:***@db/x", "pw ***", "pw ***");
	/* nothing to hide */
	check_redact("postgresql://db/x", "postgresql://db/x",
	    "postgresql://db/x");
	check_redact("", "no url", "no url");
}

static void
db_connect_refused(void)
{
	char err[1024];
	PGconn *c;

	/* port 1 on loopback: refused at once, the message names the key
	 * and hides the password */
	c = db_connect("postgresql://jp:hunter2@127.0.0.1:1/x", err,
	    sizeof(err));
	CHECK(c == NULL);
	CHECK(strncmp(err, "DATABASE_URL: `postgresql://***@127.0.0.1:1/x': "
	    "cannot connect: ", 48) == 0);
	CHECK(strstr(err, "hunter2") == NULL);
	CHECK(strchr(err, '\n') == NULL);
	db_close(NULL);
}

UNIT_MAIN("db", T(db_redact_forms), T(db_connect_refused))
