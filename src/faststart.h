/* faststart.h -- move an MP4's moov in front of its mdat; the sample bytes
 * are copied by the kernel as one range, never through user space. */
#ifndef JP_FASTSTART_H
#define JP_FASTSTART_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "mp4box.h"

/* Results: the MP4BOX_* values. UNSUPPORTED (fragmented MP4, samples
 * outside the mdat, mdat after the moov...): use libavformat instead. */
enum {
	FASTSTART_OK = MP4BOX_OK,
	FASTSTART_BAD = MP4BOX_BAD,
	FASTSTART_IO = MP4BOX_IO,
	FASTSTART_UNSUPPORTED = MP4BOX_UNSUPPORTED,
};

struct faststart_info {
	bool moved;             /* false: the moov was in front already and
	                           the file was copied as it is */
	bool has_audio;         /* a track with a 'soun' handler */
	bool upgraded;          /* an stco table had to become co64 */
	uint64_t moov_size;     /* of the moov written */
	uint64_t out_size;      /* bytes written */
	int sys_errno;          /* FASTSTART_IO: what failed */
};

/* Write the MP4 in in_fd (size bytes) to out_fd (empty, at offset 0) with
 * its moov before the mdat: the boxes before the first mdat, the moov with
 * every chunk offset moved, then the mdat and what follows it, copied with
 * fs_copy_range. Every table is checked first (chunks inside the mdat,
 * sizes inside the file). FASTSTART_OK, or another FASTSTART_* with a
 * reason in err (IO: info->sys_errno set, out_fd may hold a partial
 * file). */
int faststart_copy(int in_fd, uint64_t size, int out_fd,
    struct faststart_info *info, char *err, size_t errlen);

/* The moov of m rewritten for a file where the bytes its chunk offsets
 * point at move by extra + the length of the new moov (the moov goes in
 * front of them). A 32-bit stco whose offsets would overflow becomes a
 * co64 and the sizes of its parents grow to match, as qt-faststart does.
 * *out is newly allocated. FASTSTART_OK or FASTSTART_BAD. */
int faststart_moov(const struct mp4box_moov *m, uint64_t extra,
    uint8_t **out, size_t *outlen, bool *upgraded, char *err, size_t errlen);

#endif
