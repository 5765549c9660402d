/* test_journal.c -- the event journal: durable appends, torn tails, the bound, refusals. */
#include "unit.h"
#include "api/journal.h"
#include "base/fsutil.h"
#include "base/util.h"

#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdbool.h>
#include <stdlib.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <unistd.h>

#define MAX (1024 * 1024)

static char dir[] = "/tmp/jp-test-journal-XXXXXX";

/* A fresh path in the scratch directory (the file removed). */
static char *
fresh(const char *name)
{
	char *path = xasprintf("%s/%s", dir, name);

	unlink(path);
	return path;
}

/* The whole file, NUL-terminated ("" when missing). */
static char *
slurp(const char *path, size_t *len)
{
	char *s = fs_read_file(path, 16 * MAX, len);

	if (s == NULL) {
		*len = 0;
		return xstrdup("");
	}
	return s;
}

static bool
file_is(const char *path, const char *want)
{
	size_t len;
	char *s = slurp(path, &len);
	bool same = len == strlen(want) && memcmp(s, want, len) == 0;

	if (!same)
		fprintf(stderr, "  %s holds `%s', want `%s'\n", path, s, want);
	free(s);
	return same;
}

/* What journal_each handed over: every line joined with '\n' after it. */
struct seen {
	char *text;
	size_t len;
	size_t calls;
	size_t stop_at;   /* return stop_rc on this call (1-based), 0: never */
	int stop_rc;
	bool bad_nul;     /* line[len] was not NUL */
};

static int
collect(const char *line, size_t len, void *ctx)
{
	struct seen *s = ctx;

	if (line[len] != '\0' || strlen(line) != len)
		s->bad_nul = true;
	s->text = xrealloc(s->text, s->len + len + 2);
	memcpy(s->text + s->len, line, len);
	s->len += len;
	s->text[s->len++] = '\n';
	s->text[s->len] = '\0';
	s->calls++;
	return s->calls == s->stop_at ? s->stop_rc : 0;
}

/* Read the journal back with journal_each: the lines joined, or NULL. */
static char *
read_back(struct journal *j, size_t *calls)
{
	struct seen s = { 0 };
	char err[512];

	s.text = xstrdup("");
	if (journal_each(j, collect, &s, err, sizeof(err)) != 0) {
		fprintf(stderr, "  journal_each: %s\n", err);
		free(s.text);
		return NULL;
	}
	CHECK(!s.bad_nul);
	if (calls != NULL)
		*calls = s.calls;
	return s.text;
}

static int
append1(struct journal *j, const char *line, char *err, size_t errlen)
{
	return journal_append(j, &line, 1, err, errlen);
}

static void
roundtrip(void)
{
	static const char *const one[] = { "{\"a\":1}", "{\"b\":2}", "" };
	static const char *const two[] = { "{\"c\":3}", "{\"d\":\"x y\"}" };
	const char *want = "{\"a\":1}\n{\"b\":2}\n\n{\"c\":3}\n{\"d\":\"x y\"}\n";
	char *path = fresh("rt.journal"), *back;
	char err[512] = "";
	struct journal *j;
	struct stat st;
	size_t calls = 0;

	j = journal_open(path, MAX, err, sizeof(err));
	CHECK(j != NULL);
	if (j == NULL) {
		fprintf(stderr, "  %s\n", err);
		free(path);
		return;
	}
	CHECK(lstat(path, &st) == 0 && S_ISREG(st.st_mode));
	CHECK_INT(st.st_mode & 07777, 0600);
	CHECK_INT(journal_lines(j), 0);
	CHECK_INT(journal_bytes(j), 0);
	CHECK_INT(journal_append(j, one, 0, err, sizeof(err)), 0);
	CHECK(file_is(path, ""));
	CHECK_INT(journal_append(j, one, 3, err, sizeof(err)), 0);
	CHECK_INT(journal_append(j, two, 2, err, sizeof(err)), 0);
	CHECK_INT(journal_lines(j), 5);
	CHECK_INT(journal_bytes(j), strlen(want));
	CHECK(file_is(path, want));
	back = read_back(j, &calls);
	CHECK_STR(back, want);
	CHECK_INT(calls, 5);
	free(back);
	journal_close(j);
	free(path);
}

static void
reopen(void)
{
	static const char *const lines[] = { "first", "second", "third" };
	char *path = fresh("reopen.journal"), *back;
	char err[512] = "";
	struct journal *j;

	j = journal_open(path, MAX, err, sizeof(err));
	CHECK(j != NULL);
	if (j == NULL)
		goto out;
	CHECK_INT(journal_append(j, lines, 3, err, sizeof(err)), 0);
	journal_close(j);
	j = journal_open(path, MAX, err, sizeof(err));
	CHECK(j != NULL);
	if (j == NULL)
		goto out;
	CHECK_INT(journal_lines(j), 3);
	CHECK_INT(journal_bytes(j), strlen("first\nsecond\nthird\n"));
	back = read_back(j, NULL);
	CHECK_STR(back, "first\nsecond\nthird\n");
	free(back);
	/* appending after a reopen goes at the end, not over the start */
	CHECK_INT(append1(j, "fourth", err, sizeof(err)), 0);
	CHECK(file_is(path, "first\nsecond\nthird\nfourth\n"));
	journal_close(j);
out:
	free(path);
}

/* Add raw bytes to the file with a plain write, as a crash mid-append
 * leaves them. */
static void
tear(const char *path, const char *bytes)
{
	int fd = open(path, O_WRONLY | O_APPEND | O_CLOEXEC);

	CHECK(fd >= 0);
	CHECK(fs_write_all(fd, bytes, strlen(bytes)) == 0);
	close(fd);
}

static void
torn_tail(void)
{
	static const char *const lines[] = { "{\"a\":1}", "{\"b\":2}" };
	char *path = fresh("torn.journal"), *back;
	char err[512] = "";
	struct journal *j;
	size_t calls = 0;

	j = journal_open(path, MAX, err, sizeof(err));
	CHECK(j != NULL);
	if (j == NULL)
		goto out;
	CHECK_INT(journal_append(j, lines, 2, err, sizeof(err)), 0);
	journal_close(j);
	/* a long torn line: a short new one must not leave its end behind */
	tear(path, "{\"half\":\"a torn line, longer than the next one");
	j = journal_open(path, MAX, err, sizeof(err));
	CHECK(j != NULL);
	if (j == NULL)
		goto out;
	CHECK_INT(journal_lines(j), 2);
	CHECK_INT(journal_bytes(j), strlen("{\"a\":1}\n{\"b\":2}\n"));
	back = read_back(j, &calls);
	CHECK_STR(back, "{\"a\":1}\n{\"b\":2}\n");
	CHECK_INT(calls, 2);
	free(back);
	CHECK_INT(append1(j, "{\"c\":3}", err, sizeof(err)), 0);
	CHECK(file_is(path, "{\"a\":1}\n{\"b\":2}\n{\"c\":3}\n"));
	CHECK_INT(journal_lines(j), 3);
	journal_close(j);

	/* a file holding nothing but a torn line */
	free(path);
	path = fresh("torn-only.journal");
	CHECK(fs_write_atomic(path, "{\"x\"", 4, 0600, false) == 0);
	j = journal_open(path, MAX, err, sizeof(err));
	CHECK(j != NULL);
	if (j == NULL)
		goto out;
	CHECK_INT(journal_lines(j), 0);
	CHECK_INT(journal_bytes(j), 0);
	back = read_back(j, &calls);
	CHECK_STR(back, "");
	free(back);
	CHECK_INT(append1(j, "y", err, sizeof(err)), 0);
	CHECK(file_is(path, "y\n"));
	journal_close(j);
out:
	free(path);
}

static void
full(void)
{
	char *path = fresh("full.journal");
	char err[512] = "";
	struct journal *j;

	/* 20 bytes: two lines of 10 fit exactly, a third byte does not */
	j = journal_open(path, 20, err, sizeof(err));
	CHECK(j != NULL);
	if (j == NULL)
		goto out;
	CHECK_INT(append1(j, "012345678", err, sizeof(err)), 0);
	err[0] = '\0';
	CHECK_INT(append1(j, "abcdefghij", err, sizeof(err)), -1);
	CHECK(strstr(err, path) != NULL);
	CHECK(strstr(err, "is full (10 of 20 bytes") != NULL);
	CHECK(strstr(err, "unreachable") != NULL);
	CHECK(file_is(path, "012345678\n"));
	CHECK_INT(journal_lines(j), 1);
	CHECK_INT(journal_bytes(j), 10);
	CHECK_INT(append1(j, "abcdefghi", err, sizeof(err)), 0);
	CHECK(file_is(path, "012345678\nabcdefghi\n"));
	CHECK_INT(append1(j, "", err, sizeof(err)), -1);
	CHECK(file_is(path, "012345678\nabcdefghi\n"));
	journal_close(j);
	/* a batch that would pass the bound is refused whole */
	free(path);
	path = fresh("full-batch.journal");
	j = journal_open(path, 20, err, sizeof(err));
	CHECK(j != NULL);
	if (j == NULL)
		goto out;
	{
		static const char *const batch[] = { "aaaa", "bbbb", "cccc",
		    "dddd", "eeee" };
		CHECK_INT(journal_append(j, batch, 5, err, sizeof(err)), -1);
		CHECK(file_is(path, ""));
		CHECK_INT(journal_lines(j), 0);
		CHECK_INT(journal_append(j, batch, 4, err, sizeof(err)), 0);
		CHECK(file_is(path, "aaaa\nbbbb\ncccc\ndddd\n"));
	}
	journal_close(j);
out:
	free(path);
}

static void
clear(void)
{
	static const char *const lines[] = { "one", "two", "three" };
	char *path = fresh("clear.journal"), *back;
	char err[512] = "";
	struct journal *j;
	size_t calls = 99;

	j = journal_open(path, MAX, err, sizeof(err));
	CHECK(j != NULL);
	if (j == NULL)
		goto out;
	CHECK_INT(journal_append(j, lines, 3, err, sizeof(err)), 0);
	CHECK_INT(journal_clear(j, err, sizeof(err)), 0);
	CHECK_INT(journal_lines(j), 0);
	CHECK_INT(journal_bytes(j), 0);
	CHECK(file_is(path, ""));
	back = read_back(j, &calls);
	CHECK_STR(back, "");
	CHECK_INT(calls, 0);
	free(back);
	CHECK_INT(append1(j, "four", err, sizeof(err)), 0);
	CHECK(file_is(path, "four\n"));
	journal_close(j);
	j = journal_open(path, MAX, err, sizeof(err));
	CHECK(j != NULL);
	if (j == NULL)
		goto out;
	CHECK_INT(journal_lines(j), 1);
	journal_close(j);
out:
	free(path);
}

/* journal_open blocked (a FIFO opened without O_NONBLOCK): fail loudly
 * rather than hang the suite. */
static void
on_alarm(int sig)
{
	static const char msg[] = "  journal_open blocked on a FIFO\n";
	ssize_t w;

	(void)sig;
	w = write(2, msg, sizeof(msg) - 1);
	(void)w;
	_exit(1);
}

/* journal_open refuses path: NULL, err naming it and the words want. */
static void
refused(const char *path, const char *want)
{
	char err[512] = "";
	struct journal *j;

	alarm(5);
	j = journal_open(path, MAX, err, sizeof(err));
	alarm(0);
	CHECK(j == NULL);
	journal_close(j);
	CHECK(strstr(err, path) != NULL);
	if (strstr(err, want) == NULL) {
		fprintf(stderr, "  err `%s' lacks `%s'\n", err, want);
		CHECK(strstr(err, want) != NULL);
	}
}

static void
not_regular(void)
{
	char *fifo = fresh("fifo.journal"), *target = fresh("target");
	char *link = fresh("link.journal"), *dangling = fresh("dangling.journal");
	char *sub = xasprintf("%s/dir.journal", dir);
	char *missing = xasprintf("%s/no/such/dir/events.journal", dir);
	char *gone = xasprintf("%s/never", dir);
	struct stat st;

	signal(SIGALRM, on_alarm);
	CHECK(mkfifo(fifo, 0600) == 0);
	refused(fifo, "is a FIFO");
	CHECK(lstat(fifo, &st) == 0 && S_ISFIFO(st.st_mode));

	CHECK(fs_write_atomic(target, "keep\n", 5, 0600, false) == 0);
	CHECK(symlink(target, link) == 0);
	refused(link, "is a symbolic link");
	CHECK(file_is(target, "keep\n"));

	unlink(gone);
	CHECK(symlink(gone, dangling) == 0);
	refused(dangling, "is a symbolic link");
	CHECK(lstat(gone, &st) < 0 && errno == ENOENT);

	rmdir(sub);
	CHECK(mkdir(sub, 0700) == 0);
	refused(sub, "is a directory");

	refused(missing, "No such file");
	signal(SIGALRM, SIG_DFL);
	unlink(fifo);
	unlink(target);
	unlink(link);
	unlink(dangling);
	rmdir(sub);
	free(fifo);
	free(target);
	free(link);
	free(dangling);
	free(sub);
	free(missing);
	free(gone);
}

static void
newline_refused(void)
{
	static const char *const batch[] = { "{\"ok\":1}", "{\"bad\":\n1}" };
	char *path = fresh("nl.journal");
	char err[512] = "";
	struct journal *j;

	j = journal_open(path, MAX, err, sizeof(err));
	CHECK(j != NULL);
	if (j == NULL)
		goto out;
	CHECK_INT(journal_append(j, batch, 2, err, sizeof(err)), -1);
	CHECK(strstr(err, "line 2") != NULL);
	CHECK(strstr(err, "newline") != NULL);
	CHECK(strstr(err, path) != NULL);
	CHECK(file_is(path, ""));
	CHECK_INT(journal_lines(j), 0);
	CHECK_INT(append1(j, "\n", err, sizeof(err)), -1);
	CHECK_INT(journal_append(j, batch, 1, err, sizeof(err)), 0);
	CHECK(file_is(path, "{\"ok\":1}\n"));
	journal_close(j);
out:
	free(path);
}

static void
stop_early(void)
{
	static const char *const lines[] = { "a", "b", "c", "d" };
	char *path = fresh("stop.journal");
	char err[512] = "";
	struct journal *j;
	struct seen s = { 0 };

	j = journal_open(path, MAX, err, sizeof(err));
	CHECK(j != NULL);
	if (j == NULL)
		goto out;
	CHECK_INT(journal_append(j, lines, 4, err, sizeof(err)), 0);
	s.stop_at = 2;
	s.stop_rc = 7;
	CHECK_INT(journal_each(j, collect, &s, err, sizeof(err)), 7);
	CHECK_INT(s.calls, 2);
	CHECK_STR(s.text, "a\nb\n");
	free(s.text);
	/* a negative value too, and nothing changed by stopping */
	memset(&s, 0, sizeof(s));
	s.stop_at = 1;
	s.stop_rc = -5;
	CHECK_INT(journal_each(j, collect, &s, err, sizeof(err)), -5);
	CHECK_INT(s.calls, 1);
	free(s.text);
	CHECK_INT(journal_lines(j), 4);
	journal_close(j);
out:
	free(path);
}

static void
big_lines(void)
{
	enum { BIG = 64 * 1024, HUGE = 150 * 1024 + 7 };
	char *path = fresh("big.journal"), *back, *want;
	char *line[5];
	char err[512] = "";
	struct journal *j;
	size_t i, calls = 0, len = 0;

	/* sizes that straddle every read chunk boundary */
	for (i = 0; i < 5; i++) {
		size_t n = i == 1 ? 3 : i == 3 ? HUGE : BIG - 1 + i;
		line[i] = xmalloc(n + 1);
		for (size_t k = 0; k < n; k++)
			line[i][k] = (char)('a' + (i * 7 + k) % 26);
		line[i][n] = '\0';
		len += n + 1;
	}
	want = xmalloc(len + 1);
	want[0] = '\0';
	for (i = 0, len = 0; i < 5; i++) {
		size_t n = strlen(line[i]);
		memcpy(want + len, line[i], n);
		want[len + n] = '\n';
		len += n + 1;
		want[len] = '\0';
	}
	j = journal_open(path, 4 * MAX, err, sizeof(err));
	CHECK(j != NULL);
	if (j == NULL)
		goto out;
	CHECK_INT(journal_append(j, (const char *const *)line, 2, err,
	    sizeof(err)), 0);
	CHECK_INT(journal_append(j, (const char *const *)line + 2, 3, err,
	    sizeof(err)), 0);
	CHECK_INT(journal_lines(j), 5);
	CHECK_INT(journal_bytes(j), len);
	back = read_back(j, &calls);
	CHECK(back != NULL && strcmp(back, want) == 0);
	CHECK_INT(calls, 5);
	free(back);
	journal_close(j);
	j = journal_open(path, 4 * MAX, err, sizeof(err));
	CHECK(j != NULL);
	if (j == NULL)
		goto out;
	CHECK_INT(journal_lines(j), 5);
	CHECK_INT(journal_bytes(j), len);
	journal_close(j);
out:
	for (i = 0; i < 5; i++)
		free(line[i]);
	free(want);
	free(path);
}

/* A write that fails part-way (RLIMIT_FSIZE: a short write, then EFBIG)
 * is cut back: the file, the counts and later appends as if it never
 * happened. */
static void
write_fails(void)
{
	static const char *const batch[] = { "0123456789", "abcdefghij",
	    "klmnopqrst" };
	char *path = fresh("efbig.journal");
	char err[512] = "";
	struct journal *j;
	struct rlimit old, lim;

	signal(SIGXFSZ, SIG_IGN);
	j = journal_open(path, MAX, err, sizeof(err));
	CHECK(j != NULL);
	if (j == NULL)
		goto out;
	CHECK_INT(append1(j, "first", err, sizeof(err)), 0);
	CHECK(getrlimit(RLIMIT_FSIZE, &old) == 0);
	lim = old;
	lim.rlim_cur = 6 + 15; /* "first\n" and half the batch */
	CHECK(setrlimit(RLIMIT_FSIZE, &lim) == 0);
	err[0] = '\0';
	CHECK_INT(journal_append(j, batch, 3, err, sizeof(err)), -1);
	CHECK(setrlimit(RLIMIT_FSIZE, &old) == 0);
	CHECK(strstr(err, path) != NULL);
	CHECK(strstr(err, "cannot write") != NULL);
	CHECK(file_is(path, "first\n"));
	CHECK_INT(journal_lines(j), 1);
	CHECK_INT(journal_bytes(j), 6);
	CHECK_INT(journal_append(j, batch, 1, err, sizeof(err)), 0);
	CHECK(file_is(path, "first\n0123456789\n"));
	journal_close(j);
	j = journal_open(path, MAX, err, sizeof(err));
	CHECK(j != NULL);
	if (j != NULL)
		CHECK_INT(journal_lines(j), 2);
	journal_close(j);
out:
	signal(SIGXFSZ, SIG_DFL);
	free(path);
}

int
main(void)
{
	static const struct unit_test tests[] = {
		T(roundtrip), T(reopen), T(torn_tail), T(full), T(clear),
		T(not_regular), T(newline_refused), T(stop_early), T(big_lines),
		T(write_fails),
	};
	int rc;

	if (mkdtemp(dir) == NULL)
		return 1;
	umask(022);
	rc = unit_run("journal", tests, sizeof(tests) / sizeof(tests[0]));
	fs_remove_tree(dir);
	return rc;
}
