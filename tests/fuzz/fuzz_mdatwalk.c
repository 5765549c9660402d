/* fuzz_mdatwalk.c -- libFuzzer harness: any bytes as the mdat of a killed recording, through salvage's walk (mdatwalk_run). */
#include "media/mdatwalk.h"
#include "fuzz.h"

#include <string.h>

/* The avcC of a Jibri-like recording (640x360, x264 ultrafast): the
 * seeds are mdat payloads of such a recording, killed. */
static const uint8_t avcc[] = {
	0x01, 0x42, 0xc0, 0x1f, 0xff, 0xe1, 0x00, 0x18, 0x67, 0x42, 0xc0,
	0x1f, 0xda, 0x02, 0x80, 0xbf, 0xe5, 0x84, 0x00, 0x00, 0x03, 0x00,
	0x04, 0x00, 0x00, 0x03, 0x00, 0xf0, 0x3c, 0x60, 0xca, 0x80, 0x01,
	0x00, 0x04, 0x68, 0xce, 0x1f, 0x20,
};

/* Stands in for the AAC decoder (salvage.c's check): a frame is taken
 * when its bytes say so, so that the walk meets takes and refusals
 * anywhere; deterministic, as a decoder is. */
static int
fake_aac_ok(void *ctx, const uint8_t *p, size_t len)
{
	unsigned sum = 0;
	size_t i;

	(void)ctx;
	for (i = 0; i < len; i++)
		sum = sum * 31 + p[i];
	return len >= 2 && len <= 1536 && sum % 3 != 0;
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static struct mdatwalk_codec c;
	static int ready;
	struct mdatwalk_src s;
	struct mdatwalk_result r;
	uint64_t prev_end = 0, v = 0, a = 0, k = 0;
	char err[256];
	size_t i;
	const char *p;

	if (!ready) {
		FUZZ_CHECK(h264_parse_avcc(avcc, sizeof(avcc), &c.h264, err,
		    sizeof(err)) == 0, "%s", err);
		c.aac_ok = fake_aac_ok;
		ready = 1;
	}
	/* mono and stereo frames start differently */
	c.channels = size > 0 && (data[0] & 1) ? 2 : 1;
	mdatwalk_src_mem(&s, data, size);
	mdatwalk_run(&s, 0, &c, &r);
	FUZZ_CHECK(r.data_end <= size, "data_end %llu of %zu",
	    (unsigned long long)r.data_end, size);
	FUZZ_CHECK(r.stopped_at <= size, "stopped at %llu of %zu",
	    (unsigned long long)r.stopped_at, size);
	FUZZ_CHECK(r.stop_reason[0] != '\0', "no stop reason");
	for (p = r.stop_reason; *p != '\0'; p++)
		FUZZ_CHECK((unsigned char)*p >= 0x20 && *p != 0x7f,
		    "a control character in the stop reason");
	/* samples in file order, not overlapping, inside the data */
	for (i = 0; i < r.n; i++) {
		const struct mdatwalk_sample *m = &r.v[i];
		FUZZ_CHECK(m->size > 0, "sample %zu empty", i);
		FUZZ_CHECK(m->off >= prev_end, "sample %zu at %llu overlaps the "
		    "one before (ends %llu)", i, (unsigned long long)m->off,
		    (unsigned long long)prev_end);
		FUZZ_CHECK(m->off + m->size <= r.data_end, "sample %zu past the "
		    "data", i);
		prev_end = m->off + m->size;
		if (m->audio) {
			/* taken by the check, or the one way its run splits
			 * (which needs no check): a frame's size either way */
			a++;
			FUZZ_CHECK(m->size >= 2 && m->size <= 2 * MDATWALK_AAC_MAX,
			    "audio sample %zu: %u bytes", i, m->size);
		} else {
			v++;
			k += m->key;
			FUZZ_CHECK(m->size >= 6, "video sample %zu: %u bytes", i,
			    m->size);
		}
	}
	FUZZ_CHECK(v == r.video_frames && a == r.audio_frames &&
	    k == r.keyframes, "counts %llu/%llu/%llu vs %llu/%llu/%llu",
	    (unsigned long long)v, (unsigned long long)a,
	    (unsigned long long)k, (unsigned long long)r.video_frames,
	    (unsigned long long)r.audio_frames,
	    (unsigned long long)r.keyframes);
	FUZZ_CHECK(r.bytes_skipped <= size, "skipped %llu",
	    (unsigned long long)r.bytes_skipped);
	mdatwalk_result_free(&r);
	mdatwalk_src_close(&s);
	return 0;
}
