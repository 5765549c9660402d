/* faststart.c -- MP4 rewriting at box level, without libav.
 *
 * Jibri's ffmpeg writes ftyp, free, mdat, moov. Streaming players need the
 * moov (the index) first. A full remux moves every sample through user
 * space twice (demuxer, muxer); here only the moov (a few hundred KiB for
 * an hour) is read and rewritten, and the samples stay in their order, so
 * copy_file_range moves them inside the kernel, like cp does.
 *
 * The audio of a Jibri file lies in small chunks between the video frames
 * (about one every 7 KiB). Reading through the file to pick them out costs
 * as much as copying it; one pread per chunk reads ~8% of the bytes. */
#include "media/faststart.h"
#include "base/fsutil.h"
#include "base/util.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define T_MOOV MP4BOX_TYPE('m', 'o', 'o', 'v')
#define T_MVHD MP4BOX_TYPE('m', 'v', 'h', 'd')
#define T_TRAK MP4BOX_TYPE('t', 'r', 'a', 'k')
#define T_MDIA MP4BOX_TYPE('m', 'd', 'i', 'a')
#define T_MINF MP4BOX_TYPE('m', 'i', 'n', 'f')
#define T_STBL MP4BOX_TYPE('s', 't', 'b', 'l')
#define T_STCO MP4BOX_TYPE('s', 't', 'c', 'o')
#define T_CO64 MP4BOX_TYPE('c', 'o', '6', '4')
#define T_FREE MP4BOX_TYPE('f', 'r', 'e', 'e')
#define T_MDAT MP4BOX_TYPE('m', 'd', 'a', 't')
#define T_SOUN MP4BOX_TYPE('s', 'o', 'u', 'n')

/* The audio file's brand, as FFmpeg's ipod muxer writes it for .m4a. */
static const uint8_t faststart_m4a_ftyp[] = {
	0, 0, 0, 28, 'f', 't', 'y', 'p', 'M', '4', 'A', ' ', 0, 0, 2, 0,
	'M', '4', 'A', ' ', 'i', 's', 'o', 'm', 'i', 's', 'o', '2',
};

#define FASTSTART_GATHER_BUF (1 << 20)

size_t faststart_sink_size = 256 * 1024;

/* An output file. Every byte appended to it goes through faststart_out_*,
 * against a hard cap: the most this input can make (faststart.h). An
 * index that slipped past mp4box_check_chunks and names more bytes than
 * the file holds stops there as bad media, instead of filling the disk
 * and having its ENOSPC retried for ever. */
struct faststart_out {
	int fd;
	uint64_t written;       /* bytes appended so far */
	uint64_t cap;           /* at most this many */
	uint64_t in_size;       /* of the input, for the message */
	bool over;              /* a write stopped at cap */
};

static int
faststart_out_room(struct faststart_out *o, uint64_t n)
{
	if (n > o->cap - o->written) {
		o->over = true;
		errno = EFBIG;
		return -1;
	}
	return 0;
}

static int
faststart_out_write(struct faststart_out *o, const void *p, size_t n)
{
	if (faststart_out_room(o, n) < 0 || fs_write_all(o->fd, p, n) < 0)
		return -1;
	o->written += n;
	return 0;
}

/* n bytes of in_fd from offset from, by the kernel. */
static int
faststart_out_copy(struct faststart_out *o, int in_fd, uint64_t from,
    uint64_t n)
{
	off_t off = (off_t)from;

	if (faststart_out_room(o, n) < 0 ||
	    fs_copy_range(in_fd, &off, o->fd, n) < 0)
		return -1;
	o->written += n;
	return 0;
}

/* Where a rewritten moov goes: a memory buffer of exactly its size (for
 * faststart_moov), or the output file through a small buffer, so that the
 * memory used does not double with the size of the index. Container sizes
 * are patched once their children are written: in the buffer, or with
 * pwrite when that part was flushed already. */
struct faststart_sink {
	struct faststart_out *out; /* NULL: memory */
	uint8_t *buf;
	size_t cap, used;
	uint64_t flushed;       /* out: bytes written before buf[0] */
	uint64_t start;         /* out: file offset of the first byte */
	int sys_errno;          /* out: the write that failed */
};

static uint64_t
faststart_sink_pos(const struct faststart_sink *k)
{
	return k->flushed + k->used;
}

static int
faststart_sink_flush(struct faststart_sink *k)
{
	if (k->out == NULL || k->used == 0)
		return 0;
	if (faststart_out_write(k->out, k->buf, k->used) < 0) {
		k->sys_errno = errno;
		return -1;
	}
	k->flushed += k->used;
	k->used = 0;
	return 0;
}

static int
faststart_sink_put(struct faststart_sink *k, const void *p, size_t n)
{
	const uint8_t *q = p;
	size_t room;

	if (k->out == NULL) {
		if (n > k->cap - k->used)
			return -1;
		memcpy(k->buf + k->used, q, n);
		k->used += n;
		return 0;
	}
	while (n > 0) {
		if (k->used == k->cap && faststart_sink_flush(k) < 0)
			return -1;
		room = k->cap - k->used;
		if (room > n)
			room = n;
		memcpy(k->buf + k->used, q, room);
		k->used += room;
		q += room;
		n -= room;
	}
	return 0;
}

/* Overwrite n bytes at position pos (from the first byte of the sink). */
static int
faststart_sink_patch(struct faststart_sink *k, uint64_t pos, const uint8_t *p,
    size_t n)
{
	ssize_t w;

	if (pos + n > faststart_sink_pos(k))
		return -1;
	while (n > 0 && pos < k->flushed) {
		w = pwrite(k->out->fd, p, n, (off_t)(k->start + pos));
		if (w < 0) {
			if (errno == EINTR)
				continue;
			k->sys_errno = errno;
			return -1;
		}
		pos += (uint64_t)w;
		p += w;
		n -= (size_t)w;
	}
	if (n > 0)
		memcpy(k->buf + (pos - k->flushed), p, n);
	return 0;
}

/* How a moov is written: every track with its offsets shifted (video), or
 * one track alone with its chunks packed from base (audio). */
struct faststart_emit {
	const struct mp4box_moov *m;
	const bool *upgrade;    /* per track: write the stco as a co64 */
	int only;               /* -1: all tracks, shifted; else the one kept */
	uint64_t delta;         /* shifted: added to every chunk offset */
	uint64_t base;          /* packed: where the first chunk goes */
	uint64_t duration;      /* packed: the movie duration (mvhd) */
	struct faststart_sink *k;
	size_t track;           /* the trak being written */
};

static int
faststart_put(struct faststart_emit *e, const void *p, size_t n)
{
	return faststart_sink_put(e->k, p, n);
}

/* The new chunk offsets of track t, in table order, 4 or 8 bytes each. */
static int
faststart_put_entries(struct faststart_emit *e, const struct mp4box_track *t,
    unsigned width)
{
	struct mp4box_chunks it;
	uint64_t v, off, bytes, pos = e->base;
	uint32_t i, idx;
	uint8_t b[8];
	char why[200];

	if (e->only >= 0)
		mp4box_chunks_init(&it, t);
	for (i = 0; i < t->nb_chunks; i++) {
		if (e->only < 0) {
			v = t->co64 ? mp4box_rb64(t->chunks + 8 * (size_t)i) :
			    mp4box_rb32(t->chunks + 4 * (size_t)i);
			if (v > UINT64_MAX - e->delta)
				return -1;
			v += e->delta;
		} else {
			/* packed: chunk i starts where chunk i-1 ended */
			if (mp4box_chunks_next(&it, &idx, &off, &bytes, why,
			    sizeof(why)) != 1 || idx != i)
				return -1;
			v = pos;
			pos += bytes;
		}
		if (width == 4) {
			if (v > UINT32_MAX)
				return -1;
			mp4box_wb32(b, (uint32_t)v);
		} else {
			mp4box_wb64(b, v);
		}
		if (faststart_put(e, b, width) < 0)
			return -1;
	}
	return 0;
}

/* The chunk offset table of the current track, rewritten. */
static int
faststart_put_offsets(struct faststart_emit *e, const struct mp4box *b)
{
	const struct mp4box_track *t;
	const uint8_t *in = e->m->buf + b->off;
	uint64_t size, table;
	unsigned width;
	uint8_t h[24];

	if (e->track >= e->m->nb_tracks)
		return -1;
	t = &e->m->track[e->track];
	if (t->co_off != b->off)
		return -1; /* the parse saw another table: cannot happen */
	width = t->co64 ? 8 : 4;
	if (t->co64 || !e->upgrade[e->track]) {
		/* the same box: header, version/flags, count, the new entries
		 * and whatever trailed the table */
		table = (uint64_t)b->hdr + 8 + (uint64_t)width * t->nb_chunks;
		if (faststart_put(e, in, b->hdr + 8) < 0 ||
		    faststart_put_entries(e, t, width) < 0 ||
		    faststart_put(e, in + table, (size_t)(b->size - table)) < 0)
			return -1;
		return 0;
	}
	/* stco -> co64: same header form, version/flags 0, 64-bit entries */
	size = b->hdr + 8 + 8 * (uint64_t)t->nb_chunks;
	if (b->hdr == 16) {
		mp4box_wb32(h, 1);
		mp4box_wb32(h + 4, T_CO64);
		mp4box_wb64(h + 8, size);
	} else {
		if (size > UINT32_MAX)
			return -1;
		mp4box_wb32(h, (uint32_t)size);
		mp4box_wb32(h + 4, T_CO64);
	}
	mp4box_wb32(h + b->hdr, 0);
	mp4box_wb32(h + b->hdr + 4, t->nb_chunks);
	if (faststart_put(e, h, b->hdr + 8) < 0)
		return -1;
	return faststart_put_entries(e, t, 8);
}

/* mvhd with the duration of the track kept (an audio file must not claim
 * the video's length). */
static int
faststart_put_mvhd(struct faststart_emit *e, const struct mp4box *b)
{
	const uint8_t *in = e->m->buf + b->off;
	size_t at = 0, n = 0;
	uint8_t d[8];

	/* version 1: flags, 64-bit creation/modification, time scale, 64-bit
	 * duration; version 0: the same in 32 bits */
	if (e->only >= 0 && in[b->hdr] == 1 && b->size - b->hdr >= 32) {
		at = b->hdr + 24;
		n = 8;
		mp4box_wb64(d, e->duration);
	} else if (e->only >= 0 && in[b->hdr] == 0 && b->size - b->hdr >= 20 &&
	    e->duration <= UINT32_MAX) {
		at = b->hdr + 16;
		n = 4;
		mp4box_wb32(d, (uint32_t)e->duration);
	}
	if (n == 0)
		return faststart_put(e, in, (size_t)b->size);
	if (faststart_put(e, in, at) < 0 || faststart_put(e, d, n) < 0)
		return -1;
	return faststart_put(e, in + at + n, (size_t)b->size - at - n);
}

static bool
faststart_is_container(uint32_t type, uint32_t parent)
{
	switch (type) {
	case T_TRAK:
		return parent == T_MOOV;
	case T_MDIA:
	case T_MINF:
	case T_STBL:
		return parent != T_MOOV && parent != 0;
	}
	return false;
}

/* Write box b of the moov (and, for the containers on the way to the chunk
 * tables, its children), fixing the sizes of the containers that changed.
 * Mirrors mp4box_parse_moov's walk, so tracks are met in the same order. */
static int
faststart_put_box(struct faststart_emit *e, const struct mp4box *b,
    uint32_t parent, int depth)
{
	const uint8_t *in = e->m->buf;
	struct mp4box c;
	uint64_t start = faststart_sink_pos(e->k), size;
	size_t pos, end;
	uint8_t h[8];
	int r;

	if (depth > 10)
		return -1;
	if (b->type == T_STCO || b->type == T_CO64) {
		if (parent == T_STBL)
			return faststart_put_offsets(e, b);
		return faststart_put(e, in + b->off, (size_t)b->size);
	}
	if (b->type == T_MVHD && parent == T_MOOV)
		return faststart_put_mvhd(e, b);
	if (b->type == T_TRAK && parent == T_MOOV && e->only >= 0 &&
	    e->track != (size_t)e->only) {
		e->track++; /* left out of the audio file */
		return 0;
	}
	if (!(depth == 0 && b->type == T_MOOV) &&
	    !faststart_is_container(b->type, parent))
		return faststart_put(e, in + b->off, (size_t)b->size);

	if (faststart_put(e, in + b->off, b->hdr) < 0)
		return -1;
	pos = (size_t)(b->off + b->hdr);
	end = (size_t)(b->off + b->size);
	while ((r = mp4box_child(in, &pos, end, &c)) == 1)
		if (faststart_put_box(e, &c, b->type, depth + 1) < 0)
			return -1;
	if (r < 0 || faststart_put(e, in + pos, end - pos) < 0)
		return -1;
	if (b->type == T_TRAK)
		e->track++;
	size = faststart_sink_pos(e->k) - start;
	if (b->hdr == 16) {
		mp4box_wb64(h, size);
		return faststart_sink_patch(e->k, start + 8, h, 8);
	}
	if (size > UINT32_MAX)
		return -1;
	mp4box_wb32(h, (uint32_t)size);
	return faststart_sink_patch(e->k, start, h, 4);
}

/* Run the emitter over the whole moov; exactly len bytes must come out. */
static int
faststart_emit_moov(struct faststart_emit *e, uint64_t len, char *err,
    size_t errlen)
{
	struct mp4box top;
	uint64_t from = faststart_sink_pos(e->k);
	size_t pos = 0;

	e->track = 0;
	if (mp4box_child(e->m->buf, &pos, e->m->len, &top) != 1 ||
	    faststart_put_box(e, &top, 0, 0) < 0) {
		if (e->k->sys_errno != 0) {
			errno = e->k->sys_errno;
			return FASTSTART_IO;
		}
		util_snprintf(err, errlen, "corrupt moov: cannot rewrite its "
		    "chunk offsets");
		return FASTSTART_BAD;
	}
	if (faststart_sink_pos(e->k) - from != len) {
		util_snprintf(err, errlen, "corrupt moov: rewritten to %llu "
		    "bytes, %llu expected", (unsigned long long)
		    (faststart_sink_pos(e->k) - from), (unsigned long long)len);
		return FASTSTART_BAD;
	}
	return FASTSTART_OK;
}

static uint64_t
faststart_max_offset(const struct mp4box_track *t)
{
	uint64_t v, max = 0;
	uint32_t j;

	for (j = 0; j < t->nb_chunks; j++) {
		v = t->co64 ? mp4box_rb64(t->chunks + 8 * (size_t)j) :
		    mp4box_rb32(t->chunks + 4 * (size_t)j);
		if (v > max)
			max = v;
	}
	return max;
}

/* Which stco tables must become co64 when the chunks move by extra + the
 * new moov + its padding; the new moov's length and the padding. */
static int
faststart_plan(const struct mp4box_moov *m, uint64_t extra, uint32_t align,
    bool *upgrade, uint64_t *len_out, uint64_t *pad_out, bool *upgraded,
    char *err, size_t errlen)
{
	uint64_t maxoff[MP4BOX_MAX_TRACKS] = { 0 };
	uint64_t len = m->len, delta, pad = 0;
	size_t i;
	bool changed;

	*upgraded = false;
	for (i = 0; i < m->nb_tracks; i++) {
		upgrade[i] = false;
		if (m->track[i].co_off != 0 && !m->track[i].co64)
			maxoff[i] = faststart_max_offset(&m->track[i]);
	}
	/* Growing a table moves the samples further, which can push another
	 * table over 4 GiB: repeat until nothing changes (at most once per
	 * track). The padding is not known yet: count its largest size. */
	do {
		changed = false;
		delta = extra + len + (align ? align + 8 : 0);
		for (i = 0; i < m->nb_tracks; i++) {
			const struct mp4box_track *t = &m->track[i];
			if (t->co_off == 0 || t->co64 || upgrade[i] ||
			    t->nb_chunks == 0 || maxoff[i] + delta <= UINT32_MAX)
				continue;
			upgrade[i] = true;
			len = len - t->co_size +
			    (t->co_hdr + 8 + 8 * (uint64_t)t->nb_chunks);
			changed = true;
			*upgraded = true;
		}
	} while (changed);
	if (len > (uint64_t)MP4BOX_MAX_MOOV * 3) {
		util_snprintf(err, errlen, "moov would grow to %llu bytes",
		    (unsigned long long)len);
		return FASTSTART_BAD;
	}
	if (align != 0) {
		pad = (align - (extra + len) % align) % align;
		if (pad < 8)
			pad += align; /* a box needs at least its header */
	}
	*len_out = len;
	*pad_out = pad;
	return FASTSTART_OK;
}

/* A 'free' box of pad bytes (at least 8). */
static int
faststart_put_free(struct faststart_sink *k, uint64_t pad)
{
	static const uint8_t zero[4096];
	uint8_t h[8];
	uint64_t left;

	if (pad == 0)
		return 0;
	mp4box_wb32(h, (uint32_t)pad);
	mp4box_wb32(h + 4, T_FREE);
	if (faststart_sink_put(k, h, 8) < 0)
		return -1;
	for (left = pad - 8; left > 0;) {
		size_t n = left > sizeof(zero) ? sizeof(zero) : (size_t)left;
		if (faststart_sink_put(k, zero, n) < 0)
			return -1;
		left -= n;
	}
	return 0;
}

int
faststart_moov(const struct mp4box_moov *m, uint64_t extra, uint32_t align,
    uint8_t **out, size_t *outlen, bool *upgraded, char *err, size_t errlen)
{
	bool upgrade[MP4BOX_MAX_TRACKS];
	struct faststart_sink k = { .out = NULL };
	struct faststart_emit e;
	uint64_t len, pad;
	int rc;

	*out = NULL;
	rc = faststart_plan(m, extra, align, upgrade, &len, &pad, upgraded,
	    err, errlen);
	if (rc != FASTSTART_OK)
		return rc;
	k.cap = (size_t)(len + pad);
	k.buf = xmalloc(k.cap ? k.cap : 1);
	memset(&e, 0, sizeof(e));
	e.m = m;
	e.upgrade = upgrade;
	e.only = -1;
	e.delta = extra + len + pad;
	e.k = &k;
	rc = faststart_emit_moov(&e, len, err, errlen);
	if (rc == FASTSTART_OK && faststart_put_free(&k, pad) < 0)
		rc = FASTSTART_BAD;
	if (rc != FASTSTART_OK) {
		free(k.buf);
		return FASTSTART_BAD;
	}
	*out = k.buf;
	*outlen = k.used;
	return FASTSTART_OK;
}

/* A write failed: IO with the errno, or BAD when it was the cap. */
static int
faststart_io(struct faststart_info *info, const struct faststart_out *o,
    char *err, size_t errlen)
{
	if (o != NULL && o->over) {
		util_snprintf(err, errlen, "corrupt index: the output would "
		    "pass %llu bytes, the most this %llu-byte input can make: "
		    "the index names more sample bytes than the file holds",
		    (unsigned long long)o->cap, (unsigned long long)o->in_size);
		return FASTSTART_BAD;
	}
	info->sys_errno = errno != 0 ? errno : EIO;
	util_snprintf(err, errlen, "%s", strerror(info->sys_errno));
	return FASTSTART_IO;
}

/* The most a fast-start copy of f can be: the input, its moov grown by
 * the co64 upgrade (4 more bytes a chunk of each 32-bit table), and the
 * padding (less than FASTSTART_ALIGN + 8). */
static uint64_t
faststart_video_cap(const struct mp4box_file *f)
{
	uint64_t cap = f->size + FASTSTART_ALIGN + 8;
	size_t i;

	for (i = 0; i < f->moov->nb_tracks; i++)
		if (f->moov->track[i].co_off != 0 && !f->moov->track[i].co64)
			cap += 4 * (uint64_t)f->moov->track[i].nb_chunks;
	return cap;
}

int
faststart_video(const struct mp4box_file *f, int out_fd,
    struct faststart_info *info, char *err, size_t errlen)
{
	const struct mp4box_layout *l = f->layout;
	const struct mp4box *mb = &l->box[l->moov], *first;
	bool upgrade[MP4BOX_MAX_TRACKS];
	struct faststart_out o = { .fd = out_fd };
	struct faststart_sink k = { .out = &o };
	struct faststart_emit e;
	uint64_t span, len, pad, tail;
	int rc;

	memset(info, 0, sizeof(*info));
	errno = 0;
	o.cap = faststart_video_cap(f);
	o.in_size = f->size;
	if (l->first_mdat < 0 || l->box[l->first_mdat].off > mb->off) {
		/* the index is in front already: a plain copy */
		if (faststart_out_copy(&o, f->fd, 0, f->size) < 0)
			return faststart_io(info, &o, err, errlen);
		info->moov_size = mb->size;
		info->out_size = f->size;
		return FASTSTART_OK;
	}
	if (l->box[l->last_mdat].off > mb->off) {
		util_snprintf(err, errlen, "mdat boxes on both sides of the moov");
		return FASTSTART_UNSUPPORTED;
	}

	first = &l->box[l->first_mdat];
	span = mb->off - first->off;
	rc = faststart_plan(f->moov, 0, span >= FASTSTART_ALIGN_MIN ?
	    FASTSTART_ALIGN : 0, upgrade, &len, &pad, &info->upgraded, err,
	    errlen);
	if (rc != FASTSTART_OK)
		return rc;
	/* the boxes before the mdat stay; the new moov follows them */
	if (faststart_out_copy(&o, f->fd, 0, first->off) < 0)
		return faststart_io(info, &o, err, errlen);
	k.start = first->off;
	k.cap = faststart_sink_size > 16 ? faststart_sink_size : 16;
	k.buf = xmalloc(k.cap);
	memset(&e, 0, sizeof(e));
	e.m = f->moov;
	e.upgrade = upgrade;
	e.only = -1;
	e.delta = len + pad;
	e.k = &k;
	rc = faststart_emit_moov(&e, len, err, errlen);
	if (rc == FASTSTART_OK &&
	    (faststart_put_free(&k, pad) < 0 || faststart_sink_flush(&k) < 0)) {
		errno = k.sys_errno;
		rc = FASTSTART_IO;
	}
	free(k.buf);
	if (rc != FASTSTART_OK)
		return rc == FASTSTART_IO ? faststart_io(info, &o, err, errlen) :
		    rc;
	/* the samples, and anything after the old moov, by the kernel */
	if (faststart_out_copy(&o, f->fd, first->off, span) < 0)
		return faststart_io(info, &o, err, errlen);
	tail = f->size - (mb->off + mb->size);
	if (tail > 0 && faststart_out_copy(&o, f->fd, mb->off + mb->size,
	    tail) < 0)
		return faststart_io(info, &o, err, errlen);
	info->moved = true;
	info->moov_size = len + pad;
	info->out_size = o.written;
	return FASTSTART_OK;
}

int
faststart_audio_track(const struct mp4box_file *f)
{
	size_t i;

	for (i = 0; i < f->moov->nb_tracks; i++)
		if (f->moov->track[i].handler == T_SOUN)
			return (int)i;
	return -1;
}

/* Collects the chunks of a track into a buffer, one pread per run of
 * adjacent chunks, and writes the buffer out when full. */
struct faststart_gather {
	int in_fd;
	struct faststart_out *out;
	uint8_t *buf;
	size_t used;
	uint64_t run_off, run_len; /* adjacent chunks not read yet */
};

static int
faststart_gather_read(struct faststart_gather *g)
{
	ssize_t r;
	size_t n;

	while (g->run_len > 0) {
		if (g->used == FASTSTART_GATHER_BUF) {
			if (faststart_out_write(g->out, g->buf, g->used) < 0)
				return -1;
			g->used = 0;
		}
		n = FASTSTART_GATHER_BUF - g->used;
		if (n > g->run_len)
			n = (size_t)g->run_len;
		r = pread(g->in_fd, g->buf + g->used, n, (off_t)g->run_off);
		if (r < 0) {
			if (errno == EINTR)
				continue;
			return -1;
		}
		if (r == 0) {
			errno = ENODATA; /* the file shrank under us */
			return -1;
		}
		g->used += (size_t)r;
		g->run_off += (uint64_t)r;
		g->run_len -= (uint64_t)r;
	}
	return 0;
}

static int
faststart_gather_add(struct faststart_gather *g, uint64_t off, uint64_t len)
{
	if (g->run_len > 0 && off == g->run_off + g->run_len &&
	    g->run_len + len <= FASTSTART_GATHER_BUF - g->used) {
		g->run_len += len;
		return 0;
	}
	if (faststart_gather_read(g) < 0)
		return -1;
	g->run_off = off;
	g->run_len = len;
	return 0;
}

int
faststart_audio(const struct mp4box_file *f, int track, int out_fd,
    struct faststart_info *info, char *err, size_t errlen)
{
	const struct mp4box_moov *m = f->moov;
	const struct mp4box_track *t;
	bool upgrade[MP4BOX_MAX_TRACKS] = { false };
	struct faststart_out o = { .fd = out_fd, .in_size = f->size };
	struct faststart_gather g = { .in_fd = f->fd, .out = &o };
	struct faststart_sink k = { .out = &o };
	struct faststart_emit e;
	struct mp4box_chunks it;
	uint64_t len, total = 0, off, bytes, held;
	uint8_t mdat[16];
	unsigned mdat_hdr;
	uint32_t idx;
	size_t i;
	int r, rc;
	char name[64];

	memset(info, 0, sizeof(*info));
	errno = 0;
	if (track < 0 || (size_t)track >= m->nb_tracks) {
		util_snprintf(err, errlen, "no track %d", track);
		return FASTSTART_BAD;
	}
	t = &m->track[track];
	mp4box_chunks_init(&it, t);
	while ((r = mp4box_chunks_next(&it, &idx, &off, &bytes, err,
	    errlen)) == 1)
		total += bytes;
	if (r < 0)
		return FASTSTART_BAD;
	/* each chunk's bytes are in the mdat once (mp4box_check_chunks):
	 * together no more than it holds, whatever the index claims */
	held = mp4box_mdat_bytes(f->layout);
	if (total > held) {
		util_snprintf(err, errlen, "corrupt index: the chunks of %s add "
		    "up to %llu bytes, more than the %llu bytes of sample data "
		    "in the file", mp4box_track_name(m, (size_t)track, name,
		    sizeof(name)), (unsigned long long)total,
		    (unsigned long long)held);
		return FASTSTART_BAD;
	}

	/* the new moov: the other traks left out, the table maybe wider */
	len = m->len;
	for (i = 0; i < m->nb_tracks; i++)
		if ((int)i != track)
			len -= m->track[i].trak_size;
	mdat_hdr = total + 8 > UINT32_MAX ? 16 : 8;
	if (t->co_off != 0 && !t->co64 && t->nb_chunks > 0 &&
	    sizeof(faststart_m4a_ftyp) + len + mdat_hdr + total > UINT32_MAX) {
		upgrade[track] = true;
		len = len - t->co_size + (t->co_hdr + 8 + 8 *
		    (uint64_t)t->nb_chunks);
		info->upgraded = true;
	}
	/* the output is exactly this: the cap stops any byte more */
	o.cap = sizeof(faststart_m4a_ftyp) + len + mdat_hdr + total;
	if (faststart_out_write(&o, faststart_m4a_ftyp,
	    sizeof(faststart_m4a_ftyp)) < 0)
		return faststart_io(info, &o, err, errlen);
	k.start = sizeof(faststart_m4a_ftyp);
	k.cap = faststart_sink_size > 16 ? faststart_sink_size : 16;
	k.buf = xmalloc(k.cap);
	memset(&e, 0, sizeof(e));
	e.m = m;
	e.upgrade = upgrade;
	e.only = track;
	e.base = sizeof(faststart_m4a_ftyp) + len + mdat_hdr;
	e.duration = t->duration;
	e.k = &k;
	rc = faststart_emit_moov(&e, len, err, errlen);
	if (rc == FASTSTART_OK && faststart_sink_flush(&k) < 0) {
		errno = k.sys_errno;
		rc = FASTSTART_IO;
	}
	free(k.buf);
	if (rc != FASTSTART_OK)
		return rc == FASTSTART_IO ? faststart_io(info, &o, err, errlen) :
		    rc;

	if (mdat_hdr == 16) {
		mp4box_wb32(mdat, 1);
		mp4box_wb32(mdat + 4, T_MDAT);
		mp4box_wb64(mdat + 8, total + 16);
	} else {
		mp4box_wb32(mdat, (uint32_t)(total + 8));
		mp4box_wb32(mdat + 4, T_MDAT);
	}
	if (faststart_out_write(&o, mdat, mdat_hdr) < 0)
		return faststart_io(info, &o, err, errlen);
	g.buf = xmalloc(FASTSTART_GATHER_BUF);
	mp4box_chunks_init(&it, t);
	while (mp4box_chunks_next(&it, &idx, &off, &bytes, err, errlen) == 1)
		if (bytes > 0 && faststart_gather_add(&g, off, bytes) < 0)
			goto io;
	if (faststart_gather_read(&g) < 0 ||
	    faststart_out_write(&o, g.buf, g.used) < 0)
		goto io;
	free(g.buf);
	info->moov_size = len;
	info->out_size = o.written;
	return FASTSTART_OK;
io:
	rc = faststart_io(info, &o, err, errlen);
	free(g.buf);
	return rc;
}
