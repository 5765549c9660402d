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
#include "base/util.h"
#include "media/avfile.h"
#include "media/avlib.h"
#include "media/faststart.h"
#include "media/mp4box.h"

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

/* Each module numbers its results on its own: these say what an avfile,
 * mp4box or faststart result means here. */
static int
remux_from_avfile(int rc)
{
	switch (rc) {
	case AVFILE_OK:
		return REMUX_OK;
	case AVFILE_IO:
		return REMUX_IO;
	case AVFILE_BAD:
	default:
		return REMUX_BAD_MEDIA;
	}
}

/* UNSUPPORTED is no failure: libavformat copies what the box level does
 * not rewrite. */
static int
remux_from_mp4box(int rc)
{
	switch (rc) {
	case MP4BOX_OK:
	case MP4BOX_UNSUPPORTED:
		return REMUX_OK;
	case MP4BOX_IO:
		return REMUX_IO;
	case MP4BOX_BAD:
	default:
		return REMUX_BAD_MEDIA;
	}
}

/* UNSUPPORTED is handled before: it sends the video to libavformat. */
static int
remux_from_faststart(int rc)
{
	switch (rc) {
	case FASTSTART_OK:
		return REMUX_OK;
	case FASTSTART_IO:
		return REMUX_IO;
	case FASTSTART_BAD:
	default:
		return REMUX_BAD_MEDIA;
	}
}

/* A libav error while writing path: IO when it carries a system errno that
 * means "try again" (ENOSPC, EDQUOT, EIO...), else the media is at fault.
 * out_errno: the errno of the write(2) that failed, 0 when not known. */
static int
remux_write_failed(int averr, int out_errno, const char *path,
    int *sys_errno, char *err, size_t errlen)
{
	char msg[128];
	int e = out_errno;

	util_snprintf(err, errlen, "cannot write %s: %s", path,
	    out_errno ? strerror(out_errno) :
	    avfile_strerror(averr, msg, sizeof(msg)));
	if (e == 0 && averr < 0 && averr > -4096)
		e = AVUNERROR(averr); /* AVERROR(errno) is -errno */
	if (e != 0 && avfile_errno_is_io(e)) {
		*sys_errno = e;
		return REMUX_IO;
	}
	return REMUX_BAD_MEDIA;
}

/* av_read_frame failed on in (the what of the message): IO when the file
 * system did, else the media is at fault. */
static int
remux_read_failed(const struct avfile *in, int averr, const char *what,
    int *sys_errno, char *err, size_t errlen)
{
	char msg[128];
	int rc = avfile_classify(in, averr);

	*sys_errno = in->sys_errno;
	util_snprintf(err, errlen, "reading the %s: %s", what,
	    rc == AVFILE_IO && in->sys_errno ? strerror(in->sys_errno) :
	    avfile_strerror(averr, msg, sizeof(msg)));
	return remux_from_avfile(rc);
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
	else if (rc == MP4BOX_IO)
		*sys_errno = errno;
	return remux_from_mp4box(rc);
}

/* The input of a libavformat copy: its demuxer, and the verdict of its
 * boxes. in is opened or cleared: avfile_close it either way. */
static int
remux_libav_open(struct avfile *in, const char *path, int fd,
    bool box_checked, int *sys_errno, char *err, size_t errlen)
{
	int rc;

	rc = avfile_open(in, path, fd, err, errlen);
	if (rc != AVFILE_OK) {
		*sys_errno = in->sys_errno;
		return remux_from_avfile(rc);
	}
	return remux_box_verdict(in, box_checked, sys_errno, err, errlen);
}

/* A stream of ofmt with the parameters of ist (the codec tag left to the
 * muxer), or NULL when out of memory. */
static AVStream *
remux_new_stream(AVFormatContext *ofmt, const AVStream *ist)
{
	AVStream *ost = avlib.avformat_new_stream(ofmt, NULL);

	if (ost == NULL ||
	    avlib.avcodec_parameters_copy(ost->codecpar, ist->codecpar) < 0)
		return NULL;
	ost->codecpar->codec_tag = 0;
	ost->time_base = ist->time_base;
	return ost;
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

/* The input of the libavformat audio copy: its first audio stream in *ai
 * (-1, and a->no_audio, when it has none); the other streams discarded. */
static int
remux_audio_input(struct remux_audio *a, struct avfile *in, int *ai)
{
	AVStream *ist = NULL;
	unsigned i;
	int rc;

	*ai = -1;
	rc = remux_libav_open(in, a->in, a->in_fd, a->box_checked,
	    &a->sys_errno, a->err, sizeof(a->err));
	if (rc != REMUX_OK)
		return rc;
	for (i = 0; i < in->fmt->nb_streams; i++) {
		AVStream *st = in->fmt->streams[i];
		if (*ai < 0 && st->codecpar->codec_type == AVMEDIA_TYPE_AUDIO) {
			*ai = (int)i;
			ist = st;
		} else {
			/* not even read: the demuxer skips discarded samples */
			st->discard = AVDISCARD_ALL;
		}
	}
	if (*ai < 0) {
		a->no_audio = true;
		return REMUX_OK;
	}
	/* The MP4 sample description gives all a stream copy needs; ask
	 * libavformat to look at packets only when it does not. */
	if (ist->codecpar->codec_id == AV_CODEC_ID_NONE ||
	    ist->codecpar->sample_rate <= 0 ||
	    ist->codecpar->ch_layout.nb_channels <= 0) {
		rc = avfile_find_info(in, a->err, sizeof(a->err));
		if (rc != AVFILE_OK)
			return remux_from_avfile(rc);
	}
	rc = avfile_check_index(in, *ai, a->err, sizeof(a->err));
	return remux_from_avfile(rc);
}

/* The audio output for ist: the container its codec fits, a->path named
 * for it, one stream with ist's parameters, the file created. */
static int
remux_audio_output(struct remux_audio *a, const AVStream *ist,
    AVFormatContext **ofmt, struct avfile_out *out)
{
	const char *muxer;
	char msg[128];
	int ret, n;

	muxer = remux_audio_muxer(ist->codecpar->codec_id, &a->ext);
	if (muxer == NULL) {
		util_snprintf(a->err, sizeof(a->err), "audio codec %s fits no "
		    "audio container",
		    avlib.avcodec_get_name(ist->codecpar->codec_id));
		return REMUX_BAD_MEDIA;
	}
	if (strcmp(a->ext, "m4a") == 0)
		n = util_strlcpy(a->path, a->out, sizeof(a->path));
	else
		n = remux_with_ext(a->out, a->ext, a->path, sizeof(a->path));
	if (n < 0) {
		util_snprintf(a->err, sizeof(a->err), "audio output path too "
		    "long");
		a->sys_errno = ENAMETOOLONG;
		return REMUX_IO;
	}

	ret = avlib.avformat_alloc_output_context2(ofmt, NULL, muxer, NULL);
	if (ret < 0) {
		a->sys_errno = ENOMEM;
		util_snprintf(a->err, sizeof(a->err), "%s muxer: %s", muxer,
		    avfile_strerror(ret, msg, sizeof(msg)));
		return REMUX_IO;
	}
	if (remux_new_stream(*ofmt, ist) == NULL)
		return remux_fail_io(a->err, sizeof(a->err), &a->sys_errno,
		    ENOMEM, "cannot set up", a->path);
	if (avfile_out_open(out, a->path) < 0)
		return remux_fail_io(a->err, sizeof(a->err), &a->sys_errno,
		    errno, "cannot create", a->path);
	a->created = true;
	(*ofmt)->pb = out->pb;
	/* libav's "auto" flushes after every packet: one write(2) per
	 * 23 ms of AAC. The buffer is flushed when full and at the end. */
	(*ofmt)->flush_packets = 0;
	return REMUX_OK;
}

/* The header, then the packets of input stream ai as they come. */
static int
remux_audio_packets(struct remux_audio *a, struct avfile *in, int ai,
    AVFormatContext *ofmt, const struct avfile_out *out)
{
	AVStream *ist = in->fmt->streams[ai], *ost = ofmt->streams[0];
	AVPacket *pkt;
	uint64_t copied = 0, cap = remux_libav_cap(in->size);
	int ret, rc = REMUX_OK;

	ret = avlib.avformat_write_header(ofmt, NULL);
	if (ret < 0)
		return remux_write_failed(ret, out->sys_errno, a->path,
		    &a->sys_errno, a->err, sizeof(a->err));
	pkt = avlib.av_packet_alloc();
	if (pkt == NULL)
		return remux_fail_io(a->err, sizeof(a->err), &a->sys_errno,
		    ENOMEM, "cannot write", a->path);
	/* Jibri's audio chunks sit between video frames a few KiB apart:
	 * through the buffer, every forward seek that short is a read-through
	 * and the whole file is read. Direct mode reads each audio sample
	 * where it lies and nothing else. */
	in->pb->direct = 1;
	while ((ret = avlib.av_read_frame(in->fmt, pkt)) != AVERROR_EOF) {
		if (ret < 0) {
			rc = remux_read_failed(in, ret, "audio", &a->sys_errno,
			    a->err, sizeof(a->err));
			break;
		}
		if (pkt->stream_index != ai) {
			avlib.av_packet_unref(pkt);
			continue;
		}
		copied += (uint64_t)pkt->size;
		if (copied > cap) {
			rc = remux_over_cap(cap, in->size, "audio", a->err,
			    sizeof(a->err));
			break;
		}
		avlib.av_packet_rescale_ts(pkt, ist->time_base, ost->time_base);
		pkt->stream_index = 0;
		pkt->pos = -1;
		/* one stream: nothing to interleave, no queue to keep */
		ret = avlib.av_write_frame(ofmt, pkt);
		avlib.av_packet_unref(pkt);
		if (ret < 0 || out->sys_errno != 0) {
			rc = remux_write_failed(ret, out->sys_errno, a->path,
			    &a->sys_errno, a->err, sizeof(a->err));
			break;
		}
	}
	avlib.av_packet_free(&pkt);
	return rc;
}

/* The trailer, and the file closed: the first write error wins. */
static int
remux_audio_finish(struct remux_audio *a, AVFormatContext *ofmt,
    struct avfile_out *out)
{
	int ret;

	ret = avlib.av_write_trailer(ofmt);
	if (ret < 0 || out->sys_errno != 0)
		return remux_write_failed(ret, out->sys_errno, a->path,
		    &a->sys_errno, a->err, sizeof(a->err));
	ofmt->pb = NULL;
	if (avfile_out_close(out) < 0)
		return remux_fail_io(a->err, sizeof(a->err), &a->sys_errno,
		    errno, "cannot write", a->path);
	return REMUX_OK;
}

/* The first audio stream copied by libavformat into the container its
 * codec fits (remux_audio_muxer). */
static int
remux_audio_libav(struct remux_audio *a)
{
	struct avfile in;
	struct avfile_out out = { .fd = -1 };
	AVFormatContext *ofmt = NULL;
	int ai, rc;

	rc = remux_audio_input(a, &in, &ai);
	if (rc != REMUX_OK || a->no_audio)
		goto end;
	rc = remux_audio_output(a, in.fmt->streams[ai], &ofmt, &out);
	if (rc != REMUX_OK)
		goto end;
	rc = remux_audio_packets(a, &in, ai, ofmt, &out);
	if (rc != REMUX_OK)
		goto end;
	rc = remux_audio_finish(a, ofmt, &out);
end:
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
	rc = remux_from_faststart(rc);
	if (close(fd) < 0 && rc == REMUX_OK) {
		/* close() reports delayed write errors (NFS, quotas) */
		rc = remux_fail_io(a->err, sizeof(a->err), &a->sys_errno, errno,
		    "cannot write", a->path);
	}
	if (rc != REMUX_OK) {
		unlink(a->path);
		a->created = false;
		a->path[0] = '\0';
	}
	return rc;
}

static void *
remux_audio_thread(void *arg)
{
	struct remux_audio *a = arg;

	a->rc = a->mp4 != NULL ? remux_audio_box(a) : remux_audio_libav(a);
	return NULL;
}

/* The libavformat video copy: the input, the output, and where each input
 * stream goes. */
struct remux_video {
	struct avfile in;
	AVFormatContext *ofmt;
	bool opened;            /* ofmt->pb is open: close it */
	int map[REMUX_MAX_STREAMS]; /* output stream of each input stream,
	                               -1: left out */
	bool has_audio;         /* an audio stream is copied */
	const char *out;        /* the output path */
	int *sys_errno;
	char *err;
	size_t errlen;
};

/* A write to the video output failed: libav's error, or the one its
 * AVIOContext kept. */
static int
remux_video_write_failed(struct remux_video *v, int ret)
{
	if (ret >= 0 && v->ofmt->pb != NULL)
		ret = v->ofmt->pb->error;
	return remux_write_failed(ret, 0, v->out, v->sys_errno, v->err,
	    v->errlen);
}

/* The input, its streams read and every indexed sample in the file. */
static int
remux_video_input(struct remux_video *v, const char *path, int fd,
    bool box_checked)
{
	int rc;

	rc = remux_libav_open(&v->in, path, fd, box_checked, v->sys_errno,
	    v->err, v->errlen);
	if (rc != REMUX_OK)
		return rc;
	rc = avfile_find_info(&v->in, v->err, v->errlen);
	if (rc != AVFILE_OK)
		return remux_from_avfile(rc);
	rc = avfile_check_index(&v->in, -1, v->err, v->errlen);
	if (rc != AVFILE_OK)
		return remux_from_avfile(rc);
	if (v->in.fmt->nb_streams > REMUX_MAX_STREAMS) {
		util_snprintf(v->err, v->errlen, "%u streams, at most %d "
		    "handled", v->in.fmt->nb_streams, REMUX_MAX_STREAMS);
		return REMUX_BAD_MEDIA;
	}
	return REMUX_OK;
}

/* The MP4 muxer with a stream for every audio, video and MP4-compatible
 * subtitle stream of the input; the others are discarded. */
static int
remux_video_streams(struct remux_video *v)
{
	AVFormatContext *ifmt = v->in.fmt;
	char msg[128];
	unsigned i;
	int ret, nout = 0;

	ret = avlib.avformat_alloc_output_context2(&v->ofmt, NULL, "mp4", NULL);
	if (ret < 0) {
		*v->sys_errno = ENOMEM;
		util_snprintf(v->err, v->errlen, "mp4 muxer: %s",
		    avfile_strerror(ret, msg, sizeof(msg)));
		return REMUX_IO;
	}
	for (i = 0; i < ifmt->nb_streams; i++) {
		AVStream *ist = ifmt->streams[i];
		enum AVMediaType type = ist->codecpar->codec_type;
		bool fits = avlib.avformat_query_codec(v->ofmt->oformat,
		    ist->codecpar->codec_id, FF_COMPLIANCE_NORMAL) == 1;

		v->map[i] = -1;
		if (type != AVMEDIA_TYPE_VIDEO && type != AVMEDIA_TYPE_AUDIO &&
		    (type != AVMEDIA_TYPE_SUBTITLE || !fits)) {
			/* attachments, data, subtitles MP4 cannot hold */
			ist->discard = AVDISCARD_ALL;
			continue;
		}
		if (!fits) {
			util_snprintf(v->err, v->errlen, "%s codec %s (stream "
			    "%u) cannot be stored in MP4",
			    avlib.av_get_media_type_string(type),
			    avlib.avcodec_get_name(ist->codecpar->codec_id), i);
			return REMUX_BAD_MEDIA;
		}
		if (type == AVMEDIA_TYPE_AUDIO)
			v->has_audio = true;
		if (remux_new_stream(v->ofmt, ist) == NULL)
			return remux_fail_io(v->err, v->errlen, v->sys_errno,
			    ENOMEM, "cannot set up", v->out);
		v->map[i] = nout++;
	}
	if (nout == 0) {
		util_snprintf(v->err, v->errlen, "no audio or video stream");
		return REMUX_BAD_MEDIA;
	}
	return REMUX_OK;
}

/* The output file opened by libavformat, and the header written. */
static int
remux_video_header(struct remux_video *v)
{
	AVDictionary *opts = NULL;
	char url[PATH_MAX + 8];
	int ret;

	/* "file:" so that a name with a colon is never taken for a protocol */
	if (util_snprintf(url, sizeof(url), "file:%s", v->out) < 0)
		return remux_fail_io(v->err, v->errlen, v->sys_errno,
		    ENAMETOOLONG, "cannot create", v->out);
	ret = avlib.avio_open2(&v->ofmt->pb, url, AVIO_FLAG_WRITE, NULL, NULL);
	if (ret < 0)
		return remux_fail_io(v->err, v->errlen, v->sys_errno,
		    AVUNERROR(ret), "cannot create", v->out);
	v->opened = true;
	avlib.av_freep(&v->ofmt->url);
	/* +faststart reopens it to read back */
	v->ofmt->url = avlib.av_strdup(url);
	avlib.av_dict_set(&opts, "movflags", "+faststart", 0);
	ret = avlib.avformat_write_header(v->ofmt, &opts);
	avlib.av_dict_free(&opts);
	if (ret < 0)
		return remux_video_write_failed(v, ret);
	return REMUX_OK;
}

/* The packets of the streams kept, interleaved by the muxer. */
static int
remux_video_packets(struct remux_video *v)
{
	AVFormatContext *ifmt = v->in.fmt, *ofmt = v->ofmt;
	AVPacket *pkt;
	uint64_t copied = 0, cap = remux_libav_cap(v->in.size);
	int ret, rc = REMUX_OK;

	pkt = avlib.av_packet_alloc();
	if (pkt == NULL)
		return remux_fail_io(v->err, v->errlen, v->sys_errno, ENOMEM,
		    "cannot write", v->out);
	while ((ret = avlib.av_read_frame(ifmt, pkt)) != AVERROR_EOF) {
		AVStream *ist, *ost;

		if (ret < 0) {
			rc = remux_read_failed(&v->in, ret, "input",
			    v->sys_errno, v->err, v->errlen);
			break;
		}
		if (pkt->stream_index < 0 ||
		    (unsigned)pkt->stream_index >= ifmt->nb_streams ||
		    v->map[pkt->stream_index] < 0) {
			avlib.av_packet_unref(pkt);
			continue;
		}
		copied += (uint64_t)pkt->size;
		if (copied > cap) {
			rc = remux_over_cap(cap, v->in.size, "copied", v->err,
			    v->errlen);
			break;
		}
		ist = ifmt->streams[pkt->stream_index];
		ost = ofmt->streams[v->map[pkt->stream_index]];
		avlib.av_packet_rescale_ts(pkt, ist->time_base, ost->time_base);
		pkt->stream_index = v->map[pkt->stream_index];
		pkt->pos = -1;
		ret = avlib.av_interleaved_write_frame(ofmt, pkt);
		if (ret < 0) {
			rc = remux_video_write_failed(v, ret);
			break;
		}
	}
	avlib.av_packet_free(&pkt);
	return rc;
}

/* The trailer (and with it the +faststart pass), and the file closed. */
static int
remux_video_finish(struct remux_video *v)
{
	int ret;

	ret = avlib.av_write_trailer(v->ofmt);
	if (ret < 0 || v->ofmt->pb->error < 0)
		return remux_video_write_failed(v, ret);
	ret = avlib.avio_closep(&v->ofmt->pb);
	v->opened = false;
	if (ret < 0)
		return remux_video_write_failed(v, ret);
	return REMUX_OK;
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
	struct remux_video v;
	int rc;

	memset(&v, 0, sizeof(v));
	v.out = out_path;
	v.sys_errno = sys_errno;
	v.err = err;
	v.errlen = errlen;
	rc = remux_video_input(&v, in_path, in_fd, box_checked);
	if (rc != REMUX_OK)
		goto end;
	rc = remux_video_streams(&v);
	if (rc != REMUX_OK)
		goto end;
	rc = remux_video_header(&v);
	if (rc != REMUX_OK)
		goto end;
	rc = remux_video_packets(&v);
	if (rc != REMUX_OK)
		goto end;
	rc = remux_video_finish(&v);
end:
	*has_audio = v.has_audio;
	if (v.opened)
		avlib.avio_closep(&v.ofmt->pb);
	avlib.avformat_free_context(v.ofmt);
	avfile_close(&v.in);
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

/* One remux_fd call: the input, how it is read, and the two outputs. */
struct remux_run {
	const char *in;         /* input path, for messages */
	int in_fd;              /* ours: a dup of the caller's, or opened */
	int64_t size;
	bool sniffed;           /* looked like an MP4: judged by its boxes */
	bool box;               /* mp4 loaded: the box-level copy applies */
	struct mp4box_file mp4;
	int track;              /* the sound track of mp4, -1 when none */
	bool has_audio;
	const char *out_video, *out_audio;
	bool video_created;     /* out_video exists because of us */
	char verr[512];         /* why the video failed */
	struct remux_audio audio;
	pthread_t tid;
	bool threaded;          /* the audio runs in tid */
	struct remux_result *res;
};

/* The input: a duplicate of the caller's descriptor fd, or r->in opened;
 * a regular, non-empty file that no output names. */
static int
remux_input(struct remux_run *r, int fd, char *err, size_t errlen)
{
	struct stat st;
	int rc;

	if (fd >= 0) {
		/* the caller's descriptor: what it checked is what we read */
		r->in_fd = fcntl(fd, F_DUPFD_CLOEXEC, 0);
		if (r->in_fd < 0)
			return remux_fail_io(err, errlen, &r->res->sys_errno,
			    errno, "cannot dup", r->in);
		rc = avfile_check_fd(&r->in_fd, &r->size, &r->res->sys_errno,
		    r->verr, sizeof(r->verr));
	} else {
		rc = avfile_open_path(r->in, &r->in_fd, &r->size,
		    &r->res->sys_errno, r->verr, sizeof(r->verr));
	}
	if (rc != AVFILE_OK) {
		util_snprintf(err, errlen, "%s: %s", r->in, r->verr);
		return remux_from_avfile(rc);
	}
	if (fstat(r->in_fd, &st) < 0)
		return remux_fail_io(err, errlen, &r->res->sys_errno, errno,
		    "cannot stat", r->in);
	if (remux_same_file(&st, r->out_video) ||
	    remux_same_file(&st, r->out_audio) ||
	    (r->out_video != NULL && r->out_audio != NULL &&
	    strcmp(r->out_video, r->out_audio) == 0)) {
		util_snprintf(err, errlen, "%s: the outputs must be new files, "
		    "distinct from the input and from each other", r->in);
		return REMUX_BAD_MEDIA;
	}
	return REMUX_OK;
}

/* An MP4 is judged by its boxes first: a cut-off or corrupt one is
 * refused before any output exists. */
static int
remux_load_box(struct remux_run *r, char *err, size_t errlen)
{
	int rc;

	r->sniffed = mp4box_sniff(r->in_fd);
	if (!r->sniffed)
		return REMUX_OK;
	rc = mp4box_load(r->in_fd, (uint64_t)r->size, &r->mp4, r->verr,
	    sizeof(r->verr));
	if (rc == MP4BOX_OK) {
		r->box = true;
		r->track = faststart_audio_track(&r->mp4);
		r->has_audio = r->track >= 0 &&
		    r->mp4.moov->track[r->track].nb_samples > 0;
		return REMUX_OK;
	}
	if (rc == MP4BOX_IO)
		r->res->sys_errno = errno;
	/* UNSUPPORTED: libavformat below */
	rc = remux_from_mp4box(rc);
	if (rc != REMUX_OK)
		util_snprintf(err, errlen, "%s: %s", r->in, r->verr);
	return rc;
}

/* The audio output, in a second thread while the video is written, or
 * here when there is no video (or no thread). */
static void
remux_audio_start(struct remux_run *r)
{
	struct remux_audio *a = &r->audio;

	a->rc = REMUX_OK;
	if (r->out_audio == NULL)
		return;
	a->in = r->in;
	a->in_fd = r->in_fd;
	a->box_checked = r->sniffed;
	a->out = r->out_audio;
	if (r->box && !r->has_audio) {
		a->no_audio = true;
		return;
	}
	if (r->box && remux_box_audio_ok(&r->mp4.moov->track[r->track])) {
		a->mp4 = &r->mp4;
		a->track = r->track;
	}
	if (r->out_video != NULL && pthread_create(&r->tid, NULL,
	    remux_audio_thread, a) == 0)
		r->threaded = true;
	else
		remux_audio_thread(a);
}

/* The video output: the box-level fast-start copy, or libavformat's for
 * what it does not rewrite. The reason goes to r->verr. */
static int
remux_video(struct remux_run *r)
{
	struct faststart_info fi;
	int fd, rc;

	fd = open(r->out_video, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC |
	    O_NOFOLLOW, 0644);
	if (fd < 0)
		return remux_fail_io(r->verr, sizeof(r->verr),
		    &r->res->sys_errno, errno, "cannot create", r->out_video);
	r->video_created = true;
	rc = r->box ? faststart_video(&r->mp4, fd, &fi, r->verr,
	    sizeof(r->verr)) : FASTSTART_UNSUPPORTED;
	if (rc == FASTSTART_UNSUPPORTED) {
		/* not ours to rewrite: libavformat copies the packets;
		 * it reopens the output itself */
		close(fd);
		rc = remux_libav_video(r->in, r->in_fd, r->sniffed,
		    r->out_video, &r->has_audio, &r->res->sys_errno, r->verr,
		    sizeof(r->verr));
		if (rc == REMUX_OK)
			r->res->video_method = "libavformat";
		return rc;
	}
	if (rc == FASTSTART_IO)
		r->res->sys_errno = fi.sys_errno;
	rc = remux_from_faststart(rc);
	if (rc == REMUX_OK)
		r->res->video_method = "faststart";
	if (close(fd) < 0 && rc == REMUX_OK) {
		/* close() reports delayed write errors */
		rc = remux_fail_io(r->verr, sizeof(r->verr), &r->res->sys_errno,
		    errno, "cannot write", r->out_video);
	}
	return rc;
}

/* Wait for the audio and fill res; rc is the video's result. On failure
 * every output is removed. */
static int
remux_collect(struct remux_run *r, int rc, char *err, size_t errlen)
{
	struct remux_audio *a = &r->audio;
	struct remux_result *res = r->res;
	int e;

	if (r->threaded)
		pthread_join(r->tid, NULL);
	if (r->out_audio != NULL) {
		res->no_audio = a->no_audio;
		if (a->rc == REMUX_OK && !a->no_audio) {
			util_strlcpy(res->audio_path, a->path,
			    sizeof(res->audio_path));
			res->audio_ext = a->ext;
		}
	} else {
		res->no_audio = !r->has_audio;
	}
	/* The video's reason first: it names the recording's problem; the
	 * audio part then usually failed for the same reason. */
	if (rc != REMUX_OK) {
		util_snprintf(err, errlen, "%s: %s", r->in, r->verr);
	} else if (r->out_audio != NULL && a->rc != REMUX_OK) {
		rc = a->rc;
		res->sys_errno = a->sys_errno;
		util_snprintf(err, errlen, "%s: %s", r->in, a->err);
	}
	if (rc != REMUX_OK) {
		e = errno;
		if (r->video_created)
			unlink(r->out_video);
		if (a->created)
			unlink(a->path);
		res->audio_path[0] = '\0';
		res->audio_ext = "";
		res->video_method = "";
		res->no_audio = false;
		errno = e;
	}
	return rc;
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
	struct remux_run r;
	int rc;

	memset(res, 0, sizeof(*res));
	res->audio_ext = "";
	res->video_method = "";
	memset(&r, 0, sizeof(r));
	r.in = in;
	r.in_fd = -1;
	r.mp4.fd = -1;
	r.track = -1;
	r.out_video = out_video;
	r.out_audio = out_audio;
	r.res = res;

	rc = remux_input(&r, fd, err, errlen);
	if (rc != REMUX_OK)
		goto end;
	rc = remux_load_box(&r, err, errlen);
	if (rc != REMUX_OK)
		goto end;
	remux_audio_start(&r);
	rc = out_video != NULL ? remux_video(&r) : REMUX_OK;
	rc = remux_collect(&r, rc, err, errlen);
end:
	mp4box_free(&r.mp4);
	if (r.in_fd >= 0)
		close(r.in_fd);
	return rc;
}
