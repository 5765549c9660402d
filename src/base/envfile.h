/* envfile.h -- env files (KEY=VALUE, as systemd EnvironmentFile= reads them) and the secret files they name. */
#ifndef JP_ENVFILE_H
#define JP_ENVFILE_H

#include <stdbool.h>
#include <stddef.h>

/* The largest env file read: a configuration, not a data set. */
#define ENVFILE_MAX (1 << 20)

/* Parse one env-file line into key and value: optional "export ", double
 * quotes with backslash escapes, single quotes taken literally, unquoted
 * values trimmed. Returns 1 with a key, 0 for blank and comment lines (#
 * or ;), -1 for a malformed line. key and value are allocated (xmalloc).
 * libc only: jibri-finalize links it. */
int envfile_parse_line(const char *line, char **key, char **value);

/* Read a whole small regular file of at most max bytes. It is opened
 * with O_NONBLOCK and checked on the open descriptor, so a FIFO, device
 * or directory fails at once (EINVAL) instead of blocking; a symlink as
 * the last component is followed only when follow (else ELOOP). The
 * result is NUL-terminated, *len (when not NULL) its length; it is read
 * into one buffer that is never reallocated, so no copy of a secret is
 * left behind. NULL with errno set (EFBIG when larger than max). The
 * caller frees it with envfile_free_secret. */
char *envfile_read_file(const char *path, size_t max, bool follow,
    size_t *len);

/* Wipe n bytes at p (explicit_bzero: no compiler drops it), then free p.
 * NULL is fine. */
void envfile_free_secret(char *p, size_t n);

/* Called for each setting of an env file: key and value (wiped after the
 * call), its line number; key and value are NULL for a line that does
 * not parse. */
typedef void envfile_setting_fn(void *arg, int lineno, const char *key,
    const char *value);

/* Parse text, len bytes long (text[len] == '\0'), an env file's content,
 * calling fn for each setting. text is split in place and the whole of it
 * wiped (all len bytes) before this returns, as is every value. */
void envfile_parse_text(char *text, size_t len, envfile_setting_fn *fn,
    void *arg);

/* Read the env file at path (envfile_read_file, ENVFILE_MAX, follow) and
 * parse it (envfile_parse_text): 0, or -1 with errno when it cannot be
 * read. Nothing of its content is left in memory afterwards. */
int envfile_read(const char *path, bool follow, envfile_setting_fn *fn,
    void *arg);

/* Look up one key in an env file (symlinks followed): the value
 * (allocated) or NULL when the file cannot be read or has no such key.
 * The last assignment wins. */
char *envfile_get(const char *path, const char *key);

#endif
