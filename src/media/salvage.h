/* salvage.h -- a killed Jibri recording (no moov) made playable: its samples found, indexed, and written behind a new moov. */
#ifndef JP_SALVAGE_H
#define JP_SALVAGE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <jansson.h>

/*
 * A recording whose ffmpeg was killed has ftyp, free and an mdat whose
 * size was never written, and no moov. Its samples are all there, in
 * order, up to the last 256 KiB block ffmpeg wrote. Salvage finds them
 * (mdatwalk.h), writes ftyp, a new moov (mp4write.h) and the sample bytes
 * copied by the kernel as one range: fast start, flat memory.
 *
 * What the walk and the moov need, the codec configuration (avcC with
 * SPS/PPS, AudioSpecificConfig, frame rate), comes in this order from:
 *   1. a reference: an intact recording made with the same settings;
 *   2. the cache: the configuration of every intact recording the daemon
 *      processed (salvage_remember), newest first;
 *   3. Jibri's settings (JIBRI_RESOLUTION, _FRAMERATE, _PRESET, _CRF):
 *      one frame encoded with libx264 as Jibri's ffmpeg runs it.
 * Each is checked against the file before use: x264 writes its settings
 * into the first frame's SEI, and those that shape the bitstream must be
 * the configuration's; the first frame must decode with it. A reference
 * that fails the check is refused with the setting named; a cached or
 * made one is passed over.
 */

/* Jibri's recording settings (config keys JIBRI_*). */
struct salvage_settings {
	unsigned width, height;      /* 1920x1080 */
	unsigned fps;                /* 30 */
	const char *preset;          /* "ultrafast" */
	unsigned crf;                /* 25 */
};

struct salvage_options {
	const char *reference;       /* an intact MP4, or NULL */
	const char *cache_dir;       /* $STATE_DIR/codec, or NULL */
	struct salvage_settings jibri;
	const char *name;            /* the file's name: Jibri's
	                                <room>_<yyyy-MM-dd-HH-mm-ss>.mp4
	                                gives the creation time */
	/* optional: what is being done ("walking", "copying") and how far */
	void (*progress)(void *ctx, const char *what, uint64_t done,
	    uint64_t total);
	void *progress_ctx;
};

struct salvage_report {
	double recovered_seconds;
	uint64_t video_frames, audio_frames, keyframes;
	uint64_t bytes_in;           /* the broken file's size */
	uint64_t bytes_used;         /* in the samples recovered */
	uint64_t bytes_unparsed;     /* of the mdat, in no sample */
	uint64_t stopped_at;
	char stop_reason[256];
	uint64_t resyncs, bytes_skipped;
	char config_source[16];      /* reference, cache, synthesized */
	bool settings_inferred;      /* synthesized from JIBRI_* */
	bool sync_guessed;           /* audio/video interleaving is not the
	                                muxer's: sync may be off */
	double sync_error_seconds;   /* the largest difference seen */
	unsigned width, height, fps, sample_rate, channels;
	int64_t created;             /* Unix seconds, 0 unknown */
};

enum {
	SALVAGE_OK = 0,
	SALVAGE_NOTHING = -1,        /* nothing recovered, or refused: err */
	SALVAGE_IO = -2,             /* reading or writing failed: err */
};

/* Salvage in_fd (read only, never changed) into out_fd (empty, at offset
 * 0). SALVAGE_OK with the report; otherwise err says why in one line
 * (the report holds what was found). */
int salvage_fd(int in_fd, int out_fd, const struct salvage_options *o,
    struct salvage_report *r, char *err, size_t errlen);

/* Whether the file at fd looks like a killed recording: an MP4 (ftyp)
 * with an mdat and no moov. */
bool salvage_wanted(int fd);

/* The report as JSON (new reference): recovered_seconds, video_frames,
 * audio_frames, keyframes, bytes_in, bytes_used, bytes_unparsed,
 * stopped_at, stop_reason, resyncs, bytes_skipped, config_source,
 * degraded [...], video {width, height, fps}, audio {sample_rate,
 * channels}. */
json_t *salvage_report_json(const struct salvage_report *r);

/* Keep the codec configuration of the intact recording at fd (path for
 * messages) in cache_dir, for salvaging later recordings made with the
 * same settings; the newest SALVAGE_CACHE_MAX are kept. 0, or -1 with
 * err (nothing to keep: not H.264 + AAC). */
#define SALVAGE_CACHE_MAX 16
int salvage_remember(const char *cache_dir, int fd, const char *path,
    char *err, size_t errlen);

#endif
