/* fuzz_mp4box.c -- libFuzzer harness: any bytes as an MP4 file, through mp4box's scan, load, checks and chunk walk. */
#include "media/mp4box.h"
#include "fuzz.h"

#include <string.h>

static int in_fd = -1;

/* What mp4box_scan promises of a layout it accepts: boxes that tile the
 * file from offset 0, each inside it, a moov among them. */
static void
check_layout(const struct mp4box_layout *l, uint64_t size)
{
	uint64_t off = 0;
	size_t i;

	FUZZ_CHECK(l->moov >= 0 && (size_t)l->moov < l->n, "moov %d of %zu",
	    l->moov, l->n);
	FUZZ_CHECK(l->n <= MP4BOX_MAX_TOP, "%zu boxes", l->n);
	for (i = 0; i < l->n; i++) {
		const struct mp4box *b = &l->box[i];

		FUZZ_CHECK(b->off == off, "box %zu at %llu, %llu expected", i,
		    (unsigned long long)b->off, (unsigned long long)off);
		FUZZ_CHECK(b->hdr == 8 || b->hdr == 16, "box %zu header %u", i,
		    b->hdr);
		FUZZ_CHECK(b->size >= b->hdr && b->size <= size - off,
		    "box %zu: %llu bytes at %llu of %llu", i,
		    (unsigned long long)b->size, (unsigned long long)off,
		    (unsigned long long)size);
		off += b->size;
	}
	/* fewer than 8 stray bytes may trail the last box */
	FUZZ_CHECK(size - off < 8, "%llu bytes after the last box",
	    (unsigned long long)(size - off));
}

/* Once mp4box_load passed, every chunk lies inside the file and the
 * chunks together hold no more than the mdat boxes. */
static void
walk_chunks(const struct mp4box_file *f)
{
	const struct mp4box_moov *m = f->moov;
	uint64_t total = 0, off, bytes;
	struct mp4box_chunks it;
	uint32_t idx, seen;
	char name[64], why[256];
	size_t ti;
	int r;

	for (ti = 0; ti < m->nb_tracks; ti++) {
		const struct mp4box_track *t = &m->track[ti];

		mp4box_track_name(m, ti, name, sizeof(name));
		if (t->stz2 || (t->nb_samples == 0 && t->nb_chunks == 0))
			continue;
		mp4box_chunks_init(&it, t);
		seen = 0;
		while ((r = mp4box_chunks_next(&it, &idx, &off, &bytes, why,
		    sizeof(why))) == 1) {
			FUZZ_CHECK(idx == seen && seen < t->nb_chunks,
			    "%s: chunk %u as number %u of %u", name, idx, seen,
			    t->nb_chunks);
			FUZZ_CHECK(off <= f->size && bytes <= f->size - off,
			    "%s chunk %u: %llu+%llu in a %llu-byte file", name,
			    idx, (unsigned long long)off,
			    (unsigned long long)bytes,
			    (unsigned long long)f->size);
			total += bytes;
			seen++;
		}
		FUZZ_CHECK(r == 0, "%s: the walk mp4box_load checked fails: %s",
		    name, why);
	}
	FUZZ_CHECK(total <= mp4box_mdat_bytes(f->layout),
	    "chunks hold %llu bytes, the mdat boxes %llu",
	    (unsigned long long)total,
	    (unsigned long long)mp4box_mdat_bytes(f->layout));
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	/* 1024 boxes: too large for the stack of every run */
	static struct mp4box_layout l;
	struct mp4box_file f;
	char err[512] = "";
	int rc;

	fuzz_memfd(&in_fd, "fuzz_mp4box", data, size);
	(void)mp4box_sniff(in_fd);

	rc = mp4box_scan(in_fd, size, &l, err, sizeof(err));
	FUZZ_CHECK(rc == MP4BOX_OK || rc == MP4BOX_BAD, "scan: %d", rc);
	if (rc == MP4BOX_OK)
		check_layout(&l, size);
	else
		FUZZ_CHECK(err[0] != '\0', "scan: BAD without a reason");

	err[0] = '\0';
	rc = mp4box_load(in_fd, size, &f, err, sizeof(err));
	FUZZ_CHECK(rc == MP4BOX_OK || rc == MP4BOX_BAD ||
	    rc == MP4BOX_UNSUPPORTED, "load: %d (%s)", rc, err);
	if (rc != MP4BOX_OK) {
		FUZZ_CHECK(err[0] != '\0', "load: %d without a reason", rc);
		FUZZ_CHECK(f.layout == NULL && f.moov == NULL &&
		    f.moov_buf == NULL, "load failed but kept its buffers");
		return 0;
	}
	check_layout(f.layout, size);
	walk_chunks(&f);
	/* checking again gives the same answer */
	FUZZ_CHECK(mp4box_check_chunks(f.moov, f.layout, err, sizeof(err)) ==
	    MP4BOX_OK, "check_chunks after load: %s", err);
	mp4box_free(&f);
	return 0;
}
