/* fuzz_session.c -- libFuzzer harness: any bytes as a session's metadata.json (session_load, session_sanitize), and as a meeting URL, file name and key component. */
#include "daemon/session.h"
#include "fuzz.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <string.h>
#include <strings.h>

static char dir[PATH_MAX];      /* a session directory of our own */
static char source[PATH_MAX];   /* a recording in it (never opened) */
static int dirfd = -1;
static int metafd = -1;         /* metadata.json, kept open for writing */

static void
cleanup(void)
{
	if (dirfd >= 0)
		unlinkat(dirfd, "metadata.json", 0);
	if (dir[0] != '\0')
		rmdir(dir);
}

static void
setup(void)
{
	const char *tmp = getenv("TMPDIR");

	snprintf(dir, sizeof(dir), "%s/jp-fuzz-session.XXXXXX",
	    tmp != NULL && *tmp != '\0' ? tmp : "/tmp");
	FUZZ_CHECK(mkdtemp(dir) != NULL, "mkdtemp %s: %s", dir,
	    strerror(errno));
	snprintf(source, sizeof(source), "%s/standup_2025-01-15-11-15-00.mp4",
	    dir);
	dirfd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	FUZZ_CHECK(dirfd >= 0, "open %s: %s", dir, strerror(errno));
	metafd = openat(dirfd, "metadata.json", O_WRONLY | O_CREAT | O_CLOEXEC,
	    0600);
	FUZZ_CHECK(metafd >= 0, "metadata.json: %s", strerror(errno));
	atexit(cleanup);
}

/* The names session_sanitize must drop (session.h). */
static bool
secret_name(const char *k)
{
	static const char *const parts[] = { "token", "secret", "password",
		"credential", "authorization", "api_key", "apikey" };
	size_t i;

	if (strcasecmp(k, "jwt") == 0 || strcmp(k, "upload_credentials") == 0)
		return true;
	for (i = 0; i < sizeof(parts) / sizeof(parts[0]); i++)
		if (strcasestr(k, parts[i]) != NULL)
			return true;
	return false;
}

/* No secret at any depth of j. */
static void
check_clean(const json_t *j, int depth)
{
	const char *k;
	json_t *v;
	size_t i;

	if (json_is_object(j)) {
		json_object_foreach((json_t *)j, k, v) {
			FUZZ_CHECK(!secret_name(k), "key `%s' kept at depth %d",
			    k, depth);
			check_clean(v, depth + 1);
		}
	} else if (json_is_array(j)) {
		json_array_foreach(j, i, v)
			check_clean(v, depth + 1);
	}
}

/* Well-formed UTF-8, no overlong forms, surrogates or code points past
 * U+10FFFF. */
static bool
utf8_valid(const unsigned char *s)
{
	unsigned cp, n, i;

	while (*s != '\0') {
		if (*s < 0x80) {
			s++;
			continue;
		}
		if (*s >= 0xc2 && *s <= 0xdf)
			n = 1, cp = *s & 0x1f;
		else if (*s >= 0xe0 && *s <= 0xef)
			n = 2, cp = *s & 0x0f;
		else if (*s >= 0xf0 && *s <= 0xf4)
			n = 3, cp = *s & 0x07;
		else
			return false;
		for (i = 1; i <= n; i++) {
			if ((s[i] & 0xc0) != 0x80)
				return false;
			cp = cp << 6 | (s[i] & 0x3f);
		}
		if ((n == 2 && cp < 0x800) || (n == 3 && cp < 0x10000) ||
		    cp > 0x10ffff || (cp >= 0xd800 && cp <= 0xdfff))
			return false;
		s += n + 1;
	}
	return true;
}

/* What session_key_component promises (session.h). */
static void
check_component(const char *s)
{
	char *c = session_key_component(s);
	const unsigned char *p;
	size_t n = strlen(c);

	FUZZ_CHECK(n > 0 && n <= 200, "component of %zu bytes", n);
	FUZZ_CHECK(strcmp(c, ".") != 0 && strcmp(c, "..") != 0,
	    "component `%s'", c);
	for (p = (const unsigned char *)c; *p != '\0'; p++)
		FUZZ_CHECK(*p >= 0x20 && *p != 0x7f && *p != '/' && *p != '\\',
		    "component holds byte 0x%02x", *p);
	FUZZ_CHECK(utf8_valid((const unsigned char *)c),
	    "component is not UTF-8");
	free(c);
}

static void
check_strings(const char *s)
{
	char *room;

	room = session_room_from_url(s);
	if (room != NULL) {
		FUZZ_CHECK(room[0] != '\0', "an empty room from a URL");
		check_component(room);
		free(room);
	}
	room = session_room_from_filename(s);
	if (room != NULL) {
		FUZZ_CHECK(strlen(room) < strlen(s), "room `%s' from `%s'",
		    room, s);
		free(room);
	}
	(void)session_is_media_name(s);
	check_component(s);
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct session_info info;
	json_error_t jerr;
	json_t *j, *clean, *twice;
	const char *url;
	char *s;

	if (dirfd < 0)
		setup();

	/* metadata.json, as Jibri leaves it: read through the directory.
	 * Rewritten in place, then cut to size: ext4 flushes a file emptied
	 * by O_TRUNC when it is closed, a disk write every run. */
	FUZZ_CHECK(pwrite(metafd, data, size, 0) == (ssize_t)size &&
	    ftruncate(metafd, (off_t)size) == 0, "metadata.json: %s",
	    strerror(errno));
	session_load(source, dirfd, "legacy-room", &info);
	FUZZ_CHECK(info.session_id != NULL && info.room_name != NULL &&
	    info.room_source != NULL, "session_load left a field NULL");
	FUZZ_CHECK((info.metadata == NULL) == (info.metadata_error != NULL),
	    "metadata %p, error %s", (void *)info.metadata,
	    info.metadata_error ? info.metadata_error : "(none)");
	if (info.metadata != NULL) {
		check_clean(info.metadata, 0);
		url = json_string_value(json_object_get(info.metadata,
		    "meeting_url"));
		FUZZ_CHECK((url == NULL && info.meeting_url == NULL) ||
		    (url != NULL && info.meeting_url != NULL &&
		    strcmp(url, info.meeting_url) == 0), "meeting_url");
	}
	check_component(info.room_name);
	session_info_free(&info);

	/* any JSON value, duplicates allowed: sanitized once is for good */
	j = json_loadb((const char *)data, size, JSON_DECODE_ANY |
	    JSON_ALLOW_NUL, &jerr);
	if (j != NULL) {
		clean = session_sanitize(j);
		check_clean(clean, 0);
		twice = session_sanitize(clean);
		FUZZ_CHECK(json_equal(clean, twice), "sanitize is not "
		    "idempotent");
		json_decref(twice);
		json_decref(clean);
		json_decref(j);
	}

	s = malloc(size + 1);
	FUZZ_CHECK(s != NULL, "malloc");
	memcpy(s, data, size);
	s[size] = '\0';
	check_strings(s);
	free(s);
	return 0;
}
