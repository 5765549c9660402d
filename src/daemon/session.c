/* session.c -- a Jibri session directory: media files, room name, metadata without secrets. */
#include "daemon/session.h"
#include "base/fsutil.h"
#include "base/util.h"

#include <ctype.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <unistd.h>

#define METADATA_MAX (1 << 20)

static const char *const media_exts[] = { ".mp4", ".mkv", ".webm", ".mov",
	".m4v" };

bool
session_is_media_name(const char *name)
{
	size_t i, n = strlen(name), e;

	if (name[0] == '.' || strstr(name, ".tmp-") != NULL)
		return false;
	for (i = 0; i < sizeof(media_exts) / sizeof(media_exts[0]); i++) {
		e = strlen(media_exts[i]);
		if (n > e && strcasecmp(name + n - e, media_exts[i]) == 0)
			return true;
	}
	return false;
}

/* Call fn for every media file directly in the open directory dirfd:
 * regular files only, never a symlink (a link in a session directory may
 * point anywhere). 0, or -1 with errno when it cannot be read. */
static int
each_media(int dirfd, void (*fn)(const char *name, void *ctx), void *ctx)
{
	struct dirent *de;
	struct stat st;
	int fd;
	DIR *d;

	fd = openat(dirfd, ".", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (fd < 0 || (d = fdopendir(fd)) == NULL) {
		if (fd >= 0)
			close(fd);
		return -1;
	}
	while ((de = readdir(d)) != NULL)
		if (session_is_media_name(de->d_name) &&
		    fstatat(dirfd, de->d_name, &st, AT_SYMLINK_NOFOLLOW) == 0 &&
		    S_ISREG(st.st_mode))
			fn(de->d_name, ctx);
	closedir(d);
	return 0;
}

struct media_list {
	const char *dir;
	char **v;
	size_t n, cap;
};

static void
add_media(const char *name, void *ctx)
{
	struct media_list *l = ctx;

	if (l->n == l->cap) {
		l->cap = l->cap ? l->cap * 2 : 4;
		l->v = xrealloc(l->v, l->cap * sizeof(char *));
	}
	l->v[l->n++] = xasprintf("%s/%s", l->dir, name);
}

char **
session_media_files(const char *dir, size_t *n)
{
	struct media_list l = { .dir = dir };
	int dirfd, rc, saved;

	*n = 0;
	dirfd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (dirfd < 0)
		return NULL;
	rc = each_media(dirfd, add_media, &l);
	saved = errno;
	close(dirfd);
	if (rc < 0) {
		session_free_list(l.v, l.n);
		errno = saved;
		return NULL;
	}
	if (l.n > 1)
		qsort(l.v, l.n, sizeof(char *), util_cmp_strp);
	if (l.v == NULL)
		l.v = xcalloc(1, sizeof(char *));
	*n = l.n;
	return l.v;
}

static void
count_media(const char *name, void *ctx)
{
	(void)name;
	(*(int *)ctx)++;
}

int
session_count_media_at(int dirfd)
{
	int n = 0;

	return each_media(dirfd, count_media, &n) < 0 ? -1 : n;
}

void
session_free_list(char **v, size_t n)
{
	size_t i;

	for (i = 0; v != NULL && i < n; i++)
		free(v[i]);
	free(v);
}

static int
hexval(int c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	c = tolower(c);
	if (c >= 'a' && c <= 'f')
		return c - 'a' + 10;
	return -1;
}

char *
session_room_from_url(const char *url)
{
	const char *p, *end, *seg = NULL;
	size_t seglen = 0, i, n = 0;
	char *out;

	if (url == NULL)
		return NULL;
	p = strstr(url, "://");
	p = p ? p + 3 : url;
	p = strchr(p, '/');     /* skip the host */
	if (p == NULL)
		return NULL;
	end = p + strcspn(p, "?#");
	/* the last non-empty segment */
	while (p < end) {
		const char *s;
		while (p < end && *p == '/')
			p++;
		s = p;
		while (p < end && *p != '/')
			p++;
		if (p > s) {
			seg = s;
			seglen = (size_t)(p - s);
		}
	}
	if (seg == NULL)
		return NULL;
	out = xmalloc(seglen + 1);
	for (i = 0; i < seglen; i++) {
		if (seg[i] == '%' && i + 2 < seglen &&
		    hexval((unsigned char)seg[i + 1]) >= 0 &&
		    hexval((unsigned char)seg[i + 2]) >= 0) {
			out[n++] = (char)(hexval((unsigned char)seg[i + 1]) * 16 +
			    hexval((unsigned char)seg[i + 2]));
			i += 2;
		} else {
			out[n++] = seg[i];
		}
	}
	out[n] = '\0';
	if (n == 0 || memchr(out, '\0', n) != NULL) {
		free(out);
		return NULL;
	}
	return out;
}

char *
session_room_from_filename(const char *path)
{
	/* <room>_yyyy-MM-dd-HH-mm-ss.ext: 19 characters of date after '_' */
	static const char shape[] = "dddd-dd-dd-dd-dd-dd";
	const char *base = strrchr(path, '/'), *dot;
	size_t stem, i;

	base = base ? base + 1 : path;
	dot = strrchr(base, '.');
	stem = dot ? (size_t)(dot - base) : strlen(base);
	if (stem < 21 || base[stem - 20] != '_')
		return NULL;
	for (i = 0; i < 19; i++) {
		char c = base[stem - 19 + i];
		if (shape[i] == 'd' ? !isdigit((unsigned char)c) : c != shape[i])
			return NULL;
	}
	return xstrndup(base, stem - 20);
}

static bool
secret_key(const char *k)
{
	static const char *const parts[] = { "token", "secret", "password",
		"credential", "authorization", "api_key", "apikey" };
	size_t i;

	if (strcasecmp(k, "jwt") == 0)
		return true;
	for (i = 0; i < sizeof(parts) / sizeof(parts[0]); i++)
		if (strcasestr(k, parts[i]) != NULL)
			return true;
	return false;
}

json_t *
session_sanitize(const json_t *in)
{
	const char *k;
	json_t *v, *out;
	size_t i;

	if (json_is_object(in)) {
		out = json_object();
		json_object_foreach((json_t *)in, k, v) {
			if (!secret_key(k))
				json_object_set_new(out, k, session_sanitize(v));
		}
		return out;
	}
	if (json_is_array(in)) {
		out = json_array();
		json_array_foreach(in, i, v)
			json_array_append_new(out, session_sanitize(v));
		return out;
	}
	return json_deep_copy(in);
}

/* Length of the valid UTF-8 sequence at s (1-4), or 0 when invalid. */
static size_t
utf8_len(const unsigned char *s)
{
	size_t n, i;
	unsigned int cp;

	if (s[0] < 0x80)
		return 1;
	if ((s[0] & 0xe0) == 0xc0) { n = 2; cp = s[0] & 0x1f; }
	else if ((s[0] & 0xf0) == 0xe0) { n = 3; cp = s[0] & 0x0f; }
	else if ((s[0] & 0xf8) == 0xf0) { n = 4; cp = s[0] & 0x07; }
	else return 0;
	for (i = 1; i < n; i++) {
		if ((s[i] & 0xc0) != 0x80)
			return 0;
		cp = (cp << 6) | (s[i] & 0x3f);
	}
	if ((n == 2 && cp < 0x80) || (n == 3 && cp < 0x800) ||
	    (n == 4 && (cp < 0x10000 || cp > 0x10ffff)) ||
	    (cp >= 0xd800 && cp <= 0xdfff))
		return 0;
	return n;
}

char *
session_key_component(const char *s)
{
	const unsigned char *p = (const unsigned char *)s;
	size_t cap = 200, n = 0, l;
	char *out = xmalloc(cap + 2);

	while (*p != '\0') {
		l = utf8_len(p);
		if (l == 0) {
			l = 1;
			if (n + 1 > cap)
				break;
			out[n++] = '_';
		} else if (l == 1 && (*p < 0x20 || *p == 0x7f || *p == '/' ||
		    *p == '\\')) {
			if (n + 1 > cap)
				break;
			out[n++] = '_';
		} else {
			if (n + l > cap)
				break;
			memcpy(out + n, p, l);
			n += l;
		}
		p += l;
	}
	out[n] = '\0';
	if (n == 0 || strcmp(out, ".") == 0 || strcmp(out, "..") == 0) {
		free(out);
		return xasprintf("_%s", n ? s : "");
	}
	return out;
}

void
session_load(const char *source, int dirfd, const char *legacy_room,
    struct session_info *info)
{
	char dir[PATH_MAX];
	const char *base, *url;
	json_error_t jerr;
	json_t *meta;
	size_t len;
	char *text, *dot;

	memset(info, 0, sizeof(*info));
	fs_dirname(source, dir, sizeof(dir));
	base = strrchr(source, '/');
	base = base ? base + 1 : source;
	if (dirfd >= 0) {
		const char *name = strrchr(dir, '/');
		info->session_dir = xstrdup(dir);
		info->session_id = xstrdup(name ? name + 1 : dir);
	} else {
		info->session_id = xstrdup(base);
		dot = strrchr(info->session_id, '.');
		if (dot != NULL && dot != info->session_id)
			*dot = '\0';
	}

	if (dirfd >= 0) {
		/* through the directory that was checked, not by name: the
		 * name may point elsewhere by now. Not a FIFO, not a link. */
		text = fs_read_file_at(dirfd, "metadata.json", METADATA_MAX, &len);
		if (text == NULL) {
			if (errno != ENOENT)
				info->metadata_error = xasprintf("%s/metadata.json: %s",
				    dir, errno == EINVAL ? "not a regular file" :
				    errno == ELOOP ? "a symlink (not followed)" :
				    errno == EFBIG ? "larger than 1 MiB" :
				    strerror(errno));
		} else {
			meta = json_loadb(text, len, JSON_REJECT_DUPLICATES, &jerr);
			if (meta == NULL || !json_is_object(meta))
				info->metadata_error = xasprintf("%s/metadata.json: not "
				    "a JSON object: %s", dir, meta ? "" : jerr.text);
			else
				info->metadata = session_sanitize(meta);
			json_decref(meta);
			/* the original may hold a live upload token */
			explicit_bzero(text, len);
			free(text);
		}
	}

	url = json_string_value(json_object_get(info->metadata, "meeting_url"));
	if (url != NULL)
		info->meeting_url = xstrdup(url);
	if ((info->room_name = session_room_from_url(url)) != NULL)
		info->room_source = xstrdup("meeting_url");
	else if ((info->room_name = session_room_from_filename(source)) != NULL)
		info->room_source = xstrdup("file_name");
	else if (legacy_room != NULL && *legacy_room != '\0') {
		info->room_name = xstrdup(legacy_room);
		info->room_source = xstrdup("legacy");
	} else {
		info->room_name = xstrdup("unknown");
		info->room_source = xstrdup("none");
	}
}

void
session_info_free(struct session_info *info)
{
	free(info->session_dir);
	free(info->session_id);
	free(info->room_name);
	free(info->room_source);
	free(info->meeting_url);
	json_decref(info->metadata);
	free(info->metadata_error);
	memset(info, 0, sizeof(*info));
}
