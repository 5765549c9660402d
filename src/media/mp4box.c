/* mp4box.c -- the box structure of an MP4 file, read defensively.
 *
 * Everything here reads untrusted bytes: each size is checked against its
 * parent before it is used, counts are checked against the bytes that hold
 * them, and sums are done in 64 bits with overflow checks.
 *
 * Every byte of sample data belongs to one chunk at most: a chunk lies
 * inside the payload of one mdat, and no two chunks (of any tracks)
 * overlap. The outputs are built from the chunks, so an index that names
 * the same bytes again and again (every chunk at the start of the mdat,
 * each as large as the mdat) would make them grow as chunks x mdat: a few
 * MB of index, terabytes of output. */
#include "media/mp4box.h"
#include "base/util.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define T_FTYP MP4BOX_TYPE('f', 't', 'y', 'p')
#define T_MOOV MP4BOX_TYPE('m', 'o', 'o', 'v')
#define T_MDAT MP4BOX_TYPE('m', 'd', 'a', 't')
#define T_MOOF MP4BOX_TYPE('m', 'o', 'o', 'f')
#define T_FREE MP4BOX_TYPE('f', 'r', 'e', 'e')
#define T_SKIP MP4BOX_TYPE('s', 'k', 'i', 'p')
#define T_WIDE MP4BOX_TYPE('w', 'i', 'd', 'e')
#define T_TRAK MP4BOX_TYPE('t', 'r', 'a', 'k')
#define T_MDIA MP4BOX_TYPE('m', 'd', 'i', 'a')
#define T_MINF MP4BOX_TYPE('m', 'i', 'n', 'f')
#define T_STBL MP4BOX_TYPE('s', 't', 'b', 'l')
#define T_HDLR MP4BOX_TYPE('h', 'd', 'l', 'r')
#define T_STCO MP4BOX_TYPE('s', 't', 'c', 'o')
#define T_CO64 MP4BOX_TYPE('c', 'o', '6', '4')
#define T_STSZ MP4BOX_TYPE('s', 't', 's', 'z')
#define T_STZ2 MP4BOX_TYPE('s', 't', 'z', '2')
#define T_STSC MP4BOX_TYPE('s', 't', 's', 'c')
#define T_MVEX MP4BOX_TYPE('m', 'v', 'e', 'x')
#define T_TKHD MP4BOX_TYPE('t', 'k', 'h', 'd')
#define T_STSD MP4BOX_TYPE('s', 't', 's', 'd')

const char *
mp4box_type_str(uint32_t type, char *buf)
{
	int i;

	for (i = 0; i < 4; i++) {
		unsigned char c = (unsigned char)(type >> (24 - 8 * i));
		if (c < 0x20 || c > 0x7e) {
			util_snprintf(buf, 16, "0x%08x", type);
			return buf;
		}
		buf[i] = (char)c;
	}
	buf[4] = '\0';
	return buf;
}

/* Top-level box types are printable; the bytes of a cut-off mdat that we
 * walk into by mistake almost never are. */
static bool
mp4box_printable(uint32_t type)
{
	int i;

	for (i = 0; i < 4; i++) {
		unsigned char c = (unsigned char)(type >> (8 * i));
		if (c < 0x20 || c > 0x7e)
			return false;
	}
	return true;
}

static ssize_t
mp4box_pread(int fd, void *buf, size_t n, uint64_t off)
{
	size_t done = 0;
	ssize_t r;

	while (done < n) {
		r = pread(fd, (char *)buf + done, n - done, (off_t)(off + done));
		if (r < 0) {
			if (errno == EINTR)
				continue;
			return -1;
		}
		if (r == 0)
			break;
		done += (size_t)r;
	}
	return (ssize_t)done;
}

bool
mp4box_sniff(int fd)
{
	uint8_t h[8];
	uint32_t t;

	if (mp4box_pread(fd, h, sizeof(h), 0) != (ssize_t)sizeof(h))
		return false;
	t = mp4box_rb32(h + 4);
	return t == T_FTYP || t == T_MOOV || t == T_MDAT || t == T_FREE ||
	    t == T_SKIP || t == T_WIDE;
}

static const char mp4box_no_moov[] = "no moov atom: the recording was cut "
    "off before ffmpeg finished writing its index";

int
mp4box_scan(int fd, uint64_t size, struct mp4box_layout *l, char *err,
    size_t errlen)
{
	uint8_t h[16];
	uint64_t off = 0, bsize;
	uint32_t type;
	unsigned hdr;
	ssize_t got;
	char ts[16];

	memset(l, 0, sizeof(*l));
	l->file_size = size;
	l->moov = l->first_mdat = l->last_mdat = -1;
	while (off < size) {
		if (size - off < 8) {
			/* a few stray bytes at the end: harmless once the
			 * index is there, a torn write when it is not */
			if (l->moov < 0)
				break;
			return MP4BOX_OK;
		}
		got = mp4box_pread(fd, h, size - off >= 16 ? 16 : 8, off);
		if (got < 0)
			return MP4BOX_IO;
		if (got < 8) {
			errno = ENODATA; /* the file shrank under us */
			return MP4BOX_IO;
		}
		bsize = mp4box_rb32(h);
		type = mp4box_rb32(h + 4);
		hdr = 8;
		if (bsize == 1) {
			if (got < 16)
				goto past_end;
			bsize = mp4box_rb64(h + 8);
			hdr = 16;
		} else if (bsize == 0) {
			bsize = size - off; /* the last box, to the end */
		}
		if (!mp4box_printable(type) || bsize < hdr) {
			if (l->moov < 0)
				break;
			util_snprintf(err, errlen, "corrupt MP4: no valid box at "
			    "offset %llu (type %s, size %llu)",
			    (unsigned long long)off, mp4box_type_str(type, ts),
			    (unsigned long long)bsize);
			return MP4BOX_BAD;
		}
		if (bsize > size - off) {
past_end:
			if (type == T_MOOV) {
				util_snprintf(err, errlen, "the moov atom is cut "
				    "off at the end of the file (%llu of %llu "
				    "bytes): the file is truncated",
				    (unsigned long long)(size - off),
				    (unsigned long long)bsize);
				return MP4BOX_BAD;
			}
			if (l->moov < 0)
				break;
			util_snprintf(err, errlen, "sample data cut off: the %s "
			    "box at offset %llu needs %llu bytes, the file ends "
			    "after %llu: the file is truncated",
			    mp4box_type_str(type, ts), (unsigned long long)off,
			    (unsigned long long)bsize,
			    (unsigned long long)(size - off));
			return MP4BOX_BAD;
		}
		if (l->n == MP4BOX_MAX_TOP) {
			util_snprintf(err, errlen, "corrupt MP4: more than %d "
			    "top-level boxes", MP4BOX_MAX_TOP);
			return MP4BOX_BAD;
		}
		if (type == T_MOOV) {
			if (l->moov >= 0) {
				util_snprintf(err, errlen, "corrupt MP4: two moov "
				    "atoms (offsets %llu and %llu)",
				    (unsigned long long)l->box[l->moov].off,
				    (unsigned long long)off);
				return MP4BOX_BAD;
			}
			l->moov = (int)l->n;
		} else if (type == T_MDAT) {
			if (l->first_mdat < 0)
				l->first_mdat = (int)l->n;
			l->last_mdat = (int)l->n;
		} else if (type == T_MOOF) {
			l->fragmented = true;
		}
		l->box[l->n].type = type;
		l->box[l->n].off = off;
		l->box[l->n].size = bsize;
		l->box[l->n].hdr = hdr;
		l->n++;
		off += bsize;
	}
	if (l->moov < 0) {
		util_snprintf(err, errlen, "%s", mp4box_no_moov);
		return MP4BOX_BAD;
	}
	return MP4BOX_OK;
}

int
mp4box_child(const uint8_t *buf, size_t *pos, size_t end, struct mp4box *b)
{
	size_t p = *pos;
	uint64_t size;
	unsigned hdr = 8;

	if (end - p < 8)
		return 0;
	size = mp4box_rb32(buf + p);
	b->type = mp4box_rb32(buf + p + 4);
	if (size == 1) {
		if (end - p < 16)
			return -1;
		size = mp4box_rb64(buf + p + 8);
		hdr = 16;
	} else if (size == 0) {
		return -1; /* "to the end" is for top-level boxes */
	}
	if (size < hdr || size > end - p)
		return -1;
	b->off = p;
	b->size = size;
	b->hdr = hdr;
	*pos = p + (size_t)size;
	return 1;
}

static int
mp4box_bad_child(char *err, size_t errlen, const struct mp4box *parent)
{
	char ts[16];

	util_snprintf(err, errlen, "corrupt moov: a box inside '%s' (at %llu "
	    "in the moov) does not fit its parent",
	    mp4box_type_str(parent->type, ts),
	    (unsigned long long)parent->off);
	return MP4BOX_BAD;
}

/* A full box's payload after version/flags: *p and *n, or -1. */
static int
mp4box_full_payload(const uint8_t *buf, const struct mp4box *b,
    const uint8_t **p, uint64_t *n)
{
	uint64_t payload = b->size - b->hdr;

	if (payload < 4)
		return -1;
	*p = buf + b->off + b->hdr + 4;
	*n = payload - 4;
	return 0;
}

static int
mp4box_parse_table(const uint8_t *buf, const struct mp4box *b,
    struct mp4box_track *t, char *err, size_t errlen)
{
	const uint8_t *p;
	uint64_t n, count;
	char ts[16];

	if (mp4box_full_payload(buf, b, &p, &n) < 0 || n < 4)
		goto bad;
	count = mp4box_rb32(p);
	switch (b->type) {
	case T_STCO:
	case T_CO64:
		if (t->co_off != 0)
			goto twice;
		if (count * (b->type == T_CO64 ? 8 : 4) > n - 4)
			goto bad;
		t->co_off = (size_t)b->off;
		t->co_size = b->size;
		t->co_hdr = b->hdr;
		t->co64 = b->type == T_CO64;
		t->nb_chunks = (uint32_t)count;
		t->chunks = p + 4;
		break;
	case T_STSZ:
		if (t->has_stsz)
			goto twice;
		if (n < 8)
			goto bad;
		t->sample_size = (uint32_t)count;
		count = mp4box_rb32(p + 4);
		if (t->sample_size == 0 && count * 4 > n - 8)
			goto bad;
		t->nb_samples = (uint32_t)count;
		t->sizes = t->sample_size == 0 ? p + 8 : NULL;
		t->has_stsz = true;
		break;
	case T_STSC:
		if (t->has_stsc)
			goto twice;
		if (count * 12 > n - 4)
			goto bad;
		t->nb_stsc = (uint32_t)count;
		t->stsc = p + 4;
		t->has_stsc = true;
		break;
	}
	return MP4BOX_OK;
bad:
	util_snprintf(err, errlen, "corrupt moov: the '%s' table does not fit "
	    "its box", mp4box_type_str(b->type, ts));
	return MP4BOX_BAD;
twice:
	util_snprintf(err, errlen, "corrupt moov: two '%s' tables in one "
	    "track", mp4box_type_str(b->type, ts));
	return MP4BOX_BAD;
}

/* Descend trak > mdia > minf > stbl, collecting the handler and the
 * tables; other boxes are left alone. depth bounds the recursion. */
static int
mp4box_parse_container(const uint8_t *buf, const struct mp4box *parent,
    struct mp4box_track *t, int depth, char *err, size_t errlen)
{
	struct mp4box b;
	size_t pos = (size_t)(parent->off + parent->hdr);
	size_t end = (size_t)(parent->off + parent->size);
	const uint8_t *p;
	uint64_t n;
	int r, rc;

	if (depth > 8)
		return mp4box_bad_child(err, errlen, parent);
	while ((r = mp4box_child(buf, &pos, end, &b)) == 1) {
		switch (b.type) {
		case T_MDIA:
		case T_MINF:
		case T_STBL:
			rc = mp4box_parse_container(buf, &b, t, depth + 1, err,
			    errlen);
			if (rc != MP4BOX_OK)
				return rc;
			break;
		case T_HDLR:
			if (parent->type == T_MDIA &&
			    mp4box_full_payload(buf, &b, &p, &n) == 0 && n >= 8)
				t->handler = mp4box_rb32(p + 4);
			break;
		case T_TKHD:
			/* version 1: 64-bit times, then track id, reserved,
			 * duration; version 0: the same in 32 bits */
			if (parent->type != T_TRAK ||
			    mp4box_full_payload(buf, &b, &p, &n) < 0)
				break;
			if (p[-4] == 1 && n >= 32)
				t->duration = mp4box_rb64(p + 24);
			else if (p[-4] == 0 && n >= 20)
				t->duration = mp4box_rb32(p + 16);
			break;
		case T_STSD:
			/* entry count, then the first entry's size and format */
			if (parent->type == T_STBL &&
			    mp4box_full_payload(buf, &b, &p, &n) == 0 && n >= 12)
				t->format = mp4box_rb32(p + 8);
			break;
		case T_STCO:
		case T_CO64:
		case T_STSZ:
		case T_STSC:
			if (parent->type != T_STBL)
				break;
			rc = mp4box_parse_table(buf, &b, t, err, errlen);
			if (rc != MP4BOX_OK)
				return rc;
			break;
		case T_STZ2:
			if (parent->type == T_STBL)
				t->stz2 = true;
			break;
		}
	}
	if (r < 0)
		return mp4box_bad_child(err, errlen, parent);
	return MP4BOX_OK;
}

int
mp4box_parse_moov(const uint8_t *buf, size_t len, struct mp4box_moov *m,
    char *err, size_t errlen)
{
	struct mp4box top, b;
	size_t pos = 0;
	int r, rc;

	memset(m, 0, sizeof(*m));
	m->buf = buf;
	m->len = len;
	if (mp4box_child(buf, &pos, len, &top) != 1 || top.type != T_MOOV ||
	    top.size != len) {
		util_snprintf(err, errlen, "corrupt moov: bad header");
		return MP4BOX_BAD;
	}
	m->hdr = top.hdr;
	pos = top.hdr;
	while ((r = mp4box_child(buf, &pos, len, &b)) == 1) {
		if (b.type == T_MVEX) {
			m->fragmented = true;
		} else if (b.type == T_TRAK) {
			if (m->nb_tracks == MP4BOX_MAX_TRACKS) {
				util_snprintf(err, errlen, "more than %d tracks",
				    MP4BOX_MAX_TRACKS);
				return MP4BOX_BAD;
			}
			m->track[m->nb_tracks].trak_off = b.off;
			m->track[m->nb_tracks].trak_size = b.size;
			rc = mp4box_parse_container(buf, &b,
			    &m->track[m->nb_tracks], 0, err, errlen);
			if (rc != MP4BOX_OK)
				return rc;
			m->nb_tracks++;
		}
	}
	if (r < 0)
		return mp4box_bad_child(err, errlen, &top);
	return MP4BOX_OK;
}

/* True when [off, off+len) lies inside the payload of box b. Each side is
 * compared on its own: off past the end must not wrap end - off around. */
static bool
mp4box_in_payload(const struct mp4box *b, uint64_t off, uint64_t len)
{
	uint64_t start = b->off + b->hdr, end = b->off + b->size;

	return off >= start && off <= end && len <= end - off;
}

/* The mdat whose payload holds [off, off+len), or NULL. The caller keeps
 * the last answer: consecutive chunks almost always share one mdat. */
static const struct mp4box *
mp4box_find_mdat(const struct mp4box_layout *l, uint64_t off, uint64_t len)
{
	size_t i;

	for (i = (size_t)l->first_mdat; i <= (size_t)l->last_mdat; i++) {
		const struct mp4box *b = &l->box[i];

		if (b->type == T_MDAT && mp4box_in_payload(b, off, len))
			return b;
	}
	return NULL;
}

uint64_t
mp4box_mdat_bytes(const struct mp4box_layout *l)
{
	uint64_t sum = 0;
	size_t i;

	if (l->first_mdat < 0)
		return 0;
	for (i = (size_t)l->first_mdat; i <= (size_t)l->last_mdat; i++)
		if (l->box[i].type == T_MDAT)
			sum += l->box[i].size - l->box[i].hdr;
	return sum;
}

const char *
mp4box_track_name(const struct mp4box_moov *m, size_t ti, char *buf,
    size_t size)
{
	uint32_t h = ti < m->nb_tracks ? m->track[ti].handler : 0;
	char ts[16];

	if (h == MP4BOX_TYPE('v', 'i', 'd', 'e'))
		util_snprintf(buf, size, "track %zu (video)", ti);
	else if (h == MP4BOX_TYPE('s', 'o', 'u', 'n'))
		util_snprintf(buf, size, "track %zu (audio)", ti);
	else if (h != 0)
		util_snprintf(buf, size, "track %zu (%s)", ti,
		    mp4box_type_str(h, ts));
	else
		util_snprintf(buf, size, "track %zu", ti);
	return buf;
}

void
mp4box_chunks_init(struct mp4box_chunks *c, const struct mp4box_track *t)
{
	memset(c, 0, sizeof(*c));
	c->t = t;
	c->chunk = 1;
	c->last = 0;
}

int
mp4box_chunks_next(struct mp4box_chunks *c, uint32_t *index, uint64_t *off,
    uint64_t *bytes, char *err, size_t errlen)
{
	const struct mp4box_track *t = c->t;
	const uint8_t *s;
	uint64_t sum;
	uint32_t first, last, k;

	while (c->chunk > c->last) {
		if (c->entry >= t->nb_stsc) {
			if (c->sample != t->nb_samples) {
				util_snprintf(err, errlen, "corrupt moov: the "
				    "chunks hold %llu samples, the size table "
				    "lists %u", (unsigned long long)c->sample,
				    t->nb_samples);
				return -1;
			}
			return 0;
		}
		s = t->stsc + 12 * (size_t)c->entry;
		first = mp4box_rb32(s);
		last = c->entry + 1 < t->nb_stsc ? mp4box_rb32(s + 12) - 1 :
		    t->nb_chunks;
		/* entries must cover the chunks in order, from the first */
		if (first != c->last + 1 || last < first ||
		    last > t->nb_chunks) {
			util_snprintf(err, errlen, "corrupt moov: sample-to-chunk "
			    "entry %u names chunks %u-%u of %u", c->entry, first,
			    last, t->nb_chunks);
			return -1;
		}
		c->chunk = first;
		c->last = last;
		c->spc = mp4box_rb32(s + 4);
		c->entry++;
	}
	if (c->spc > t->nb_samples - c->sample) {
		util_snprintf(err, errlen, "corrupt moov: the chunks hold more "
		    "samples than the %u listed", t->nb_samples);
		return -1;
	}
	if (t->sample_size != 0) {
		sum = (uint64_t)c->spc * t->sample_size;
	} else {
		for (sum = 0, k = 0; k < c->spc; k++)
			sum += mp4box_rb32(t->sizes + 4 * (size_t)(c->sample + k));
	}
	c->sample += c->spc;
	*index = c->chunk - 1;
	*off = t->co64 ? mp4box_rb64(t->chunks + 8 * (size_t)*index) :
	    mp4box_rb32(t->chunks + 4 * (size_t)*index);
	*bytes = sum;
	c->chunk++;
	return 1;
}

/* The bytes of one chunk, for the overlap check: 16 bytes a chunk. */
struct mp4box_range {
	uint64_t off;
	uint64_t len;
};

/* A track whose chunks are walked: it has samples, and sizes we read. */
static bool
mp4box_track_walked(const struct mp4box_track *t)
{
	return (t->nb_samples != 0 || t->nb_chunks != 0) && !t->stz2;
}

/* Check the chunks of track ti against the mdat boxes of l and append the
 * byte range of each chunk that holds bytes to out (room for nb_chunks
 * more). */
static int
mp4box_check_track(const struct mp4box_moov *m, size_t ti,
    const struct mp4box_layout *l, struct mp4box_range *out, size_t *n,
    char *err, size_t errlen)
{
	const struct mp4box_track *t = &m->track[ti];
	const struct mp4box *hint = NULL;
	struct mp4box_chunks it;
	uint64_t off, bytes;
	uint32_t chunk;
	char why[200];
	int r;

	if (t->nb_samples == 0 && t->nb_chunks == 0)
		return MP4BOX_OK;
	if (t->stz2) {
		util_snprintf(err, errlen, "track %zu uses compact sample sizes "
		    "(stz2)", ti);
		return MP4BOX_UNSUPPORTED;
	}
	if (t->co_off == 0 || !t->has_stsz || !t->has_stsc) {
		util_snprintf(err, errlen, "corrupt moov: track %zu has samples "
		    "but no chunk offset, size or sample-to-chunk table", ti);
		return MP4BOX_BAD;
	}
	if (l->first_mdat < 0) {
		util_snprintf(err, errlen, "corrupt MP4: track %zu has samples "
		    "but the file has no mdat box", ti);
		return MP4BOX_BAD;
	}
	mp4box_chunks_init(&it, t);
	while ((r = mp4box_chunks_next(&it, &chunk, &off, &bytes, why,
	    sizeof(why))) == 1) {
		if (off > l->file_size || bytes > l->file_size - off) {
			util_snprintf(err, errlen, "sample data cut off: track "
			    "%zu chunk %u lies at %llu+%llu, past the end of the "
			    "file (%llu bytes): the file is truncated", ti,
			    chunk + 1, (unsigned long long)off,
			    (unsigned long long)bytes,
			    (unsigned long long)l->file_size);
			return MP4BOX_BAD;
		}
		if (hint == NULL || !mp4box_in_payload(hint, off, bytes))
			hint = mp4box_find_mdat(l, off, bytes);
		if (hint == NULL) {
			/* the format would allow it; no muxer does it, and a
			 * chunk in the ftyp or the moov is corruption */
			util_snprintf(err, errlen, "corrupt moov: track %zu chunk "
			    "%u (%llu+%llu) lies outside the mdat", ti, chunk + 1,
			    (unsigned long long)off, (unsigned long long)bytes);
			return MP4BOX_BAD;
		}
		/* mp4box_chunks_next gives each chunk once: nb_chunks at
		 * most, the room the caller made */
		if (bytes > 0) {
			out[*n].off = off;
			out[*n].len = bytes;
			(*n)++;
		}
	}
	if (r < 0) {
		util_snprintf(err, errlen, "track %zu: %s", ti, why);
		return MP4BOX_BAD;
	}
	return MP4BOX_OK;
}

static int
mp4box_range_cmp(const void *a, const void *b)
{
	const struct mp4box_range *x = a, *y = b;

	if (x->off != y->off)
		return x->off < y->off ? -1 : 1;
	if (x->len != y->len)
		return x->len < y->len ? -1 : 1;
	return 0;
}

/* The track and chunk (0-based) whose bytes are r, other than (st, sc):
 * the sorted ranges do not say whose they are, and an overlap is rare
 * enough to walk the tables again to name it. */
static void
mp4box_whose(const struct mp4box_moov *m, const struct mp4box_range *r,
    size_t st, uint32_t sc, size_t *ti, uint32_t *ci)
{
	struct mp4box_chunks it;
	uint64_t off, bytes;
	uint32_t chunk;
	char why[200];
	size_t i;

	*ti = 0;
	*ci = 0;
	for (i = 0; i < m->nb_tracks; i++) {
		if (!mp4box_track_walked(&m->track[i]))
			continue;
		mp4box_chunks_init(&it, &m->track[i]);
		while (mp4box_chunks_next(&it, &chunk, &off, &bytes, why,
		    sizeof(why)) == 1) {
			if (off == r->off && bytes == r->len &&
			    (i != st || chunk != sc)) {
				*ti = i;
				*ci = chunk;
				return;
			}
		}
	}
}

/* The first two ranges that overlap, in file order: *a before *b; false
 * when none do. Once sorted by offset, ranges that do not overlap their
 * next one do not overlap at all. run[j]..run[j + 1] are the ranges of a
 * track; when each of them is in file order already (every muxer writes
 * them so) and they are few, merging them is the sort: O(n) against the
 * O(n log n) of qsort, which would cost a 90-minute file 30 ms of the
 * 450 its remux takes. */
static bool
mp4box_first_overlap(struct mp4box_range *r, size_t n, const size_t *run,
    size_t nruns, bool runs_sorted, const struct mp4box_range **a,
    const struct mp4box_range **b)
{
	size_t at[MP4BOX_MAX_TRACKS], i, j, best;
	const struct mp4box_range *prev = NULL, *cur;

	if (!runs_sorted || nruns > 4) {
		qsort(r, n, sizeof(*r), mp4box_range_cmp);
		for (i = 1; i < n; i++) {
			if (r[i].off - r[i - 1].off < r[i - 1].len) {
				*a = &r[i - 1];
				*b = &r[i];
				return true;
			}
		}
		return false;
	}
	for (j = 0; j < nruns; j++)
		at[j] = run[j];
	for (;;) {
		best = nruns;
		for (j = 0; j < nruns; j++)
			if (at[j] < run[j + 1] && (best == nruns ||
			    mp4box_range_cmp(&r[at[j]], &r[at[best]]) < 0))
				best = j;
		if (best == nruns)
			return false;
		cur = &r[at[best]++];
		if (prev != NULL && cur->off - prev->off < prev->len) {
			*a = prev;
			*b = cur;
			return true;
		}
		prev = cur;
	}
}

/* b overlaps a (a first in file order): say whose chunks they are. */
static int
mp4box_overlap_error(const struct mp4box_moov *m,
    const struct mp4box_range *a, const struct mp4box_range *b, char *err,
    size_t errlen)
{
	char na[64], nb[64], tmp[64];
	size_t ta, tb;
	uint32_t ca, cb;

	mp4box_whose(m, a, SIZE_MAX, 0, &ta, &ca);
	mp4box_whose(m, b, ta, ca, &tb, &cb);
	mp4box_track_name(m, tb, nb, sizeof(nb));
	if (ta == tb)
		na[0] = '\0';
	else
		util_snprintf(na, sizeof(na), "%s ",
		    mp4box_track_name(m, ta, tmp, sizeof(tmp)));
	util_snprintf(err, errlen, "corrupt moov: %s chunk %u at offset %llu "
	    "overlaps %schunk %u (offset %llu, %llu bytes): the index names "
	    "the same sample bytes twice", nb, cb + 1,
	    (unsigned long long)b->off, na, ca + 1,
	    (unsigned long long)a->off, (unsigned long long)a->len);
	return MP4BOX_BAD;
}

int
mp4box_check_chunks(const struct mp4box_moov *m,
    const struct mp4box_layout *l, char *err, size_t errlen)
{
	const struct mp4box_range *a, *b;
	struct mp4box_range *r;
	size_t run[MP4BOX_MAX_TRACKS + 1], nruns = 0, i, j, n = 0, cap = 0;
	char why[128] = "";
	int rc = MP4BOX_OK;
	bool unsupported = false, sorted = true;

	for (i = 0; i < m->nb_tracks; i++)
		if (mp4box_track_walked(&m->track[i]))
			cap += m->track[i].nb_chunks;
	/* an stco entry (4 bytes of the moov) per chunk: at most
	 * MP4BOX_MAX_MOOV / 4 of them */
	r = xmalloc(cap * sizeof(*r));
	for (i = 0; i < m->nb_tracks; i++) {
		run[nruns] = n;
		rc = mp4box_check_track(m, i, l, r, &n, err, errlen);
		if (rc == MP4BOX_UNSUPPORTED) {
			/* the other tracks are still checked: a bad one makes
			 * the file bad, whichever path would have read it */
			if (!unsupported)
				util_strlcpy(why, err, sizeof(why));
			unsupported = true;
			rc = MP4BOX_OK;
		} else if (rc != MP4BOX_OK) {
			goto done;
		}
		if (n == run[nruns])
			continue;
		for (j = run[nruns] + 1; j < n && sorted; j++)
			sorted = mp4box_range_cmp(&r[j - 1], &r[j]) <= 0;
		nruns++;
	}
	run[nruns] = n;
	if (mp4box_first_overlap(r, n, run, nruns, sorted, &a, &b)) {
		rc = mp4box_overlap_error(m, a, b, err, errlen);
	} else if (unsupported) {
		util_snprintf(err, errlen, "%s", why);
		rc = MP4BOX_UNSUPPORTED;
	}
done:
	free(r);
	return rc;
}

int
mp4box_load(int fd, uint64_t size, struct mp4box_file *f, char *err,
    size_t errlen)
{
	const struct mp4box *b;
	ssize_t got;
	int rc;

	memset(f, 0, sizeof(*f));
	f->fd = fd;
	f->size = size;
	/* both are large (up to 1024 boxes, 64 tracks): not on the stack
	 * of a worker thread */
	f->layout = xmalloc(sizeof(*f->layout));
	f->moov = xmalloc(sizeof(*f->moov));
	rc = mp4box_scan(fd, size, f->layout, err, errlen);
	if (rc != MP4BOX_OK)
		goto fail;
	/* a fragmented file goes to libavformat, which reads the moov's
	 * samples too: they are checked first, like any other file's */
	b = &f->layout->box[f->layout->moov];
	if (b->size > MP4BOX_MAX_MOOV) {
		util_snprintf(err, errlen, "moov atom of %llu bytes is larger "
		    "than the %u MiB accepted", (unsigned long long)b->size,
		    MP4BOX_MAX_MOOV >> 20);
		rc = MP4BOX_BAD;
		goto fail;
	}
	f->moov_buf = xmalloc((size_t)b->size);
	got = mp4box_pread(fd, f->moov_buf, (size_t)b->size, b->off);
	if (got < 0 || (uint64_t)got != b->size) {
		if (got >= 0)
			errno = ENODATA; /* the file shrank under us */
		rc = MP4BOX_IO;
		goto fail;
	}
	rc = mp4box_parse_moov(f->moov_buf, (size_t)b->size, f->moov, err,
	    errlen);
	if (rc != MP4BOX_OK)
		goto fail;
	rc = mp4box_check_chunks(f->moov, f->layout, err, errlen);
	if (rc != MP4BOX_OK)
		goto fail;
	if (f->layout->fragmented || f->moov->fragmented) {
		util_snprintf(err, errlen, "fragmented MP4 (%s)",
		    f->layout->fragmented ? "moof boxes" : "mvex in the moov");
		rc = MP4BOX_UNSUPPORTED;
		goto fail;
	}
	return MP4BOX_OK;
fail:
	if (rc == MP4BOX_IO)
		util_snprintf(err, errlen, "read error: %s", strerror(errno));
	mp4box_free(f);
	return rc;
}

void
mp4box_free(struct mp4box_file *f)
{
	int e = errno;

	free(f->moov_buf);
	free(f->moov);
	free(f->layout);
	f->moov_buf = NULL;
	f->moov = NULL;
	f->layout = NULL;
	errno = e;
}
