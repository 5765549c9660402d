/* mp4box.h -- the box structure of an MP4 file, read defensively.
 *
 * Top-level layout, the moov's tracks and their chunk tables, with a bound
 * on every size. */
#ifndef JP_MP4BOX_H
#define JP_MP4BOX_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* Results. UNSUPPORTED: a valid layout this code does not rewrite
 * (fragmented MP4, samples outside the mdat...): hand it to libavformat. */
enum {
	MP4BOX_OK = 0,
	MP4BOX_BAD = -1,
	MP4BOX_IO = -2,
	MP4BOX_UNSUPPORTED = -3,
};

#define MP4BOX_MAX_TOP    1024          /* top-level boxes in a file */
#define MP4BOX_MAX_MOOV   (48u << 20)   /* the index is read into memory:
                                           ~16 h of 30 fps video + AAC */
#define MP4BOX_MAX_TRACKS 64

#define MP4BOX_TYPE(a, b, c, d) \
	((uint32_t)(a) << 24 | (uint32_t)(b) << 16 | (uint32_t)(c) << 8 | \
	    (uint32_t)(d))

struct mp4box {
	uint32_t type;
	uint64_t off;           /* of the header: in the file, or in the moov */
	uint64_t size;          /* header included; size 0 ("to the end") resolved */
	unsigned hdr;           /* 8, or 16 with a 64-bit size */
};

struct mp4box_layout {
	uint64_t file_size;
	size_t n;
	struct mp4box box[MP4BOX_MAX_TOP];
	int moov;               /* index in box[], -1 when none */
	int first_mdat;         /* -1 when none */
	int last_mdat;
	bool fragmented;        /* a top-level moof */
};

struct mp4box_track {
	uint64_t trak_off;      /* the trak box, in the moov */
	uint64_t trak_size;
	uint32_t handler;       /* hdlr type: 'vide', 'soun'...; 0 when none */
	uint32_t format;        /* first sample entry: 'avc1', 'mp4a'... */
	uint64_t duration;      /* tkhd, in the movie's time scale */
	size_t co_off;          /* stco/co64 box, offset in the moov; 0: none */
	uint64_t co_size;       /* that box's size and header length */
	unsigned co_hdr;
	bool co64;
	uint32_t nb_chunks;
	const uint8_t *chunks;  /* 32- or 64-bit big-endian offsets */
	uint32_t sample_size;   /* stsz: the size of every sample, or 0 */
	uint32_t nb_samples;
	const uint8_t *sizes;   /* stsz table when sample_size is 0 */
	uint32_t nb_stsc;
	const uint8_t *stsc;    /* (first_chunk, samples_per_chunk, desc) */
	bool stz2;              /* compact sample sizes (not handled here) */
	bool has_stsz, has_stsc;
};

struct mp4box_moov {
	const uint8_t *buf;     /* the whole moov box, header included */
	size_t len;
	unsigned hdr;
	size_t nb_tracks;
	struct mp4box_track track[MP4BOX_MAX_TRACKS];
	bool fragmented;        /* an mvex: samples live in moof/mdat pairs */
};

/* A whole MP4 ready to be rewritten: layout, moov in memory, tables
 * parsed and checked. Read-only once loaded: threads may share it. */
struct mp4box_file {
	int fd;                 /* borrowed; read with pread only */
	uint64_t size;
	struct mp4box_layout *layout;
	uint8_t *moov_buf;
	struct mp4box_moov *moov;
};

/* Walks the chunks of a track in order, with the bytes of their samples. */
struct mp4box_chunks {
	const struct mp4box_track *t;
	uint32_t entry;         /* next stsc entry */
	uint32_t chunk;         /* next chunk, 1-based */
	uint32_t last;          /* last chunk of the current stsc entry */
	uint32_t spc;           /* samples per chunk in it */
	uint64_t sample;        /* next sample */
};

static inline uint32_t
mp4box_rb32(const uint8_t *p)
{
	return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 |
	    (uint32_t)p[2] << 8 | p[3];
}

static inline uint64_t
mp4box_rb64(const uint8_t *p)
{
	return (uint64_t)mp4box_rb32(p) << 32 | mp4box_rb32(p + 4);
}

static inline void
mp4box_wb32(uint8_t *p, uint32_t v)
{
	p[0] = (uint8_t)(v >> 24);
	p[1] = (uint8_t)(v >> 16);
	p[2] = (uint8_t)(v >> 8);
	p[3] = (uint8_t)v;
}

static inline void
mp4box_wb64(uint8_t *p, uint64_t v)
{
	mp4box_wb32(p, (uint32_t)(v >> 32));
	mp4box_wb32(p + 4, (uint32_t)v);
}

/* True when the file starts like an ISO base media file (ftyp, or an old
 * QuickTime file's moov/mdat/free/wide). Reads 8 bytes at offset 0. */
bool mp4box_sniff(int fd);

/* Walk the top-level boxes of fd (size bytes) into l. BAD with a reason
 * when there is no moov (a cut-off recording), when a box runs past the
 * end of the file or does not parse; IO with errno set on read errors. */
int mp4box_scan(int fd, uint64_t size, struct mp4box_layout *l, char *err,
    size_t errlen);

/* Parse the tracks of a moov box held in buf (len bytes, header included).
 * m points into buf. BAD when a box does not fit its parent or a table
 * does not fit its box. */
int mp4box_parse_moov(const uint8_t *buf, size_t len, struct mp4box_moov *m,
    char *err, size_t errlen);

/* Check that every chunk of every track, with the sizes of its samples,
 * lies inside the payload of an mdat box of l and that no two chunks, of
 * any tracks, share a byte: BAD when a chunk reaches past the end of the
 * file or lies outside the mdat (no muxer writes samples elsewhere), when
 * chunks overlap (the outputs would hold the same bytes again and again),
 * or the tables disagree; UNSUPPORTED for compact sample sizes (stz2),
 * once the other tracks passed: BAD wins. The overlap check orders the
 * chunks' byte ranges (a merge of the tracks when each is in file order,
 * else qsort), 16 bytes a chunk: 5 MB for 90 minutes, at most
 * MP4BOX_MAX_MOOV / 4 chunks (an stco entry each). */
int mp4box_check_chunks(const struct mp4box_moov *m,
    const struct mp4box_layout *l, char *err, size_t errlen);

/* The payload bytes of every mdat of l: what all the chunks together can
 * hold at most, once mp4box_check_chunks passed. */
uint64_t mp4box_mdat_bytes(const struct mp4box_layout *l);

/* "track 1 (audio)": a track of m for messages. Returns buf. */
const char *mp4box_track_name(const struct mp4box_moov *m, size_t ti,
    char *buf, size_t size);

/* Scan, read the moov (at most MP4BOX_MAX_MOOV), parse and check it:
 * MP4BOX_OK with f filled (free it with mp4box_free), or BAD/IO (errno
 * set)/UNSUPPORTED (fragmented...) with a reason. A fragmented file's
 * moov is checked too before it is UNSUPPORTED. fd stays the caller's. */
int mp4box_load(int fd, uint64_t size, struct mp4box_file *f, char *err,
    size_t errlen);
void mp4box_free(struct mp4box_file *f);

void mp4box_chunks_init(struct mp4box_chunks *c, const struct mp4box_track *t);

/* The next chunk: 1 with its index (0-based), file offset and bytes, 0 at
 * the end, -1 with a reason when the tables disagree (a chunk holds more
 * samples than listed, entries out of order...). */
int mp4box_chunks_next(struct mp4box_chunks *c, uint32_t *index,
    uint64_t *off, uint64_t *bytes, char *err, size_t errlen);

/* The child box at *pos inside [.., end) of an in-memory buffer; advances
 * *pos past it. 1 when a box was read, 0 at the end (fewer than 8 bytes
 * left: QuickTime pads some containers with a 32-bit zero), -1 when the
 * box does not fit. */
int mp4box_child(const uint8_t *buf, size_t *pos, size_t end,
    struct mp4box *b);

/* The box type as text ("moov"; "0x...." when not printable). buf: 16. */
const char *mp4box_type_str(uint32_t type, char *buf);

#endif
