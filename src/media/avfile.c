/* avfile.c -- libavformat reading our own file descriptors. */
#include "media/avfile.h"
#include "base/util.h"
#include "media/avlib.h"

#include <errno.h>
#include <fcntl.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>


/* 64 KiB: the demuxer refills this much per seek; an audio chunk of a
 * Jibri file is ~16 KiB, so a larger buffer would drag in more video. */
#define AVFILE_IN_BUF   (64 * 1024)
/* Outputs are written sequentially: fewer, larger writes. */
#define AVFILE_OUT_BUF  (256 * 1024)

/* The demuxers a recording can come in. Anything else (HLS playlists,
 * concat lists, image sequences...) could make libavformat open other
 * files or URLs, and is not a recording anyway. */
static const char *const avfile_formats[] = {
	"mov,mp4,m4a,3gp,3g2,mj2",
	"matroska,webm",
};

const char *
avfile_strerror(int averr, char *buf, size_t size)
{
	if (avlib.av_strerror(averr, buf, size) < 0)
		util_snprintf(buf, size, "libav error %d", averr);
	return buf;
}

bool
avfile_errno_is_io(int e)
{
	/* EINVAL and ELOOP come from what the file is, not from the system. */
	return e != 0 && e != EINVAL && e != ELOOP;
}

static int
avfile_read(void *opaque, uint8_t *buf, int n)
{
	struct avfile *f = opaque;
	ssize_t r;

	do
		r = pread(f->fd, buf, (size_t)n, (off_t)f->pos);
	while (r < 0 && errno == EINTR);
	if (r < 0) {
		f->sys_errno = errno;
		return AVERROR(errno);
	}
	if (r == 0)
		return AVERROR_EOF;
	f->pos += r;
	return (int)r;
}

/* Where a seek lands (AVSEEK_SIZE answered with size), or an AVERROR. */
static int64_t
avfile_seek_to(int64_t pos, int64_t size, int64_t off, int whence)
{
	int64_t to;

	switch (whence & ~AVSEEK_FORCE) {
	case AVSEEK_SIZE:
		return size;
	case SEEK_SET:
		to = off;
		break;
	case SEEK_CUR:
		to = pos + off;
		break;
	case SEEK_END:
		to = size + off;
		break;
	default:
		return AVERROR(EINVAL);
	}
	return to < 0 ? AVERROR(EINVAL) : to;
}

static int64_t
avfile_seek(void *opaque, int64_t off, int whence)
{
	struct avfile *f = opaque;
	int64_t to = avfile_seek_to(f->pos, f->size, off, whence);

	if (to >= 0 && (whence & ~AVSEEK_FORCE) != AVSEEK_SIZE)
		f->pos = to;
	return to;
}

int
avfile_classify(const struct avfile *f, int averr)
{
	if (f->sys_errno != 0 && avfile_errno_is_io(f->sys_errno))
		return AVFILE_IO;
	if (averr == AVERROR(ENOMEM))
		return AVFILE_IO;
	return AVFILE_BAD;
}

static bool
avfile_format_ok(const AVInputFormat *ifmt)
{
	size_t i;

	for (i = 0; i < sizeof(avfile_formats) / sizeof(avfile_formats[0]); i++)
		if (strcmp(ifmt->name, avfile_formats[i]) == 0)
			return true;
	return false;
}

int
avfile_open_path(const char *path, int *fd, int64_t *size, int *sys_errno,
    char *err, size_t errlen)
{
	*fd = -1;
	*sys_errno = 0;
	/* O_NONBLOCK: a FIFO planted in the recordings directory must not
	 * hang us in open(); regular files ignore the flag. */
	*fd = open(path, O_RDONLY | O_CLOEXEC | O_NOFOLLOW | O_NONBLOCK);
	if (*fd < 0) {
		if (errno == ELOOP) {
			util_snprintf(err, errlen, "is a symbolic link (not "
			    "followed)");
			return AVFILE_BAD;
		}
		*sys_errno = errno;
		util_snprintf(err, errlen, "cannot open: %s", strerror(errno));
		return AVFILE_IO;
	}
	return avfile_check_fd(fd, size, sys_errno, err, errlen);
}

int
avfile_check_fd(int *fd, int64_t *size, int *sys_errno, char *err,
    size_t errlen)
{
	struct stat st;
	int rc;

	*sys_errno = 0;
	if (fstat(*fd, &st) < 0) {
		*sys_errno = errno;
		util_snprintf(err, errlen, "cannot stat: %s", strerror(errno));
		rc = AVFILE_IO;
		goto fail;
	}
	if (!S_ISREG(st.st_mode)) {
		util_snprintf(err, errlen, "not a regular file");
		rc = AVFILE_BAD;
		goto fail;
	}
	if (st.st_size == 0) {
		util_snprintf(err, errlen, "empty file");
		rc = AVFILE_BAD;
		goto fail;
	}
	*size = st.st_size;
	return AVFILE_OK;
fail:
	close(*fd);
	*fd = -1;
	return rc;
}

/* The demuxer for f->pb, chosen by content among avfile_formats, with the
 * header read into f->fmt. On failure the caller closes f. */
static int
avfile_demux(struct avfile *f, const char *path, char *err, size_t errlen)
{
	const AVInputFormat *ifmt = NULL;
	AVDictionary *opts = NULL;
	char msg[128];
	int rc, ret;

	/* by content only: a text file named .mp4 is not "an MP4 without
	 * moov" */
	ret = avlib.av_probe_input_buffer2(f->pb, &ifmt, NULL, NULL, 0, 0);
	if (ret < 0) {
		rc = avfile_classify(f, ret);
		if (rc == AVFILE_IO)
			util_snprintf(err, errlen, "read error: %s",
			    strerror(f->sys_errno));
		else
			util_snprintf(err, errlen, "not a media file: %s",
			    avfile_strerror(ret, msg, sizeof(msg)));
		return rc;
	}
	if (!avfile_format_ok(ifmt)) {
		util_snprintf(err, errlen, "not a recording: %s (%s), want MP4 "
		    "or Matroska", ifmt->name, ifmt->long_name ? ifmt->long_name :
		    "?");
		return AVFILE_BAD;
	}

	f->fmt = avlib.avformat_alloc_context();
	if (f->fmt == NULL) {
		f->sys_errno = ENOMEM;
		util_snprintf(err, errlen, "out of memory");
		return AVFILE_IO;
	}
	f->fmt->pb = f->pb;
	f->fmt->flags |= AVFMT_FLAG_CUSTOM_IO;
	avlib.av_dict_set(&opts, "protocol_whitelist", "file", 0);
	ret = avlib.avformat_open_input(&f->fmt, path, ifmt, &opts);
	avlib.av_dict_free(&opts);
	if (ret < 0) {
		/* avformat_open_input freed the context, not our pb */
		f->fmt = NULL;
		rc = avfile_classify(f, ret);
		if (rc == AVFILE_IO)
			util_snprintf(err, errlen, "read error: %s",
			    f->sys_errno ? strerror(f->sys_errno) : "out of memory");
		else if (strcmp(ifmt->name, avfile_formats[0]) == 0)
			util_snprintf(err, errlen, "no usable moov atom (index): "
			    "the recording was cut off or is corrupt (%s)",
			    avfile_strerror(ret, msg, sizeof(msg)));
		else
			util_snprintf(err, errlen, "not a media file: %s",
			    avfile_strerror(ret, msg, sizeof(msg)));
		return rc;
	}
	return AVFILE_OK;
}

int
avfile_open(struct avfile *f, const char *path, int fd, char *err,
    size_t errlen)
{
	unsigned char *buf;
	struct stat st;
	int rc;

	memset(f, 0, sizeof(*f));
	f->fd = -1;
	if (avlib_load(err, errlen) < 0) {
		f->sys_errno = ELIBACC;
		return AVFILE_IO;
	}
	if (fd < 0) {
		rc = avfile_open_path(path, &f->fd, &f->size, &f->sys_errno,
		    err, errlen);
		if (rc != AVFILE_OK)
			return rc;
	} else {
		f->fd = fd;
		f->borrowed = true;
		if (fstat(fd, &st) < 0) {
			f->sys_errno = errno;
			util_snprintf(err, errlen, "cannot stat: %s",
			    strerror(errno));
			rc = AVFILE_IO;
			goto fail;
		}
		f->size = st.st_size;
	}

	buf = avlib.av_malloc(AVFILE_IN_BUF);
	if (buf == NULL ||
	    (f->pb = avlib.avio_alloc_context(buf, AVFILE_IN_BUF, 0, f, avfile_read,
	    NULL, avfile_seek)) == NULL) {
		avlib.av_free(buf);
		f->sys_errno = ENOMEM;
		util_snprintf(err, errlen, "out of memory");
		rc = AVFILE_IO;
		goto fail;
	}
	rc = avfile_demux(f, path, err, errlen);
	if (rc != AVFILE_OK)
		goto fail;
	return AVFILE_OK;
fail:
	avfile_close(f);
	return rc;
}

int
avfile_find_info(struct avfile *f, char *err, size_t errlen)
{
	char msg[128];
	int ret, rc;

	ret = avlib.avformat_find_stream_info(f->fmt, NULL);
	if (ret >= 0)
		return AVFILE_OK;
	rc = avfile_classify(f, ret);
	if (rc == AVFILE_IO)
		util_snprintf(err, errlen, "read error: %s",
		    f->sys_errno ? strerror(f->sys_errno) : "out of memory");
	else
		util_snprintf(err, errlen, "cannot read the streams: %s",
		    avfile_strerror(ret, msg, sizeof(msg)));
	return rc;
}

int
avfile_check_index(struct avfile *f, int stream, char *err, size_t errlen)
{
	unsigned i;
	int j, n;

	for (i = 0; i < f->fmt->nb_streams; i++) {
		AVStream *st = f->fmt->streams[i];

		if (stream >= 0 && (int)i != stream)
			continue;
		n = avlib.avformat_index_get_entries_count(st);
		for (j = 0; j < n; j++) {
			const AVIndexEntry *e = avlib.avformat_index_get_entry(st, j);

			if (e == NULL || e->pos < 0)
				continue;
			if (e->pos > f->size || e->size > f->size - e->pos) {
				util_snprintf(err, errlen, "sample data cut off: "
				    "stream %u sample %d lies at %lld+%d, past the "
				    "end of the file (%lld bytes): the file is "
				    "truncated", i, j, (long long)e->pos, e->size,
				    (long long)f->size);
				return AVFILE_BAD;
			}
		}
	}
	return AVFILE_OK;
}

void
avfile_close(struct avfile *f)
{
	if (f->fmt != NULL)
		avlib.avformat_close_input(&f->fmt);
	if (f->pb != NULL) {
		avlib.av_freep(&f->pb->buffer);
		avlib.avio_context_free(&f->pb);
	}
	if (f->fd >= 0 && !f->borrowed)
		close(f->fd);
	f->fd = -1;
}

static int
avfile_write(void *opaque, uint8_t *buf, int n)
{
	struct avfile_out *o = opaque;
	size_t done = 0;
	ssize_t w;

	if (o->sys_errno != 0)
		return AVERROR(o->sys_errno);
	while (done < (size_t)n) {
		w = pwrite(o->fd, buf + done, (size_t)n - done,
		    (off_t)(o->pos + (int64_t)done));
		if (w < 0) {
			if (errno == EINTR)
				continue;
			o->sys_errno = errno;
			return AVERROR(errno);
		}
		done += (size_t)w;
	}
	o->pos += n;
	return n;
}

static int64_t
avfile_out_seek(void *opaque, int64_t off, int whence)
{
	struct avfile_out *o = opaque;
	struct stat st;
	int64_t to;

	/* the muxer seeks back to patch sizes; the file is what we wrote */
	if (fstat(o->fd, &st) < 0)
		return AVERROR(errno);
	to = avfile_seek_to(o->pos, st.st_size > o->pos ? st.st_size : o->pos,
	    off, whence);
	if (to >= 0 && (whence & ~AVSEEK_FORCE) != AVSEEK_SIZE)
		o->pos = to;
	return to;
}

int
avfile_out_open(struct avfile_out *o, const char *path)
{
	unsigned char *buf;

	memset(o, 0, sizeof(*o));
	o->fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC | O_NOFOLLOW,
	    0644);
	if (o->fd < 0)
		return -1;
	buf = avlib.av_malloc(AVFILE_OUT_BUF);
	if (buf == NULL ||
	    (o->pb = avlib.avio_alloc_context(buf, AVFILE_OUT_BUF, 1, o, NULL,
	    avfile_write, avfile_out_seek)) == NULL) {
		avlib.av_free(buf);
		close(o->fd);
		o->fd = -1;
		errno = ENOMEM;
		return -1;
	}
	return 0;
}

int
avfile_out_close(struct avfile_out *o)
{
	int e = 0;

	if (o->pb != NULL) {
		avlib.avio_flush(o->pb);
		if (o->pb->error < 0 && o->sys_errno == 0)
			o->sys_errno = AVUNERROR(o->pb->error);
		avlib.av_freep(&o->pb->buffer);
		avlib.avio_context_free(&o->pb);
	}
	if (o->fd >= 0) {
		/* close() reports delayed write errors (NFS, quotas) */
		if (close(o->fd) < 0 && o->sys_errno == 0)
			o->sys_errno = errno;
		o->fd = -1;
	}
	e = o->sys_errno;
	if (e != 0) {
		errno = e;
		return -1;
	}
	return 0;
}
