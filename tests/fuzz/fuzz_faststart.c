/* fuzz_faststart.c -- libFuzzer harness: the moov rewriting of faststart on every input mp4box accepts. */
#include "media/faststart.h"
#include "fuzz.h"

#include <string.h>
#include <sys/stat.h>

static int in_fd = -1, out_fd = -1;

/* The size of fd, which must be what faststart said it wrote. */
static uint64_t
out_size(int fd, const struct faststart_info *info)
{
	struct stat st;

	FUZZ_CHECK(fstat(fd, &st) == 0, "fstat");
	FUZZ_CHECK((uint64_t)st.st_size == info->out_size,
	    "%lld bytes written, out_size says %llu", (long long)st.st_size,
	    (unsigned long long)info->out_size);
	return (uint64_t)st.st_size;
}

/* Track ti of a (the input, bytes in) and track tj of b (the output,
 * bytes out) name the same samples: the same chunks, the same bytes. */
static void
same_samples(const struct mp4box_file *a, size_t ti, const uint8_t *in,
    const struct mp4box_file *b, size_t tj, const uint8_t *out)
{
	const struct mp4box_track *ta = &a->moov->track[ti];
	const struct mp4box_track *tb = &b->moov->track[tj];
	struct mp4box_chunks ia, ib;
	uint64_t oa, ob, na, nb;
	uint32_t xa, xb;
	char why[256];
	int ra, rb;

	FUZZ_CHECK(ta->nb_chunks == tb->nb_chunks &&
	    ta->nb_samples == tb->nb_samples, "track %zu: %u chunks %u "
	    "samples, now %u and %u", ti, ta->nb_chunks, ta->nb_samples,
	    tb->nb_chunks, tb->nb_samples);
	if (ta->stz2 || (ta->nb_samples == 0 && ta->nb_chunks == 0))
		return;
	mp4box_chunks_init(&ia, ta);
	mp4box_chunks_init(&ib, tb);
	do {
		ra = mp4box_chunks_next(&ia, &xa, &oa, &na, why, sizeof(why));
		rb = mp4box_chunks_next(&ib, &xb, &ob, &nb, why, sizeof(why));
		FUZZ_CHECK(ra == rb && (ra != 1 || (xa == xb && na == nb)),
		    "track %zu: chunk %u (%llu bytes) became chunk %u (%llu)",
		    ti, xa, (unsigned long long)na, xb,
		    (unsigned long long)nb);
		if (ra == 1)
			FUZZ_CHECK(memcmp(in + oa, out + ob, (size_t)na) == 0,
			    "track %zu chunk %u: other bytes at %llu than at %llu",
			    ti, xa, (unsigned long long)ob,
			    (unsigned long long)oa);
	} while (ra == 1);
}

/* The fast-start copy loads again, every track holding the same samples,
 * with its moov in front of its mdat. */
static void
check_video(const struct mp4box_file *f, const uint8_t *in,
    const struct faststart_info *info)
{
	struct mp4box_file g;
	uint64_t n = out_size(out_fd, info);
	uint8_t *out = fuzz_slurp(out_fd, (size_t)n);
	char err[512] = "";
	size_t i;
	int rc;

	rc = mp4box_load(out_fd, n, &g, err, sizeof(err));
	FUZZ_CHECK(rc == MP4BOX_OK, "the fast-start copy does not load: %s",
	    err);
	FUZZ_CHECK(g.moov->nb_tracks == f->moov->nb_tracks, "%zu tracks, "
	    "now %zu", f->moov->nb_tracks, g.moov->nb_tracks);
	FUZZ_CHECK(g.layout->first_mdat < 0 ||
	    g.layout->first_mdat > g.layout->moov, "moov not in front");
	for (i = 0; i < f->moov->nb_tracks; i++)
		same_samples(f, i, in, &g, i, out);
	mp4box_free(&g);
	free(out);
}

/* The M4A loads, with the one track and its samples. */
static void
check_audio(const struct mp4box_file *f, int track, const uint8_t *in,
    const struct faststart_info *info)
{
	struct mp4box_file g;
	uint64_t n = out_size(out_fd, info);
	uint8_t *out = fuzz_slurp(out_fd, (size_t)n);
	char err[512] = "";
	int rc;

	rc = mp4box_load(out_fd, n, &g, err, sizeof(err));
	FUZZ_CHECK(rc == MP4BOX_OK, "the audio file does not load: %s", err);
	FUZZ_CHECK(g.moov->nb_tracks == 1, "%zu tracks in the audio file",
	    g.moov->nb_tracks);
	same_samples(f, (size_t)track, in, &g, 0, out);
	mp4box_free(&g);
	free(out);
}

/* faststart_moov alone: the padding it promises, and every chunk offset
 * moved by exactly what it says, a 32-bit table widened when needed. */
static void
check_moov(const struct mp4box_moov *m, uint64_t extra, uint32_t align)
{
	static struct mp4box_moov n;
	char err[512] = "";
	uint8_t *buf;
	size_t len, i, j;
	uint64_t delta, a, b;
	bool upgraded;
	int rc;

	rc = faststart_moov(m, extra, align, &buf, &len, &upgraded, err,
	    sizeof(err));
	if (rc != FASTSTART_OK) {
		FUZZ_CHECK(rc == FASTSTART_BAD && buf == NULL,
		    "faststart_moov: %d", rc);
		return;
	}
	if (align != 0)
		FUZZ_CHECK((extra + len) % align == 0, "%llu + %zu is not "
		    "aligned to %u", (unsigned long long)extra, len, align);
	/* the padding, when any, is a box after the moov: parse the moov */
	FUZZ_CHECK(len >= 8, "a moov of %zu bytes", len);
	a = mp4box_rb32(buf);
	if (a == 1)
		a = mp4box_rb64(buf + 8);
	FUZZ_CHECK(a <= len, "moov of %llu bytes in %zu",
	    (unsigned long long)a, len);
	rc = mp4box_parse_moov(buf, (size_t)a, &n, err, sizeof(err));
	FUZZ_CHECK(rc == MP4BOX_OK, "the rewritten moov does not parse: %s",
	    err);
	FUZZ_CHECK(n.nb_tracks == m->nb_tracks, "%zu tracks, now %zu",
	    m->nb_tracks, n.nb_tracks);
	delta = extra + len;
	for (i = 0; i < m->nb_tracks; i++) {
		const struct mp4box_track *t = &m->track[i], *u = &n.track[i];

		FUZZ_CHECK(t->nb_chunks == u->nb_chunks, "track %zu: %u "
		    "chunks, now %u", i, t->nb_chunks, u->nb_chunks);
		for (j = 0; j < t->nb_chunks; j++) {
			a = t->co64 ? mp4box_rb64(t->chunks + 8 * j) :
			    mp4box_rb32(t->chunks + 4 * j);
			b = u->co64 ? mp4box_rb64(u->chunks + 8 * j) :
			    mp4box_rb32(u->chunks + 4 * j);
			FUZZ_CHECK(b == a + delta, "track %zu chunk %zu: %llu "
			    "moved to %llu, not by %llu", i, j,
			    (unsigned long long)a, (unsigned long long)b,
			    (unsigned long long)delta);
		}
	}
	free(buf);
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct faststart_info info;
	struct mp4box_file f;
	char err[512] = "";
	int rc, track;

	fuzz_memfd(&in_fd, "fuzz_faststart_in", data, size);
	if (mp4box_load(in_fd, size, &f, err, sizeof(err)) != MP4BOX_OK)
		return 0;

	/* a tiny sink: container sizes get patched in parts written already */
	faststart_sink_size = 64;
	fuzz_memfd(&out_fd, "fuzz_faststart_out", NULL, 0);
	rc = faststart_video(&f, out_fd, &info, err, sizeof(err));
	FUZZ_CHECK(rc != FASTSTART_IO, "faststart_video: IO: %s", err);
	if (rc == FASTSTART_OK)
		check_video(&f, data, &info);
	else
		FUZZ_CHECK(err[0] != '\0', "faststart_video: %d without a "
		    "reason", rc);

	faststart_sink_size = 256 * 1024;
	track = faststart_audio_track(&f);
	if (track >= 0) {
		fuzz_memfd(&out_fd, "fuzz_faststart_out", NULL, 0);
		err[0] = '\0';
		rc = faststart_audio(&f, track, out_fd, &info, err,
		    sizeof(err));
		FUZZ_CHECK(rc != FASTSTART_IO, "faststart_audio: IO: %s", err);
		if (rc == FASTSTART_OK)
			check_audio(&f, track, data, &info);
		else
			FUZZ_CHECK(err[0] != '\0', "faststart_audio: %d without "
			    "a reason", rc);
	}

	/* in front of a large file (padded), and past 4 GiB (co64) */
	check_moov(f.moov, 0, FASTSTART_ALIGN);
	check_moov(f.moov, UINT32_MAX - 64, 0);
	mp4box_free(&f);
	return 0;
}
