/* buf.c -- a growing text buffer with a hard cap: what the metrics and the status page are written into. */
#include "base/buf.h"

#include "base/util.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

void
buf_init(struct buf *b, size_t max)
{
	memset(b, 0, sizeof(*b));
	b->max = max;
}

/* Room for n more bytes and the NUL; false (and over) past max. */
static bool
buf_grow(struct buf *b, size_t n)
{
	size_t want;

	if (n > b->max - b->len) {
		b->over = true;
		return false;
	}
	want = b->len + n + 1;
	if (want > b->cap) {
		b->cap = b->cap ? b->cap : 1024;
		while (b->cap < want)
			b->cap *= 2;
		b->p = xrealloc(b->p, b->cap);
	}
	return true;
}

void
buf_add(struct buf *b, const char *s, size_t n)
{
	if (!buf_grow(b, n))
		return;
	memcpy(b->p + b->len, s, n);
	b->len += n;
	b->p[b->len] = '\0';
}

void
buf_puts(struct buf *b, const char *s)
{
	buf_add(b, s, strlen(s));
}

void
buf_printf(struct buf *b, const char *fmt, ...)
{
	va_list ap;
	int n;

	va_start(ap, fmt);
	n = vsnprintf(NULL, 0, fmt, ap);
	va_end(ap);
	if (n < 0 || !buf_grow(b, (size_t)n))
		return;
	va_start(ap, fmt);
	vsnprintf(b->p + b->len, (size_t)n + 1, fmt, ap);
	va_end(ap);
	b->len += (size_t)n;
}

char *
buf_take(struct buf *b)
{
	char *s = b->p != NULL ? b->p : xstrdup("");

	b->p = NULL;
	b->len = b->cap = 0;
	return s;
}

void
buf_free(struct buf *b)
{
	if (b == NULL)
		return;
	free(b->p);
	b->p = NULL;
	b->len = b->cap = 0;
}
