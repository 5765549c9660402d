/* journal.h -- accepted events kept on local disk while the database cannot take them. */
#ifndef JP_JOURNAL_H
#define JP_JOURNAL_H

#include <stddef.h>
#include <stdint.h>

/*
 * An append-only file of lines (each one JSON object, no newline inside),
 * in arrival order. A batch is written and fdatasync'ed before
 * journal_append returns, so what it accepted survives kill -9 and power
 * loss. A last line cut short by a crash was never acknowledged: reading
 * skips it and the next append first cuts it off. The file is bounded:
 * an append that would pass max_bytes is refused whole.
 *
 * Not thread-safe and needs no lock: one thread (the ingest writer) owns
 * a journal and makes every call on it.
 */
struct journal;

/* Open (create, mode 0600) the journal at path, never through a symlink
 * and only a regular file. NULL with err naming path and the reason. */
struct journal *journal_open(const char *path, uint64_t max_bytes, char *err,
    size_t errlen);
void journal_close(struct journal *j);

/* Append n lines durably (n == 0: nothing to do, 0). 0, or -1 with err
 * and nothing appended (a partial write is cut off again): "event journal
 * PATH is full (N of MAX bytes, ...)", "...: no space left on device", a
 * line holding a newline (the whole batch refused), or the write/fsync
 * error. */
int journal_append(struct journal *j, const char *const *lines, size_t n,
    char *err, size_t errlen);

/* Call fn for every complete line, oldest first (line is NUL-terminated,
 * len without the NUL). fn returning non-zero stops: that value is
 * returned. -1 with err when the file cannot be read. */
int journal_each(struct journal *j, int (*fn)(const char *line, size_t len,
    void *ctx), void *ctx, char *err, size_t errlen);

/* Lines and bytes held now. */
size_t journal_lines(const struct journal *j);
uint64_t journal_bytes(const struct journal *j);

/* Empty it (all replayed), durably: 0 or -1 with err. */
int journal_clear(struct journal *j, char *err, size_t errlen);

#endif
