/* h264.h -- just enough H.264 to tell a video sample from anything else: parameter sets, NAL units and slice headers. */
#ifndef JP_H264_H
#define JP_H264_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/*
 * Salvage (salvage.h) walks an mdat that has no index. A video sample
 * there is a run of NAL units, each behind a 4-byte length (AVCC); a
 * slice's header must parse against the stream's SPS and PPS, and its
 * fields (pps id, slice type, frame_num, first_mb_in_slice) must follow
 * the ones before. That is what this file checks: no decoding, only the
 * first bytes of each NAL unit are read.
 */

/* What a slice header is checked against (from the avcC). */
struct h264_params {
	/* SPS */
	unsigned sps_id;
	unsigned profile_idc, level_idc;
	unsigned log2_max_frame_num;     /* 4..16 */
	unsigned poc_type;               /* 0, 1, 2 */
	unsigned log2_max_poc_lsb;       /* poc_type 0 */
	bool frame_mbs_only;
	bool separate_colour_plane;
	unsigned width, height;          /* pixels, after cropping */
	unsigned mbs;                    /* macroblocks in a frame */
	/* PPS */
	unsigned pps_id;
	bool cabac;
	bool bottom_field_poc;
	unsigned num_slice_groups;
};

/* A slice header's fields that the walker follows. */
struct h264_slice {
	unsigned nal_type;               /* 1 or 5 */
	unsigned nal_ref_idc;
	unsigned first_mb;
	unsigned slice_type;             /* 0..4 (mod 5): P, B, I, SP, SI */
	unsigned pps_id;
	unsigned frame_num;
	bool idr;
};

/* The parameters from an avcC box's payload (the bytes after its
 * header): its first SPS and first PPS. -1 with err when it is not one. */
int h264_parse_avcc(const uint8_t *avcc, size_t len, struct h264_params *p,
    char *err, size_t errlen);

/* The parameters from one SPS and one PPS NAL unit (each with its header
 * byte, without start code or length). -1 with err. */
int h264_parse_sets(const uint8_t *sps, size_t sps_len, const uint8_t *pps,
    size_t pps_len, struct h264_params *p, char *err, size_t errlen);

/* Whether nal (len bytes, header byte first) is a NAL unit this stream
 * could hold: forbidden bit clear, a type x264 writes into samples when
 * the parameter sets are in the avcC (1, 5, 6, 9). For a slice (1, 5) *s gets its header, which must parse against
 * p: -1 otherwise. 0 for a slice, 1 for another kind. */
int h264_nal_check(const uint8_t *nal, size_t len,
    const struct h264_params *p, struct h264_slice *s);

/* The x264 settings string an SEI unit (type 6) carries ("cabac=1
 * ref=1 ..."), copied into out; false when it holds none. */
bool h264_sei_x264(const uint8_t *nal, size_t len, char *out, size_t outlen);

/* The value of one option in such a string ("ref" in "... ref=3 ..."),
 * copied into out; false when it is absent. */
bool h264_x264_option(const char *opts, const char *key, char *out,
    size_t outlen);

#endif
