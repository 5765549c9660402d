/* remux.c -- stream copy of a recording: fast-start MP4 + audio-only file.
 *
 * A Jibri MP4 is rewritten at box level (faststart.c): for the video file
 * the moov moves in front and the kernel copies the samples; the audio
 * file gets the sound track's chunks and its index. The two run at the
 * same time (the kernel copy and the chunk reads use different cores), and
 * neither needs libav, whose loading alone costs about as much as copying
 * a 10-minute recording. Inputs the box level does not handle (Matroska,
 * fragmented MP4, audio MP4 cannot hold...) get a libavformat stream copy:
 * FFmpeg's doc/examples/remux.c, with the audio demuxer reading the audio
 * samples only. Either way no output holds more than its input can: an
 * index naming the same bytes again and again is bad media, not a disk
 * to fill (mp4box_check_chunks, the caps in faststart.h, remux_libav_cap). */
#include "media/remux.h"
#include "media/avfile.h"
#include "media/avlib.h"
#include "media/faststart.h"
#include "media/mp4box.h"
#include "base/util.h"

#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#define REMUX_MAX_STREAMS 64

/* The audio output, made by a second thread. */
struct remux_audio {
	const char *in;         /* input path, for libav messages */
	int in_fd;              /* shared with the video copy: pread only */
	const struct mp4box_file *mp4; /* box level when not NULL */
	int track;              /* the sound track of mp4 */
	bool box_checked;       /* mp4box_load judged in already */
	const char *out;        /* what the caller asked for */
	char path[PATH_MAX];    /* what was written ("" when nothing) */
	const char *ext;
	bool no_audio;
	bool created;           /* path exists because of us */
	int rc;
	int sys_errno;
	char err[512];
};

static int
remux_fail_io(char *err, size_t errlen, int *sys_errno, int e,
    const char *what, const char *path)
{
	*sys_errno = e;
	util_snprintf(err, errlen, "%s %s: %s", what, path, strerror(e));
	return REMUX_IO;
}

/* A libav error while writing: IO when it carries a system errno that means
 * "try again" (ENOSPC, EDQUOT, EIO...), else the media is at fault. */
static int
remux_classify_write(int averr, int out_errno, int *sys_errno)
{
	int e = out_errno;

	if (e == 0 && averr < 0 && averr > -4096)
		e = AVUNERROR(averr); /* AVERROR(errno) is -errno */
	if (e != 0 && avfile_errno_is_io(e)) {
		*sys_errno = e;
		return REMUX_IO;
	}
	return REMUX_BAD_MEDIA;
}

/* An MP4 that libavformat reads although it did not look like one to
 * mp4box_sniff (an unusual first box) is judged by its boxes all the same:
 * what the box level calls bad (overlapping chunks...) is bad media on
 * every path. REMUX_OK when the boxes pass or are only UNSUPPORTED. */
static int
remux_box_verdict(const struct avfile *in, bool checked, int *sys_errno,
    char *err, size_t errlen)
{
	struct mp4box_file f;
	int rc;

	if (checked || strncmp(in->fmt->iformat->name, "mov,", 4) != 0)
		return REMUX_OK;
	rc = mp4box_load(in->fd, (uint64_t)in->size, &f, err, errlen);
	if (rc == MP4BOX_OK)
		mp4box_free(&f);
	if (rc == MP4BOX_BAD)
		return REMUX_BAD_MEDIA;
	if (rc == MP4BOX_IO) {
		*sys_errno = errno;
		return REMUX_IO;
	}
	return REMUX_OK;
}

/* A stream copy writes each packet of its input once, so the packets hold
 * no more bytes than the input: an eighth more, and 64 KiB, leave room for
 * Matroska's header stripping (bytes every frame repeats, kept once in the
 * track header). More means an index that names the same bytes again and
 * again: stop as bad media before the output fills the disk. */
static uint64_t
remux_libav_cap(int64_t in_size)
{
	return (uint64_t)in_size + (uint64_t)in_size / 8 + 65536;
}

static int
remux_over_cap(uint64_t cap, int64_t in_size, const char *what, char *err,
    size_t errlen)
{
	util_snprintf(err, errlen, "corrupt index: the %s packets add up to "
	    "more than %llu bytes, the most this %lld-byte input can hold: "
	    "its index names the same bytes more than once", what,
	    (unsigned long long)cap, (long long)in_size);
	return REMUX_BAD_MEDIA;
}

/* out with its extension replaced by ext (appended when it has none). */
static int
remux_with_ext(const char *out, const char *ext, char *buf, size_t size)
{
	const char *slash = strrchr(out, '/');
	const char *dot = strrchr(out, '.');
	int n;

	if (dot == NULL || (slash != NULL && dot < slash) || dot == out ||
	    dot[-1] == '/')
		n = (int)strlen(out);
	else
		n = (int)(dot - out);
	return util_snprintf(buf, size, "%.*s.%s", n, out, ext);
}

/* Which muxer holds this audio codec: M4A (the iPod profile: AAC, ALAC,
 * AC-3...), what transcription services take; Matroska for the rest
 * (PCM, Opus, Vorbis...). */
static const char *
remux_audio_muxer(enum AVCodecID id, const char **ext)
{
	static const struct {
		const char *muxer, *ext;
	} choices[] = {
		{ "ipod", "m4a" },
		{ "matroska", "mka" },
	};
	size_t i;

	for (i = 0; i < sizeof(choices) / sizeof(choices[0]); i++) {
		const AVOutputFormat *of = avlib.av_guess_format(choices[i].muxer,
		    NULL, NULL);
		if (of != NULL &&
		    avlib.avformat_query_codec(of, id, FF_COMPLIANCE_NORMAL) == 1) {
			*ext = choices[i].ext;
			return choices[i].muxer;
		}
	}
	return NULL;
}

static int
remux_audio_libav(struct remux_audio *a)
{
	struct avfile in;
	struct avfile_out out = { .fd = -1 };
	AVFormatContext *ofmt = NULL;
	AVPacket *pkt = NULL;
	AVStream *ist = NULL, *ost;
	const char *muxer;
	char msg[128];
	unsigned i;
	int ai = -1, ret, rc;
	uint64_t copied = 0, cap;
	size_t errlen = sizeof(a->err);
	char *err = a->err;

	rc = avfile_open(&in, a->in, a->in_fd, err, errlen);
	if (rc != AVFILE_OK) {
		a->sys_errno = in.sys_errno;
		return rc;
	}
	cap = remux_libav_cap(in.size);
	rc = remux_box_verdict(&in, a->box_checked, &a->sys_errno, err, errlen);
	if (rc != REMUX_OK)
		goto done;
	for (i = 0; i < in.fmt->nb_streams; i++) {
		AVStream *st = in.fmt->streams[i];
		if (ai < 0 && st->codecpar->codec_type == AVMEDIA_TYPE_AUDIO) {
			ai = (int)i;
			ist = st;
		} else {
			/* not even read: the demuxer skips discarded samples */
			st->discard = AVDISCARD_ALL;
		}
	}
	if (ai < 0) {
		a->no_audio = true;
		rc = REMUX_OK;
		goto done;
	}
	/* The MP4 sample description gives all a stream copy needs; ask
	 * libavformat to look at packets only when it does not. */
	if (ist->codecpar->codec_id == AV_CODEC_ID_NONE ||
	    ist->codecpar->sample_rate <= 0 ||
	    ist->codecpar->ch_layout.nb_channels <= 0) {
		rc = avfile_find_info(&in, err, errlen);
		if (rc != AVFILE_OK)
			goto done;
	}
	rc = avfile_check_index(&in, ai, err, errlen);
	if (rc != AVFILE_OK)
		goto done;

	muxer = remux_audio_muxer(ist->codecpar->codec_id, &a->ext);
	if (muxer == NULL) {
		util_snprintf(err, errlen, "audio codec %s fits no audio "
		    "container", avlib.avcodec_get_name(ist->codecpar->codec_id));
		rc = REMUX_BAD_MEDIA;
		goto done;
	}
	if (strcmp(a->ext, "m4a") == 0) {
		if (util_strlcpy(a->path, a->out, sizeof(a->path)) < 0)
			goto toolong;
	} else if (remux_with_ext(a->out, a->ext, a->path,
	    sizeof(a->path)) < 0) {
		goto toolong;
	}

	ret = avlib.avformat_alloc_output_context2(&ofmt, NULL, muxer, NULL);
	if (ret < 0) {
		rc = REMUX_IO;
		a->sys_errno = ENOMEM;
		util_snprintf(err, errlen, "%s muxer: %s", muxer,
		    avfile_strerror(ret, msg, sizeof(msg)));
		goto done;
	}
	ost = avlib.avformat_new_stream(ofmt, NULL);
	if (ost == NULL ||
	    avlib.avcodec_parameters_copy(ost->codecpar, ist->codecpar) < 0) {
		rc = remux_fail_io(err, errlen, &a->sys_errno, ENOMEM,
		    "cannot set up", a->path);
		goto done;
	}
	ost->codecpar->codec_tag = 0;
	ost->time_base = ist->time_base;
	if (avfile_out_open(&out, a->path) < 0) {
		rc = remux_fail_io(err, errlen, &a->sys_errno, errno,
		    "cannot create", a->path);
		goto done;
	}
	a->created = true;
	ofmt->pb = out.pb;
	/* libav's "auto" flushes after every packet: one write(2) per
	 * 23 ms of AAC. The buffer is flushed when full and at the end. */
	ofmt->flush_packets = 0;

	ret = avlib.avformat_write_header(ofmt, NULL);
	if (ret < 0)
		goto write_err;
	pkt = avlib.av_packet_alloc();
	if (pkt == NULL) {
		rc = remux_fail_io(err, errlen, &a->sys_errno, ENOMEM,
		    "cannot write", a->path);
		goto done;
	}
	/* Jibri's audio chunks sit between video frames a few KiB apart:
	 * through the buffer, every forward seek that short is a read-through
	 * and the whole file is read. Direct mode reads each audio sample
	 * where it lies and nothing else. */
	in.pb->direct = 1;
	for (;;) {
		ret = avlib.av_read_frame(in.fmt, pkt);
		if (ret == AVERROR_EOF)
			break;
		if (ret < 0) {
			rc = avfile_classify(&in, ret);
			a->sys_errno = in.sys_errno;
			util_snprintf(err, errlen, "reading the audio: %s",
			    rc == AVFILE_IO && in.sys_errno ?
			    strerror(in.sys_errno) :
			    avfile_strerror(ret, msg, sizeof(msg)));
			goto done;
		}
		if (pkt->stream_index != ai) {
			avlib.av_packet_unref(pkt);
			continue;
		}
		copied += (uint64_t)pkt->size;
		if (copied > cap) {
			rc = remux_over_cap(cap, in.size, "audio", err, errlen);
			goto done;
		}
		avlib.av_packet_rescale_ts(pkt, ist->time_base, ost->time_base);
		pkt->stream_index = 0;
		pkt->pos = -1;
		/* one stream: nothing to interleave, no queue to keep */
		ret = avlib.av_write_frame(ofmt, pkt);
		avlib.av_packet_unref(pkt);
		if (ret < 0 || out.sys_errno != 0)
			goto write_err;
	}
	ret = avlib.av_write_trailer(ofmt);
	if (ret < 0 || out.sys_errno != 0)
		goto write_err;
	ofmt->pb = NULL;
	if (avfile_out_close(&out) < 0) {
		rc = remux_fail_io(err, errlen, &a->sys_errno, errno,
		    "cannot write", a->path);
		goto done;
	}
	rc = REMUX_OK;
	goto done;

toolong:
	util_snprintf(err, errlen, "audio output path too long");
	a->sys_errno = ENAMETOOLONG;
	rc = REMUX_IO;
	goto done;
write_err:
	rc = remux_classify_write(ret, out.sys_errno, &a->sys_errno);
	util_snprintf(err, errlen, "cannot write %s: %s", a->path,
	    out.sys_errno ? strerror(out.sys_errno) :
	    avfile_strerror(ret, msg, sizeof(msg)));
done:
	avlib.av_packet_free(&pkt);
	if (ofmt != NULL) {
		ofmt->pb = NULL; /* ours: closed below */
		avlib.avformat_free_context(ofmt);
	}
	avfile_out_close(&out);
	avfile_close(&in);
	if (rc != REMUX_OK && a->created) {
		unlink(a->path);
		a->created = false;
	}
	if (rc != REMUX_OK || a->no_audio)
		a->path[0] = '\0';
	return rc;
}

static int
remux_audio_box(struct remux_audio *a)
{
	struct faststart_info fi;
	int fd, rc;

	a->ext = "m4a";
	if (util_strlcpy(a->path, a->out, sizeof(a->path)) < 0) {
		a->path[0] = '\0';
		return remux_fail_io(a->err, sizeof(a->err), &a->sys_errno,
		    ENAMETOOLONG, "cannot create", a->out);
	}
	fd = open(a->path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC |
	    O_NOFOLLOW, 0644);
	if (fd < 0) {
		rc = remux_fail_io(a->err, sizeof(a->err), &a->sys_errno, errno,
		    "cannot create", a->path);
		a->path[0] = '\0';
		return rc;
	}
	a->created = true;
	rc = faststart_audio(a->mp4, a->track, fd, &fi, a->err,
	    sizeof(a->err));
	if (rc == FASTSTART_IO)
		a->sys_errno = fi.sys_errno;
	if (close(fd) < 0 && rc == FASTSTART_OK) {
		/* close() reports delayed write errors (NFS, quotas) */
		rc = remux_fail_io(a->err, sizeof(a->err), &a->sys_errno, errno,
		    "cannot write", a->path);
	}
	if (rc != FASTSTART_OK) {
		unlink(a->path);
		a->created = false;
		a->path[0] = '\0';
		return rc == FASTSTART_IO ? REMUX_IO : REMUX_BAD_MEDIA;
	}
	return REMUX_OK;
}

static void *
remux_audio_thread(void *arg)
{
	struct remux_audio *a = arg;

	a->rc = a->mp4 != NULL ? remux_audio_box(a) : remux_audio_libav(a);
	return NULL;
}

/* The libavformat path for inputs the box-level copy does not handle: every
 * audio, video and MP4-compatible subtitle stream copied into an MP4 with
 * movflags=+faststart (a second pass over the output, but this is the
 * rare path). */
static int
remux_libav_video(const char *in_path, int in_fd, bool box_checked,
    const char *out_path, bool *has_audio, int *sys_errno, char *err,
    size_t errlen)
{
	struct avfile in;
	AVFormatContext *ofmt = NULL;
	AVDictionary *opts = NULL;
	AVPacket *pkt = NULL;
	int map[REMUX_MAX_STREAMS];
	char url[PATH_MAX + 8], msg[128];
	unsigned i;
	int ret, rc, nout = 0;
	uint64_t copied = 0, cap;
	bool opened = false;

	*has_audio = false;
	rc = avfile_open(&in, in_path, in_fd, err, errlen);
	if (rc != AVFILE_OK) {
		*sys_errno = in.sys_errno;
		return rc;
	}
	cap = remux_libav_cap(in.size);
	rc = remux_box_verdict(&in, box_checked, sys_errno, err, errlen);
	if (rc != REMUX_OK)
		goto done_in;
	rc = avfile_find_info(&in, err, errlen);
	if (rc != AVFILE_OK)
		goto done_in;
	rc = avfile_check_index(&in, -1, err, errlen);
	if (rc != AVFILE_OK)
		goto done_in;
	if (in.fmt->nb_streams > REMUX_MAX_STREAMS) {
		util_snprintf(err, errlen, "%u streams, at most %d handled",
		    in.fmt->nb_streams, REMUX_MAX_STREAMS);
		rc = REMUX_BAD_MEDIA;
		goto done_in;
	}
	ret = avlib.avformat_alloc_output_context2(&ofmt, NULL, "mp4", NULL);
	if (ret < 0) {
		*sys_errno = ENOMEM;
		util_snprintf(err, errlen, "mp4 muxer: %s",
		    avfile_strerror(ret, msg, sizeof(msg)));
		rc = REMUX_IO;
		goto done_in;
	}
	for (i = 0; i < in.fmt->nb_streams; i++) {
		AVStream *ist = in.fmt->streams[i], *ost;
		enum AVMediaType type = ist->codecpar->codec_type;
		bool fits = avlib.avformat_query_codec(ofmt->oformat,
		    ist->codecpar->codec_id, FF_COMPLIANCE_NORMAL) == 1;

		map[i] = -1;
		if (type != AVMEDIA_TYPE_VIDEO && type != AVMEDIA_TYPE_AUDIO &&
		    (type != AVMEDIA_TYPE_SUBTITLE || !fits)) {
			/* attachments, data, subtitles MP4 cannot hold */
			ist->discard = AVDISCARD_ALL;
			continue;
		}
		if (!fits) {
			util_snprintf(err, errlen, "%s codec %s (stream %u) "
			    "cannot be stored in MP4",
			    avlib.av_get_media_type_string(type),
			    avlib.avcodec_get_name(ist->codecpar->codec_id), i);
			rc = REMUX_BAD_MEDIA;
			goto done;
		}
		if (type == AVMEDIA_TYPE_AUDIO)
			*has_audio = true;
		ost = avlib.avformat_new_stream(ofmt, NULL);
		if (ost == NULL ||
		    avlib.avcodec_parameters_copy(ost->codecpar, ist->codecpar) < 0) {
			rc = remux_fail_io(err, errlen, sys_errno, ENOMEM,
			    "cannot set up", out_path);
			goto done;
		}
		ost->codecpar->codec_tag = 0;
		ost->time_base = ist->time_base;
		map[i] = nout++;
	}
	if (nout == 0) {
		util_snprintf(err, errlen, "no audio or video stream");
		rc = REMUX_BAD_MEDIA;
		goto done;
	}
	/* "file:" so that a name with a colon is never taken for a protocol */
	if (util_snprintf(url, sizeof(url), "file:%s", out_path) < 0) {
		rc = remux_fail_io(err, errlen, sys_errno, ENAMETOOLONG,
		    "cannot create", out_path);
		goto done;
	}
	ret = avlib.avio_open2(&ofmt->pb, url, AVIO_FLAG_WRITE, NULL, NULL);
	if (ret < 0) {
		rc = remux_fail_io(err, errlen, sys_errno, AVUNERROR(ret),
		    "cannot create", out_path);
		goto done;
	}
	opened = true;
	avlib.av_freep(&ofmt->url);
	ofmt->url = avlib.av_strdup(url); /* +faststart reopens it to read back */
	avlib.av_dict_set(&opts, "movflags", "+faststart", 0);
	ret = avlib.avformat_write_header(ofmt, &opts);
	avlib.av_dict_free(&opts);
	if (ret < 0)
		goto write_err;
	pkt = avlib.av_packet_alloc();
	if (pkt == NULL) {
		rc = remux_fail_io(err, errlen, sys_errno, ENOMEM,
		    "cannot write", out_path);
		goto done;
	}
	for (;;) {
		AVStream *ist, *ost;

		ret = avlib.av_read_frame(in.fmt, pkt);
		if (ret == AVERROR_EOF)
			break;
		if (ret < 0) {
			rc = avfile_classify(&in, ret);
			*sys_errno = in.sys_errno;
			util_snprintf(err, errlen, "reading the input: %s",
			    rc == AVFILE_IO && in.sys_errno ?
			    strerror(in.sys_errno) :
			    avfile_strerror(ret, msg, sizeof(msg)));
			goto done;
		}
		if (pkt->stream_index < 0 ||
		    (unsigned)pkt->stream_index >= in.fmt->nb_streams ||
		    map[pkt->stream_index] < 0) {
			avlib.av_packet_unref(pkt);
			continue;
		}
		copied += (uint64_t)pkt->size;
		if (copied > cap) {
			rc = remux_over_cap(cap, in.size, "copied", err, errlen);
			goto done;
		}
		ist = in.fmt->streams[pkt->stream_index];
		ost = ofmt->streams[map[pkt->stream_index]];
		avlib.av_packet_rescale_ts(pkt, ist->time_base, ost->time_base);
		pkt->stream_index = map[pkt->stream_index];
		pkt->pos = -1;
		ret = avlib.av_interleaved_write_frame(ofmt, pkt);
		if (ret < 0)
			goto write_err;
	}
	ret = avlib.av_write_trailer(ofmt);
	if (ret < 0 || ofmt->pb->error < 0)
		goto write_err;
	ret = avlib.avio_closep(&ofmt->pb);
	opened = false;
	if (ret < 0)
		goto write_err;
	rc = REMUX_OK;
	goto done;
write_err:
	if (ret >= 0 && ofmt->pb != NULL)
		ret = ofmt->pb->error;
	rc = remux_classify_write(ret, 0, sys_errno);
	util_snprintf(err, errlen, "cannot write %s: %s", out_path,
	    avfile_strerror(ret, msg, sizeof(msg)));
done:
	avlib.av_packet_free(&pkt);
	if (opened)
		avlib.avio_closep(&ofmt->pb);
	avlib.avformat_free_context(ofmt);
done_in:
	avfile_close(&in);
	return rc;
}

/* Refuse an output that is the input (or a hard link to it): opening it
 * for writing would truncate the recording. */
static int
remux_same_file(const struct stat *in, const char *out)
{
	struct stat st;

	if (out == NULL || lstat(out, &st) < 0)
		return 0;
	return st.st_dev == in->st_dev && st.st_ino == in->st_ino;
}

/* The box-level audio path copies the sample entry as it is: keep it to
 * the codecs an .m4a is expected to hold. */
static bool
remux_box_audio_ok(const struct mp4box_track *t)
{
	return t->format == MP4BOX_TYPE('m', 'p', '4', 'a') ||
	    t->format == MP4BOX_TYPE('a', 'l', 'a', 'c') ||
	    t->format == MP4BOX_TYPE('a', 'c', '-', '3') ||
	    t->format == MP4BOX_TYPE('e', 'c', '-', '3');
}

int
remux_file(const char *in, const char *out_video, const char *out_audio,
    struct remux_result *res, char *err, size_t errlen)
{
	return remux_fd(-1, in, out_video, out_audio, res, err, errlen);
}

int
remux_fd(int fd, const char *in, const char *out_video, const char *out_audio,
    struct remux_result *res, char *err, size_t errlen)
{
	struct remux_audio audio;
	struct faststart_info fi;
	struct mp4box_file mp4 = { .fd = -1 };
	struct stat st;
	pthread_t tid;
	bool threaded = false, video_created = false, has_audio = false;
	bool box = false, sniffed;
	int64_t size;
	int in_fd, out_fd = -1, rc = REMUX_OK, e, tr = -1;
	char verr[512] = "";

	memset(res, 0, sizeof(*res));
	res->audio_ext = "";
	res->video_method = "";
	memset(&audio, 0, sizeof(audio));

	if (fd >= 0) {
		/* the caller's descriptor: what it checked is what we read */
		in_fd = fcntl(fd, F_DUPFD_CLOEXEC, 0);
		if (in_fd < 0)
			return remux_fail_io(err, errlen, &res->sys_errno, errno,
			    "cannot dup", in);
		rc = avfile_check_fd(&in_fd, &size, &res->sys_errno, verr,
		    sizeof(verr));
	} else {
		rc = avfile_open_path(in, &in_fd, &size, &res->sys_errno, verr,
		    sizeof(verr));
	}
	if (rc != AVFILE_OK) {
		util_snprintf(err, errlen, "%s: %s", in, verr);
		return rc;
	}
	if (fstat(in_fd, &st) < 0) {
		rc = remux_fail_io(err, errlen, &res->sys_errno, errno,
		    "cannot stat", in);
		goto out;
	}
	if (remux_same_file(&st, out_video) || remux_same_file(&st, out_audio) ||
	    (out_video != NULL && out_audio != NULL &&
	    strcmp(out_video, out_audio) == 0)) {
		util_snprintf(err, errlen, "%s: the outputs must be new files, "
		    "distinct from the input and from each other", in);
		rc = REMUX_BAD_MEDIA;
		goto out;
	}

	/* An MP4 is judged by its boxes first: a cut-off or corrupt one is
	 * refused before any output exists. */
	sniffed = mp4box_sniff(in_fd);
	if (sniffed) {
		rc = mp4box_load(in_fd, (uint64_t)size, &mp4, verr,
		    sizeof(verr));
		if (rc == MP4BOX_OK) {
			box = true;
		} else if (rc == MP4BOX_IO) {
			res->sys_errno = errno;
			util_snprintf(err, errlen, "%s: %s", in, verr);
			rc = REMUX_IO;
			goto out;
		} else if (rc == MP4BOX_BAD) {
			util_snprintf(err, errlen, "%s: %s", in, verr);
			rc = REMUX_BAD_MEDIA;
			goto out;
		}
		/* UNSUPPORTED: libavformat below */
		rc = REMUX_OK;
	}
	if (box) {
		tr = faststart_audio_track(&mp4);
		has_audio = tr >= 0 && mp4.moov->track[tr].nb_samples > 0;
	}

	if (out_audio != NULL) {
		audio.in = in;
		audio.in_fd = in_fd;
		audio.box_checked = sniffed;
		audio.out = out_audio;
		if (box && !has_audio) {
			audio.no_audio = true;
		} else {
			if (box && remux_box_audio_ok(&mp4.moov->track[tr])) {
				audio.mp4 = &mp4;
				audio.track = tr;
			}
			if (out_video != NULL && pthread_create(&tid, NULL,
			    remux_audio_thread, &audio) == 0)
				threaded = true;
			else
				remux_audio_thread(&audio);
		}
	}

	if (out_video != NULL) {
		out_fd = open(out_video, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC |
		    O_NOFOLLOW, 0644);
		if (out_fd < 0) {
			rc = remux_fail_io(verr, sizeof(verr), &res->sys_errno,
			    errno, "cannot create", out_video);
			goto join;
		}
		video_created = true;
		rc = box ? faststart_video(&mp4, out_fd, &fi, verr,
		    sizeof(verr)) : FASTSTART_UNSUPPORTED;
		if (rc == FASTSTART_OK) {
			res->video_method = "faststart";
		} else if (rc == FASTSTART_IO) {
			res->sys_errno = fi.sys_errno;
			rc = REMUX_IO;
		} else if (rc == FASTSTART_UNSUPPORTED) {
			/* not ours to rewrite: libavformat copies the packets;
			 * it reopens the output itself */
			close(out_fd);
			out_fd = -1;
			rc = remux_libav_video(in, in_fd, sniffed, out_video,
			    &has_audio, &res->sys_errno, verr, sizeof(verr));
			if (rc == REMUX_OK)
				res->video_method = "libavformat";
		}
		if (out_fd >= 0 && close(out_fd) < 0 && rc == REMUX_OK) {
			/* close() reports delayed write errors */
			rc = remux_fail_io(verr, sizeof(verr), &res->sys_errno,
			    errno, "cannot write", out_video);
		}
		out_fd = -1;
	}

join:
	if (threaded)
		pthread_join(tid, NULL);
	if (out_audio != NULL) {
		res->no_audio = audio.no_audio;
		if (audio.rc == REMUX_OK && !audio.no_audio) {
			util_strlcpy(res->audio_path, audio.path,
			    sizeof(res->audio_path));
			res->audio_ext = audio.ext;
		}
	} else {
		res->no_audio = !has_audio;
	}
	/* The video's reason first: it names the recording's problem; the
	 * audio part then usually failed for the same reason. */
	if (rc != REMUX_OK) {
		util_snprintf(err, errlen, "%s: %s", in, verr);
	} else if (out_audio != NULL && audio.rc != REMUX_OK) {
		rc = audio.rc;
		res->sys_errno = audio.sys_errno;
		util_snprintf(err, errlen, "%s: %s", in, audio.err);
	}
	if (rc != REMUX_OK) {
		e = errno;
		if (video_created)
			unlink(out_video);
		if (audio.created)
			unlink(audio.path);
		res->audio_path[0] = '\0';
		res->audio_ext = "";
		res->video_method = "";
		res->no_audio = false;
		errno = e;
	}
out:
	mp4box_free(&mp4);
	close(in_fd);
	return rc;
}
