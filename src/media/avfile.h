/* avfile.h -- libavformat reading our own file descriptors.
 *
 * No symlink is followed, the real errno of a failed read is kept (IO vs.
 * bad media), and only the MP4/QuickTime and Matroska/WebM demuxers are
 * accepted. */
#ifndef JP_AVFILE_H
#define JP_AVFILE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <libavformat/avformat.h>

/* Results. BAD: the input is not usable media (a symlink, not a regular
 * file, empty, not a recording, no index...); IO: the system failed
 * (sys_errno), try again later. Callers map them to their own results. */
enum { AVFILE_OK = 0, AVFILE_BAD = -1, AVFILE_IO = -2 };

/* An input: the file descriptor under an AVIOContext, and the demuxer. */
struct avfile {
	int fd;                 /* O_NOFOLLOW; closed by avfile_close unless borrowed */
	bool borrowed;          /* fd belongs to the caller */
	int64_t size;           /* at open time */
	int64_t pos;            /* where the next read happens */
	int sys_errno;          /* the last read/seek failure, 0 when none */
	AVIOContext *pb;
	AVFormatContext *fmt;
};

/* An output written through an AVIOContext on a file we created. */
struct avfile_out {
	int fd;
	int64_t pos;
	int sys_errno;          /* the first write failure, 0 when none */
	AVIOContext *pb;
};

/* Open path for reading: O_NOFOLLOW (a symlink is BAD), a regular file
 * (else BAD), not empty (BAD "empty file"); IO with sys_errno for ENOENT,
 * EACCES, EMFILE... On success *fd and *size are set. */
int avfile_open_path(const char *path, int *fd, int64_t *size,
    int *sys_errno, char *err, size_t errlen);

/* The same checks on a descriptor the caller opened (and hands over):
 * on failure *fd is closed and set to -1. */
int avfile_check_fd(int *fd, int64_t *size, int *sys_errno, char *err,
    size_t errlen);

/* Open path (O_NOFOLLOW, a regular non-empty file) and its demuxer (header
 * read, no avformat_find_stream_info). fd >= 0 borrows an already open
 * descriptor of the file instead of opening path (pread only: it can be
 * shared between threads). Returns AVFILE_OK, or AVFILE_BAD/AVFILE_IO with
 * a reason in err and f cleared. */
int avfile_open(struct avfile *f, const char *path, int fd, char *err,
    size_t errlen);

/* avformat_find_stream_info, with the same error classification. */
int avfile_find_info(struct avfile *f, char *err, size_t errlen);

/* Check that every indexed sample of stream (or of every stream when
 * stream < 0) lies inside the file: a moov whose samples point past the
 * end means the sample data was cut off. AVFILE_OK or AVFILE_BAD. */
int avfile_check_index(struct avfile *f, int stream, char *err, size_t errlen);

/* Classify a libav error code from reading f: AVFILE_IO when the file
 * system failed (sys_errno kept), else AVFILE_BAD. */
int avfile_classify(const struct avfile *f, int averr);

/* Close the demuxer, the AVIOContext and (unless borrowed) the fd. Accepts
 * a cleared or half-opened f. */
void avfile_close(struct avfile *f);

/* Create path for writing (O_CREAT|O_TRUNC|O_NOFOLLOW, 0644) with an
 * AVIOContext on it. 0, or -1 with errno set. */
int avfile_out_open(struct avfile_out *o, const char *path);

/* Flush and close. 0, or -1 with errno set (the first write error wins). */
int avfile_out_close(struct avfile_out *o);

/* True when errno e means "the system failed, try again later" rather
 * than "this input is bad". */
bool avfile_errno_is_io(int e);

/* av_strerror into a static-free buffer: returns buf. */
const char *avfile_strerror(int averr, char *buf, size_t size);

#endif
