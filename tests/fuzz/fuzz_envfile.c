/* fuzz_envfile.c -- libFuzzer harness: any bytes as an env file (envfile_parse_text) and as one line (envfile_parse_line). */
#include "base/envfile.h"
#include "fuzz.h"

#include <ctype.h>
#include <string.h>

struct seen {
	int lineno;             /* of the last setting */
};

/* A key is a shell name; lines are reported in order, each once. */
static void
setting(void *arg, int lineno, const char *key, const char *value)
{
	struct seen *s = arg;
	const char *p;

	FUZZ_CHECK(lineno > s->lineno, "line %d after line %d", lineno,
	    s->lineno);
	s->lineno = lineno;
	FUZZ_CHECK((key == NULL) == (value == NULL), "line %d: key %p, "
	    "value %p", lineno, (const void *)key, (const void *)value);
	if (key == NULL)
		return;
	FUZZ_CHECK(key[0] != '\0' && !isdigit((unsigned char)key[0]),
	    "line %d: key `%s'", lineno, key);
	for (p = key; *p != '\0'; p++)
		FUZZ_CHECK(isalnum((unsigned char)*p) || *p == '_',
		    "line %d: key `%s'", lineno, key);
	(void)strlen(value);
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct seen s = { 0 };
	char *text, *key = NULL, *value = NULL;
	size_t i;
	int rc;

	if (size > ENVFILE_MAX)
		return 0;
	text = malloc(size + 1);
	FUZZ_CHECK(text != NULL, "malloc");
	memcpy(text, data, size);
	text[size] = '\0';

	/* the whole input as one line (up to a NUL), as parse_text would
	 * see a line */
	rc = envfile_parse_line(text, &key, &value);
	FUZZ_CHECK(rc >= -1 && rc <= 1, "parse_line: %d", rc);
	if (rc == 1) {
		FUZZ_CHECK(key != NULL && value != NULL, "parse_line: 1 "
		    "without a key");
		FUZZ_CHECK(strlen(value) <= size, "a value longer than its line");
		free(key);
		envfile_free_secret(value, strlen(value));
	}

	envfile_parse_text(text, size, setting, &s);
	/* every byte wiped, secrets included */
	for (i = 0; i < size; i++)
		FUZZ_CHECK(text[i] == '\0', "byte %zu not wiped", i);
	free(text);
	return 0;
}
