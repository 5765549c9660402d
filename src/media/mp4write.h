/* mp4write.h -- a new moov for samples that had none: one H.264 and one AAC track, constant frame durations, 64-bit chunk offsets. */
#ifndef JP_MP4WRITE_H
#define JP_MP4WRITE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/*
 * Salvage knows where each sample is and how long it lasts (CFR video,
 * 1024-sample AAC frames), and nothing else: so the index is the simplest
 * one that says exactly that. One sample per chunk (stsc has one entry),
 * every chunk offset 64-bit (co64: the moov's size does not depend on
 * where the samples are, so it can be made first and put in front), one
 * stts entry per track, stss for the video's IDR frames, and an edit list
 * for the audio's priming (the encoder's first 1024 samples are not
 * played). Movie time scale 1000.
 */
#define MP4WRITE_MOVIE_TIMESCALE 1000
/* Seconds from 1904-01-01 (MP4 times) to 1970-01-01. */
#define MP4WRITE_EPOCH_1904 2082844800ULL

struct mp4write_track {
	bool audio;
	uint32_t timescale;
	uint32_t delta;              /* every sample's duration */
	uint64_t n;                  /* samples */
	const uint32_t *sizes;
	const uint64_t *offsets;     /* where each sample is in the output,
	                                before the shift below */
	const uint8_t *keys;         /* video: 1 for an IDR; NULL: all */
	uint32_t media_time;         /* the edit list's start; 0: no edit */
	/* the sample entry */
	unsigned width, height;      /* video */
	const uint8_t *avcc;
	size_t avcc_len;
	unsigned sample_rate, channels;   /* audio */
	const uint8_t *asc;
	size_t asc_len;
	uint32_t avg_bitrate;
};

/* The moov box for tracks t[0..nt) with every chunk offset moved by
 * shift, times (mvhd, tkhd, mdhd) set to created (seconds since 1904).
 * *out newly allocated, *len its size. 0, or -1 when a size overflows
 * what the boxes can hold. */
int mp4write_moov(const struct mp4write_track *t, size_t nt, int64_t shift,
    uint64_t created, uint8_t **out, size_t *len);

#endif
