/* buf.h -- a growing text buffer with a hard cap: what the metrics and the status page are written into. */
#ifndef JP_BUF_H
#define JP_BUF_H

#include <stdbool.h>
#include <stddef.h>

/*
 * Text appended piece by piece, always NUL-terminated. Every buffer has
 * a maximum size (curl's dynbuf rule): an append that would pass it is
 * dropped whole and `over' is set, so a runaway producer costs at most
 * max bytes and the caller can tell the text is incomplete. Allocation
 * cannot fail (util.h's xrealloc).
 */
struct buf {
	char *p;                /* NULL until the first append */
	size_t len, cap;
	size_t max;             /* bytes of text at most */
	bool over;              /* something was dropped */
};

/* An empty buffer that holds at most max bytes of text. */
void buf_init(struct buf *b, size_t max);

void buf_add(struct buf *b, const char *s, size_t n);
void buf_puts(struct buf *b, const char *s);
void buf_printf(struct buf *b, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));

/* The text (malloc'd, "" when nothing was added); b is empty after. */
char *buf_take(struct buf *b);

/* Drop the text; NULL and an empty buffer are fine. */
void buf_free(struct buf *b);

#endif
