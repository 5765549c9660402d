/* faststart.h -- MP4 rewriting at box level, without libav.
 *
 * The moov moved in front of the mdat (samples copied by the kernel as
 * one range), and the audio track alone as an M4A (its chunks gathered,
 * the index rewritten). */
#ifndef JP_FASTSTART_H
#define JP_FASTSTART_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "media/mp4box.h"

/* Results. UNSUPPORTED: a layout this code does not rewrite (mdat boxes
 * on both sides of the moov): use libavformat.
 *
 * Every output has a hard cap, the most its input can make: the video
 * file, the input plus the moov's growth (co64 tables, 4 bytes a chunk)
 * and its padding; the audio file, the track's sample bytes (no more than
 * the mdat holds) plus its moov, ftyp and mdat header. The writer stops at
 * the cap with FASTSTART_BAD (the index is corrupt), never fills a disk. */
enum {
	FASTSTART_OK = 0,
	FASTSTART_BAD = -1,
	FASTSTART_IO = -2,
	FASTSTART_UNSUPPORTED = -3,
};

/* The kernel copies a range fastest when source and destination offsets
 * agree modulo 64 KiB: on Linux 6.18 ext4, copy_file_range of a 123 MB
 * recording took 45 ms with a shift of 0 or 64 KiB and 55-64 ms with a
 * shift of 4 KiB or of a few hundred bytes. A 'free' box after the moov
 * pads the shift to a multiple of this, for files large enough to care. */
#define FASTSTART_ALIGN       (64 * 1024)
#define FASTSTART_ALIGN_MIN   (8u << 20)

/* The buffer between the moov being rewritten and the output file: the
 * memory used does not grow with the index. Tests make it tiny, so that
 * container sizes get patched in parts already written. */
extern size_t faststart_sink_size;

struct faststart_info {
	bool moved;             /* false: the moov was in front already and
	                           the file was copied as it is */
	bool upgraded;          /* an stco table had to become co64 */
	uint64_t moov_size;     /* of the moov written (and its padding) */
	uint64_t out_size;      /* bytes written */
	int sys_errno;          /* FASTSTART_IO: what failed */
};

/* Write the loaded MP4 f to out_fd (empty, at offset 0) with its moov
 * before the mdat: the boxes before the first mdat, the moov with every
 * chunk offset moved, a padding 'free' box, then the mdat and what follows
 * it, copied with fs_copy_range. A file whose moov is in front already is
 * copied as it is. FASTSTART_OK, or UNSUPPORTED (mdat boxes on both sides
 * of the moov: use libavformat), BAD (the cap) or IO (info->sys_errno)
 * with a reason. */
int faststart_video(const struct mp4box_file *f, int out_fd,
    struct faststart_info *info, char *err, size_t errlen);

/* The index of the first sound track of f, -1 when none. */
int faststart_audio_track(const struct mp4box_file *f);

/* Write track (a sound track of f) alone to out_fd as a fast-start M4A:
 * ftyp 'M4A ', the moov with the other tracks left out and the chunk
 * offsets pointing into the new mdat, then the track's chunks in order.
 * The sample entry, timing and edit tables are copied as they are, so the
 * packets are the input's. FASTSTART_OK, BAD (chunks adding up to more
 * than the mdat holds, the cap) or IO (info->sys_errno). */
int faststart_audio(const struct mp4box_file *f, int track, int out_fd,
    struct faststart_info *info, char *err, size_t errlen);

/* The moov of m rewritten for a file where the bytes its chunk offsets
 * point at move by extra + *outlen: the moov goes in front of them,
 * followed, when align is not 0, by a 'free' box that makes extra +
 * *outlen a multiple of align. A 32-bit stco whose offsets would overflow
 * becomes a co64 and the sizes of its parents grow to match, as
 * qt-faststart does. *out is newly allocated. OK or BAD. */
int faststart_moov(const struct mp4box_moov *m, uint64_t extra,
    uint32_t align, uint8_t **out, size_t *outlen, bool *upgraded,
    char *err, size_t errlen);

#endif
