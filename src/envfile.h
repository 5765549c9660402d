/* envfile.h -- one line of an env file (KEY=VALUE), as systemd EnvironmentFile= reads it. */
#ifndef JP_ENVFILE_H
#define JP_ENVFILE_H

/* Parse one env-file line into key and value: optional "export ", double
 * quotes with backslash escapes, single quotes taken literally, unquoted
 * values trimmed. Returns 1 with a key, 0 for blank and comment lines (#
 * or ;), -1 for a malformed line. key and value are allocated (xmalloc).
 * libc only: jibri-finalize links it. */
int envfile_parse_line(const char *line, char **key, char **value);

/* Look up one key in an env file: the value (allocated) or NULL when the
 * file cannot be read or has no such key. The last assignment wins. */
char *envfile_get(const char *path, const char *key);

#endif
