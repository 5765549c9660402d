/* envfile.c -- env files (KEY=VALUE, as systemd EnvironmentFile= reads them) and the secret files they name. */
#include "base/envfile.h"
#include "base/fsutil.h"
#include "base/util.h"

#include <ctype.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

void
envfile_free_secret(char *p, size_t n)
{
	if (p == NULL)
		return;
	explicit_bzero(p, n);
	free(p);
}

int
envfile_parse_line(const char *line, char **key, char **value)
{
	const char *p = line, *k;
	size_t klen;
	char *out;
	size_t n = 0, cap;

	while (isspace((unsigned char)*p))
		p++;
	if (*p == '\0' || *p == '#' || *p == ';')
		return 0;
	if (strncmp(p, "export ", 7) == 0)
		p += 7;
	while (*p == ' ')
		p++;
	k = p;
	while (isalnum((unsigned char)*p) || *p == '_')
		p++;
	klen = (size_t)(p - k);
	if (klen == 0 || isdigit((unsigned char)*k) || *p != '=')
		return -1;
	p++;
	cap = strlen(p) + 1;
	out = xmalloc(cap);
	while (*p == ' ' || *p == '\t')
		p++;
	if (*p == '"') {
		for (p++; *p != '"'; p++) {
			if (*p == '\0') {
				envfile_free_secret(out, cap);
				return -1;
			}
			if (*p == '\\' && p[1] != '\0') {
				p++;
				out[n++] = *p == 'n' ? '\n' : *p;
			} else {
				out[n++] = *p;
			}
		}
		p++;
	} else if (*p == '\'') {
		for (p++; *p != '\''; p++) {
			if (*p == '\0') {
				envfile_free_secret(out, cap);
				return -1;
			}
			out[n++] = *p;
		}
		p++;
	} else {
		while (*p != '\0' && *p != '\n')
			out[n++] = *p++;
		while (n > 0 && isspace((unsigned char)out[n - 1]))
			n--;
		p = "";
	}
	while (isspace((unsigned char)*p))
		p++;
	if (*p != '\0' && *p != '#') {
		envfile_free_secret(out, cap);
		return -1;
	}
	out[n] = '\0';
	*key = xstrndup(k, klen);
	*value = out;
	return 1;
}

char *
envfile_read_file(const char *path, size_t max, bool follow, size_t *len)
{
	return fs_read_secret(path, max, follow, len);
}

void
envfile_parse_text(char *text, size_t len, envfile_setting_fn *fn, void *arg)
{
	char *line, *next, *end = text + len, *key, *value;
	int lineno = 0, rc;

	/* strtok_r would skip empty lines and miscount them */
	for (line = text; line < end; line = next) {
		next = memchr(line, '\n', (size_t)(end - line));
		if (next != NULL)
			*next++ = '\0';
		else
			next = end;
		lineno++;
		rc = envfile_parse_line(line, &key, &value);
		if (rc == 0)
			continue;
		if (rc < 0) {
			fn(arg, lineno, NULL, NULL);
			continue;
		}
		fn(arg, lineno, key, value);
		free(key);
		envfile_free_secret(value, strlen(value));
	}
	/* every byte: the lines were split with NULs, so strlen(text) would
	 * cover the first line only */
	explicit_bzero(text, len);
}

int
envfile_read(const char *path, bool follow, envfile_setting_fn *fn, void *arg)
{
	size_t len;
	char *text;

	text = envfile_read_file(path, ENVFILE_MAX, follow, &len);
	if (text == NULL)
		return -1;
	envfile_parse_text(text, len, fn, arg);
	free(text);     /* wiped by envfile_parse_text */
	return 0;
}

/* envfile_get's search: the last assignment of key. */
struct lookup {
	const char *key;
	char *found;
};

static void
lookup_setting(void *arg, int lineno, const char *key, const char *value)
{
	struct lookup *l = arg;

	(void)lineno;
	if (key == NULL || strcmp(key, l->key) != 0)
		return;
	if (l->found != NULL)
		envfile_free_secret(l->found, strlen(l->found));
	l->found = xstrdup(value);
}

char *
envfile_get(const char *path, const char *key)
{
	struct lookup l = { key, NULL };

	if (envfile_read(path, true, lookup_setting, &l) < 0)
		return NULL;
	return l.found;
}
