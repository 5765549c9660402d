/* test_remux.c -- remux_file and the box-level MP4 rewriting.
 *
 * ffmpeg-made recordings, the fixtures, hostile boxes, the co64 upgrade,
 * write errors. */
#include "unit.h"
#include "testmedia.h"

#include <math.h>
#include <signal.h>
#include <sys/resource.h>
#include <time.h>

#include "media/faststart.h"
#include "base/hash.h"
#include "media/probe.h"
#include "media/remux.h"

static const char *
rec(void)
{
	return tm_recording("rec.mp4", 4, "320x240", "300k", NULL);
}

/* Video dominates this one (as in a real recording) and its mdat is large
 * enough for the aligned fast start. */
static const char *
big(void)
{
	return tm_recording("big.mp4", 8, "640x360", "12M",
	    "-vf noise=alls=40:allf=t+u");
}

static int
run_remux(const char *in, const char *v, const char *a,
    struct remux_result *res, char *err, size_t errlen)
{
	if (v != NULL)
		unlink(v);
	if (a != NULL)
		unlink(a);
	err[0] = '\0';
	return remux_file(in, v, a, res, err, errlen);
}

static void
check_same_packets(const char *a, const char *sel_a, const char *b,
    const char *sel_b)
{
	char *fa = tm_framemd5(a, sel_a), *fb = tm_framemd5(b, sel_b);

	CHECK(fa != NULL && fb != NULL);
	if (fa != NULL && fb != NULL) {
		CHECK(strlen(fa) > 100);
		if (strcmp(fa, fb) != 0)
			fprintf(stderr, "  packets of %s (%s) and %s (%s) differ\n",
			    a, sel_a, b, sel_b);
		CHECK(strcmp(fa, fb) == 0);
	}
	free(fa);
	free(fb);
}

/* moov before every mdat */
static bool
moov_first(const char *path)
{
	char order[256];
	const char *m, *d;

	tm_box_order(path, order, sizeof(order));
	m = strstr(order, "moov");
	d = strstr(order, "mdat");
	if (m == NULL || d == NULL || m > d)
		fprintf(stderr, "  %s: boxes %s\n", path, order);
	return m != NULL && d != NULL && m < d;
}

static void
remux_recording(void)
{
	struct remux_result res;
	const char *v = tm_path("out.mp4"), *a = tm_path("out.m4a");
	json_t *pi, *po, *pa, *si, *so;
	char err[512], order[128];
	size_t i;

	CHECK(rec() != NULL);
	CHECK_INT(run_remux(rec(), v, a, &res, err, sizeof(err)), REMUX_OK);
	CHECK_STR(err, "");
	CHECK_STR(res.video_method, "faststart");
	CHECK(!res.no_audio);
	CHECK_STR(res.audio_path, a);
	CHECK_STR(res.audio_ext, "m4a");
	CHECK(moov_first(v));
	CHECK(moov_first(a));
	tm_box_order(a, order, sizeof(order));
	CHECK_STR(order, "ftyp,moov,mdat");
	/* the input's bytes, index moved: same size, but the moov */
	CHECK_INT(tm_size(v), tm_size(rec()));

	/* what ffprobe sees is the same recording */
	pi = tm_ffprobe(rec());
	po = tm_ffprobe(v);
	pa = tm_ffprobe(a);
	CHECK(pi != NULL && po != NULL && pa != NULL);
	if (pi != NULL && po != NULL && pa != NULL) {
		json_t *fi = json_object_get(pi, "format");
		json_t *fo = json_object_get(po, "format");
		CHECK(fabs(tm_jnum(fi, "duration") - tm_jnum(fo, "duration")) <
		    0.001);
		CHECK_INT(json_array_size(json_object_get(po, "streams")), 2);
		for (i = 0; i < 2; i++) {
			si = json_array_get(json_object_get(pi, "streams"), i);
			so = json_array_get(json_object_get(po, "streams"), i);
			CHECK_STR(tm_jstr(so, "codec_name"),
			    tm_jstr(si, "codec_name"));
			CHECK_STR(tm_jstr(so, "nb_frames"),
			    tm_jstr(si, "nb_frames"));
			CHECK(fabs(tm_jnum(so, "duration") -
			    tm_jnum(si, "duration")) < 0.001);
		}
		/* the audio file: exactly the audio stream, same length */
		si = json_array_get(json_object_get(pi, "streams"), 1);
		CHECK_INT(json_array_size(json_object_get(pa, "streams")), 1);
		so = json_array_get(json_object_get(pa, "streams"), 0);
		CHECK_STR(tm_jstr(so, "codec_type"), "audio");
		CHECK_STR(tm_jstr(so, "codec_name"), "aac");
		CHECK_INT(tm_jnum(so, "sample_rate"), 44100);
		CHECK_STR(tm_jstr(so, "nb_frames"), tm_jstr(si, "nb_frames"));
		CHECK(fabs(tm_jnum(so, "duration") - tm_jnum(si, "duration")) <
		    0.001);
		CHECK(fabs(tm_jnum(json_object_get(pa, "format"), "duration") -
		    tm_jnum(si, "duration")) < 0.03);
		CHECK_STR(tm_jstr(json_object_get(json_object_get(pa, "format"),
		    "tags"), "major_brand"), "M4A ");
	}
	json_decref(pi);
	json_decref(po);
	json_decref(pa);

	/* every packet identical: timestamps, sizes, bytes */
	check_same_packets(rec(), "-map 0", v, "-map 0");
	check_same_packets(rec(), "-map 0:a", a, "-map 0");
}

/* The moov goes to the file through a small buffer; with a tiny one the
 * sizes of moov, trak, mdia... are patched after they were written out. */
static void
remux_small_sink(void)
{
	struct remux_result res;
	const char *v = tm_path("sink.mp4"), *a = tm_path("sink.m4a");
	size_t saved = faststart_sink_size;
	char err[512];

	faststart_sink_size = 17;
	CHECK_INT(run_remux(rec(), v, a, &res, err, sizeof(err)), REMUX_OK);
	faststart_sink_size = saved;
	CHECK(moov_first(v));
	check_same_packets(rec(), "-map 0", v, "-map 0");
	check_same_packets(rec(), "-map 0:a", a, "-map 0");
}

/* Large files get a 'free' box after the moov so that the mdat moves by a
 * multiple of 64 KiB (the kernel copies aligned ranges faster). */
static void
remux_aligned(void)
{
	struct remux_result res;
	const char *v = tm_path("big-out.mp4");
	uint8_t *in, *out;
	size_t inlen = 0, outlen = 0;
	int64_t mi, mo;
	char err[512], order[128];

	CHECK(big() != NULL);
	CHECK_INT(run_remux(big(), v, NULL, &res, err, sizeof(err)), REMUX_OK);
	CHECK_STR(res.video_method, "faststart");
	tm_box_order(v, order, sizeof(order));
	CHECK_STR(order, "ftyp,free,moov,free,mdat");
	in = tm_read(big(), &inlen);
	out = tm_read(v, &outlen);
	CHECK(in != NULL && out != NULL);
	if (in != NULL && out != NULL) {
		CHECK(inlen > FASTSTART_ALIGN_MIN);
		mi = tm_box_offset(in, inlen, "mdat");
		mo = tm_box_offset(out, outlen, "mdat");
		CHECK(mi > 0 && mo > mi);
		CHECK_INT((mo - mi) % FASTSTART_ALIGN, 0);
		/* the samples are the same bytes, moved */
		CHECK(memcmp(in + mi, out + mo, inlen - (size_t)mi -
		    (size_t)mp4box_rb32(in + tm_box_offset(in, inlen, "moov"))) ==
		    0);
	}
	free(in);
	free(out);
	check_same_packets(big(), "-map 0", v, "-map 0");
}

static long long
rchar(void)
{
	char *s = fs_read_file("/proc/self/io", 4096, NULL), *p;
	long long v = -1;

	if (s != NULL && (p = strstr(s, "rchar: ")) != NULL)
		v = strtoll(p + 7, NULL, 10);
	free(s);
	return v;
}

/* The bytes in the first mdat of an MP4 file (32-bit box size), or -1. */
static int64_t
mdat_payload(const char *path)
{
	uint8_t *b;
	size_t len = 0;
	int64_t off, n = -1;

	b = tm_read(path, &len);
	if (b != NULL && (off = tm_box_offset(b, len, "mdat")) >= 0 &&
	    (size_t)off + 8 <= len && mp4box_rb32(b + off) >= 8)
		n = (int64_t)mp4box_rb32(b + off) - 8;
	free(b);
	return n;
}

/* The audio file is made from the audio chunks alone: the video bytes
 * (here ~98% of the file) are not read. */
static void
remux_audio_reads_audio_only(void)
{
	struct remux_result res;
	const char *a = tm_path("big-out.m4a");
	long long before, used;
	int64_t samples;
	char err[512];

	CHECK(big() != NULL);
	unlink(a);
	before = rchar();
	CHECK_INT(remux_file(big(), NULL, a, &res, err, sizeof(err)), REMUX_OK);
	used = rchar() - before;
	CHECK(before >= 0 && used > 0);
	if (used > tm_size(big()) / 10)
		fprintf(stderr, "  read %lld of %lld bytes\n", used,
		    (long long)tm_size(big()));
	CHECK(used < tm_size(big()) / 10);
	/* it did read the audio: every sample byte of the output came from
	 * a read of the input */
	samples = mdat_payload(a);
	CHECK(samples > 0);
	if (used < samples)
		fprintf(stderr, "  read %lld bytes, the audio samples are "
		    "%lld\n", used, (long long)samples);
	CHECK(used >= samples);
	check_same_packets(big(), "-map 0:a", a, "-map 0");
}

static void
remux_noaudio(void)
{
	struct remux_result res;
	const char *v = tm_path("na.mp4"), *a = tm_path("na.m4a");
	char err[512];

	CHECK_INT(run_remux("fixtures/noaudio.mp4", v, a, &res, err,
	    sizeof(err)), REMUX_OK);
	CHECK(res.no_audio);
	CHECK_STR(res.audio_path, "");
	CHECK(!tm_exists(a));
	CHECK(moov_first(v));
	check_same_packets("fixtures/noaudio.mp4", "-map 0", v, "-map 0");
	/* no_audio is known without an audio output, too */
	CHECK_INT(run_remux("fixtures/noaudio.mp4", v, NULL, &res, err,
	    sizeof(err)), REMUX_OK);
	CHECK(res.no_audio);
	CHECK_INT(run_remux(rec(), v, NULL, &res, err, sizeof(err)), REMUX_OK);
	CHECK(!res.no_audio);
}

static void
expect_bad(const char *in, const char *reason_part)
{
	struct remux_result res;
	const char *v = tm_path("bad.mp4"), *a = tm_path("bad.m4a");
	char err[512];
	int rc;

	rc = run_remux(in, v, a, &res, err, sizeof(err));
	if (rc != REMUX_BAD_MEDIA || strstr(err, reason_part) == NULL)
		fprintf(stderr, "  %s: rc %d `%s', want BAD `%s'\n", in, rc, err,
		    reason_part);
	CHECK_INT(rc, REMUX_BAD_MEDIA);
	CHECK(strstr(err, reason_part) != NULL);
	CHECK(strstr(err, in) != NULL); /* the message names the file */
	CHECK(!tm_exists(v));
	CHECK(!tm_exists(a));
	CHECK_STR(res.audio_path, "");
}

static void
remux_bad_fixtures(void)
{
	expect_bad("fixtures/truncated.mp4", "no moov atom");
	expect_bad("fixtures/cutmdat.mp4", "truncated");
	expect_bad("fixtures/empty.mp4", "empty file");
	expect_bad("fixtures/notmp4.mp4", "not a media file");
}

/* moov in front already: copied as it is. */
static void
remux_already_faststart(void)
{
	struct remux_result res;
	const char *in = tm_recording("fs.mp4", 2, "320x240", "300k",
	    "-movflags +faststart");
	const char *v = tm_path("fs-out.mp4");
	char err[512], h1[65], h2[65];

	CHECK(in != NULL);
	CHECK(moov_first(in));
	CHECK_INT(run_remux(in, v, NULL, &res, err, sizeof(err)), REMUX_OK);
	CHECK_STR(res.video_method, "faststart");
	CHECK_INT(hash_sha256_file(in, h1, NULL), 0);
	CHECK_INT(hash_sha256_file(v, h2, NULL), 0);
	CHECK_STR(h1, h2);
}

/* The moov of a file, parsed (the caller frees *buf). */
static int
load_moov(const char *path, uint8_t **buf, struct mp4box_moov *m)
{
	uint8_t *file;
	size_t len = 0;
	int64_t off;
	char err[256];
	int rc = -1;

	*buf = NULL;
	file = tm_read(path, &len);
	if (file == NULL)
		return -1;
	off = tm_box_offset(file, len, "moov");
	if (off >= 0) {
		size_t n = mp4box_rb32(file + off);
		*buf = xmalloc(n);
		memcpy(*buf, file + off, n);
		rc = mp4box_parse_moov(*buf, n, m, err, sizeof(err));
	}
	free(file);
	return rc;
}

static uint64_t
entry(const struct mp4box_track *t, uint32_t i)
{
	return t->co64 ? mp4box_rb64(t->chunks + 8 * (size_t)i) :
	    mp4box_rb32(t->chunks + 4 * (size_t)i);
}

/* An stco whose offsets would pass 4 GiB once the moov moves in front
 * becomes a co64, and the boxes above it grow; a co64 is shifted in
 * place. Synthetic: the shift is given, not a 4 GiB file. */
static void
faststart_co64_upgrade(void)
{
	struct mp4box_moov m, m2, m3;
	uint8_t *buf = NULL, *out = NULL, *out2 = NULL, *small = NULL;
	size_t outlen = 0, out2len = 0, smalllen = 0, t;
	uint64_t extra = 5ull << 30;
	uint32_t i;
	bool up = false;
	char err[256];

	CHECK_INT(load_moov(rec(), &buf, &m), MP4BOX_OK);
	CHECK_INT(m.nb_tracks, 2);
	for (t = 0; t < m.nb_tracks; t++)
		CHECK(!m.track[t].co64);

	/* a small shift keeps the 32-bit tables */
	CHECK_INT(faststart_moov(&m, 0, 0, &small, &smalllen, &up, err,
	    sizeof(err)), FASTSTART_OK);
	CHECK(!up);
	CHECK_INT(smalllen, m.len);

	CHECK_INT(faststart_moov(&m, extra, 0, &out, &outlen, &up, err,
	    sizeof(err)), FASTSTART_OK);
	CHECK(up);
	CHECK_INT(outlen, m.len + 4 * (m.track[0].nb_chunks +
	    m.track[1].nb_chunks));
	CHECK_INT(mp4box_rb32(out), outlen); /* moov size fixed up */
	CHECK_INT(mp4box_parse_moov(out, outlen, &m2, err, sizeof(err)),
	    MP4BOX_OK);
	CHECK_INT(m2.nb_tracks, 2);
	for (t = 0; t < m2.nb_tracks; t++) {
		CHECK(m2.track[t].co64);
		CHECK_INT(m2.track[t].nb_chunks, m.track[t].nb_chunks);
		CHECK_INT(m2.track[t].nb_samples, m.track[t].nb_samples);
		CHECK_INT(m2.track[t].handler, m.track[t].handler);
		for (i = 0; i < m.track[t].nb_chunks; i++)
			if (entry(&m2.track[t], i) !=
			    entry(&m.track[t], i) + extra + outlen) {
				CHECK(!"co64 entry not shifted");
				break;
			}
	}
	/* the trak/mdia/minf/stbl sizes add up: the whole tree parses and
	 * the tables lie where the sizes say */
	CHECK(m2.track[1].trak_size == m.track[1].trak_size +
	    4 * m.track[1].nb_chunks);

	/* co64 in place: no growth, entries moved again */
	CHECK_INT(faststart_moov(&m2, 100, 0, &out2, &out2len, &up, err,
	    sizeof(err)), FASTSTART_OK);
	CHECK(!up);
	CHECK_INT(out2len, outlen);
	CHECK_INT(mp4box_parse_moov(out2, out2len, &m3, err, sizeof(err)),
	    MP4BOX_OK);
	CHECK_INT(entry(&m3.track[0], 0), entry(&m2.track[0], 0) + 100 +
	    out2len);

	/* padding: moov + free is a multiple of the alignment */
	free(out2);
	out2 = NULL;
	CHECK_INT(faststart_moov(&m, 40, 65536, &out2, &out2len, &up, err,
	    sizeof(err)), FASTSTART_OK);
	CHECK_INT((40 + out2len) % 65536, 0);
	CHECK(memcmp(out2 + m.len + 4, "free", 4) == 0);
	CHECK_INT(mp4box_parse_moov(out2, m.len, &m3, err, sizeof(err)),
	    MP4BOX_OK);
	CHECK_INT(entry(&m3.track[0], 0), entry(&m.track[0], 0) + 40 +
	    out2len);
	free(buf);
	free(out);
	free(out2);
	free(small);
}

/* The input with bytes patched at off, written to a new file. */
static const char *
mutate(const char *name, const uint8_t *src, size_t len, size_t off,
    const void *patch, size_t n, size_t newlen)
{
	uint8_t *b = xmalloc(len);
	const char *path = tm_path(name);

	memcpy(b, src, len);
	if (patch != NULL && off + n <= len)
		memcpy(b + off, patch, n);
	tm_write(path, b, newlen ? newlen : len);
	free(b);
	return path;
}

static void
be32(uint8_t *p, uint32_t v)
{
	mp4box_wb32(p, v);
}

/* How a hostile case patches the recording, at its box's offset + at. */
enum hostile_op {
	PUT32,          /* value, big-endian */
	PUT32_PAST_END, /* the file's length + value */
	PUT_SIZE64,     /* a 64-bit size box header: 1, "mdat", value, 0 */
	CUT,            /* the file ends there */
};

/* Corrupt and hostile boxes, one row each: the recording patched at the
 * first box of that type (moov and mdat at top level, the others the
 * first inside the moov: the video track's). remux_file is BAD_MEDIA with
 * a reason holding want; probe_file (when probe is not -1) gives probe. */
static const struct hostile_case {
	const char *name;
	const char *what;
	const char *box;
	size_t at;
	enum hostile_op op;
	uint32_t value;
	int probe;
	const char *want;
} hostile_cases[] = {
	{ "h1.mp4", "the moov claims 4 GiB: past the end of the file",
	    "moov", 0, PUT32, 0xfffffff0, PROBE_BAD_MEDIA,
	    "moov atom is cut off" },
	{ "h2.mp4", "a 64-bit mdat size read from sample bytes: huge, before "
	    "the moov", "mdat", 0, PUT32, 1, PROBE_BAD_MEDIA, "no moov atom" },
	{ "h3.mp4", "a 64-bit mdat size of 2^63", "mdat", 0, PUT_SIZE64,
	    0x80000000, PROBE_BAD_MEDIA, "no moov atom" },
	{ "h4.mp4", "the file cut in the middle of its moov", "moov", 300, CUT,
	    0, PROBE_BAD_MEDIA, "moov atom is cut off" },
	{ "h5.mp4", "a chunk offset past the end of the file", "stco", 16,
	    PUT32_PAST_END, 1000, PROBE_BAD_MEDIA, "past the end" },
	{ "h6.mp4", "a chunk offset into the ftyp", "stco", 16, PUT32, 0, -1,
	    "outside the mdat" },
	{ "h7.mp4", "a chunk count far larger than its box", "stco", 12, PUT32,
	    0x7fffffff, -1, "does not fit" },
	{ "h8.mp4", "a sample count far larger than its box", "stsz", 16,
	    PUT32, 0x7fffffff, -1, "does not fit" },
	{ "h9.mp4", "a sample-to-chunk entry naming chunk 0", "stsc", 16,
	    PUT32, 0, -1, "sample-to-chunk" },
	{ "h10.mp4", "more samples per chunk than samples", "stsc", 20, PUT32,
	    0x7fffffff, -1, "more samples" },
	{ "h11.mp4", "a child of the moov larger than the moov", "mvhd", 0,
	    PUT32, 0x7fffffff, -1, "does not fit its parent" },
	{ "h12.mp4", "a sample size that pushes a chunk past the file", "stsz",
	    20, PUT32, 0x7fffffff, -1, "past the end" },
};

/* The file of one hostile case made of the recording in (len bytes), or
 * NULL when its box is not there. */
static const char *
hostile_file(const struct hostile_case *c, const uint8_t *in, size_t len)
{
	uint8_t p[16];
	int64_t moov = tm_box_offset(in, len, "moov"), off;
	size_t n = 4;

	if (strcmp(c->box, "moov") == 0 || strcmp(c->box, "mdat") == 0)
		off = tm_box_offset(in, len, c->box);
	else
		off = moov > 0 ? tm_find(in, len, (size_t)moov, c->box) : -1;
	if (off <= 0 || (size_t)off + c->at + 16 > len)
		return NULL;
	off += (int64_t)c->at;
	switch (c->op) {
	case PUT32:
		be32(p, c->value);
		break;
	case PUT32_PAST_END:
		be32(p, (uint32_t)len + c->value);
		break;
	case PUT_SIZE64:
		be32(p, 1);
		memcpy(p + 4, "mdat", 4);
		be32(p + 8, c->value);
		be32(p + 12, 0);
		n = 16;
		break;
	case CUT:
		return mutate(c->name, in, len, 0, NULL, 0, (size_t)off);
	}
	return mutate(c->name, in, len, (size_t)off, p, n, 0);
}

/* BAD_MEDIA with a reason, no crash, no huge allocation, no output left
 * behind (expect_bad), for every row of hostile_cases. */
static void
remux_hostile(void)
{
	struct probe_result pr;
	const struct hostile_case *c;
	const char *path;
	uint8_t *in;
	size_t len = 0, i;
	char err[512];
	int rc;

	in = tm_read(rec(), &len);
	CHECK(in != NULL);
	if (in == NULL)
		return;
	for (i = 0; i < sizeof(hostile_cases) / sizeof(hostile_cases[0]); i++) {
		c = &hostile_cases[i];
		path = hostile_file(c, in, len);
		if (path == NULL)
			fprintf(stderr, "  %s (%s): no %s box in %s\n", c->name,
			    c->what, c->box, rec());
		CHECK(path != NULL);
		if (path == NULL)
			continue;
		expect_bad(path, c->want);
		if (c->probe == -1)
			continue;
		rc = probe_file(path, &pr, err, sizeof(err));
		if (rc != c->probe)
			fprintf(stderr, "  %s (%s): probe rc %d `%s', want "
			    "%d\n", c->name, c->what, rc, err, c->probe);
		CHECK_INT(rc, c->probe);
	}
	free(in);
}

/* A recording's audio track, located for rewriting its index in place:
 * the tables keep their boxes (and the moov its size), only their
 * entries change. */
struct hostile {
	uint8_t *in;
	size_t len;
	uint64_t moov, mdat;    /* top-level boxes, file offsets */
	uint64_t data, data_len; /* the mdat payload */
	size_t stco, stsz, stsc; /* the audio track's tables, file offsets */
	uint32_t nb_chunks;     /* of the audio track */
	uint64_t chunk_off[4];  /* of its first chunks, and their bytes */
	uint64_t chunk_len[4];
	uint64_t video_off;     /* the first video chunk */
};

static int
hostile_load(struct hostile *h)
{
	static struct mp4box_moov m;
	struct mp4box_chunks it;
	uint8_t *buf = NULL;
	uint64_t off, bytes;
	uint32_t idx, i;
	size_t t;
	int audio = -1;

	memset(h, 0, sizeof(*h));
	h->in = tm_read(rec(), &h->len);
	if (h->in == NULL || load_moov(rec(), &buf, &m) != MP4BOX_OK)
		goto fail;
	h->moov = (uint64_t)tm_box_offset(h->in, h->len, "moov");
	h->mdat = (uint64_t)tm_box_offset(h->in, h->len, "mdat");
	h->data = h->mdat + 8;
	h->data_len = mp4box_rb32(h->in + h->mdat) - 8;
	for (t = 0; t < m.nb_tracks; t++)
		if (m.track[t].handler == MP4BOX_TYPE('s', 'o', 'u', 'n'))
			audio = (int)t;
	if (audio != 1 || h->moov < h->mdat)
		goto fail; /* video then audio, moov at the end: ffmpeg's */
	/* the tables of the audio trak are the first after its start */
	off = h->moov + m.track[1].trak_off;
	h->stco = (size_t)tm_find(h->in, h->len, (size_t)off, "stco");
	h->stsz = (size_t)tm_find(h->in, h->len, (size_t)off, "stsz");
	h->stsc = (size_t)tm_find(h->in, h->len, (size_t)off, "stsc");
	h->nb_chunks = m.track[1].nb_chunks;
	if (h->nb_chunks < 4 || h->stco != h->moov + m.track[1].co_off)
		goto fail;
	mp4box_chunks_init(&it, &m.track[1]);
	for (i = 0; i < 4; i++) {
		char why[200];
		if (mp4box_chunks_next(&it, &idx, &off, &bytes, why,
		    sizeof(why)) != 1)
			goto fail;
		h->chunk_off[i] = off;
		h->chunk_len[i] = bytes;
	}
	h->video_off = entry(&m.track[0], 0);
	free(buf);
	return 0;
fail:
	CHECK(!"cannot locate the audio track of the recording");
	free(buf);
	free(h->in);
	h->in = NULL;
	return -1;
}

/* The crafted index of the bug report: every audio chunk at the start of
 * the mdat, each one sample as large as the whole mdat. The file stays
 * the same size; the outputs made of it would not. */
static void
hostile_repeat(const struct hostile *h, uint8_t *b)
{
	uint32_t i;

	for (i = 0; i < h->nb_chunks; i++)
		be32(b + h->stco + 16 + 4 * (size_t)i, (uint32_t)h->data);
	be32(b + h->stsz + 12, (uint32_t)h->data_len);
	be32(b + h->stsz + 16, h->nb_chunks);
	be32(b + h->stsc + 12, 1);
	be32(b + h->stsc + 16, 1);
	be32(b + h->stsc + 20, 1);
	be32(b + h->stsc + 24, 1);
}

/* A copy of the recording with its audio chunk i moved to off. */
static const char *
hostile_move(const struct hostile *h, const char *name, uint32_t i,
    uint64_t off)
{
	uint8_t p[4];

	be32(p, (uint32_t)off);
	return mutate(name, h->in, h->len, h->stco + 16 + 4 * (size_t)i, p, 4,
	    0);
}

/* remux of path is BAD_MEDIA with a reason holding want, no output left,
 * and no output ever grew past about the input's size: the file size
 * limit (RLIMIT_FSIZE) would have turned that into REMUX_IO (EFBIG). */
static void
expect_bad_capped(const char *path, const char *want)
{
	struct remux_result res;
	struct rlimit old, low;
	const char *v = tm_path("cap.mp4"), *a = tm_path("cap.m4a");
	int64_t size = tm_size(path);
	void (*prev)(int);
	char err[512];
	int rc;

	prev = signal(SIGXFSZ, SIG_IGN);
	getrlimit(RLIMIT_FSIZE, &old);
	low = old;
	low.rlim_cur = (rlim_t)(size + size / 8 + 2 * 65536);
	unlink(v);
	unlink(a);
	setrlimit(RLIMIT_FSIZE, &low);
	rc = remux_file(path, v, a, &res, err, sizeof(err));
	setrlimit(RLIMIT_FSIZE, &old);
	signal(SIGXFSZ, prev);
	if (rc != REMUX_BAD_MEDIA || strstr(err, want) == NULL)
		fprintf(stderr, "  %s: rc %d `%s', want BAD `%s'\n", path, rc,
		    err, want);
	CHECK_INT(rc, REMUX_BAD_MEDIA);
	CHECK(strstr(err, want) != NULL);
	CHECK(strstr(err, path) != NULL);
	CHECK(!tm_exists(v) && !tm_exists(a));
	CHECK_STR(res.audio_path, "");
}

/* Chunks that name the same bytes, or bytes outside the mdat: BAD_MEDIA
 * naming the offsets, before any output is written. The crafted index of
 * the bug report turned a 32 KB input into a 487 KB audio file, growing
 * as chunks x mdat; libavformat still probes it. */
static void
remux_overlapping_chunks(void)
{
	struct hostile h;
	struct probe_result pr;
	const char *path;
	uint8_t *b;
	char want[200], err[512];

	if (hostile_load(&h) < 0)
		return;
	b = xmalloc(h.len);
	memcpy(b, h.in, h.len);
	hostile_repeat(&h, b);
	path = tm_path("repeat.mp4");
	tm_write(path, b, h.len);
	/* the file the pipeline saw: it probes fine, remux refuses it */
	CHECK_INT(probe_file(path, &pr, err, sizeof(err)), PROBE_OK);
	util_snprintf(want, sizeof(want), "track 1 (audio) chunk 2 at offset "
	    "%llu overlaps chunk 1 (offset %llu, %llu bytes)",
	    (unsigned long long)h.data, (unsigned long long)h.data,
	    (unsigned long long)h.data_len);
	expect_bad_capped(path, want);

	/* a chunk moved half-way into the one before it */
	util_snprintf(want, sizeof(want), "track 1 (audio) chunk 3 at offset "
	    "%llu overlaps chunk 2 (offset %llu, %llu bytes)",
	    (unsigned long long)(h.chunk_off[1] + h.chunk_len[1] / 2),
	    (unsigned long long)h.chunk_off[1],
	    (unsigned long long)h.chunk_len[1]);
	expect_bad_capped(hostile_move(&h, "partial.mp4", 2, h.chunk_off[1] +
	    h.chunk_len[1] / 2), want);

	/* an audio chunk over the first video chunk: any two tracks, the
	 * audio chunks in file order still (merged) or not (sorted) */
	util_snprintf(want, sizeof(want), "track 1 (audio) chunk 1 at offset "
	    "%llu overlaps track 0 (video) chunk 1 (offset %llu,",
	    (unsigned long long)(h.video_off + 1),
	    (unsigned long long)h.video_off);
	CHECK(h.chunk_off[0] < h.video_off && h.video_off < h.chunk_off[1]);
	expect_bad_capped(hostile_move(&h, "cross1.mp4", 0, h.video_off + 1),
	    want);
	util_snprintf(want, sizeof(want), "track 1 (audio) chunk 4 at offset "
	    "%llu overlaps track 0 (video) chunk 1 (offset %llu,",
	    (unsigned long long)(h.video_off + 1),
	    (unsigned long long)h.video_off);
	expect_bad_capped(hostile_move(&h, "cross4.mp4", 3, h.video_off + 1),
	    want);

	/* a chunk in the moov, after the mdat: the check once compared it
	 * with the mdat of the chunk before it and wrapped around */
	CHECK(h.moov + 8 + h.chunk_len[1] <= h.len);
	util_snprintf(want, sizeof(want), "track 1 chunk 2 (%llu+%llu) lies "
	    "outside the mdat", (unsigned long long)(h.moov + 8),
	    (unsigned long long)h.chunk_len[1]);
	expect_bad_capped(hostile_move(&h, "inmoov.mp4", 1, h.moov + 8), want);

	/* a chunk that starts in the mdat and ends past it */
	util_snprintf(want, sizeof(want), "track 1 chunk 2 (%llu+%llu) lies "
	    "outside the mdat", (unsigned long long)(h.moov - 3),
	    (unsigned long long)h.chunk_len[1]);
	expect_bad_capped(hostile_move(&h, "straddle.mp4", 1, h.moov - 3),
	    want);

	/* the crafted index behind a first box mp4box_sniff does not know:
	 * libavformat reads it as MP4, and the box level judges it still */
	memcpy(b + 4, "junk", 4);
	path = tm_path("junk.mp4");
	tm_write(path, b, h.len);
	expect_bad_capped(path, "overlaps chunk 1");
	free(b);
	free(h.in);
}

/* The crafted audio table as stz2 (16-bit sizes, which the box level
 * does not read): the file goes to libavformat, whose copy stops at the
 * input's size as bad media, in both outputs. */
static void
remux_libav_capped(void)
{
	struct hostile h;
	const char *path = tm_path("stz2.mp4");
	uint8_t *b;
	uint32_t i;

	if (hostile_load(&h) < 0)
		return;
	b = xmalloc(h.len);
	memcpy(b, h.in, h.len);
	hostile_repeat(&h, b);
	/* stz2: version/flags, 24 reserved bits, field size 16, count,
	 * then the sizes; the rest of the old table is left as padding */
	memcpy(b + h.stsz + 4, "stz2", 4);
	be32(b + h.stsz + 12, 16);
	be32(b + h.stsz + 16, h.nb_chunks);
	for (i = 0; i < h.nb_chunks; i++) {
		b[h.stsz + 20 + 2 * (size_t)i] = 0xff;
		b[h.stsz + 21 + 2 * (size_t)i] = 0xff;
	}
	tm_write(path, b, h.len);
	CHECK(h.data_len > 65535 * 2); /* two chunks are more than the mdat */
	expect_bad_capped(path, "packets add up to more than");
	free(b);
	free(h.in);
}

/* The box-level writers refuse an index that names more bytes than the
 * file holds even when it was never checked (mp4box_check_chunks
 * skipped): the outputs stay within their cap. */
static void
faststart_capped(void)
{
	struct hostile h;
	struct faststart_info fi;
	struct mp4box_file f;
	const char *path = tm_path("unchecked.mp4");
	const char *v = tm_path("unchecked-out.mp4");
	const char *a = tm_path("unchecked-out.m4a");
	uint8_t *b;
	char err[512], want[200];
	int fd, out;

	if (hostile_load(&h) < 0)
		return;
	b = xmalloc(h.len);
	memcpy(b, h.in, h.len);
	hostile_repeat(&h, b);
	tm_write(path, b, h.len);

	/* loaded the way mp4box_load does, minus the chunk check */
	memset(&f, 0, sizeof(f));
	fd = open(path, O_RDONLY);
	CHECK(fd >= 0);
	f.fd = fd;
	f.size = h.len;
	f.layout = xmalloc(sizeof(*f.layout));
	f.moov = xmalloc(sizeof(*f.moov));
	f.moov_buf = xmalloc(h.len - h.moov);
	memcpy(f.moov_buf, b + h.moov, h.len - h.moov);
	free(b);
	CHECK_INT(mp4box_scan(fd, h.len, f.layout, err, sizeof(err)),
	    MP4BOX_OK);
	CHECK_INT(mp4box_parse_moov(f.moov_buf, h.len - h.moov, f.moov, err,
	    sizeof(err)), MP4BOX_OK);
	CHECK_INT(mp4box_check_chunks(f.moov, f.layout, err, sizeof(err)),
	    MP4BOX_BAD);
	CHECK_INT(mp4box_mdat_bytes(f.layout), h.data_len);

	out = open(a, O_WRONLY | O_CREAT | O_TRUNC, 0644);
	err[0] = '\0';
	CHECK_INT(faststart_audio(&f, 1, out, &fi, err, sizeof(err)),
	    FASTSTART_BAD);
	close(out);
	util_snprintf(want, sizeof(want), "add up to %llu bytes, more than "
	    "the %llu bytes of sample data", (unsigned long long)
	    h.nb_chunks * h.data_len, (unsigned long long)h.data_len);
	if (strstr(err, want) == NULL)
		fprintf(stderr, "  `%s', want `%s'\n", err, want);
	CHECK(strstr(err, want) != NULL);
	CHECK_INT(tm_size(a), 0); /* refused before writing a byte */

	/* the video copy moves the samples as one range: never more than
	 * the input and its moov's growth */
	out = open(v, O_WRONLY | O_CREAT | O_TRUNC, 0644);
	CHECK_INT(faststart_video(&f, out, &fi, err, sizeof(err)),
	    FASTSTART_OK);
	close(out);
	CHECK_INT(tm_size(v), (int64_t)h.len);
	CHECK_INT(fi.out_size, h.len);
	mp4box_free(&f);
	close(fd);
	free(h.in);
}

/* 200000 one-byte chunks of one track, descending or ascending: checked
 * in well under the time a copy takes, sorted or merged, and an overlap
 * among them named. */
static void
overlap_many(bool ascending)
{
	enum { N = 200000 };
	static struct mp4box_moov m;
	struct mp4box_layout *l = xmalloc(sizeof(*l));
	struct mp4box_track *t;
	uint8_t *co = xmalloc(4 * (size_t)N), stsc[12];
	struct timespec t0, t1;
	char err[256], want[256];
	uint32_t i;
	double ms;

	memset(&m, 0, sizeof(m));
	memset(l, 0, sizeof(*l));
	l->file_size = 16 + (uint64_t)N * 2;
	l->n = 1;
	l->box[0].type = MP4BOX_TYPE('m', 'd', 'a', 't');
	l->box[0].size = l->file_size;
	l->box[0].hdr = 8;
	l->moov = -1;
	l->first_mdat = l->last_mdat = 0;
	/* every other byte: nothing overlaps */
	for (i = 0; i < N; i++)
		be32(co + 4 * (size_t)i, 8 + 2 * (ascending ? i : N - 1 - i));
	be32(stsc, 1);
	be32(stsc + 4, 1);
	be32(stsc + 8, 1);
	m.nb_tracks = 1;
	t = &m.track[0];
	t->co_off = 1;
	t->nb_chunks = N;
	t->chunks = co;
	t->sample_size = 1;
	t->nb_samples = N;
	t->has_stsz = t->has_stsc = true;
	t->nb_stsc = 1;
	t->stsc = stsc;
	clock_gettime(CLOCK_MONOTONIC, &t0);
	CHECK_INT(mp4box_check_chunks(&m, l, err, sizeof(err)), MP4BOX_OK);
	clock_gettime(CLOCK_MONOTONIC, &t1);
	ms = (double)(t1.tv_sec - t0.tv_sec) * 1e3 +
	    (double)(t1.tv_nsec - t0.tv_nsec) / 1e6;
	if (ms > 500)
		fprintf(stderr, "  %d chunks checked in %.0f ms\n", N, ms);
	CHECK(ms < 500);
	/* the last chunk on the byte of the one before: BAD, naming both */
	be32(co + 4 * (size_t)(N - 1), mp4box_rb32(co + 4 * (size_t)(N - 2)));
	CHECK_INT(mp4box_check_chunks(&m, l, err, sizeof(err)), MP4BOX_BAD);
	util_snprintf(want, sizeof(want), "corrupt moov: track 0 chunk %d at "
	    "offset %u overlaps chunk %d (offset %u, 1 bytes): the index "
	    "names the same sample bytes twice", N, 8 + 2 * (ascending ?
	    N - 2 : 1), N - 1, 8 + 2 * (ascending ? N - 2 : 1));
	CHECK_STR(err, want);
	free(co);
	free(l);
}

static void
mp4box_overlap_many(void)
{
	overlap_many(false);
	overlap_many(true);
}

/* Random bytes in the moov: whatever the verdict, no crash (this runs
 * under ASan/UBSan too), and no output is left behind on failure. */
static void
remux_fuzz_moov(void)
{
	struct remux_result res;
	struct probe_result pr;
	const char *v = tm_path("fz.mp4"), *a = tm_path("fz.m4a");
	const char *path = tm_path("fuzz.mp4");
	uint8_t *in, *b;
	size_t len = 0, moov, n, k;
	unsigned seed = 12345;
	char err[512];
	int i, rc, ok = 0, bad = 0;

	in = tm_read(rec(), &len);
	CHECK(in != NULL);
	if (in == NULL)
		return;
	moov = (size_t)tm_box_offset(in, len, "moov");
	b = xmalloc(len);
	for (i = 0; i < 300; i++) {
		memcpy(b, in, len);
		n = 1 + (size_t)(rand_r(&seed) % 4);
		for (k = 0; k < n; k++)
			b[moov + (size_t)rand_r(&seed) % (len - moov)] =
			    (uint8_t)rand_r(&seed);
		tm_write(path, b, len);
		rc = run_remux(path, v, a, &res, err, sizeof(err));
		CHECK(rc == REMUX_OK || rc == REMUX_BAD_MEDIA);
		if (rc == REMUX_OK) {
			ok++;
			CHECK(tm_exists(v));
		} else {
			bad++;
			CHECK(!tm_exists(v) && !tm_exists(a));
			CHECK(err[0] != '\0');
		}
		rc = probe_file(path, &pr, err, sizeof(err));
		CHECK(rc == PROBE_OK || rc == PROBE_BAD_MEDIA);
	}
	CHECK(ok > 0 && bad > 0); /* the mutations hit both kinds */
	free(b);
	free(in);
}

/* The packets (bytes and sizes, not time stamps) of one stream of a and
 * of b are the same. */
static void
check_same_bytes(const char *a, const char *sel_a, const char *b,
    const char *sel_b)
{
	char *f1 = tm_framemd5(a, sel_a), *f2 = tm_framemd5(b, sel_b);
	char *p1, *p2;

	CHECK(f1 != NULL && f2 != NULL);
	if (f1 != NULL && f2 != NULL) {
		p1 = tm_packets(f1);
		p2 = tm_packets(f2);
		CHECK(strlen(p1) > 100);
		if (strcmp(p1, p2) != 0)
			fprintf(stderr, "  packets of %s (%s) and %s (%s) differ\n",
			    a, sel_a, b, sel_b);
		CHECK(strcmp(p1, p2) == 0);
		free(p1);
		free(p2);
	}
	free(f1);
	free(f2);
}

/* Matroska goes through libavformat: same packets, moov in front. */
static void
remux_matroska(void)
{
	struct remux_result res;
	const char *mkv = tm_path("rec.mkv"), *v = tm_path("mkv.mp4");
	const char *a = tm_path("mkv.m4a");
	char err[512];

	CHECK_INT(tm_system("ffmpeg -nostdin -loglevel error -y -i %s -c copy "
	    "%s", rec(), mkv), 0);
	CHECK_INT(run_remux(mkv, v, a, &res, err, sizeof(err)), REMUX_OK);
	CHECK_STR(err, "");
	CHECK_STR(res.video_method, "libavformat");
	CHECK_STR(res.audio_ext, "m4a");
	CHECK(moov_first(v));
	/* Matroska's millisecond clock differs from MP4's, and so does the
	 * interleaving: compare each stream's packets, bytes not stamps */
	check_same_bytes(mkv, "-map 0:v", v, "-map 0:v");
	check_same_bytes(mkv, "-map 0:a", v, "-map 0:a");
	check_same_bytes(mkv, "-map 0:a", a, "-map 0");
}

/* A fragmented MP4 (moof boxes: what ffmpeg writes with frag_keyframe)
 * is not rewritten at box level: libavformat makes a plain fast-start MP4
 * of it, with the same packets. */
static void
remux_fragmented(void)
{
	struct remux_result res;
	const char *in = tm_recording("frag.mp4", 3, "320x240", "300k",
	    "-movflags frag_keyframe+empty_moov");
	const char *v = tm_path("frag-out.mp4"), *a = tm_path("frag-out.m4a");
	char err[512], order[256];

	CHECK(in != NULL);
	tm_box_order(in, order, sizeof(order));
	CHECK(strstr(order, "moof") != NULL);
	CHECK_INT(run_remux(in, v, a, &res, err, sizeof(err)), REMUX_OK);
	CHECK_STR(err, "");
	CHECK_STR(res.video_method, "libavformat");
	CHECK_STR(res.audio_ext, "m4a");
	tm_box_order(v, order, sizeof(order));
	CHECK(strstr(order, "moof") == NULL);
	CHECK(moov_first(v));
	check_same_bytes(in, "-map 0:v", v, "-map 0:v");
	check_same_bytes(in, "-map 0:a", v, "-map 0:a");
	check_same_bytes(in, "-map 0:a", a, "-map 0");
}

/* Audio MP4 cannot hold goes to Matroska (.mka) in the audio file; the
 * MP4 video output refuses it, saying why. */
static void
remux_pcm_audio(void)
{
	struct remux_result res;
	const char *mkv = tm_path("pcm.mkv"), *a = tm_path("pcm.m4a");
	const char *mka = tm_path("pcm.mka"), *v = tm_path("pcm.mp4");
	json_t *j;
	char err[512];

	CHECK_INT(tm_system("ffmpeg -nostdin -loglevel error -y -i %s -map 0 "
	    "-c:v copy -c:a pcm_s16le %s", rec(), mkv), 0);
	unlink(mka);
	CHECK_INT(run_remux(mkv, NULL, a, &res, err, sizeof(err)), REMUX_OK);
	CHECK_STR(res.audio_ext, "mka");
	CHECK_STR(res.audio_path, mka);
	CHECK(!tm_exists(a));
	j = tm_ffprobe(mka);
	CHECK(j != NULL);
	if (j != NULL) {
		CHECK_INT(json_array_size(json_object_get(j, "streams")), 1);
		CHECK_STR(tm_jstr(json_array_get(json_object_get(j, "streams"),
		    0), "codec_name"), "pcm_s16le");
	}
	json_decref(j);
	check_same_packets(mkv, "-map 0:a", mka, "-map 0");

	unlink(mka);
	CHECK_INT(run_remux(mkv, v, a, &res, err, sizeof(err)),
	    REMUX_BAD_MEDIA);
	CHECK(strstr(err, "pcm_s16le") != NULL);
	CHECK(strstr(err, "cannot be stored in MP4") != NULL);
	CHECK(!tm_exists(v) && !tm_exists(a) && !tm_exists(mka));
}

/* A write error (here EFBIG from RLIMIT_FSIZE, as ENOSPC would be) is
 * REMUX_IO with the errno; partial outputs are removed, the input is
 * untouched. Both paths (box level, libavformat), failing while the moov
 * is written (100 bytes) and while the samples are (20000). */
static void
remux_write_error(void)
{
	static const rlim_t limits[] = { 100, 20000 };
	struct remux_result res;
	struct rlimit old, low;
	const char *mkv = tm_path("rec.mkv"), *v = tm_path("we.mp4");
	const char *a = tm_path("we.m4a");
	const char *inputs[2];
	char err[512], h1[65], h2[65];
	void (*prev)(int);
	int i, j, rc;

	inputs[0] = rec();
	inputs[1] = mkv;
	if (!tm_exists(mkv))
		tm_system("ffmpeg -nostdin -loglevel error -y -i %s -c copy %s",
		    rec(), mkv);
	prev = signal(SIGXFSZ, SIG_IGN);
	for (i = 0; i < 2; i++) {
		for (j = 0; j < 2; j++) {
			CHECK_INT(hash_sha256_file(inputs[i], h1, NULL), 0);
			unlink(v);
			unlink(a);
			getrlimit(RLIMIT_FSIZE, &old);
			low = old;
			low.rlim_cur = limits[j];
			setrlimit(RLIMIT_FSIZE, &low);
			rc = remux_file(inputs[i], v, a, &res, err, sizeof(err));
			setrlimit(RLIMIT_FSIZE, &old);
			if (rc != REMUX_IO)
				fprintf(stderr, "  %s, limit %d: rc %d `%s'\n",
				    inputs[i], (int)limits[j], rc, err);
			CHECK_INT(rc, REMUX_IO);
			CHECK_INT(res.sys_errno, EFBIG);
			CHECK(strstr(err, "too large") != NULL);
			CHECK(!tm_exists(v));
			CHECK(!tm_exists(a));
			CHECK_INT(hash_sha256_file(inputs[i], h2, NULL), 0);
			CHECK_STR(h1, h2);
		}
	}
	signal(SIGXFSZ, prev);
}

/* An output that is the input (or a hard link to it) is refused before
 * anything is truncated. */
static void
remux_output_is_input(void)
{
	struct remux_result res;
	const char *copy = tm_path("self.mp4"), *hl = tm_path("self-link.mp4");
	char err[512], h1[65], h2[65];

	CHECK_INT(tm_system("cp %s %s", rec(), copy), 0);
	CHECK_INT(hash_sha256_file(copy, h1, NULL), 0);
	CHECK_INT(remux_file(copy, copy, NULL, &res, err, sizeof(err)),
	    REMUX_BAD_MEDIA);
	unlink(hl);
	CHECK_INT(link(copy, hl), 0);
	CHECK_INT(remux_file(copy, tm_path("x.mp4"), hl, &res, err,
	    sizeof(err)), REMUX_BAD_MEDIA);
	CHECK(strstr(err, "distinct") != NULL);
	CHECK_INT(hash_sha256_file(copy, h2, NULL), 0);
	CHECK_STR(h1, h2);
}

UNIT_MAIN("remux",
    T(remux_recording),
    T(remux_small_sink),
    T(remux_aligned),
    T(remux_audio_reads_audio_only),
    T(remux_noaudio),
    T(remux_bad_fixtures),
    T(remux_already_faststart),
    T(faststart_co64_upgrade),
    T(remux_hostile),
    T(remux_overlapping_chunks),
    T(remux_libav_capped),
    T(faststart_capped),
    T(mp4box_overlap_many),
    T(remux_fuzz_moov),
    T(remux_matroska),
    T(remux_fragmented),
    T(remux_pcm_audio),
    T(remux_write_error),
    T(remux_output_is_input))
