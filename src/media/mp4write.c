/* mp4write.c -- a new moov for samples that had none: one H.264 and one AAC track, constant frame durations, 64-bit chunk offsets. */
#include "media/mp4write.h"

#include "base/util.h"

#include <stdlib.h>
#include <string.h>

/* A growing buffer with boxes opened and closed (their size patched). */
struct mp4write_buf {
	uint8_t *p;
	size_t len, cap;
	bool overflow;
};

static void
mp4write_room(struct mp4write_buf *b, size_t n)
{
	if (b->len + n <= b->cap)
		return;
	while (b->len + n > b->cap)
		b->cap = b->cap ? b->cap * 2 : 4096;
	b->p = xrealloc(b->p, b->cap);
}

static void
mp4write_bytes(struct mp4write_buf *b, const void *p, size_t n)
{
	mp4write_room(b, n);
	memcpy(b->p + b->len, p, n);
	b->len += n;
}

static void
mp4write_u8(struct mp4write_buf *b, unsigned v)
{
	uint8_t c = (uint8_t)v;

	mp4write_bytes(b, &c, 1);
}

static void
mp4write_u16(struct mp4write_buf *b, unsigned v)
{
	uint8_t c[2] = { (uint8_t)(v >> 8), (uint8_t)v };

	mp4write_bytes(b, c, 2);
}

static void
mp4write_u32(struct mp4write_buf *b, uint32_t v)
{
	uint8_t c[4] = { (uint8_t)(v >> 24), (uint8_t)(v >> 16),
	    (uint8_t)(v >> 8), (uint8_t)v };

	mp4write_bytes(b, c, 4);
}

static void
mp4write_u64(struct mp4write_buf *b, uint64_t v)
{
	mp4write_u32(b, (uint32_t)(v >> 32));
	mp4write_u32(b, (uint32_t)v);
}

static void
mp4write_zeros(struct mp4write_buf *b, size_t n)
{
	mp4write_room(b, n);
	memset(b->p + b->len, 0, n);
	b->len += n;
}

/* Open a box (version and flags too when full >= 0): its start. */
static size_t
mp4write_open(struct mp4write_buf *b, const char *type, int full,
    uint32_t flags)
{
	size_t at = b->len;

	mp4write_u32(b, 0);
	mp4write_bytes(b, type, 4);
	if (full >= 0)
		mp4write_u32(b, (uint32_t)full << 24 | (flags & 0xffffff));
	return at;
}

static void
mp4write_close(struct mp4write_buf *b, size_t at)
{
	size_t n = b->len - at;

	if (n > UINT32_MAX) {
		b->overflow = true;
		return;
	}
	b->p[at] = (uint8_t)(n >> 24);
	b->p[at + 1] = (uint8_t)(n >> 16);
	b->p[at + 2] = (uint8_t)(n >> 8);
	b->p[at + 3] = (uint8_t)n;
}

static void
mp4write_matrix(struct mp4write_buf *b)
{
	static const uint32_t m[9] = { 0x00010000, 0, 0, 0, 0x00010000, 0, 0,
	    0, 0x40000000 };
	size_t i;

	for (i = 0; i < 9; i++)
		mp4write_u32(b, m[i]);
}

/* A track's duration in its own time scale, and in the movie's (the
 * edit list's cut taken off). */
static uint64_t
mp4write_media_duration(const struct mp4write_track *t)
{
	return t->n * t->delta;
}

static uint64_t
mp4write_movie_duration(const struct mp4write_track *t)
{
	uint64_t d = mp4write_media_duration(t);

	d = d > t->media_time ? d - t->media_time : 0;
	return t->timescale ? d * MP4WRITE_MOVIE_TIMESCALE / t->timescale : 0;
}

/* ES descriptor lengths as ffmpeg writes them: 4 bytes, 7 bits each. */
static void
mp4write_desc(struct mp4write_buf *b, unsigned tag, size_t len)
{
	mp4write_u8(b, tag);
	mp4write_u8(b, 0x80 | ((len >> 21) & 0x7f));
	mp4write_u8(b, 0x80 | ((len >> 14) & 0x7f));
	mp4write_u8(b, 0x80 | ((len >> 7) & 0x7f));
	mp4write_u8(b, len & 0x7f);
}

static void
mp4write_esds(struct mp4write_buf *b, const struct mp4write_track *t,
    unsigned track_id)
{
	size_t at = mp4write_open(b, "esds", 0, 0);
	size_t dsi = 5 + t->asc_len, dcd = 13 + dsi, es = 3 + 5 + dcd + 5 + 1;

	mp4write_desc(b, 0x03, es);
	mp4write_u16(b, track_id);
	mp4write_u8(b, 0);
	mp4write_desc(b, 0x04, dcd);
	mp4write_u8(b, 0x40);                   /* AAC */
	mp4write_u8(b, 0x15);                   /* audio stream */
	mp4write_u8(b, 0);                      /* bufferSizeDB, 24 bits */
	mp4write_u16(b, 0);
	mp4write_u32(b, t->avg_bitrate);        /* max */
	mp4write_u32(b, t->avg_bitrate);
	mp4write_desc(b, 0x05, t->asc_len);
	mp4write_bytes(b, t->asc, t->asc_len);
	mp4write_desc(b, 0x06, 1);
	mp4write_u8(b, 0x02);
	mp4write_close(b, at);
}

static void
mp4write_stsd(struct mp4write_buf *b, const struct mp4write_track *t,
    unsigned track_id)
{
	size_t at = mp4write_open(b, "stsd", 0, 0), e, c;

	mp4write_u32(b, 1);
	if (!t->audio) {
		e = mp4write_open(b, "avc1", -1, 0);
		mp4write_zeros(b, 6);
		mp4write_u16(b, 1);                 /* data reference */
		mp4write_zeros(b, 16);
		mp4write_u16(b, t->width);
		mp4write_u16(b, t->height);
		mp4write_u32(b, 0x00480000);        /* 72 dpi */
		mp4write_u32(b, 0x00480000);
		mp4write_u32(b, 0);
		mp4write_u16(b, 1);                 /* frames per sample */
		mp4write_zeros(b, 32);              /* compressor name */
		mp4write_u16(b, 0x18);
		mp4write_u16(b, 0xffff);
		c = mp4write_open(b, "avcC", -1, 0);
		mp4write_bytes(b, t->avcc, t->avcc_len);
		mp4write_close(b, c);
	} else {
		e = mp4write_open(b, "mp4a", -1, 0);
		mp4write_zeros(b, 6);
		mp4write_u16(b, 1);
		mp4write_zeros(b, 8);
		mp4write_u16(b, t->channels);
		mp4write_u16(b, 16);
		mp4write_u32(b, 0);
		mp4write_u32(b, (uint32_t)t->sample_rate << 16);
		mp4write_esds(b, t, track_id);
	}
	mp4write_close(b, e);
	mp4write_close(b, at);
}

static void
mp4write_stbl(struct mp4write_buf *b, const struct mp4write_track *t,
    unsigned track_id, int64_t shift)
{
	size_t at = mp4write_open(b, "stbl", -1, 0), x;
	uint64_t i, nkeys = 0;

	mp4write_stsd(b, t, track_id);
	x = mp4write_open(b, "stts", 0, 0);
	mp4write_u32(b, t->n ? 1 : 0);
	if (t->n) {
		mp4write_u32(b, (uint32_t)t->n);
		mp4write_u32(b, t->delta);
	}
	mp4write_close(b, x);
	if (!t->audio && t->keys != NULL) {
		for (i = 0; i < t->n; i++)
			nkeys += t->keys[i] != 0;
		x = mp4write_open(b, "stss", 0, 0);
		mp4write_u32(b, (uint32_t)nkeys);
		for (i = 0; i < t->n; i++)
			if (t->keys[i])
				mp4write_u32(b, (uint32_t)(i + 1));
		mp4write_close(b, x);
	}
	x = mp4write_open(b, "stsc", 0, 0);
	mp4write_u32(b, t->n ? 1 : 0);
	if (t->n) {
		mp4write_u32(b, 1);
		mp4write_u32(b, 1);
		mp4write_u32(b, 1);
	}
	mp4write_close(b, x);
	x = mp4write_open(b, "stsz", 0, 0);
	mp4write_u32(b, 0);
	mp4write_u32(b, (uint32_t)t->n);
	for (i = 0; i < t->n; i++)
		mp4write_u32(b, t->sizes[i]);
	mp4write_close(b, x);
	x = mp4write_open(b, "co64", 0, 0);
	mp4write_u32(b, (uint32_t)t->n);
	for (i = 0; i < t->n; i++)
		mp4write_u64(b, (uint64_t)((int64_t)t->offsets[i] + shift));
	mp4write_close(b, x);
	mp4write_close(b, at);
}

static void
mp4write_trak(struct mp4write_buf *b, const struct mp4write_track *t,
    unsigned track_id, int64_t shift, uint64_t created)
{
	size_t trak = mp4write_open(b, "trak", -1, 0), x, mdia, minf, dinf;
	uint64_t mdur = mp4write_movie_duration(t);
	uint64_t media = mp4write_media_duration(t);
	static const char vname[] = "VideoHandler", sname[] = "SoundHandler";

	x = mp4write_open(b, "tkhd", 1, 3);     /* enabled, in movie */
	mp4write_u64(b, created);
	mp4write_u64(b, created);
	mp4write_u32(b, track_id);
	mp4write_u32(b, 0);
	mp4write_u64(b, mdur);
	mp4write_zeros(b, 8);
	mp4write_u16(b, 0);                     /* layer */
	mp4write_u16(b, t->audio ? 1 : 0);      /* alternate group */
	mp4write_u16(b, t->audio ? 0x0100 : 0); /* volume */
	mp4write_u16(b, 0);
	mp4write_matrix(b);
	mp4write_u32(b, t->audio ? 0 : (uint32_t)t->width << 16);
	mp4write_u32(b, t->audio ? 0 : (uint32_t)t->height << 16);
	mp4write_close(b, x);
	if (t->media_time != 0) {
		size_t edts = mp4write_open(b, "edts", -1, 0);
		x = mp4write_open(b, "elst", 1, 0);
		mp4write_u32(b, 1);
		mp4write_u64(b, mdur);
		mp4write_u64(b, t->media_time);
		mp4write_u32(b, 0x00010000);
		mp4write_close(b, x);
		mp4write_close(b, edts);
	}
	mdia = mp4write_open(b, "mdia", -1, 0);
	x = mp4write_open(b, "mdhd", 1, 0);
	mp4write_u64(b, created);
	mp4write_u64(b, created);
	mp4write_u32(b, t->timescale);
	mp4write_u64(b, media);
	mp4write_u16(b, 0x55c4);                /* "und" */
	mp4write_u16(b, 0);
	mp4write_close(b, x);
	x = mp4write_open(b, "hdlr", 0, 0);
	mp4write_u32(b, 0);
	mp4write_bytes(b, t->audio ? "soun" : "vide", 4);
	mp4write_zeros(b, 12);
	mp4write_bytes(b, t->audio ? sname : vname, sizeof(vname));
	mp4write_close(b, x);
	minf = mp4write_open(b, "minf", -1, 0);
	if (t->audio) {
		x = mp4write_open(b, "smhd", 0, 0);
		mp4write_u32(b, 0);
	} else {
		x = mp4write_open(b, "vmhd", 0, 1);
		mp4write_zeros(b, 8);
	}
	mp4write_close(b, x);
	dinf = mp4write_open(b, "dinf", -1, 0);
	x = mp4write_open(b, "dref", 0, 0);
	mp4write_u32(b, 1);
	mp4write_close(b, mp4write_open(b, "url ", 0, 1));
	mp4write_close(b, x);
	mp4write_close(b, dinf);
	mp4write_stbl(b, t, track_id, shift);
	mp4write_close(b, minf);
	mp4write_close(b, mdia);
	mp4write_close(b, trak);
}

int
mp4write_moov(const struct mp4write_track *t, size_t nt, int64_t shift,
    uint64_t created, uint8_t **out, size_t *len)
{
	struct mp4write_buf b = { 0 };
	uint64_t dur = 0, d;
	size_t moov, x, i;

	for (i = 0; i < nt; i++) {
		if (t[i].n > UINT32_MAX)
			return -1;
		if ((d = mp4write_movie_duration(&t[i])) > dur)
			dur = d;
	}
	/* the tables are most of it: sized once, not grown by doubling */
	for (i = 0; i < nt; i++)
		b.cap += (size_t)t[i].n * 17 + 1024;
	b.p = xmalloc(b.cap);
	moov = mp4write_open(&b, "moov", -1, 0);
	x = mp4write_open(&b, "mvhd", 1, 0);
	mp4write_u64(&b, created);
	mp4write_u64(&b, created);
	mp4write_u32(&b, MP4WRITE_MOVIE_TIMESCALE);
	mp4write_u64(&b, dur);
	mp4write_u32(&b, 0x00010000);           /* rate */
	mp4write_u16(&b, 0x0100);               /* volume */
	mp4write_zeros(&b, 10);
	mp4write_matrix(&b);
	mp4write_zeros(&b, 24);
	mp4write_u32(&b, (uint32_t)nt + 1);     /* next track id */
	mp4write_close(&b, x);
	for (i = 0; i < nt; i++)
		mp4write_trak(&b, &t[i], (unsigned)i + 1, shift, created);
	mp4write_close(&b, moov);
	if (b.overflow) {
		free(b.p);
		return -1;
	}
	*out = b.p;
	*len = b.len;
	return 0;
}
