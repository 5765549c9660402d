/* h264.c -- just enough H.264 to tell a video sample from anything else: parameter sets, NAL units and slice headers. */
#include "media/h264.h"

#include <stdio.h>
#include <string.h>

/* Header fields sit in the first bytes of a NAL unit: this many are
 * unescaped (emulation prevention removed) and read. */
#define H264_HEAD 96

struct h264_bits {
	uint8_t buf[H264_HEAD];
	size_t len;          /* bytes in buf */
	size_t pos;          /* bits read */
	bool over;           /* read past the end */
};

/* The first bytes of a NAL unit's payload (after the header byte), with
 * the emulation prevention bytes (00 00 03) taken out. */
static void
h264_bits_init(struct h264_bits *b, const uint8_t *p, size_t len)
{
	size_t i, zeros = 0;

	b->len = b->pos = 0;
	b->over = false;
	for (i = 0; i < len && b->len < sizeof(b->buf); i++) {
		if (zeros >= 2 && p[i] == 3) {
			zeros = 0;
			continue;
		}
		zeros = p[i] == 0 ? zeros + 1 : 0;
		b->buf[b->len++] = p[i];
	}
}

static unsigned
h264_u(struct h264_bits *b, unsigned n)
{
	unsigned v = 0;

	while (n-- > 0) {
		if (b->pos >= b->len * 8) {
			b->over = true;
			return 0;
		}
		v = (v << 1) | ((b->buf[b->pos / 8] >> (7 - b->pos % 8)) & 1);
		b->pos++;
	}
	return v;
}

/* ue(v); more than 31 leading zeros is not a value of ours */
static unsigned
h264_ue(struct h264_bits *b)
{
	unsigned zeros = 0;

	while (h264_u(b, 1) == 0) {
		if (b->over || ++zeros > 31) {
			b->over = true;
			return 0;
		}
	}
	return zeros == 0 ? 0 : (1u << zeros) - 1 + h264_u(b, zeros);
}

static int
h264_se(struct h264_bits *b)
{
	unsigned v = h264_ue(b);

	return (v & 1) ? (int)((v + 1) / 2) : -(int)(v / 2);
}

/* scaling_list(): read and dropped */
static void
h264_skip_scaling(struct h264_bits *b, unsigned n)
{
	int last = 8, next = 8;
	unsigned j;

	for (j = 0; j < n && !b->over; j++) {
		if (next != 0)
			next = (last + h264_se(b) + 256) % 256;
		last = next == 0 ? last : next;
	}
}

static int
h264_parse_sps(const uint8_t *nal, size_t len, struct h264_params *p,
    char *err, size_t errlen)
{
	struct h264_bits b;
	unsigned chroma = 1, i, n, w_mbs, h_units, crop[4] = { 0 };

	if (len < 4 || (nal[0] & 0x1f) != 7) {
		snprintf(err, errlen, "avcC: its SPS is not an SPS NAL unit");
		return -1;
	}
	h264_bits_init(&b, nal + 1, len - 1);
	p->profile_idc = h264_u(&b, 8);
	h264_u(&b, 8);
	p->level_idc = h264_u(&b, 8);
	p->sps_id = h264_ue(&b);
	p->separate_colour_plane = false;
	switch (p->profile_idc) {
	case 100: case 110: case 122: case 244: case 44: case 83: case 86:
	case 118: case 128: case 138: case 139: case 134: case 135:
		chroma = h264_ue(&b);
		if (chroma == 3)
			p->separate_colour_plane = h264_u(&b, 1);
		h264_ue(&b);
		h264_ue(&b);
		h264_u(&b, 1);
		if (h264_u(&b, 1))
			for (i = 0; i < (chroma != 3 ? 8u : 12u); i++)
				if (h264_u(&b, 1))
					h264_skip_scaling(&b, i < 6 ? 16 : 64);
		break;
	}
	p->log2_max_frame_num = h264_ue(&b) + 4;
	p->poc_type = h264_ue(&b);
	p->log2_max_poc_lsb = 0;
	if (p->poc_type == 0) {
		p->log2_max_poc_lsb = h264_ue(&b) + 4;
	} else if (p->poc_type == 1) {
		h264_u(&b, 1);
		h264_se(&b);
		h264_se(&b);
		n = h264_ue(&b);
		for (i = 0; i < n && i < 256 && !b.over; i++)
			h264_se(&b);
	}
	h264_ue(&b);                     /* max_num_ref_frames */
	h264_u(&b, 1);                   /* gaps_in_frame_num */
	w_mbs = h264_ue(&b) + 1;
	h_units = h264_ue(&b) + 1;
	p->frame_mbs_only = h264_u(&b, 1);
	if (!p->frame_mbs_only)
		h264_u(&b, 1);
	h264_u(&b, 1);                   /* direct_8x8_inference */
	if (h264_u(&b, 1))
		for (i = 0; i < 4; i++)
			crop[i] = h264_ue(&b);
	if (b.over || p->log2_max_frame_num > 16 || p->poc_type > 2 ||
	    p->log2_max_poc_lsb > 16 || w_mbs > 1024 || h_units > 1024) {
		snprintf(err, errlen, "avcC: its SPS does not parse");
		return -1;
	}
	p->mbs = w_mbs * h_units * (p->frame_mbs_only ? 1 : 2);
	p->width = w_mbs * 16 - 2 * (crop[0] + crop[1]);
	p->height = h_units * 16 * (p->frame_mbs_only ? 1 : 2) -
	    2 * (p->frame_mbs_only ? 1 : 2) * (crop[2] + crop[3]);
	return 0;
}

static int
h264_parse_pps(const uint8_t *nal, size_t len, struct h264_params *p,
    char *err, size_t errlen)
{
	struct h264_bits b;

	if (len < 2 || (nal[0] & 0x1f) != 8) {
		snprintf(err, errlen, "avcC: its PPS is not a PPS NAL unit");
		return -1;
	}
	h264_bits_init(&b, nal + 1, len - 1);
	p->pps_id = h264_ue(&b);
	if (h264_ue(&b) != p->sps_id) {
		snprintf(err, errlen, "avcC: its PPS names another SPS");
		return -1;
	}
	p->cabac = h264_u(&b, 1);
	p->bottom_field_poc = h264_u(&b, 1);
	p->num_slice_groups = h264_ue(&b) + 1;
	if (b.over || p->pps_id > 255) {
		snprintf(err, errlen, "avcC: its PPS does not parse");
		return -1;
	}
	return 0;
}

int
h264_parse_sets(const uint8_t *sps, size_t sps_len, const uint8_t *pps,
    size_t pps_len, struct h264_params *p, char *err, size_t errlen)
{
	memset(p, 0, sizeof(*p));
	if (h264_parse_sps(sps, sps_len, p, err, errlen) < 0 ||
	    h264_parse_pps(pps, pps_len, p, err, errlen) < 0)
		return -1;
	return 0;
}

int
h264_parse_avcc(const uint8_t *a, size_t len, struct h264_params *p,
    char *err, size_t errlen)
{
	size_t pos, sps_len, pps_len;
	const uint8_t *sps;

	/* version 1, profile, compat, level, 0xfc|lengthSizeMinusOne (3),
	 * 0xe0|numSPS, then each: 16-bit length and the unit */
	if (len < 7 || a[0] != 1 || (a[4] & 3) != 3 || (a[5] & 0x1f) < 1) {
		snprintf(err, errlen, "avcC: not version 1 with 4-byte NAL "
		    "lengths and an SPS");
		return -1;
	}
	sps_len = (size_t)a[6] << 8 | a[7];
	if (8 + sps_len + 3 > len) {
		snprintf(err, errlen, "avcC: its SPS runs past its end");
		return -1;
	}
	sps = a + 8;
	pos = 8 + sps_len;
	/* the other SPS are skipped */
	for (size_t i = 1; i < (size_t)(a[5] & 0x1f); i++) {
		if (pos + 2 > len)
			goto short_box;
		pos += 2 + ((size_t)a[pos] << 8 | a[pos + 1]);
	}
	if (pos + 3 > len || a[pos] < 1)
		goto short_box;
	pps_len = (size_t)a[pos + 1] << 8 | a[pos + 2];
	if (pos + 3 + pps_len > len)
		goto short_box;
	return h264_parse_sets(sps, sps_len, a + pos + 3, pps_len, p, err,
	    errlen);
short_box:
	snprintf(err, errlen, "avcC: no PPS, or it runs past its end");
	return -1;
}

int
h264_nal_check(const uint8_t *nal, size_t len, const struct h264_params *p,
    struct h264_slice *s)
{
	struct h264_bits b;
	unsigned type;

	if (len < 1 || (nal[0] & 0x80) != 0)
		return -1;
	type = nal[0] & 0x1f;
	/* Jibri's ffmpeg keeps SPS and PPS in the avcC (global header):
	 * in the samples there are slices, x264's SEI and perhaps AUDs */
	switch (type) {
	case 6: case 9:
		return len >= 2 ? 1 : -1;
	case 1: case 5:
		break;
	default:
		return -1;
	}
	if (len < 2)
		return -1;
	memset(s, 0, sizeof(*s));
	s->nal_type = type;
	s->nal_ref_idc = (nal[0] >> 5) & 3;
	s->idr = type == 5;
	h264_bits_init(&b, nal + 1, len - 1);
	s->first_mb = h264_ue(&b);
	s->slice_type = h264_ue(&b);
	s->pps_id = h264_ue(&b);
	if (p->separate_colour_plane)
		h264_u(&b, 2);
	s->frame_num = h264_u(&b, p->log2_max_frame_num);
	if (b.over || s->first_mb >= p->mbs || s->slice_type > 9 ||
	    s->pps_id != p->pps_id)
		return -1;
	/* an IDR is intra: I or SI; and it is a reference with frame_num 0 */
	if (s->idr && ((s->slice_type % 5 != 2 && s->slice_type % 5 != 4) ||
	    s->frame_num != 0 || s->nal_ref_idc == 0))
		return -1;
	if (!p->frame_mbs_only && h264_u(&b, 1))
		h264_u(&b, 1);
	if (s->idr)
		h264_ue(&b);
	if (p->poc_type == 0)
		h264_u(&b, p->log2_max_poc_lsb);
	return b.over ? -1 : 0;
}

bool
h264_sei_x264(const uint8_t *nal, size_t len, char *out, size_t outlen)
{
	static const char mark[] = "x264 - core";
	const uint8_t *p, *end = nal + len;
	const char *o;
	size_t n;

	if (len < 2 || (nal[0] & 0x1f) != 6 || outlen == 0)
		return false;
	/* user_data_unregistered: a 16-byte UUID, then x264's text; looked
	 * for as text, the payload headers before it do not matter */
	p = memmem(nal, len, mark, sizeof(mark) - 1);
	if (p == NULL)
		return false;
	o = memmem(p, (size_t)(end - p), "options: ", 9);
	if (o == NULL)
		return false;
	o += 9;
	for (n = 0; (const uint8_t *)o + n < end && o[n] != '\0' &&
	    n + 1 < outlen; n++)
		out[n] = o[n];
	out[n] = '\0';
	return true;
}

bool
h264_x264_option(const char *opts, const char *key, char *out, size_t outlen)
{
	size_t klen = strlen(key), n;
	const char *p = opts;

	while (p != NULL && *p != '\0') {
		while (*p == ' ')
			p++;
		if (strncmp(p, key, klen) == 0 && p[klen] == '=') {
			p += klen + 1;
			n = strcspn(p, " ");
			if (n >= outlen)
				n = outlen - 1;
			memcpy(out, p, n);
			out[n] = '\0';
			return true;
		}
		p = strchr(p, ' ');
	}
	return false;
}
