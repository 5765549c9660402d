/* envfile.c -- one line of an env file (KEY=VALUE), as systemd EnvironmentFile= reads it. */
#include "envfile.h"
#include "util.h"

#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

int
envfile_parse_line(const char *line, char **key, char **value)
{
	const char *p = line, *k;
	size_t klen;
	char *out;
	size_t n = 0;

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
	out = xmalloc(strlen(p) + 1);
	while (*p == ' ' || *p == '\t')
		p++;
	if (*p == '"') {
		for (p++; *p != '"'; p++) {
			if (*p == '\0') {
				free(out);
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
				free(out);
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
		free(out);
		return -1;
	}
	out[n] = '\0';
	*key = xstrndup(k, klen);
	*value = out;
	return 1;
}

char *
envfile_get(const char *path, const char *key)
{
	char *line = NULL, *k, *v, *found = NULL;
	size_t cap = 0;
	FILE *f;

	f = fopen(path, "re");
	if (f == NULL)
		return NULL;
	while (getline(&line, &cap, f) > 0) {
		if (envfile_parse_line(line, &k, &v) != 1)
			continue;
		if (strcmp(k, key) == 0) {
			free(found);
			found = v;
		} else {
			free(v);
		}
		free(k);
	}
	free(line);
	fclose(f);
	return found;
}
