/* request.c -- the spool's job requests: written by jibri-finalize, read by the daemon. */
#include "daemon/request.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <sys/random.h>
#include <time.h>
#include <unistd.h>

static int
put_field(char *buf, size_t size, size_t *off, const char *s)
{
	size_t n = strlen(s) + 1;

	if (*off + n > size)
		return -1;
	memcpy(buf + *off, s, n);
	*off += n;
	return 0;
}

int
request_encode(const struct request *r, char *buf, size_t size)
{
	size_t off = 0;

	if (put_field(buf, size, &off, REQUEST_MAGIC) < 0 ||
	    put_field(buf, size, &off, r->kind) < 0 ||
	    put_field(buf, size, &off, r->path) < 0 ||
	    put_field(buf, size, &off, r->room) < 0)
		return -1;
	return (int)off;
}

static int
get_field(const char *buf, size_t len, size_t *off, char *out, size_t size)
{
	const char *end;
	size_t n;

	if (*off >= len)
		return -1;
	end = memchr(buf + *off, '\0', len - *off);
	if (end == NULL)
		return -1;
	n = (size_t)(end - (buf + *off));
	if (n >= size)
		return -1;
	memcpy(out, buf + *off, n + 1);
	*off += n + 1;
	return 0;
}

int
request_decode(const char *buf, size_t len, struct request *r)
{
	char magic[64];
	size_t off = 0;

	if (get_field(buf, len, &off, magic, sizeof(magic)) < 0 ||
	    strcmp(magic, REQUEST_MAGIC) != 0 ||
	    get_field(buf, len, &off, r->kind, sizeof(r->kind)) < 0 ||
	    get_field(buf, len, &off, r->path, sizeof(r->path)) < 0 ||
	    get_field(buf, len, &off, r->room, sizeof(r->room)) < 0 ||
	    off != len)
		return -1;
	if (strcmp(r->kind, "session") != 0 && strcmp(r->kind, "file") != 0 &&
	    strcmp(r->kind, "retry") != 0)
		return -1;
	return 0;
}

int
request_write(const char *dir, const struct request *r, int durable,
    char *name, size_t size)
{
	char buf[REQUEST_MAX], tmp[4200], final[4200];
	unsigned int rnd = 0;
	struct timespec ts;
	ssize_t w;
	int len, fd, n, saved;

	len = request_encode(r, buf, sizeof(buf));
	if (len < 0) {
		errno = ENAMETOOLONG;
		return -1;
	}
	if (getrandom(&rnd, sizeof(rnd), GRND_NONBLOCK) < 0)
		rnd = (unsigned int)getpid() * 2654435761u;
	clock_gettime(CLOCK_REALTIME, &ts);
	/* names sort by time: the daemon takes requests oldest first */
	n = snprintf(name, size, "%lld.%09ld-%d-%08x.req", (long long)ts.tv_sec,
	    ts.tv_nsec, (int)getpid(), rnd);
	if (n < 0 || (size_t)n >= size ||
	    snprintf(tmp, sizeof(tmp), "%s/.%s", dir, name) >= (int)sizeof(tmp) ||
	    snprintf(final, sizeof(final), "%s/%s", dir, name) >=
	    (int)sizeof(final)) {
		errno = ENAMETOOLONG;
		return -1;
	}
	fd = open(tmp, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC | O_NOFOLLOW, 0640);
	if (fd < 0)
		return -1;
	w = write(fd, buf, (size_t)len);
	if (w != len || (durable && fsync(fd) < 0)) {
		saved = w < 0 || w == len ? errno : ENOSPC;
		close(fd);
		unlink(tmp);
		errno = saved;
		return -1;
	}
	if (close(fd) < 0 || rename(tmp, final) < 0) {
		saved = errno;
		unlink(tmp);
		errno = saved;
		return -1;
	}
	if (durable) {
		fd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
		if (fd >= 0) {
			fsync(fd);
			close(fd);
		}
	}
	return 0;
}
