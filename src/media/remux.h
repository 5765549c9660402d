/* remux.h -- stream copy of a recording: fast-start MP4 + audio-only file. */
#ifndef JP_REMUX_H
#define JP_REMUX_H

#include <limits.h>
#include <stdbool.h>
#include <stddef.h>

/* Results: OK; BAD_MEDIA: the input cannot be remuxed
 * (corrupt index, unsupported layout and codec): quarantine; IO: a system
 * error (ENOSPC, EIO...): the outputs are removed, try again later.
 * remux_result.sys_errno holds the errno for IO. */
enum { REMUX_OK = 0, REMUX_BAD_MEDIA = -1, REMUX_IO = -2 };

struct remux_result {
	bool no_audio;              /* the input has no audio stream */
	char audio_path[PATH_MAX];  /* the audio file written ("" when none):
	                               out_audio, or with the extension changed
	                               when the codec needs another container
	                               (e.g. ".mka" for PCM or Opus-in-WebM) */
	const char *audio_ext;      /* "m4a", "mka", ...: static string */
	const char *video_method;   /* "faststart" (index moved to the front,
	                               samples copied by the kernel) or
	                               "libavformat" (full remux): static */
	int sys_errno;
};

/* Remux in into out_video (MP4, moov before mdat, all streams copied, no
 * re-encoding) and, when out_audio is not NULL and in has audio, the first
 * audio stream alone into out_audio (stream copy). Either output may be
 * NULL to skip it. Outputs are written in place (callers write into a work
 * directory) and not fsync'ed. Peak memory does not grow with the size of
 * the media data. err gets a one-line reason on failure. */
int remux_file(const char *in, const char *out_video, const char *out_audio,
    struct remux_result *res, char *err, size_t errlen);

/* The same reading the open file fd (not closed; in names it in
 * messages): the pipeline passes the source it checked (pin.h). */
int remux_fd(int fd, const char *in, const char *out_video,
    const char *out_audio, struct remux_result *res, char *err,
    size_t errlen);

#endif
