/* probe.h -- what a media file holds, read with libavformat. */
#ifndef JP_PROBE_H
#define JP_PROBE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <jansson.h>

#define PROBE_MAX_STREAMS 16

/* Results: OK; BAD_MEDIA: the file is not usable media (no moov, zero
 * duration, not a media file, empty): quarantine it, do not retry blindly;
 * IO: the file could not be read (ENOENT, EIO, EMFILE...): try again. */
enum { PROBE_OK = 0, PROBE_BAD_MEDIA = -1, PROBE_IO = -2 };

struct probe_stream {
	int index;
	char type[16];          /* "video", "audio", "subtitle", "data" */
	char codec[32];         /* "h264", "aac", ... */
	char profile[48];       /* "High", "LC", "" when unknown */
	int width, height;      /* video */
	double fps;             /* video: average frame rate, 0 when unknown */
	int sample_rate;        /* audio */
	int channels;           /* audio */
	int64_t bit_rate;       /* 0 when unknown */
	double duration;        /* seconds, 0 when unknown */
};

struct probe_result {
	char format[64];        /* "mov,mp4,m4a,3gp,3g2,mj2", "matroska,webm" */
	double duration;        /* seconds */
	double start_time;      /* seconds */
	int64_t size;           /* bytes */
	int64_t bit_rate;
	bool has_video, has_audio;
	int nb_streams;
	struct probe_stream streams[PROBE_MAX_STREAMS];
};

/* Probe path (opened without following symlinks). Fills out and returns
 * PROBE_OK, or another PROBE_* with a one-line reason in err ("no moov
 * atom: the recording was cut off before ffmpeg finished", "empty file",
 * "zero duration", "not a media file: <libav message>"). */
int probe_file(const char *path, struct probe_result *out, char *err,
    size_t errlen);

/* The same for the open file fd (not closed; path names it in messages):
 * what the pipeline uses, so that what it probes is the file it checked,
 * whatever the name points to by then. fd < 0: open path. */
int probe_fd(int fd, const char *path, struct probe_result *out, char *err,
    size_t errlen);

/* The result as a JSON object (what `jibri-pipeline probe` prints and the
 * manifest embeds): {"format","duration","start_time","size","bit_rate",
 * "streams":[{"index","type","codec","profile","width","height","fps",
 * "sample_rate","channels","bit_rate","duration"}]} with the fields that
 * apply to the stream type. New reference. */
json_t *probe_to_json(const struct probe_result *p);

#endif
