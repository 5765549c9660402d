/* mdatwalk.h -- the samples of an MP4 that has no index, found by walking its mdat: H.264 by its slice headers, AAC by where its frames can end. */
#ifndef JP_MDATWALK_H
#define JP_MDATWALK_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "media/h264.h"

/*
 * The rule: a video sample is a run of NAL units behind 4-byte lengths
 * whose slice headers parse against the stream's SPS/PPS and follow the
 * frame before (pps id, frame_num, first_mb_in_slice rising within a
 * frame); a run of audio lies between two video samples and must split
 * exactly into AAC frames, each of which ends with the END element and
 * its byte alignment and is accepted by the caller's check (the decoder).
 * No size statistics, no guessing: what does not fit is not indexed. An
 * all-zero tail is the end of the data; a sample that runs past the end
 * was cut by the kill and is dropped.
 *
 * Reads go through a window (mdatwalk_src): memory stays flat at any file
 * size; only the bytes of headers and of audio runs are touched.
 */

/* Caps: one NAL unit, one run of audio between two video samples, one
 * AAC frame (6144 bits a channel), how far a resync looks. */
#define MDATWALK_NAL_MAX    (16u << 20)
#define MDATWALK_RUN_MAX    (64u << 10)
#define MDATWALK_AAC_MAX    (768u * 8)
#define MDATWALK_RESYNC_MAX (32u << 20)
/* One run of audio in this many frames is split by the decoder even when
 * its frames can only be split one way (see mdatwalk_audio_unique). */
#define MDATWALK_AUDIO_CHECK 64

/* The bytes: a file (read through a sliding mmap window) or memory. */
struct mdatwalk_src {
	int fd;                      /* -1: mem */
	const uint8_t *mem;
	uint64_t size;
	/* the window (fd) */
	uint8_t *map;
	uint64_t map_off;
	size_t map_len;
};

void mdatwalk_src_fd(struct mdatwalk_src *s, int fd, uint64_t size);
void mdatwalk_src_mem(struct mdatwalk_src *s, const uint8_t *p, size_t n);
void mdatwalk_src_close(struct mdatwalk_src *s);
/* len bytes at off, or NULL past the end (or when mapping fails). Valid
 * until the next call. */
const uint8_t *mdatwalk_at(struct mdatwalk_src *s, uint64_t off, size_t len);

struct mdatwalk_sample {
	uint64_t off;
	uint32_t size;
	uint8_t audio;               /* 0 video, 1 audio */
	uint8_t key;                 /* video: an IDR */
};

/* What the walk needs to know. */
struct mdatwalk_codec {
	struct h264_params h264;
	unsigned channels;           /* 1: frames start with an SCE, 2: CPE */
	/* 1 when p..p+len is exactly one complete AAC frame of the stream */
	int (*aac_ok)(void *ctx, const uint8_t *p, size_t len);
	void *ctx;
	/* optional: how far the walk is (about every MDATWALK_PROGRESS
	 * bytes) */
	void (*progress)(void *ctx, uint64_t done, uint64_t total);
	void *progress_ctx;
};
#define MDATWALK_PROGRESS (4u << 20)

struct mdatwalk_result {
	struct mdatwalk_sample *v;   /* in file order */
	size_t n, cap;
	uint64_t video_frames, audio_frames, keyframes;
	uint64_t data_start, data_end;   /* data_end: before the zero tail */
	uint64_t stopped_at;
	char stop_reason[256];
	uint64_t resyncs, bytes_skipped;
	bool bframes;                /* stopped at a B slice */
	bool no_video;               /* the first bytes are no video nor
	                                audio of this configuration */
	char x264[1024];             /* the first SEI's x264 settings, "" */
};

/* The end of the data after start: its last byte that is not zero, plus
 * one (start when there is none: nothing reached the disk). */
uint64_t mdatwalk_data_end(struct mdatwalk_src *s, uint64_t start);

/* Walk from start (the first byte of the mdat's payload) to the end of
 * s. Always fills r (free it with mdatwalk_result_free); the samples
 * found before any stop are kept. */
void mdatwalk_run(struct mdatwalk_src *s, uint64_t start,
    const struct mdatwalk_codec *c, struct mdatwalk_result *r);
void mdatwalk_result_free(struct mdatwalk_result *r);

/* The channels of the stream's AAC (1 or 2), from the element after the
 * FIL in which ffmpeg's encoder names itself in its first frame; 0 when
 * that frame is not among the first bytes. */
unsigned mdatwalk_channels(struct mdatwalk_src *s, uint64_t start);

/* The first video sample at or after start within limit bytes (for
 * checking a configuration before the walk): its offset and size, and
 * x264's settings from its SEI ("" when none), or -1. */
int mdatwalk_first_video(struct mdatwalk_src *s, uint64_t start,
    uint64_t limit, const struct h264_params *p, uint64_t *off,
    uint32_t *size, char *x264, size_t x264len);

#endif
