/* mdatwalk.c -- the samples of an MP4 that has no index, found by walking its mdat: H.264 by its slice headers, AAC by where its frames can end. */
#include "media/mdatwalk.h"

#include "base/util.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

/* The mmap window: its pages are what the walk adds to the RSS. */
#define MDATWALK_WINDOW (4u << 20)
/* Bytes of a NAL unit read to check it: its header and the SEI's text. */
#define MDATWALK_HEAD 96
#define MDATWALK_SEI 4096
/* The smallest AAC frame: an element, END, alignment. */
#define MDATWALK_AAC_MIN 2

/* ---- the bytes ------------------------------------------------------------- */

void
mdatwalk_src_fd(struct mdatwalk_src *s, int fd, uint64_t size)
{
	memset(s, 0, sizeof(*s));
	s->fd = fd;
	s->size = size;
}

void
mdatwalk_src_mem(struct mdatwalk_src *s, const uint8_t *p, size_t n)
{
	memset(s, 0, sizeof(*s));
	s->fd = -1;
	s->mem = p;
	s->size = n;
}

void
mdatwalk_src_close(struct mdatwalk_src *s)
{
	if (s->map != NULL)
		munmap(s->map, s->map_len);
	s->map = NULL;
}

const uint8_t *
mdatwalk_at(struct mdatwalk_src *s, uint64_t off, size_t len)
{
	static uint64_t page;
	uint64_t base, want;
	void *m;

	if (off > s->size || len > s->size - off)
		return NULL;
	if (s->fd < 0)
		return s->mem + off;
	if (s->map != NULL && off >= s->map_off &&
	    off + len <= s->map_off + s->map_len)
		return s->map + (off - s->map_off);
	if (page == 0)
		page = (uint64_t)sysconf(_SC_PAGESIZE);
	mdatwalk_src_close(s);
	base = off & ~(page - 1);
	want = off - base + len;
	if (want < MDATWALK_WINDOW)
		want = MDATWALK_WINDOW;
	if (want > s->size - base)
		want = s->size - base;
	m = mmap(NULL, (size_t)want, PROT_READ, MAP_SHARED, s->fd,
	    (off_t)base);
	if (m == MAP_FAILED)
		return NULL;
	s->map = m;
	s->map_off = base;
	s->map_len = (size_t)want;
	return s->map + (off - base);
}

static uint32_t
mdatwalk_rb32(const uint8_t *p)
{
	return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 |
	    (uint32_t)p[2] << 8 | p[3];
}

/* ---- results ----------------------------------------------------------- */

static void
mdatwalk_add(struct mdatwalk_result *r, uint64_t off, uint64_t size,
    bool audio, bool key)
{
	if (r->n == r->cap) {
		r->cap = r->cap ? r->cap * 2 : 4096;
		r->v = xrealloc(r->v, r->cap * sizeof(*r->v));
	}
	r->v[r->n++] = (struct mdatwalk_sample){ .off = off,
	    .size = (uint32_t)size, .audio = audio, .key = key };
	if (audio) {
		r->audio_frames++;
	} else {
		r->video_frames++;
		r->keyframes += key;
	}
}

static void __attribute__((format(printf, 3, 4)))
mdatwalk_stop(struct mdatwalk_result *r, uint64_t at, const char *fmt, ...)
{
	va_list ap;

	r->stopped_at = at;
	va_start(ap, fmt);
	vsnprintf(r->stop_reason, sizeof(r->stop_reason), fmt, ap);
	va_end(ap);
}

void
mdatwalk_result_free(struct mdatwalk_result *r)
{
	free(r->v);
	r->v = NULL;
	r->n = r->cap = 0;
}

/* ---- video ------------------------------------------------------------- */

enum { V_OK, V_NOT, V_CUT, V_BFRAME };

/* The video frame before: what frame_num the next one must have. */
struct mdatwalk_prev {
	bool have;
	unsigned frame_num;
	bool ref;
};

/*
 * Whether a video sample starts at pos: its NAL units (SEI, AUD and
 * parameter sets first, then the slices of one frame, first_mb_in_slice 0
 * first and rising). any_num: the first frame after a resync, whose
 * frame_num cannot be known; otherwise it must follow prev (an IDR when
 * there is none). V_OK with *len and the first slice in *first.
 */
static int
mdatwalk_video(struct mdatwalk_src *s, uint64_t pos, uint64_t end,
    const struct h264_params *p, const struct mdatwalk_prev *prev,
    bool any_num, uint64_t *len, struct h264_slice *first, char *x264,
    size_t x264len)
{
	struct h264_slice sl, f;
	const uint8_t *h;
	uint64_t q = pos, n;
	unsigned slices = 0, last_mb = 0, expect;
	size_t hl;
	int rc;

	memset(&f, 0, sizeof(f));
	while (q + 5 <= end) {
		h = mdatwalk_at(s, q, 4);
		if (h == NULL)
			break;
		n = mdatwalk_rb32(h);
		/* no frame is larger than its macroblocks sent raw (384 bytes
		 * each in 4:2:0, and their headers): a length beyond that is
		 * not one, whatever follows it */
		if (n < 2 || n > MDATWALK_NAL_MAX || q + 4 + n - pos >
		    (uint64_t)p->mbs * 400 + 65536)
			break;
		hl = n < MDATWALK_HEAD ? (size_t)n : MDATWALK_HEAD;
		if (q + 4 + hl > end)
			hl = (size_t)(end - q - 4);
		if ((h = mdatwalk_at(s, q + 4, hl)) == NULL)
			break;
		rc = h264_nal_check(h, hl, p, &sl);
		if (rc < 0)
			break;
		if (rc == 0) {
			if (slices == 0) {
				if (sl.first_mb != 0)
					break;
				if (sl.slice_type % 5 == 1)
					return V_BFRAME;
				if (!any_num && !prev->have && !sl.idr)
					break;
				if (!any_num && prev->have && !sl.idr) {
					expect = (prev->frame_num +
					    (prev->ref ? 1u : 0u)) &
					    ((1u << p->log2_max_frame_num) - 1);
					if (sl.frame_num != expect)
						break;
				}
				f = sl;
			} else {
				if (sl.first_mb <= last_mb ||
				    sl.frame_num != f.frame_num ||
				    sl.idr != f.idr)
					break;
				if (sl.slice_type % 5 == 1)
					return V_BFRAME;
			}
			last_mb = sl.first_mb;
			slices++;
		} else {
			/* SEI, AUD and parameter sets open a frame */
			if (slices > 0)
				break;
			if (x264 != NULL && x264[0] == '\0' &&
			    (h[0] & 0x1f) == 6 && q + 4 + n <= end &&
			    (h = mdatwalk_at(s, q + 4, n < MDATWALK_SEI ?
			    (size_t)n : MDATWALK_SEI)) != NULL)
				h264_sei_x264(h, n < MDATWALK_SEI ? (size_t)n :
				    MDATWALK_SEI, x264, x264len);
		}
		/* a slice whose header parsed and whose bytes run past the
		 * end: the frame was cut; anything else there is not ours */
		if (q + 4 + n > end)
			return rc == 0 ? V_CUT : V_NOT;
		q += 4 + n;
	}
	if (slices == 0)
		return V_NOT;
	*len = q - pos;
	*first = f;
	return V_OK;
}

/* A cheap look at q before mdatwalk_video: a plausible length and a NAL
 * header byte that can open a frame (slice, SEI, AUD). */
static bool
mdatwalk_maybe_video(struct mdatwalk_src *s, uint64_t q, uint64_t end)
{
	const uint8_t *h;
	uint32_t n;
	unsigned t;

	if (q + 5 > end || (h = mdatwalk_at(s, q, 5)) == NULL)
		return false;
	n = mdatwalk_rb32(h);
	t = h[4] & 0x1f;
	return n >= 2 && n <= MDATWALK_NAL_MAX && (h[4] & 0x80) == 0 &&
	    (t == 1 || t == 5 || t == 6 || t == 9);
}

/* ---- audio ------------------------------------------------------------- */

/* Whether the byte at p[i] can be the last of an AAC frame: the END
 * element (three 1 bits) then zero bits up to the byte boundary. */
static bool
mdatwalk_aac_end(const uint8_t *p, size_t i)
{
	unsigned b = p[i], tz;

	if (b == 0)
		return false;
	tz = (unsigned)__builtin_ctz(b);
	if (tz <= 5)
		return ((b >> tz) & 7) == 7;
	if (i == 0)
		return false;
	if (tz == 6)
		return b == 0xc0 && (p[i - 1] & 1);
	return (p[i - 1] & 3) == 3;
}

/* Whether p (n bytes left) can open an AAC frame of the stream: its
 * channel element (SCE mono, CPE stereo, instance 0); or the FIL element
 * in which ffmpeg's encoder names itself ("Lavc..."), in the first frame
 * and every 256th after it. first: any FIL may open the very first. */
static bool
mdatwalk_aac_start(const uint8_t *p, size_t n, unsigned channels,
    bool first)
{
	unsigned id = p[0] >> 5, tag = (p[0] >> 1) & 0xf;

	if (id == 6)
		return first || (n >= 7 && memcmp(p + 3, "Lavc", 4) == 0);
	return tag == 0 && id == (channels == 1 ? 0u : 1u);
}

/*
 * The one way a..a+len (between two video samples) splits into frames
 * that each open with an element of the stream and end with END and its
 * alignment, when there is exactly one: the true frames always make such
 * a split, so a unique one is theirs, and the decoder need not be asked
 * (it costs more than the rest of the walk). The frame ends into ends
 * (*nends of them). 1 unique, 0 none, 2 several (ask the decoder).
 */
static int
mdatwalk_audio_unique(const uint8_t *p, size_t len, unsigned channels,
    bool first, size_t max, size_t *ends, size_t *nends)
{
	uint8_t *count;                  /* splits of p+y.., capped at 2 */
	size_t *cand, ncand = 0, y, i, k;
	int rc;

	count = xcalloc(len + 1, 1);
	cand = xcalloc(len + 1, sizeof(*cand));
	/* where a frame can end: END, then the next frame or the run's end */
	for (y = MDATWALK_AAC_MIN; y <= len; y++)
		if (mdatwalk_aac_end(p, y - 1) && (y == len ||
		    mdatwalk_aac_start(p + y, len - y, channels, false)))
			cand[ncand++] = y;
	count[len] = 1;
	k = ncand;
	for (y = len; y-- > 0;) {
		/* the candidates past y, nearest first */
		while (k > 0 && cand[k - 1] > y)
			k--;
		if (!mdatwalk_aac_start(p + y, len - y, channels, first &&
		    y == 0))
			continue;
		for (i = k; i < ncand && cand[i] - y <= max && count[y] < 2;
		    i++)
			count[y] = (uint8_t)(count[y] + count[cand[i]] > 2 ? 2 :
			    count[y] + count[cand[i]]);
	}
	rc = count[0];
	*nends = 0;
	if (rc == 1) {
		for (y = 0, i = 0; y < len; ) {
			while (i < ncand && (cand[i] <= y || count[cand[i]] == 0))
				i++;
			if (i == ncand)
				break;
			ends[(*nends)++] = y = cand[i];
		}
	}
	free(count);
	free(cand);
	return rc;
}

/*
 * Split a..b into AAC frames: each next end is the first byte that can
 * end a frame, is followed by a byte that can open one (or by b), and
 * gives a frame the decoder takes. A shorter prefix of a frame never
 * decodes (its END is missing), so the first one that does is the frame.
 * tail: b is the end of the data, not a video sample; frames are taken
 * while they fit and the rest is left. The frames are added to r; false
 * (and nothing added) when a..b is not audio, or for tail when not one
 * frame was found.
 */
static bool
mdatwalk_audio(struct mdatwalk_src *s, uint64_t a, uint64_t b,
    const struct mdatwalk_codec *c, bool *first, bool tail,
    struct mdatwalk_result *r, uint64_t *taken_to)
{
	const uint8_t *p = mdatwalk_at(s, a, (size_t)(b - a));
	size_t n0 = r->n, x = 0, y, len = (size_t)(b - a), max;
	bool f = *first, found;

	*taken_to = a;
	if (p == NULL || len == 0)
		return false;
	max = MDATWALK_AAC_MAX * (c->channels > 1 ? 2 : 1);
	/* between two video samples a unique split needs no decoder; one run
	 * in MDATWALK_AUDIO_CHECK still has its first frame decoded, so that
	 * a configuration that does not fit is seen */
	if (!tail && (r->audio_frames % MDATWALK_AUDIO_CHECK) != 0) {
		size_t *ends = xcalloc(len / MDATWALK_AAC_MIN + 1,
		    sizeof(*ends)), n, i, from = 0;
		int u = mdatwalk_audio_unique(p, len, c->channels, f, max, ends,
		    &n);
		if (u == 1 && n > 0 && ends[n - 1] == len) {
			for (i = 0; i < n; i++) {
				mdatwalk_add(r, a + from, ends[i] - from, true,
				    false);
				from = ends[i];
			}
			free(ends);
			*first = false;
			*taken_to = b;
			return true;
		}
		free(ends);
		if (u == 0)
			return false;
	}
	while (x < len) {
		found = false;
		if (!mdatwalk_aac_start(p + x, len - x, c->channels, f))
			break;
		for (y = x + MDATWALK_AAC_MIN; y <= len && y - x <= max; y++) {
			if (!mdatwalk_aac_end(p, y - 1))
				continue;
			/* the next frame, or (at the end of the data) the
			 * video frame that was cut */
			if (y < len && !mdatwalk_aac_start(p + y, len - y,
			    c->channels, false) && !(tail &&
			    mdatwalk_maybe_video(s, a + y, b)))
				continue;
			if (c->aac_ok(c->ctx, p + x, y - x) != 1)
				continue;
			found = true;
			break;
		}
		if (!found)
			break;
		mdatwalk_add(r, a + x, y - x, true, false);
		x = y;
		f = false;
	}
	if (x < len && !(tail && r->n > n0)) {
		/* not audio: undo */
		r->audio_frames -= r->n - n0;
		r->n = n0;
		return false;
	}
	*first = f;
	*taken_to = a + x;
	return true;
}

/* ---- the walk -------------------------------------------------------- */

/* The end of a run of audio that starts at pos: the next video sample
 * that follows prev, with the run before it splitting into AAC frames
 * (added to r). 0 when there is none within MDATWALK_RUN_MAX. */
static uint64_t
mdatwalk_run_end(struct mdatwalk_src *s, uint64_t pos, uint64_t end,
    const struct mdatwalk_codec *c, const struct mdatwalk_prev *prev,
    bool *first, struct mdatwalk_result *r)
{
	uint64_t q, limit = end - pos > MDATWALK_RUN_MAX ?
	    pos + MDATWALK_RUN_MAX : end, len, taken;
	struct h264_slice sl;
	const uint8_t *h;
	bool ok;

	/* the byte before a video sample ends an AAC frame: looked at in the
	 * run's bytes first, the video sample only where one can */
	if ((h = mdatwalk_at(s, pos, (size_t)(limit - pos))) == NULL)
		return 0;
	for (q = pos + MDATWALK_AAC_MIN; q < limit; q++) {
		if (!mdatwalk_aac_end(h, (size_t)(q - 1 - pos)) ||
		    !mdatwalk_maybe_video(s, q, end))
			continue;
		ok = mdatwalk_video(s, q, end, &c->h264, prev, false, &len, &sl,
		    NULL, 0) == V_OK && mdatwalk_audio(s, pos, q, c, first,
		    false, r, &taken);
		if (ok)
			return q;
		/* both read further: the window may have moved */
		if ((h = mdatwalk_at(s, pos, (size_t)(limit - pos))) == NULL)
			return 0;
	}
	return 0;
}

/* After bytes that are neither: the next video sample that is followed
 * by another in sequence (directly or after a run of audio). */
static uint64_t
mdatwalk_resync(struct mdatwalk_src *s, uint64_t pos, uint64_t end,
    const struct mdatwalk_codec *c, struct mdatwalk_prev *out)
{
	uint64_t q, limit = end - pos > MDATWALK_RESYNC_MAX ?
	    pos + MDATWALK_RESYNC_MAX : end, len, len2;
	struct mdatwalk_result probe;
	struct mdatwalk_prev pv;
	struct h264_slice sl, sl2;
	bool first = false;

	for (q = pos + 1; q < limit; q++) {
		if (!mdatwalk_maybe_video(s, q, end))
			continue;
		memset(&pv, 0, sizeof(pv));
		if (mdatwalk_video(s, q, end, &c->h264, &pv, true, &len, &sl,
		    NULL, 0) != V_OK)
			continue;
		pv = (struct mdatwalk_prev){ true, sl.frame_num,
		    sl.nal_ref_idc != 0 };
		memset(&probe, 0, sizeof(probe));
		if (mdatwalk_video(s, q + len, end, &c->h264, &pv, false,
		    &len2, &sl2, NULL, 0) == V_OK ||
		    mdatwalk_run_end(s, q + len, end, c, &pv, &first,
		    &probe) != 0) {
			mdatwalk_result_free(&probe);
			memset(out, 0, sizeof(*out));
			return q;
		}
		mdatwalk_result_free(&probe);
	}
	return 0;
}

uint64_t
mdatwalk_data_end(struct mdatwalk_src *s, uint64_t start)
{
	uint64_t end = s->size, from;
	const uint8_t *p;
	size_t n;

	while (end > start) {
		n = end - start > 65536 ? 65536 : (size_t)(end - start);
		from = end - n;
		if ((p = mdatwalk_at(s, from, n)) == NULL)
			return end;
		while (n > 0 && p[n - 1] == 0)
			n--;
		if (n > 0)
			return from + n;
		end = from;
	}
	return start;
}

void
mdatwalk_run(struct mdatwalk_src *s, uint64_t start,
    const struct mdatwalk_codec *c, struct mdatwalk_result *r)
{
	struct mdatwalk_prev prev = { 0 };
	struct h264_slice sl;
	uint64_t pos = start, end, len, q, taken, next_progress = 0;
	bool first_audio = true, any_num = false;
	int v;

	memset(r, 0, sizeof(*r));
	r->data_start = start;
	r->data_end = end = mdatwalk_data_end(s, start);
	if (end <= start) {
		mdatwalk_stop(r, start, "nothing on disk: the mdat holds no "
		    "data (%llu bytes, all zero or none)",
		    (unsigned long long)(s->size - start));
		r->no_video = true;
		return;
	}
	while (pos < end) {
		if (c->progress != NULL && pos >= next_progress) {
			c->progress(c->progress_ctx, pos - start, end - start);
			next_progress = pos + MDATWALK_PROGRESS;
		}
		v = mdatwalk_video(s, pos, end, &c->h264, &prev, any_num, &len,
		    &sl, r->x264, sizeof(r->x264));
		if (v == V_OK) {
			mdatwalk_add(r, pos, len, false, sl.idr);
			prev = (struct mdatwalk_prev){ true, sl.frame_num,
			    sl.nal_ref_idc != 0 };
			any_num = false;
			pos += len;
			continue;
		}
		if (v == V_BFRAME) {
			r->bframes = true;
			mdatwalk_stop(r, pos, "B-frames at offset %llu: Jibri's "
			    "ultrafast preset never makes them; this recording "
			    "was made with other settings",
			    (unsigned long long)pos);
			return;
		}
		if (v == V_CUT) {
			mdatwalk_stop(r, pos, "the video sample at offset %llu "
			    "runs past the end of the data (cut when ffmpeg "
			    "stopped)", (unsigned long long)pos);
			return;
		}
		q = mdatwalk_run_end(s, pos, end, c, &prev, &first_audio, r);
		if (q != 0) {
			pos = q;
			continue;
		}
		if (end - pos <= MDATWALK_RUN_MAX &&
		    mdatwalk_audio(s, pos, end, c, &first_audio, true, r,
		    &taken)) {
			mdatwalk_stop(r, taken, taken == end ? "end of the data" :
			    "the sample at offset %llu runs past the end of the "
			    "data (cut when ffmpeg stopped)",
			    (unsigned long long)taken);
			return;
		}
		q = mdatwalk_resync(s, pos, end, c, &prev);
		if (q == 0) {
			if (r->n == 0) {
				r->no_video = true;
				mdatwalk_stop(r, pos, "no H.264 or AAC sample of "
				    "this configuration at offset %llu",
				    (unsigned long long)pos);
			} else if (end - pos <= MDATWALK_RUN_MAX) {
				mdatwalk_stop(r, pos, "the last %llu bytes (from "
				    "offset %llu) are no whole sample (cut when "
				    "ffmpeg stopped)",
				    (unsigned long long)(end - pos),
				    (unsigned long long)pos);
			} else {
				mdatwalk_stop(r, pos, "bytes at offset %llu are "
				    "neither video nor audio, and no video "
				    "sample follows within 32 MiB",
				    (unsigned long long)pos);
			}
			return;
		}
		r->resyncs++;
		r->bytes_skipped += q - pos;
		any_num = true;
		pos = q;
	}
	mdatwalk_stop(r, pos, "end of the data");
}

/* n bits at *bit of p (len bytes), moved past; -1 past the end. */
static int64_t
mdatwalk_bits(const uint8_t *p, size_t len, uint64_t *bit, unsigned n)
{
	int64_t v = 0;

	for (; n > 0; n--, (*bit)++) {
		if (*bit / 8 >= len)
			return -1;
		v = v << 1 | ((p[*bit / 8] >> (7 - *bit % 8)) & 1);
	}
	return v;
}

unsigned
mdatwalk_channels(struct mdatwalk_src *s, uint64_t start)
{
	uint64_t n = s->size - start > MDATWALK_RUN_MAX ? MDATWALK_RUN_MAX :
	    s->size - start, bit;
	const uint8_t *p = mdatwalk_at(s, start, (size_t)n), *l;
	int64_t count, esc, id;

	if (p == NULL || (l = memmem(p, (size_t)n, "Lavc", 4)) == NULL ||
	    l - p < 3 || (l[-3] >> 5) != 6)
		return 0;
	/* FIL: id (3 bits), count (4), with count 15 an 8-bit escape
	 * (count += esc - 1), then count bytes; the next element's id says
	 * SCE (mono) or CPE (stereo) */
	bit = (uint64_t)(l - 3 - p) * 8 + 3;
	count = mdatwalk_bits(p, (size_t)n, &bit, 4);
	if (count == 15 && (esc = mdatwalk_bits(p, (size_t)n, &bit, 8)) >= 0)
		count += esc - 1;
	if (count < 0)
		return 0;
	bit += (uint64_t)count * 8;
	id = mdatwalk_bits(p, (size_t)n, &bit, 3);
	return id == 0 ? 1 : id == 1 ? 2 : 0;
}

int
mdatwalk_first_video(struct mdatwalk_src *s, uint64_t start, uint64_t limit,
    const struct h264_params *p, uint64_t *off, uint32_t *size, char *x264,
    size_t x264len)
{
	struct mdatwalk_prev prev = { 0 };
	struct h264_slice sl;
	uint64_t q, end = s->size, len, stop;

	stop = end - start > limit ? start + limit : end;
	for (q = start; q < stop; q++) {
		if (!mdatwalk_maybe_video(s, q, end))
			continue;
		if (x264len > 0)
			x264[0] = '\0';
		if (mdatwalk_video(s, q, end, p, &prev, false, &len, &sl, x264,
		    x264len) == V_OK && len <= UINT32_MAX) {
			*off = q;
			*size = (uint32_t)len;
			return 0;
		}
	}
	return -1;
}
