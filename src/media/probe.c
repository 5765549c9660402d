/* probe.c -- what a media file holds, read with libavformat. */
#include "media/probe.h"
#include "base/util.h"
#include "media/avfile.h"
#include "media/avlib.h"
#include "media/mp4box.h"

#include <errno.h>
#include <fcntl.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>


static double
probe_seconds(int64_t ts, AVRational tb)
{
	if (ts == AV_NOPTS_VALUE)
		return 0;
	return (double)ts * av_q2d(tb);
}

static void
probe_stream(const AVStream *st, struct probe_stream *ps)
{
	const AVCodecParameters *par = st->codecpar;
	const char *s;

	memset(ps, 0, sizeof(*ps));
	ps->index = st->index;
	s = avlib.av_get_media_type_string(par->codec_type);
	util_strlcpy(ps->type, s != NULL ? s : "unknown", sizeof(ps->type));
	util_strlcpy(ps->codec, avlib.avcodec_get_name(par->codec_id),
	    sizeof(ps->codec));
	s = avlib.avcodec_profile_name(par->codec_id, par->profile);
	util_strlcpy(ps->profile, s != NULL ? s : "", sizeof(ps->profile));
	if (par->codec_type == AVMEDIA_TYPE_VIDEO) {
		ps->width = par->width;
		ps->height = par->height;
		if (st->avg_frame_rate.num > 0 && st->avg_frame_rate.den > 0)
			ps->fps = av_q2d(st->avg_frame_rate);
	} else if (par->codec_type == AVMEDIA_TYPE_AUDIO) {
		ps->sample_rate = par->sample_rate;
		ps->channels = par->ch_layout.nb_channels;
	}
	ps->bit_rate = par->bit_rate > 0 ? par->bit_rate : 0;
	ps->duration = probe_seconds(st->duration, st->time_base);
	if (ps->duration < 0 || !isfinite(ps->duration))
		ps->duration = 0;
}

/* Each module numbers its results on its own: what an avfile result
 * means here. */
static int
probe_from_avfile(int rc)
{
	switch (rc) {
	case AVFILE_OK:
		return PROBE_OK;
	case AVFILE_IO:
		return PROBE_IO;
	case AVFILE_BAD:
	default:
		return PROBE_BAD_MEDIA;
	}
}

/* An MP4's own boxes give a clearer reason than libavformat ("moov atom
 * not found") for the usual failure, a recording cut off before ffmpeg
 * wrote its index; they also catch an mdat cut short behind a good moov. */
static int
probe_mp4_layout(int fd, int64_t size, char *err, size_t errlen)
{
	struct mp4box_layout *l;
	int rc;

	if (!mp4box_sniff(fd))
		return PROBE_OK;
	l = xmalloc(sizeof(*l));
	rc = mp4box_scan(fd, (uint64_t)size, l, err, errlen);
	free(l);
	switch (rc) {
	case MP4BOX_OK:
		return PROBE_OK;
	case MP4BOX_IO:
		util_snprintf(err, errlen, "read error: %s", strerror(errno));
		return PROBE_IO;
	default:
		return PROBE_BAD_MEDIA;
	}
}

/* What the demuxer of f found, into out. */
static void
probe_fill(const struct avfile *f, struct probe_result *out)
{
	const AVFormatContext *fmt = f->fmt;
	unsigned i;

	util_strlcpy(out->format, fmt->iformat->name, sizeof(out->format));
	out->size = f->size;
	out->bit_rate = fmt->bit_rate > 0 ? fmt->bit_rate : 0;
	if (fmt->duration != AV_NOPTS_VALUE && fmt->duration > 0)
		out->duration = (double)fmt->duration / AV_TIME_BASE;
	if (fmt->start_time != AV_NOPTS_VALUE)
		out->start_time = (double)fmt->start_time / AV_TIME_BASE;
	for (i = 0; i < fmt->nb_streams; i++) {
		enum AVMediaType t = fmt->streams[i]->codecpar->codec_type;

		if (t == AVMEDIA_TYPE_VIDEO)
			out->has_video = true;
		else if (t == AVMEDIA_TYPE_AUDIO)
			out->has_audio = true;
		if (out->nb_streams < PROBE_MAX_STREAMS)
			probe_stream(fmt->streams[i],
			    &out->streams[out->nb_streams++]);
	}
}

int
probe_file(const char *path, struct probe_result *out, char *err,
    size_t errlen)
{
	return probe_fd(-1, path, out, err, errlen);
}

int
probe_fd(int in_fd, const char *path, struct probe_result *out, char *err,
    size_t errlen)
{
	struct avfile f = { .fd = -1 };
	int64_t size;
	int fd, rc, e;

	memset(out, 0, sizeof(*out));
	if (in_fd >= 0) {
		fd = fcntl(in_fd, F_DUPFD_CLOEXEC, 0);
		if (fd < 0) {
			util_snprintf(err, errlen, "cannot dup: %s", strerror(errno));
			return PROBE_IO;
		}
		rc = avfile_check_fd(&fd, &size, &e, err, errlen);
	} else {
		rc = avfile_open_path(path, &fd, &size, &e, err, errlen);
	}
	if (rc != AVFILE_OK)
		return probe_from_avfile(rc);
	rc = probe_mp4_layout(fd, size, err, errlen);
	if (rc != PROBE_OK)
		goto end;
	rc = probe_from_avfile(avfile_open(&f, path, fd, err, errlen));
	if (rc != PROBE_OK)
		goto end;
	rc = probe_from_avfile(avfile_find_info(&f, err, errlen));
	if (rc != PROBE_OK)
		goto end;
	rc = probe_from_avfile(avfile_check_index(&f, -1, err, errlen));
	if (rc != PROBE_OK)
		goto end;

	probe_fill(&f, out);
	if (f.fmt->duration == AV_NOPTS_VALUE) {
		util_snprintf(err, errlen, "unknown duration");
		rc = PROBE_BAD_MEDIA;
	} else if (out->duration <= 0) {
		util_snprintf(err, errlen, "zero duration");
		rc = PROBE_BAD_MEDIA;
	} else if (!out->has_video && !out->has_audio) {
		util_snprintf(err, errlen, "no audio or video stream");
		rc = PROBE_BAD_MEDIA;
	}
end:
	avfile_close(&f);
	close(fd);
	if (rc != PROBE_OK)
		memset(out, 0, sizeof(*out));
	return rc;
}

static void
probe_set_num(json_t *o, const char *key, double v)
{
	/* three decimals: what a human and the manifest need, and stable */
	json_object_set_new(o, key, json_real(round(v * 1000) / 1000));
}

json_t *
probe_to_json(const struct probe_result *p)
{
	json_t *o, *streams, *s;
	int i;

	o = json_object();
	json_object_set_new(o, "format", json_string(p->format));
	probe_set_num(o, "duration", p->duration);
	probe_set_num(o, "start_time", p->start_time);
	json_object_set_new(o, "size", json_integer(p->size));
	json_object_set_new(o, "bit_rate", json_integer(p->bit_rate));
	streams = json_array();
	for (i = 0; i < p->nb_streams && i < PROBE_MAX_STREAMS; i++) {
		const struct probe_stream *ps = &p->streams[i];

		s = json_object();
		json_object_set_new(s, "index", json_integer(ps->index));
		json_object_set_new(s, "type", json_string(ps->type));
		json_object_set_new(s, "codec", json_string(ps->codec));
		json_object_set_new(s, "profile", json_string(ps->profile));
		if (strcmp(ps->type, "video") == 0) {
			json_object_set_new(s, "width", json_integer(ps->width));
			json_object_set_new(s, "height",
			    json_integer(ps->height));
			probe_set_num(s, "fps", ps->fps);
		} else if (strcmp(ps->type, "audio") == 0) {
			json_object_set_new(s, "sample_rate",
			    json_integer(ps->sample_rate));
			json_object_set_new(s, "channels",
			    json_integer(ps->channels));
		}
		json_object_set_new(s, "bit_rate", json_integer(ps->bit_rate));
		probe_set_num(s, "duration", ps->duration);
		json_array_append_new(streams, s);
	}
	json_object_set_new(o, "streams", streams);
	return o;
}
