/* faststart.c -- move an MP4's moov in front of its mdat; the sample bytes
 * are copied by the kernel as one range, never through user space.
 *
 * Jibri's ffmpeg writes ftyp, free, mdat, moov. Streaming players need the
 * moov (the index) first. A full remux moves every sample through user
 * space twice (demuxer, muxer); here only the moov (a few hundred KiB for
 * an hour) is read and rewritten, and the samples stay in their order, so
 * copy_file_range can move them inside the kernel, like cp does. */
#include "faststart.h"
#include "fsutil.h"
#include "util.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#define T_MOOV MP4BOX_TYPE('m', 'o', 'o', 'v')
#define T_TRAK MP4BOX_TYPE('t', 'r', 'a', 'k')
#define T_MDIA MP4BOX_TYPE('m', 'd', 'i', 'a')
#define T_MINF MP4BOX_TYPE('m', 'i', 'n', 'f')
#define T_STBL MP4BOX_TYPE('s', 't', 'b', 'l')
#define T_STCO MP4BOX_TYPE('s', 't', 'c', 'o')
#define T_CO64 MP4BOX_TYPE('c', 'o', '6', '4')
#define T_SOUN MP4BOX_TYPE('s', 'o', 'u', 'n')

struct faststart_emit {
	const struct mp4box_moov *m;
	const bool *upgrade;    /* per track: write the stco as a co64 */
	uint64_t delta;         /* added to every chunk offset */
	uint8_t *out;
	size_t o, cap;
	size_t track;           /* the trak being written */
};

static int
faststart_put(struct faststart_emit *e, const void *p, size_t n)
{
	if (n > e->cap - e->o)
		return -1;
	memcpy(e->out + e->o, p, n);
	e->o += n;
	return 0;
}

/* The chunk offset table of the current track, entries moved by delta. */
static int
faststart_put_offsets(struct faststart_emit *e, const struct mp4box *b)
{
	const struct mp4box_track *t;
	uint64_t v, size;
	uint32_t i;
	uint8_t *p;

	if (e->track >= e->m->nb_tracks)
		return -1;
	t = &e->m->track[e->track];
	if (t->co_off != b->off)
		return -1; /* the parse saw another table: cannot happen */
	if (!t->co64 && !e->upgrade[e->track]) {
		/* in place: the box keeps its size and any trailing bytes */
		if (faststart_put(e, e->m->buf + b->off, (size_t)b->size) < 0)
			return -1;
		p = e->out + e->o - b->size + (t->chunks - (e->m->buf + b->off));
		for (i = 0; i < t->nb_chunks; i++, p += 4) {
			v = mp4box_rb32(p) + e->delta;
			if (v > UINT32_MAX)
				return -1;
			mp4box_wb32(p, (uint32_t)v);
		}
		return 0;
	}
	if (t->co64) {
		if (faststart_put(e, e->m->buf + b->off, (size_t)b->size) < 0)
			return -1;
		p = e->out + e->o - b->size + (t->chunks - (e->m->buf + b->off));
		for (i = 0; i < t->nb_chunks; i++, p += 8) {
			v = mp4box_rb64(p);
			if (v > UINT64_MAX - e->delta)
				return -1;
			mp4box_wb64(p, v + e->delta);
		}
		return 0;
	}
	/* stco -> co64: same header form, version/flags 0, 64-bit entries */
	size = b->hdr + 8 + 8 * (uint64_t)t->nb_chunks;
	if (size > e->cap - e->o)
		return -1;
	p = e->out + e->o;
	if (b->hdr == 16) {
		mp4box_wb32(p, 1);
		mp4box_wb32(p + 4, T_CO64);
		mp4box_wb64(p + 8, size);
	} else {
		if (size > UINT32_MAX)
			return -1;
		mp4box_wb32(p, (uint32_t)size);
		mp4box_wb32(p + 4, T_CO64);
	}
	p += b->hdr;
	mp4box_wb32(p, 0);
	mp4box_wb32(p + 4, t->nb_chunks);
	p += 8;
	for (i = 0; i < t->nb_chunks; i++, p += 8)
		mp4box_wb64(p, (uint64_t)mp4box_rb32(t->chunks + 4 * (size_t)i) +
		    e->delta);
	e->o += (size_t)size;
	return 0;
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
 * tables, its children), fixing the sizes of the containers that grew.
 * Mirrors mp4box_parse_moov's walk, so tracks are met in the same order. */
static int
faststart_put_box(struct faststart_emit *e, const struct mp4box *b,
    uint32_t parent, int depth)
{
	const uint8_t *in = e->m->buf;
	struct mp4box c;
	size_t start = e->o, pos, end;
	uint64_t size;
	int r;

	if (depth > 10)
		return -1;
	if (b->type == T_STCO || b->type == T_CO64) {
		if (parent == T_STBL)
			return faststart_put_offsets(e, b);
		return faststart_put(e, in + b->off, (size_t)b->size);
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
	size = e->o - start;
	if (b->hdr == 16) {
		mp4box_wb64(e->out + start + 8, size);
	} else {
		if (size > UINT32_MAX)
			return -1;
		mp4box_wb32(e->out + start, (uint32_t)size);
	}
	return 0;
}

int
faststart_moov(const struct mp4box_moov *m, uint64_t extra, uint8_t **out,
    size_t *outlen, bool *upgraded, char *err, size_t errlen)
{
	bool upgrade[MP4BOX_MAX_TRACKS] = { false };
	uint64_t maxoff[MP4BOX_MAX_TRACKS] = { 0 };
	struct faststart_emit e;
	struct mp4box top;
	uint64_t len = m->len, delta, grown;
	size_t i, pos = 0;
	uint32_t j;
	bool changed;

	*out = NULL;
	*upgraded = false;
	for (i = 0; i < m->nb_tracks; i++) {
		const struct mp4box_track *t = &m->track[i];
		if (t->co_off == 0 || t->co64)
			continue;
		for (j = 0; j < t->nb_chunks; j++) {
			uint64_t v = mp4box_rb32(t->chunks + 4 * (size_t)j);
			if (v > maxoff[i])
				maxoff[i] = v;
		}
	}
	/* Growing a table moves the samples further, which can push another
	 * table over 4 GiB: repeat until nothing changes (at most once per
	 * track). */
	do {
		changed = false;
		delta = extra + len;
		for (i = 0; i < m->nb_tracks; i++) {
			const struct mp4box_track *t = &m->track[i];
			if (t->co_off == 0 || t->co64 || upgrade[i] ||
			    t->nb_chunks == 0 || maxoff[i] + delta <= UINT32_MAX)
				continue;
			upgrade[i] = true;
			grown = t->co_hdr + 8 + 8 * (uint64_t)t->nb_chunks;
			len = len - t->co_size + grown;
			changed = true;
			*upgraded = true;
		}
	} while (changed);
	if (len > (uint64_t)MP4BOX_MAX_MOOV * 3) {
		util_snprintf(err, errlen, "moov would grow to %llu bytes",
		    (unsigned long long)len);
		return FASTSTART_BAD;
	}

	memset(&e, 0, sizeof(e));
	e.m = m;
	e.upgrade = upgrade;
	e.delta = extra + len;
	e.cap = (size_t)len;
	e.out = xmalloc(e.cap);
	if (mp4box_child(m->buf, &pos, m->len, &top) != 1 ||
	    faststart_put_box(&e, &top, 0, 0) < 0 || e.o != e.cap) {
		free(e.out);
		util_snprintf(err, errlen, "corrupt moov: cannot rewrite its "
		    "chunk offsets");
		return FASTSTART_BAD;
	}
	*out = e.out;
	*outlen = e.o;
	return FASTSTART_OK;
}

static int
faststart_write_all(int fd, const uint8_t *p, size_t n)
{
	ssize_t w;

	while (n > 0) {
		w = write(fd, p, n);
		if (w < 0) {
			if (errno == EINTR)
				continue;
			return -1;
		}
		p += w;
		n -= (size_t)w;
	}
	return 0;
}

int
faststart_copy(int in_fd, uint64_t size, int out_fd,
    struct faststart_info *info, char *err, size_t errlen)
{
	struct mp4box_layout *l;
	struct mp4box_moov *m;
	const struct mp4box *mb, *first;
	uint8_t *moov = NULL, *nmoov = NULL;
	size_t mlen = 0, nlen = 0, i;
	off_t off;
	int rc;

	memset(info, 0, sizeof(*info));
	errno = 0;
	/* both are large (the layout holds up to 1024 boxes): not on the
	 * stack of a worker thread */
	l = xmalloc(sizeof(*l));
	m = xmalloc(sizeof(*m));
	rc = mp4box_scan(in_fd, size, l, err, errlen);
	if (rc != MP4BOX_OK)
		goto done;
	if (l->fragmented) {
		util_snprintf(err, errlen, "fragmented MP4 (moof boxes)");
		rc = FASTSTART_UNSUPPORTED;
		goto done;
	}
	rc = mp4box_read_moov(in_fd, l, &moov, &mlen, err, errlen);
	if (rc != MP4BOX_OK)
		goto done;
	rc = mp4box_parse_moov(moov, mlen, m, err, errlen);
	if (rc != MP4BOX_OK)
		goto done;
	if (m->fragmented) {
		util_snprintf(err, errlen, "fragmented MP4 (mvex in the moov)");
		rc = FASTSTART_UNSUPPORTED;
		goto done;
	}
	rc = mp4box_check_chunks(m, l, err, errlen);
	if (rc != MP4BOX_OK)
		goto done;
	for (i = 0; i < m->nb_tracks; i++)
		if (m->track[i].handler == T_SOUN)
			info->has_audio = true;

	mb = &l->box[l->moov];
	if (l->first_mdat < 0 || l->box[l->first_mdat].off > mb->off) {
		/* the index is in front already: a plain copy */
		off = 0;
		if (fs_copy_range(in_fd, &off, out_fd, size) < 0) {
			rc = FASTSTART_IO;
			goto done;
		}
		info->moov_size = mb->size;
		info->out_size = size;
		rc = FASTSTART_OK;
		goto done;
	}
	if (l->box[l->last_mdat].off > mb->off) {
		util_snprintf(err, errlen, "mdat boxes on both sides of the moov");
		rc = FASTSTART_UNSUPPORTED;
		goto done;
	}

	first = &l->box[l->first_mdat];
	rc = faststart_moov(m, 0, &nmoov, &nlen, &info->upgraded, err, errlen);
	if (rc != FASTSTART_OK)
		goto done;
	rc = FASTSTART_IO;
	off = 0;
	if (fs_copy_range(in_fd, &off, out_fd, first->off) < 0 ||
	    faststart_write_all(out_fd, nmoov, nlen) < 0)
		goto done;
	off = (off_t)first->off;
	if (fs_copy_range(in_fd, &off, out_fd, mb->off - first->off) < 0)
		goto done;
	off = (off_t)(mb->off + mb->size);
	if (size > (uint64_t)off &&
	    fs_copy_range(in_fd, &off, out_fd, size - (uint64_t)off) < 0)
		goto done;
	info->moved = true;
	info->moov_size = nlen;
	info->out_size = size - mb->size + nlen;
	rc = FASTSTART_OK;
done:
	if (rc == FASTSTART_IO) {
		/* every IO exit jumps here straight from the failed call */
		info->sys_errno = errno != 0 ? errno : EIO;
		util_snprintf(err, errlen, "%s", strerror(info->sys_errno));
	}
	free(nmoov);
	free(moov);
	free(m);
	free(l);
	return rc;
}
