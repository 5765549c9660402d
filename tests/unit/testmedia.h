/* testmedia.h -- media helpers for the probe/remux unit tests.
 *
 * Recordings made by ffmpeg, files read and patched, ffprobe/framemd5
 * cross-checks. */
#ifndef JP_TESTMEDIA_H
#define JP_TESTMEDIA_H

#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <jansson.h>

#include "base/fsutil.h"
#include "media/mp4box.h"
#include "base/util.h"

/* The scratch directory of this test binary, made on first use and
 * removed at exit. */
static char tm_dir_buf[256];

static inline void
tm_cleanup(void)
{
	if (tm_dir_buf[0] != '\0')
		fs_remove_tree(tm_dir_buf);
}

static inline const char *
tm_dir(void)
{
	if (tm_dir_buf[0] == '\0') {
		const char *t = getenv("TMPDIR");
		snprintf(tm_dir_buf, sizeof(tm_dir_buf), "%s/jp-unit-XXXXXX",
		    t != NULL && t[0] != '\0' ? t : "/tmp");
		if (mkdtemp(tm_dir_buf) == NULL) {
			perror("mkdtemp");
			exit(2);
		}
		atexit(tm_cleanup);
	}
	return tm_dir_buf;
}

/* A path in the scratch directory (static buffers, rotating). */
static inline const char *
tm_path(const char *name)
{
	static char bufs[8][512];
	static int i;
	char *b = bufs[i++ % 8];

	snprintf(b, 512, "%s/%s", tm_dir(), name);
	return b;
}

static inline int
tm_system(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

/* Run a shell command (paths in it are ours: no quoting needed). */
static inline int
tm_system(const char *fmt, ...)
{
	char cmd[4096];
	va_list ap;
	int rc;

	va_start(ap, fmt);
	vsnprintf(cmd, sizeof(cmd), fmt, ap);
	va_end(ap);
	rc = system(cmd);
	if (rc != 0)
		fprintf(stderr, "  command failed (%d): %s\n", rc, cmd);
	return rc;
}

/* The stdout of a shell command, NUL-terminated; NULL on failure. */
static inline char *
tm_capture(const char *cmd)
{
	size_t len = 0, cap = 65536, n;
	char *buf = xmalloc(cap);
	FILE *p = popen(cmd, "r");

	if (p == NULL) {
		free(buf);
		return NULL;
	}
	while ((n = fread(buf + len, 1, cap - len - 1, p)) > 0) {
		len += n;
		if (cap - len < 2) {
			cap *= 2;
			buf = xrealloc(buf, cap);
		}
	}
	buf[len] = '\0';
	if (pclose(p) != 0) {
		fprintf(stderr, "  command failed: %s\n", cmd);
		free(buf);
		return NULL;
	}
	return buf;
}

/* A Jibri-like recording (H.264 testsrc + AAC 44.1 kHz sine, moov at the
 * end) of the given length, size and video bit rate, plus extra ffmpeg
 * output options; made once per name. Returns its path. */
static inline const char *
tm_recording(const char *name, int seconds, const char *size,
    const char *vbitrate, const char *extra)
{
	const char *path = tm_path(name);
	struct stat st;

	if (stat(path, &st) == 0)
		return path;
	if (tm_system("ffmpeg -nostdin -loglevel error -y "
	    "-f lavfi -i testsrc=size=%s:rate=15:duration=%d "
	    "-f lavfi -i sine=frequency=440:sample_rate=44100:duration=%d "
	    "-c:v libx264 -preset ultrafast -pix_fmt yuv420p -b:v %s "
	    "-c:a aac -b:a 128k -ar 44100 -ac 2 %s %s", size, seconds,
	    seconds, vbitrate, extra ? extra : "", path) != 0)
		return NULL;
	return path;
}

static inline uint8_t *
tm_read(const char *path, size_t *len)
{
	return (uint8_t *)fs_read_file(path, 1u << 30, len);
}

static inline int
tm_write(const char *path, const void *data, size_t len)
{
	int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, 0644);
	ssize_t w;

	if (fd < 0)
		return -1;
	w = write(fd, data, len);
	close(fd);
	return w == (ssize_t)len ? 0 : -1;
}

static inline bool
tm_exists(const char *path)
{
	struct stat st;

	return lstat(path, &st) == 0;
}

static inline int64_t
tm_size(const char *path)
{
	struct stat st;

	return stat(path, &st) == 0 ? (int64_t)st.st_size : -1;
}

/* Top-level box types joined by commas: "ftyp,free,moov,mdat". */
static inline void
tm_box_order(const char *path, char *out, size_t size)
{
	struct mp4box_layout *l = xmalloc(sizeof(*l));
	char err[256], ts[16];
	size_t i, o = 0;
	int fd = open(path, O_RDONLY);

	out[0] = '\0';
	if (fd >= 0 && mp4box_scan(fd, (uint64_t)tm_size(path), l, err,
	    sizeof(err)) == MP4BOX_OK) {
		for (i = 0; i < l->n && o < size; i++)
			o += (size_t)snprintf(out + o, size - o, "%s%s",
			    i > 0 ? "," : "", mp4box_type_str(l->box[i].type, ts));
	}
	if (fd >= 0)
		close(fd);
	free(l);
}

/* Offset of the first top-level box of this type, or -1. */
static inline int64_t
tm_box_offset(const uint8_t *buf, size_t len, const char *type)
{
	size_t off = 0;
	uint64_t size;

	while (off + 8 <= len) {
		size = mp4box_rb32(buf + off);
		if (size == 1 && off + 16 <= len)
			size = mp4box_rb64(buf + off + 8);
		else if (size == 0)
			size = len - off;
		if (memcmp(buf + off + 4, type, 4) == 0)
			return (int64_t)off;
		if (size < 8)
			return -1;
		off += size;
	}
	return -1;
}

/* Offset of the first occurrence of a box type anywhere (a plain search
 * for the four letters after a plausible size), from `from`. */
static inline int64_t
tm_find(const uint8_t *buf, size_t len, size_t from, const char *type)
{
	size_t i;

	for (i = from + 4; i + 4 <= len; i++)
		if (memcmp(buf + i, type, 4) == 0)
			return (int64_t)(i - 4);
	return -1;
}

/* The framemd5 lines of a stream copy of path with the given ffmpeg
 * stream selection; header comments dropped. Newly allocated. */
static inline char *
tm_framemd5(const char *path, const char *select)
{
	char cmd[2048], *out, *p, *q;

	snprintf(cmd, sizeof(cmd), "ffmpeg -nostdin -loglevel error -i %s %s "
	    "-c copy -f framemd5 -", path, select);
	out = tm_capture(cmd);
	if (out == NULL)
		return NULL;
	for (p = q = out; *p != '\0';) {
		char *nl = strchr(p, '\n');
		size_t n = nl ? (size_t)(nl - p + 1) : strlen(p);
		if (p[0] != '#') {
			memmove(q, p, n);
			q += n;
		}
		p += n;
	}
	*q = '\0';
	return out;
}

/* Only the stream, size and hash columns of framemd5 lines: what
 * survives a change of container time base. Newly allocated. */
static inline char *
tm_packets(const char *framemd5)
{
	char *out = xmalloc(strlen(framemd5) + 1), *o = out;
	const char *p = framemd5, *f[8];
	size_t nf;

	while (*p != '\0') {
		const char *end = strchr(p, '\n');
		if (end == NULL)
			end = p + strlen(p);
		/* stream, dts, pts, duration, size, hash[, side data] */
		for (nf = 0, f[nf++] = p; p < end && nf < 8; p++)
			if (*p == ',')
				f[nf++] = p + 1;
		if (nf >= 6) {
			const char *h = f[5], *he = nf > 6 ? f[6] - 1 : end;
			memcpy(o, f[0], (size_t)(f[1] - f[0]));
			o += f[1] - f[0];
			memcpy(o, f[4], (size_t)(f[5] - f[4]));
			o += f[5] - f[4];
			memcpy(o, h, (size_t)(he - h));
			o += he - h;
			*o++ = '\n';
		}
		p = *end ? end + 1 : end;
	}
	*o = '\0';
	return out;
}

static inline json_t *
tm_ffprobe(const char *path)
{
	char cmd[1024], *out;
	json_t *j;

	snprintf(cmd, sizeof(cmd), "ffprobe -v error -show_format "
	    "-show_streams -of json %s", path);
	out = tm_capture(cmd);
	if (out == NULL)
		return NULL;
	j = json_loads(out, 0, NULL);
	free(out);
	return j;
}

static inline const char *
tm_jstr(json_t *o, const char *key)
{
	const char *s = json_string_value(json_object_get(o, key));
	return s != NULL ? s : "";
}

static inline double
tm_jnum(json_t *o, const char *key)
{
	json_t *v = json_object_get(o, key);

	if (json_is_string(v))
		return strtod(json_string_value(v), NULL);
	return json_number_value(v);
}

#endif
