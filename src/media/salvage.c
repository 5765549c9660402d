/* salvage.c -- a killed Jibri recording (no moov) made playable: its samples found, indexed, and written behind a new moov. */
#include "media/salvage.h"

#include "base/fsutil.h"
#include "base/hash.h"
#include "base/util.h"
#include "media/avfile.h"
#include "media/avlib.h"
#include "media/faststart.h"
#include "media/h264.h"
#include "media/mdatwalk.h"
#include "media/mp4box.h"
#include "media/mp4write.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

/* How far into the mdat the first video sample is looked for when a
 * configuration is checked. */
#define SALVAGE_FIRST_VIDEO (8u << 20)
/* AAC frames are 1024 samples; the encoder's priming is one frame. */
#define SALVAGE_AAC_FRAME 1024
/* Video time scale: the frame rate times 512, as ffmpeg's mp4 muxer. */
#define SALVAGE_VIDEO_TICKS 512
/* Audio/video interleaving further apart than this is reported. */
#define SALVAGE_SYNC_TOLERANCE 0.1

/* x264 settings that shape the bitstream: a configuration whose SPS/PPS
 * were made with other values cannot describe the file. */
static const char *const salvage_x264_keys[] = {
	"cabac", "ref", "8x8dct", "weightp", "bframes", "interlaced",
	"constrained_intra", "cqm", "deblock",
};

/* A codec configuration and where it came from. */
struct salvage_codec {
	uint8_t avcc[1024];
	size_t avcc_len;
	uint8_t asc[64];
	size_t asc_len;
	struct h264_params h264;
	unsigned fps, sample_rate, channels, width, height;
	char x264[1024];             /* "" when not known */
	const char *source;          /* reference, cache, synthesized */
	char what[160];              /* for messages: "the reference's
	                                settings" */
};

static void __attribute__((format(printf, 3, 4)))
salvage_err(char *err, size_t errlen, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(err, errlen, fmt, ap);
	va_end(ap);
}

/* x264's settings anywhere in buf (an SEI in Annex B or AVCC framing). */
static void
salvage_find_x264(const uint8_t *buf, size_t len, char *out, size_t outlen)
{
	const uint8_t *p = memmem(buf, len, "x264 - core", 11), *o;
	size_t n;

	out[0] = '\0';
	if (p == NULL || (o = memmem(p, len - (size_t)(p - buf), "options: ",
	    9)) == NULL)
		return;
	o += 9;
	for (n = 0; o + n < buf + len && o[n] != '\0' && n + 1 < outlen; n++)
		out[n] = (char)o[n];
	out[n] = '\0';
}

/* ---- a configuration from an intact recording ---------------------------- */

static unsigned
salvage_rate(AVRational r)
{
	return r.den > 0 && r.num > 0 ? (unsigned)((r.num + r.den / 2) /
	    r.den) : 0;
}

/* The configuration of the intact MP4 at fd: its H.264 and AAC tracks'
 * extradata and rates, and x264's settings from its first video packet. */
static int
salvage_codec_of(int fd, const char *path, struct salvage_codec *c,
    char *err, size_t errlen)
{
	struct avfile f;
	AVPacket *pkt = NULL;
	int v = -1, a = -1, rc = -1;
	unsigned i;

	memset(c, 0, sizeof(*c));
	if (avfile_open(&f, path, fd, err, errlen) != AVFILE_OK)
		return -1;
	if (avfile_find_info(&f, err, errlen) != AVFILE_OK)
		goto out;
	for (i = 0; i < f.fmt->nb_streams; i++) {
		AVCodecParameters *p = f.fmt->streams[i]->codecpar;
		if (p->codec_id == AV_CODEC_ID_H264 && v < 0)
			v = (int)i;
		else if (p->codec_id == AV_CODEC_ID_AAC && a < 0)
			a = (int)i;
	}
	if (v < 0 || a < 0) {
		salvage_err(err, errlen, "%s: not H.264 + AAC", path);
		goto out;
	}
	{
		AVStream *vs = f.fmt->streams[v], *as = f.fmt->streams[a];
		AVCodecParameters *vp = vs->codecpar, *ap = as->codecpar;

		if (vp->extradata_size < 7 || vp->extradata[0] != 1 ||
		    (size_t)vp->extradata_size > sizeof(c->avcc) ||
		    ap->extradata_size < 2 ||
		    (size_t)ap->extradata_size > sizeof(c->asc)) {
			salvage_err(err, errlen, "%s: no avcC or AAC "
			    "configuration in its sample entries", path);
			goto out;
		}
		memcpy(c->avcc, vp->extradata, (size_t)vp->extradata_size);
		c->avcc_len = (size_t)vp->extradata_size;
		memcpy(c->asc, ap->extradata, (size_t)ap->extradata_size);
		c->asc_len = (size_t)ap->extradata_size;
		c->fps = salvage_rate(vs->avg_frame_rate);
		if (c->fps == 0)
			c->fps = salvage_rate(vs->r_frame_rate);
		c->sample_rate = (unsigned)ap->sample_rate;
		c->channels = (unsigned)ap->ch_layout.nb_channels;
	}
	if (h264_parse_avcc(c->avcc, c->avcc_len, &c->h264, err, errlen) < 0)
		goto out;
	c->width = c->h264.width;
	c->height = c->h264.height;
	if (c->fps == 0 || c->sample_rate == 0 || c->channels == 0) {
		salvage_err(err, errlen, "%s: no frame rate, sample rate or "
		    "channel count", path);
		goto out;
	}
	pkt = avlib.av_packet_alloc();
	for (i = 0; i < 64 && pkt != NULL && avlib.av_read_frame(f.fmt,
	    pkt) >= 0; i++) {
		bool video = pkt->stream_index == v;
		if (video)
			salvage_find_x264(pkt->data, (size_t)pkt->size, c->x264,
			    sizeof(c->x264));
		avlib.av_packet_unref(pkt);
		if (video)
			break;
	}
	rc = 0;
out:
	avlib.av_packet_free(&pkt);
	avfile_close(&f);
	return rc;
}

/* ---- a configuration made the way Jibri's ffmpeg makes it ----------------- */

/* avcC from Annex B SPS and PPS (libx264's extradata). */
static int
salvage_avcc_from_annexb(const uint8_t *p, size_t len, struct salvage_codec *c)
{
	const uint8_t *nal[2] = { NULL, NULL };
	size_t nlen[2] = { 0, 0 }, i = 0, start, k;
	int t;

	while (i + 3 <= len) {
		if (p[i] != 0 || p[i + 1] != 0 || (p[i + 2] != 1 &&
		    !(p[i + 2] == 0 && i + 3 < len && p[i + 3] == 1))) {
			i++;
			continue;
		}
		i += p[i + 2] == 1 ? 3 : 4;
		start = i;
		while (i + 3 <= len && !(p[i] == 0 && p[i + 1] == 0 &&
		    (p[i + 2] == 1 || (p[i + 2] == 0 && i + 3 < len &&
		    p[i + 3] == 1))))
			i++;
		if (i + 3 > len)
			i = len;
		t = p[start] & 0x1f;
		k = (size_t)(t == 7 ? 0 : t == 8 ? 1 : 2);
		if (k < 2 && nal[k] == NULL) {
			nal[k] = p + start;
			nlen[k] = i - start;
		}
	}
	if (nal[0] == NULL || nal[1] == NULL || nlen[0] < 4 ||
	    11 + nlen[0] + nlen[1] > sizeof(c->avcc))
		return -1;
	c->avcc[0] = 1;
	c->avcc[1] = nal[0][1];
	c->avcc[2] = nal[0][2];
	c->avcc[3] = nal[0][3];
	c->avcc[4] = 0xff;
	c->avcc[5] = 0xe1;
	c->avcc[6] = (uint8_t)(nlen[0] >> 8);
	c->avcc[7] = (uint8_t)nlen[0];
	memcpy(c->avcc + 8, nal[0], nlen[0]);
	k = 8 + nlen[0];
	c->avcc[k++] = 1;
	c->avcc[k++] = (uint8_t)(nlen[1] >> 8);
	c->avcc[k++] = (uint8_t)nlen[1];
	memcpy(c->avcc + k, nal[1], nlen[1]);
	c->avcc_len = k + nlen[1];
	return 0;
}

/* One black frame through libx264 with Jibri's arguments (-pix_fmt
 * yuv420p -profile:v main -level 3.1 -preset P -crf N -r FPS, no SAR),
 * and the AAC encoder opened as Jibri's (-ar 44100 -b:a 128k). */
static int
salvage_codec_made(const struct salvage_settings *s, unsigned channels,
    struct salvage_codec *c, char *err, size_t errlen)
{
	const AVCodec *enc;
	AVCodecContext *ctx = NULL;
	AVFrame *frame = NULL;
	AVPacket *pkt = NULL;
	char crf[16];
	int rc = -1, r;

	memset(c, 0, sizeof(*c));
	if ((enc = avlib.avcodec_find_encoder_by_name("libx264")) == NULL) {
		salvage_err(err, errlen, "libx264 is not available to make the "
		    "codec configuration from JIBRI_* (give --reference)");
		return -1;
	}
	ctx = avlib.avcodec_alloc_context3(enc);
	frame = avlib.av_frame_alloc();
	pkt = avlib.av_packet_alloc();
	if (ctx == NULL || frame == NULL || pkt == NULL)
		goto nomem;
	ctx->width = (int)s->width;
	ctx->height = (int)s->height;
	ctx->pix_fmt = AV_PIX_FMT_YUV420P;
	ctx->time_base = (AVRational){ 1, (int)s->fps };
	ctx->framerate = (AVRational){ (int)s->fps, 1 };
	ctx->flags |= AV_CODEC_FLAG_GLOBAL_HEADER;
	ctx->thread_count = 1;
	snprintf(crf, sizeof(crf), "%u", s->crf);
	avlib.av_opt_set(ctx->priv_data, "preset", s->preset, 0);
	avlib.av_opt_set(ctx->priv_data, "crf", crf, 0);
	avlib.av_opt_set(ctx->priv_data, "profile", "main", 0);
	avlib.av_opt_set(ctx->priv_data, "level", "3.1", 0);
	if ((r = avlib.avcodec_open2(ctx, enc, NULL)) < 0) {
		salvage_err(err, errlen, "libx264 refuses JIBRI_RESOLUTION=%ux%u "
		    "JIBRI_PRESET=%s JIBRI_CRF=%u", s->width, s->height,
		    s->preset, s->crf);
		goto out;
	}
	if (ctx->extradata == NULL || salvage_avcc_from_annexb(ctx->extradata,
	    (size_t)ctx->extradata_size, c) < 0) {
		salvage_err(err, errlen, "libx264 gave no SPS/PPS");
		goto out;
	}
	frame->format = AV_PIX_FMT_YUV420P;
	frame->width = ctx->width;
	frame->height = ctx->height;
	if (avlib.av_frame_get_buffer(frame, 0) < 0)
		goto nomem;
	for (r = 0; r < 3; r++)
		memset(frame->data[r], r == 0 ? 16 : 128, (size_t)
		    frame->linesize[r] * (size_t)(r == 0 ? ctx->height :
		    (ctx->height + 1) / 2));
	frame->pts = 0;
	if (avlib.avcodec_send_frame(ctx, frame) >= 0 &&
	    avlib.avcodec_send_frame(ctx, NULL) >= 0 &&
	    avlib.avcodec_receive_packet(ctx, pkt) >= 0)
		salvage_find_x264(pkt->data, (size_t)pkt->size, c->x264,
		    sizeof(c->x264));
	avlib.av_packet_unref(pkt);
	avlib.avcodec_free_context(&ctx);

	if ((enc = avlib.avcodec_find_encoder_by_name("aac")) == NULL ||
	    (ctx = avlib.avcodec_alloc_context3(enc)) == NULL)
		goto nomem;
	ctx->sample_rate = 44100;
	ctx->sample_fmt = AV_SAMPLE_FMT_FLTP;
	ctx->bit_rate = 128000;
	ctx->flags |= AV_CODEC_FLAG_GLOBAL_HEADER;
	avlib.av_channel_layout_default(&ctx->ch_layout, (int)channels);
	if (avlib.avcodec_open2(ctx, enc, NULL) < 0 || ctx->extradata == NULL ||
	    ctx->extradata_size < 2 ||
	    (size_t)ctx->extradata_size > sizeof(c->asc)) {
		salvage_err(err, errlen, "the AAC encoder gave no configuration");
		goto out;
	}
	memcpy(c->asc, ctx->extradata, (size_t)ctx->extradata_size);
	c->asc_len = (size_t)ctx->extradata_size;
	if (h264_parse_avcc(c->avcc, c->avcc_len, &c->h264, err, errlen) < 0)
		goto out;
	c->fps = s->fps;
	c->sample_rate = 44100;
	c->channels = channels;
	c->width = c->h264.width;
	c->height = c->h264.height;
	rc = 0;
	goto out;
nomem:
	salvage_err(err, errlen, "out of memory");
out:
	avlib.avcodec_free_context(&ctx);
	avlib.av_frame_free(&frame);
	avlib.av_packet_free(&pkt);
	return rc;
}

/* ---- the cache ------------------------------------------------------------- */

static void
salvage_hex_get(const json_t *o, const char *k, uint8_t *out, size_t cap,
    size_t *len)
{
	const char *h = json_string_value(json_object_get(o, k));
	size_t n, i;
	unsigned b;

	*len = 0;
	if (h == NULL || (n = strlen(h)) % 2 != 0 || n / 2 > cap)
		return;
	for (i = 0; i < n / 2; i++) {
		char two[3] = { h[2 * i], h[2 * i + 1], '\0' };
		char *end;
		b = (unsigned)strtoul(two, &end, 16);
		if (*end != '\0')
			return;
		out[i] = (uint8_t)b;
	}
	*len = n / 2;
}

static int
salvage_codec_load(const char *path, struct salvage_codec *c)
{
	json_error_t je;
	json_t *o = json_load_file(path, 0, &je);
	char err[256];
	int rc = -1;

	memset(c, 0, sizeof(*c));
	if (!json_is_object(o))
		goto out;
	salvage_hex_get(o, "avcc", c->avcc, sizeof(c->avcc), &c->avcc_len);
	salvage_hex_get(o, "asc", c->asc, sizeof(c->asc), &c->asc_len);
	c->fps = (unsigned)json_integer_value(json_object_get(o, "fps"));
	c->sample_rate = (unsigned)json_integer_value(json_object_get(o,
	    "sample_rate"));
	c->channels = (unsigned)json_integer_value(json_object_get(o,
	    "channels"));
	snprintf(c->x264, sizeof(c->x264), "%s", json_string_value(
	    json_object_get(o, "x264")) ? json_string_value(json_object_get(o,
	    "x264")) : "");
	if (c->avcc_len == 0 || c->asc_len == 0 || c->fps == 0 ||
	    c->sample_rate == 0 || c->channels == 0 ||
	    h264_parse_avcc(c->avcc, c->avcc_len, &c->h264, err,
	    sizeof(err)) < 0)
		goto out;
	c->width = c->h264.width;
	c->height = c->h264.height;
	rc = 0;
out:
	json_decref(o);
	return rc;
}

struct salvage_entry {
	char *path;
	time_t mtime;
};

static int
salvage_newest_first(const void *a, const void *b)
{
	const struct salvage_entry *x = a, *y = b;

	return x->mtime < y->mtime ? 1 : x->mtime > y->mtime ? -1 :
	    strcmp(x->path, y->path);
}

/* The cache's files, newest first (*n of them; free each path). */
static struct salvage_entry *
salvage_cache_list(const char *dir, size_t *n)
{
	struct salvage_entry *v = NULL;
	struct dirent *e;
	struct stat st;
	size_t cap = 0, len;
	DIR *d;

	*n = 0;
	if (dir == NULL || (d = opendir(dir)) == NULL)
		return NULL;
	while ((e = readdir(d)) != NULL) {
		char *p;
		len = strlen(e->d_name);
		if (len < 6 || strcmp(e->d_name + len - 5, ".json") != 0)
			continue;
		p = xasprintf("%s/%s", dir, e->d_name);
		if (lstat(p, &st) < 0 || !S_ISREG(st.st_mode)) {
			free(p);
			continue;
		}
		if (*n == cap) {
			cap = cap ? cap * 2 : 16;
			v = xrealloc(v, cap * sizeof(*v));
		}
		v[(*n)++] = (struct salvage_entry){ p, st.st_mtime };
	}
	closedir(d);
	if (*n > 1)
		qsort(v, *n, sizeof(*v), salvage_newest_first);
	return v;
}

int
salvage_remember(const char *dir, int fd, const char *path, char *err,
    size_t errlen)
{
	struct salvage_codec c;
	struct salvage_entry *v;
	char ha[2 * sizeof(c.avcc) + 1], hs[2 * sizeof(c.asc) + 1];
	char hex[HASH_HEX_LEN], *file, *text;
	json_t *o;
	size_t n, i;
	int rc;

	if (salvage_codec_of(fd, path, &c, err, errlen) < 0)
		return -1;
	util_hex(c.avcc, c.avcc_len, ha);
	util_hex(c.asc, c.asc_len, hs);
	o = json_pack("{s:s, s:s, s:I, s:I, s:I, s:I, s:I, s:s, s:s}", "avcc",
	    ha, "asc", hs, "fps", (json_int_t)c.fps, "sample_rate",
	    (json_int_t)c.sample_rate, "channels", (json_int_t)c.channels,
	    "width", (json_int_t)c.width, "height", (json_int_t)c.height,
	    "x264", c.x264, "from", path);
	text = o != NULL ? json_dumps(o, JSON_INDENT(2)) : NULL;
	json_decref(o);
	if (text == NULL) {
		salvage_err(err, errlen, "out of memory");
		return -1;
	}
	/* one file per configuration: the same settings, the same name,
	 * its time the newest recording's */
	{
		char *key = xasprintf("%s.%s.%u", ha, hs, c.fps);
		hash_sha256_hex(key, strlen(key), hex);
		free(key);
	}
	file = xasprintf("%s/%.16s.json", dir, hex);
	rc = fs_mkdirs(dir, 0750) < 0 ? -1 :
	    fs_write_atomic(file, text, strlen(text), 0640, false);
	if (rc < 0)
		salvage_err(err, errlen, "%s: %s", file, strerror(errno));
	free(file);
	free(text);
	v = salvage_cache_list(dir, &n);
	for (i = 0; i < n; i++) {
		if (i >= SALVAGE_CACHE_MAX)
			unlink(v[i].path);
		free(v[i].path);
	}
	free(v);
	return rc;
}

/* ---- checking a configuration against the file ---------------------------- */

/* Whether the first video sample decodes with c (libavcodec's H.264
 * decoder, errors not concealed). */
static bool
salvage_decodes(const struct salvage_codec *c, const uint8_t *p, size_t len)
{
	const AVCodec *dec = avlib.avcodec_find_decoder(AV_CODEC_ID_H264);
	AVCodecContext *ctx = dec ? avlib.avcodec_alloc_context3(dec) : NULL;
	AVPacket *pkt = avlib.av_packet_alloc();
	AVFrame *frame = avlib.av_frame_alloc();
	uint8_t *buf = NULL;
	bool ok = false;

	if (ctx == NULL || pkt == NULL || frame == NULL)
		goto out;
	ctx->extradata = avlib.av_mallocz(c->avcc_len +
	    AV_INPUT_BUFFER_PADDING_SIZE);
	if (ctx->extradata == NULL)
		goto out;
	memcpy(ctx->extradata, c->avcc, c->avcc_len);
	ctx->extradata_size = (int)c->avcc_len;
	ctx->err_recognition = AV_EF_EXPLODE | AV_EF_BITSTREAM;
	ctx->thread_count = 1;
	if (avlib.avcodec_open2(ctx, dec, NULL) < 0)
		goto out;
	buf = xcalloc(1, len + AV_INPUT_BUFFER_PADDING_SIZE);
	memcpy(buf, p, len);
	pkt->data = buf;
	pkt->size = (int)len;
	ok = avlib.avcodec_send_packet(ctx, pkt) >= 0 &&
	    avlib.avcodec_send_packet(ctx, NULL) >= 0 &&
	    avlib.avcodec_receive_frame(ctx, frame) >= 0 &&
	    frame->width == (int)c->width && frame->height == (int)c->height &&
	    frame->decode_error_flags == 0;
out:
	pkt->data = NULL;
	pkt->size = 0;
	avlib.av_packet_free(&pkt);
	avlib.av_frame_free(&frame);
	avlib.avcodec_free_context(&ctx);
	free(buf);
	return ok;
}

/* Whether c describes the file: 0, or -1 with why naming the difference;
 * -2 when no configuration can (B-frames). */
static int
salvage_check(struct mdatwalk_src *src, uint64_t start,
    const struct salvage_codec *c, char *why, size_t whylen)
{
	char file_x264[1024], a[64], b[64];
	const uint8_t *p;
	uint64_t off;
	uint32_t size;
	size_t i;
	bool ha, hb;

	if (mdatwalk_first_video(src, start, SALVAGE_FIRST_VIDEO, &c->h264,
	    &off, &size, file_x264, sizeof(file_x264)) < 0) {
		salvage_err(why, whylen, "no H.264 frame that %s describe in "
		    "the first 8 MiB (not H.264 + AAC, or other settings)",
		    c->what);
		return -1;
	}
	/* frames out of order need their composition offsets, which only
	 * the lost index held: a recording made with B-frames (a slower
	 * preset than Jibri's) cannot be rebuilt exactly */
	if (h264_x264_option(file_x264, "bframes", a, sizeof(a)) &&
	    strcmp(a, "0") != 0) {
		salvage_err(why, whylen, "B-frames: the file was encoded with "
		    "bframes=%s (Jibri's ultrafast preset has none); their "
		    "order cannot be rebuilt without the index", a);
		return -2;
	}
	if (c->x264[0] != '\0' && file_x264[0] != '\0') {
		for (i = 0; i < sizeof(salvage_x264_keys) /
		    sizeof(salvage_x264_keys[0]); i++) {
			ha = h264_x264_option(c->x264, salvage_x264_keys[i], a,
			    sizeof(a));
			hb = h264_x264_option(file_x264, salvage_x264_keys[i], b,
			    sizeof(b));
			if (ha != hb || (ha && strcmp(a, b) != 0)) {
				salvage_err(why, whylen, "%s differ from the "
				    "file's: %s=%s there, %s=%s in the file",
				    c->what, salvage_x264_keys[i],
				    ha ? a : "(none)", salvage_x264_keys[i],
				    hb ? b : "(none)");
				return -1;
			}
		}
	}
	if ((p = mdatwalk_at(src, off, size)) == NULL ||
	    !salvage_decodes(c, p, size)) {
		salvage_err(why, whylen, "%s differ from the file's: its first "
		    "frame does not decode at %ux%u", c->what, c->width,
		    c->height);
		return -1;
	}
	return 0;
}

/* ---- the AAC frame check ------------------------------------------------ */

struct salvage_aac {
	AVCodecContext *ctx;
	AVPacket *pkt;
	AVFrame *frame;
	uint8_t *buf;
	size_t cap;
};

static void
salvage_aac_close(struct salvage_aac *a)
{
	if (a->pkt != NULL) {
		a->pkt->data = NULL;
		a->pkt->size = 0;
	}
	avlib.av_packet_free(&a->pkt);
	avlib.av_frame_free(&a->frame);
	avlib.avcodec_free_context(&a->ctx);
	free(a->buf);
	memset(a, 0, sizeof(*a));
}

static int
salvage_aac_open(struct salvage_aac *a, const struct salvage_codec *c)
{
	const AVCodec *dec = avlib.avcodec_find_decoder(AV_CODEC_ID_AAC);

	memset(a, 0, sizeof(*a));
	if (dec == NULL || (a->ctx = avlib.avcodec_alloc_context3(dec)) == NULL)
		return -1;
	a->pkt = avlib.av_packet_alloc();
	a->frame = avlib.av_frame_alloc();
	a->ctx->extradata = avlib.av_mallocz(c->asc_len +
	    AV_INPUT_BUFFER_PADDING_SIZE);
	if (a->pkt == NULL || a->frame == NULL || a->ctx->extradata == NULL) {
		salvage_aac_close(a);
		return -1;
	}
	memcpy(a->ctx->extradata, c->asc, c->asc_len);
	a->ctx->extradata_size = (int)c->asc_len;
	a->ctx->err_recognition = AV_EF_EXPLODE;
	if (avlib.avcodec_open2(a->ctx, dec, NULL) < 0) {
		salvage_aac_close(a);
		return -1;
	}
	return 0;
}

/* 1 when p..p+len decodes as exactly one AAC frame. */
static int
salvage_aac_ok(void *ctx, const uint8_t *p, size_t len)
{
	struct salvage_aac *a = ctx;
	int ok;

	if (len + AV_INPUT_BUFFER_PADDING_SIZE > a->cap) {
		a->cap = len + AV_INPUT_BUFFER_PADDING_SIZE;
		a->buf = xrealloc(a->buf, a->cap);
	}
	memcpy(a->buf, p, len);
	memset(a->buf + len, 0, AV_INPUT_BUFFER_PADDING_SIZE);
	a->pkt->data = a->buf;
	a->pkt->size = (int)len;
	/* one frame, and nothing left: the decoder keeps what a frame did
	 * not consume and would decode it next (zero bytes it skips) */
	ok = avlib.avcodec_send_packet(a->ctx, a->pkt) >= 0 &&
	    avlib.avcodec_receive_frame(a->ctx, a->frame) >= 0 &&
	    a->frame->nb_samples == SALVAGE_AAC_FRAME &&
	    avlib.avcodec_receive_frame(a->ctx, a->frame) == AVERROR(EAGAIN);
	/* what the decoder kept of a packet that was more than a frame goes
	 * (a frame consumed whole leaves nothing behind) */
	if (!ok)
		avlib.avcodec_flush_buffers(a->ctx);
	a->pkt->data = NULL;
	a->pkt->size = 0;
	return ok ? 1 : 0;
}

/* ---- the file -------------------------------------------------------------- */

static void
salvage_walked(void *ctx, uint64_t done, uint64_t total)
{
	const struct salvage_options *o = ctx;

	o->progress(o->progress_ctx, "walking", done, total);
}

bool
salvage_wanted(int fd)
{
	struct mp4box_layout l;
	struct stat st;
	char err[256];

	if (fstat(fd, &st) < 0 || !S_ISREG(st.st_mode) || st.st_size < 16)
		return false;
	memset(&l, 0, sizeof(l));
	/* mp4box_scan refuses a file without moov: look at the boxes here */
	{
		uint8_t h[16];
		uint64_t pos = 0, size;
		bool ftyp = false;
		while (pos + 8 <= (uint64_t)st.st_size) {
			if (pread(fd, h, 16, (off_t)pos) < 8)
				return false;
			size = mp4box_rb32(h);
			if (memcmp(h + 4, "moov", 4) == 0)
				return false;
			if (memcmp(h + 4, "ftyp", 4) == 0)
				ftyp = true;
			if (memcmp(h + 4, "mdat", 4) == 0)
				return ftyp;
			if (size == 1)
				size = mp4box_rb64(h + 8);
			if (size < 8)
				return false;
			pos += size;
		}
	}
	(void)err;
	return false;
}

/* Where the mdat's payload starts: ftyp, then free/wide/skip boxes, then
 * an mdat whose size was never written (0), or one that runs past the
 * end (its size written by a muxer that flushed it), or a complete one
 * without moov. 0, or -1 with err. */
static int
salvage_find_mdat(int fd, uint64_t size, uint64_t *start, uint8_t *ftyp,
    size_t *ftyp_len, char *err, size_t errlen)
{
	uint8_t h[16];
	uint64_t pos = 0, box;
	ssize_t n;

	*ftyp_len = 0;
	while (pos + 8 <= size) {
		if ((n = pread(fd, h, 16, (off_t)pos)) < 8) {
			salvage_err(err, errlen, "read at %llu: %s",
			    (unsigned long long)pos, n < 0 ? strerror(errno) :
			    "short");
			return -1;
		}
		box = mp4box_rb32(h);
		if (memcmp(h + 4, "moov", 4) == 0) {
			salvage_err(err, errlen, "the file has an index (moov): "
			    "not a killed recording; `jibri-pipeline remux' "
			    "makes it fast-start");
			return -1;
		}
		if (memcmp(h + 4, "mdat", 4) == 0) {
			*start = pos + (box == 1 ? 16 : 8);
			return 0;
		}
		if (box == 1 && n >= 16)
			box = mp4box_rb64(h + 8);
		if (memcmp(h + 4, "ftyp", 4) == 0 && box <= 64 && pos == 0) {
			if (pread(fd, ftyp, (size_t)box, 0) != (ssize_t)box) {
				salvage_err(err, errlen, "read the ftyp: %s",
				    strerror(errno));
				return -1;
			}
			*ftyp_len = (size_t)box;
		}
		if (box < 8 || box > size - pos)
			break;
		pos += box;
	}
	salvage_err(err, errlen, size < 48 ? "nothing on disk: %llu bytes, "
	    "ffmpeg wrote no sample" : "not an MP4 recording: no mdat box "
	    "(%llu bytes)", (unsigned long long)size);
	return -1;
}

/* Jibri's file name ends _yyyy-MM-dd-HH-mm-ss.mp4, in the host's time. */
static int64_t
salvage_created(const char *name)
{
	const char *base, *p;
	struct tm tm;
	time_t t;

	if (name == NULL)
		return 0;
	base = strrchr(name, '/');
	base = base ? base + 1 : name;
	p = strrchr(base, '_');
	memset(&tm, 0, sizeof(tm));
	if (p == NULL || (p = strptime(p + 1, "%Y-%m-%d-%H-%M-%S", &tm)) ==
	    NULL || (*p != '.' && *p != '\0'))
		return 0;
	tm.tm_isdst = -1;
	t = mktime(&tm);
	return t == (time_t)-1 ? 0 : (int64_t)t;
}

/* Choose the configuration: the reference, else the newest cached one
 * that fits, else Jibri's settings. -1 with err when none fits. */
static int
salvage_choose(struct mdatwalk_src *src, uint64_t start,
    const struct salvage_options *o, unsigned channels,
    struct salvage_codec *c, char *err, size_t errlen)
{
	struct salvage_entry *v;
	char why[512];
	size_t n, i;
	int rc = -1;      /* -1 none fits yet, -2 refused for good */

	if (o->reference != NULL) {
		int fd = open(o->reference, O_RDONLY | O_NOFOLLOW | O_CLOEXEC);
		if (fd < 0) {
			salvage_err(err, errlen, "reference %s: %s",
			    o->reference, strerror(errno));
			return -1;
		}
		rc = salvage_codec_of(fd, o->reference, c, err, errlen);
		close(fd);
		if (rc < 0)
			return -1;
		c->source = "reference";
		snprintf(c->what, sizeof(c->what), "the reference's settings");
		if (channels != 0 && c->channels != channels) {
			salvage_err(err, errlen, "the reference's settings differ "
			    "from the file's: %u audio channel(s) there, %u in "
			    "the file", c->channels, channels);
			return -1;
		}
		return salvage_check(src, start, c, err, errlen);
	}
	v = salvage_cache_list(o->cache_dir, &n);
	for (i = 0; i < n; i++) {
		if (rc == -1 && salvage_codec_load(v[i].path, c) == 0 &&
		    (channels == 0 || c->channels == channels)) {
			c->source = "cache";
			snprintf(c->what, sizeof(c->what), "the settings of "
			    "a recording processed before");
			rc = salvage_check(src, start, c, why, sizeof(why));
		}
		free(v[i].path);
	}
	free(v);
	if (rc == 0)
		return 0;
	if (rc == -2) {
		salvage_err(err, errlen, "%s", why);
		return -1;
	}
	if (salvage_codec_made(&o->jibri, channels ? channels : 2, c, err,
	    errlen) < 0)
		return -1;
	c->source = "synthesized";
	snprintf(c->what, sizeof(c->what), "the JIBRI_* settings (%ux%u, %u "
	    "fps, %s, crf %u)", o->jibri.width, o->jibri.height, o->jibri.fps,
	    o->jibri.preset, o->jibri.crf);
	return salvage_check(src, start, c, err, errlen);
}

/* The index of what the walk found, in the output: per track, sizes and
 * offsets (relative to the first sample), IDR flags. */
struct salvage_tracks {
	uint32_t *vsize, *asize;
	uint64_t *voff, *aoff;
	uint8_t *vkey;
	uint64_t nv, na;
};

static void
salvage_tracks_free(struct salvage_tracks *t)
{
	free(t->vsize);
	free(t->asize);
	free(t->voff);
	free(t->aoff);
	free(t->vkey);
	memset(t, 0, sizeof(*t));
}

static void
salvage_tracks_make(const struct mdatwalk_result *w, struct salvage_tracks *t)
{
	size_t i;

	memset(t, 0, sizeof(*t));
	t->vsize = xcalloc(w->video_frames + 1, sizeof(*t->vsize));
	t->voff = xcalloc(w->video_frames + 1, sizeof(*t->voff));
	t->vkey = xcalloc(w->video_frames + 1, sizeof(*t->vkey));
	t->asize = xcalloc(w->audio_frames + 1, sizeof(*t->asize));
	t->aoff = xcalloc(w->audio_frames + 1, sizeof(*t->aoff));
	for (i = 0; i < w->n; i++) {
		const struct mdatwalk_sample *s = &w->v[i];
		if (s->audio) {
			t->asize[t->na] = s->size;
			t->aoff[t->na++] = s->off - w->v[0].off;
		} else {
			t->vsize[t->nv] = s->size;
			t->vkey[t->nv] = s->key;
			t->voff[t->nv++] = s->off - w->v[0].off;
		}
	}
}

/* How far the file's interleaving is from the muxer's: ffmpeg writes
 * packets in dts order, audio frame k (priming first) at (k - 1) * 1024 /
 * rate, video frame i at i / fps. The largest difference (seconds)
 * between a video frame's time and the time of the audio before it. */
static double
salvage_sync(const struct mdatwalk_result *w, unsigned fps, unsigned rate)
{
	double worst = 0, tv, ta, d;
	uint64_t audio = 0, video = 0;
	size_t i;

	for (i = 0; i < w->n; i++) {
		if (w->v[i].audio) {
			audio++;
			continue;
		}
		tv = (double)video++ / fps;
		/* the audio written before this frame reaches this far */
		ta = ((double)audio - 1) * SALVAGE_AAC_FRAME / rate;
		d = ta - tv;
		if (d < 0)
			d = -d;
		/* ahead by up to one frame is how dts order leaves it */
		d -= (double)SALVAGE_AAC_FRAME / rate;
		if (audio > 0 && d > worst)
			worst = d;
	}
	return worst;
}

static int
salvage_write(int in_fd, int out_fd, const uint8_t *ftyp, size_t ftyp_len,
    uint64_t first, uint64_t last, const struct salvage_codec *c,
    const struct salvage_tracks *t, int64_t created, char *err,
    size_t errlen)
{
	struct mp4write_track tr[2];
	uint8_t *moov = NULL, hdr[16], freebox[8];
	size_t moov_len, hdr_len, ntr = 0;
	uint64_t payload = last - first, prefix, pad = 0;
	uint64_t created1904 = created > 0 ? (uint64_t)created +
	    MP4WRITE_EPOCH_1904 : 0;
	off_t in_off = (off_t)first;
	int rc = SALVAGE_IO;

	memset(tr, 0, sizeof(tr));
	tr[ntr++] = (struct mp4write_track){ .audio = false,
	    .timescale = c->fps * SALVAGE_VIDEO_TICKS,
	    .delta = SALVAGE_VIDEO_TICKS, .n = t->nv, .sizes = t->vsize,
	    .offsets = t->voff, .keys = t->vkey, .width = c->width,
	    .height = c->height, .avcc = c->avcc, .avcc_len = c->avcc_len };
	if (t->na > 0)
		tr[ntr++] = (struct mp4write_track){ .audio = true,
		    .timescale = c->sample_rate, .delta = SALVAGE_AAC_FRAME,
		    .n = t->na, .sizes = t->asize, .offsets = t->aoff,
		    .media_time = SALVAGE_AAC_FRAME,
		    .sample_rate = c->sample_rate, .channels = c->channels,
		    .asc = c->asc, .asc_len = c->asc_len,
		    .avg_bitrate = 128000 };
	hdr_len = payload + 8 > UINT32_MAX ? 16 : 8;
	/* the moov's size does not depend on the offsets (co64): make it,
	 * place the samples, make it again with them */
	if (mp4write_moov(tr, ntr, 0, created1904, &moov, &moov_len) < 0)
		goto too_big;
	prefix = ftyp_len + moov_len + 8 + hdr_len;
	/* the kernel copies fastest with source and destination offsets
	 * equal modulo FASTSTART_ALIGN (faststart.h) */
	if (payload >= FASTSTART_ALIGN_MIN)
		pad = (first - prefix % FASTSTART_ALIGN + FASTSTART_ALIGN) %
		    FASTSTART_ALIGN;
	free(moov);
	moov = NULL;
	if (mp4write_moov(tr, ntr, (int64_t)(prefix + pad), created1904,
	    &moov, &moov_len) < 0)
		goto too_big;
	mp4box_wb32(freebox, (uint32_t)(8 + pad));
	memcpy(freebox + 4, "free", 4);
	if (hdr_len == 8) {
		mp4box_wb32(hdr, (uint32_t)(payload + 8));
		memcpy(hdr + 4, "mdat", 4);
	} else {
		mp4box_wb32(hdr, 1);
		memcpy(hdr + 4, "mdat", 4);
		mp4box_wb64(hdr + 8, payload + 16);
	}
	if (fs_write_all(out_fd, ftyp, ftyp_len) < 0 ||
	    fs_write_all(out_fd, moov, moov_len) < 0 ||
	    fs_write_all(out_fd, freebox, 8) < 0 ||
	    (pad > 0 && lseek(out_fd, (off_t)pad, SEEK_CUR) < 0) ||
	    fs_write_all(out_fd, hdr, hdr_len) < 0 ||
	    fs_copy_range(in_fd, &in_off, out_fd, payload) < 0) {
		salvage_err(err, errlen, "write: %s", strerror(errno));
		goto out;
	}
	rc = SALVAGE_OK;
	goto out;
too_big:
	salvage_err(err, errlen, "too many samples for one MP4 index");
	rc = SALVAGE_NOTHING;
out:
	free(moov);
	return rc;
}

int
salvage_fd(int in_fd, int out_fd, const struct salvage_options *o,
    struct salvage_report *r, char *err, size_t errlen)
{
	static const uint8_t isom_ftyp[32] = { 0, 0, 0, 32, 'f', 't', 'y',
		'p', 'i', 's', 'o', 'm', 0, 0, 2, 0, 'i', 's', 'o', 'm', 'i',
		's', 'o', '2', 'a', 'v', 'c', '1', 'm', 'p', '4', '1' };
	struct mdatwalk_src src;
	struct mdatwalk_result w;
	struct salvage_codec c;
	struct salvage_tracks t;
	struct salvage_aac aac;
	struct mdatwalk_codec mc;
	struct stat st;
	uint8_t ftyp[64];
	size_t ftyp_len, i;
	uint64_t start, used = 0, first_off, last_end;
	unsigned channels = 0;
	int rc = SALVAGE_NOTHING, pass;

	memset(r, 0, sizeof(*r));
	memset(&w, 0, sizeof(w));
	memset(&t, 0, sizeof(t));
	memset(&aac, 0, sizeof(aac));
	if (fstat(in_fd, &st) < 0) {
		salvage_err(err, errlen, "stat: %s", strerror(errno));
		return SALVAGE_IO;
	}
	r->bytes_in = (uint64_t)st.st_size;
	r->created = salvage_created(o->name);
	if (salvage_find_mdat(in_fd, r->bytes_in, &start, ftyp, &ftyp_len, err,
	    errlen) < 0)
		return SALVAGE_NOTHING;
	if (ftyp_len == 0) {
		memcpy(ftyp, isom_ftyp, sizeof(isom_ftyp));
		ftyp_len = sizeof(isom_ftyp);
	}
	if (avlib_load(err, errlen) < 0)
		return SALVAGE_IO;
	mdatwalk_src_fd(&src, in_fd, r->bytes_in);
	if (mdatwalk_data_end(&src, start) <= start) {
		salvage_err(err, errlen, "nothing on disk: the mdat holds no data "
		    "(%llu bytes, all zero or none): ffmpeg wrote no sample",
		    (unsigned long long)(r->bytes_in - start));
		mdatwalk_src_close(&src);
		return SALVAGE_NOTHING;
	}
	/* the encoder's first frame says how many channels; without it,
	 * stereo first (Jibri's), then mono when no audio fits */
	channels = mdatwalk_channels(&src, start);
	for (pass = 0; pass < 2; pass++) {
		if (salvage_choose(&src, start, o, channels, &c, err,
		    errlen) < 0)
			goto out;
		if (salvage_aac_open(&aac, &c) < 0) {
			salvage_err(err, errlen, "the AAC decoder does not open "
			    "with the %s configuration", c.source);
			goto out;
		}
		mc = (struct mdatwalk_codec){ .h264 = c.h264,
		    .channels = c.channels, .aac_ok = salvage_aac_ok,
		    .ctx = &aac, .progress = o->progress ? salvage_walked :
		    NULL, .progress_ctx = (void *)o };
		mdatwalk_result_free(&w);
		mdatwalk_run(&src, start, &mc, &w);
		salvage_aac_close(&aac);
		if (w.audio_frames > 0 || w.video_frames == 0 ||
		    strcmp(c.source, "synthesized") != 0 || c.channels != 2 ||
		    channels != 0)
			break;
		channels = 1;
	}
	snprintf(r->config_source, sizeof(r->config_source), "%s", c.source);
	r->settings_inferred = strcmp(c.source, "synthesized") == 0;
	r->video_frames = w.video_frames;
	r->audio_frames = w.audio_frames;
	r->keyframes = w.keyframes;
	r->stopped_at = w.stopped_at;
	snprintf(r->stop_reason, sizeof(r->stop_reason), "%s", w.stop_reason);
	r->resyncs = w.resyncs;
	r->bytes_skipped = w.bytes_skipped;
	r->width = c.width;
	r->height = c.height;
	r->fps = c.fps;
	r->sample_rate = c.sample_rate;
	r->channels = c.channels;
	for (i = 0; i < w.n; i++)
		used += w.v[i].size;
	r->bytes_used = used;
	r->bytes_unparsed = r->bytes_in > start + used ?
	    r->bytes_in - start - used : 0;
	r->recovered_seconds = (double)w.video_frames / c.fps;
	if (w.bframes) {
		salvage_err(err, errlen, "B-frames: %s", w.stop_reason);
		goto out;
	}
	if (w.video_frames == 0) {
		salvage_err(err, errlen, "no video frame recovered: %s",
		    w.stop_reason);
		goto out;
	}
	if (w.audio_frames > 0) {
		r->sync_error_seconds = salvage_sync(&w, c.fps, c.sample_rate);
		r->sync_guessed = r->sync_error_seconds >
		    SALVAGE_SYNC_TOLERANCE;
	}
	/* the samples lost in unreadable bytes took their time with them:
	 * after a resync the timestamps are counted, not known */
	if (w.resyncs > 0)
		r->sync_guessed = true;
	salvage_tracks_make(&w, &t);
	/* the index is in the tracks now: memory stays what one copy takes */
	first_off = w.v[0].off;
	last_end = w.v[w.n - 1].off + w.v[w.n - 1].size;
	mdatwalk_result_free(&w);
	if (o->progress != NULL)
		o->progress(o->progress_ctx, "copying", 0, r->bytes_used);
	rc = salvage_write(in_fd, out_fd, ftyp, ftyp_len, first_off, last_end,
	    &c, &t, r->created, err, errlen);
out:
	salvage_tracks_free(&t);
	mdatwalk_result_free(&w);
	mdatwalk_src_close(&src);
	return rc;
}

json_t *
salvage_report_json(const struct salvage_report *r)
{
	json_t *o, *deg = json_array();

	if (r->settings_inferred)
		json_array_append_new(deg, json_string("settings_inferred"));
	if (r->sync_guessed)
		json_array_append_new(deg, json_string("sync_guessed"));
	if (r->resyncs > 0)
		json_array_append_new(deg, json_string("resynced"));
	o = json_pack("{s:f, s:I, s:I, s:I, s:I, s:I, s:I, s:I, s:s, s:I, "
	    "s:I, s:s, s:o, s:f, s:{s:i, s:i, s:i}, s:{s:i, s:i}}",
	    "recovered_seconds", r->recovered_seconds,
	    "video_frames", (json_int_t)r->video_frames,
	    "audio_frames", (json_int_t)r->audio_frames,
	    "keyframes", (json_int_t)r->keyframes,
	    "bytes_in", (json_int_t)r->bytes_in,
	    "bytes_used", (json_int_t)r->bytes_used,
	    "bytes_unparsed", (json_int_t)r->bytes_unparsed,
	    "stopped_at", (json_int_t)r->stopped_at,
	    "stop_reason", r->stop_reason,
	    "resyncs", (json_int_t)r->resyncs,
	    "bytes_skipped", (json_int_t)r->bytes_skipped,
	    "config_source", r->config_source,
	    "degraded", deg,
	    "sync_error_seconds", r->sync_error_seconds,
	    "video", "width", (int)r->width, "height", (int)r->height, "fps",
	    (int)r->fps,
	    "audio", "sample_rate", (int)r->sample_rate, "channels",
	    (int)r->channels);
	return o;
}
