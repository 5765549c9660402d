/* avlib.h -- libavformat/libavcodec/libavutil, loaded on first use.
 *
 * Debian's libavcodec drags in ~130 shared libraries; binding them costs
 * every start of jibri-pipeline ~40 ms, ten times what most subcommands
 * need in all. So the libraries are not linked: the few functions we use
 * are looked up with dlopen/dlsym the first time media is touched, and
 * called as avlib.NAME(...), with the prototypes of the headers we were
 * compiled against. */
#ifndef JP_AVLIB_H
#define JP_AVLIB_H

#include <stddef.h>

#include <libavcodec/avcodec.h>
#include <libavformat/avformat.h>
#include <libavutil/avutil.h>
#include <libavutil/dict.h>
#include <libavutil/channel_layout.h>
#include <libavutil/frame.h>
#include <libavutil/log.h>
#include <libavutil/opt.h>

/* X(library, function): every libav function the program calls. */
#define AVLIB_FUNCTIONS(X) \
	X(avutil, av_dict_free) \
	X(avutil, av_dict_set) \
	X(avutil, av_free) \
	X(avutil, av_freep) \
	X(avutil, av_get_media_type_string) \
	X(avutil, av_log_set_level) \
	X(avutil, av_malloc) \
	X(avutil, av_strdup) \
	X(avutil, av_strerror) \
	X(avutil, av_channel_layout_default) \
	X(avutil, av_frame_alloc) \
	X(avutil, av_frame_free) \
	X(avutil, av_frame_get_buffer) \
	X(avutil, av_mallocz) \
	X(avutil, av_opt_set) \
	X(avcodec, avcodec_alloc_context3) \
	X(avcodec, avcodec_find_decoder) \
	X(avcodec, avcodec_find_encoder_by_name) \
	X(avcodec, avcodec_flush_buffers) \
	X(avcodec, avcodec_free_context) \
	X(avcodec, avcodec_open2) \
	X(avcodec, avcodec_receive_frame) \
	X(avcodec, avcodec_receive_packet) \
	X(avcodec, avcodec_send_frame) \
	X(avcodec, avcodec_send_packet) \
	X(avcodec, av_packet_alloc) \
	X(avcodec, av_packet_free) \
	X(avcodec, av_packet_rescale_ts) \
	X(avcodec, av_packet_unref) \
	X(avcodec, avcodec_get_name) \
	X(avcodec, avcodec_parameters_copy) \
	X(avcodec, avcodec_profile_name) \
	X(avformat, av_guess_format) \
	X(avformat, av_interleaved_write_frame) \
	X(avformat, av_probe_input_buffer2) \
	X(avformat, av_read_frame) \
	X(avformat, av_write_frame) \
	X(avformat, av_write_trailer) \
	X(avformat, avformat_alloc_context) \
	X(avformat, avformat_alloc_output_context2) \
	X(avformat, avformat_close_input) \
	X(avformat, avformat_find_stream_info) \
	X(avformat, avformat_free_context) \
	X(avformat, avformat_index_get_entries_count) \
	X(avformat, avformat_index_get_entry) \
	X(avformat, avformat_new_stream) \
	X(avformat, avformat_open_input) \
	X(avformat, avformat_query_codec) \
	X(avformat, avformat_write_header) \
	X(avformat, avio_alloc_context) \
	X(avformat, avio_closep) \
	X(avformat, avio_context_free) \
	X(avformat, avio_flush) \
	X(avformat, avio_open2)

#define AVLIB_FIELD(lib, fn) __typeof__(fn) *fn;
struct avlib {
	AVLIB_FUNCTIONS(AVLIB_FIELD)
};
#undef AVLIB_FIELD

/* Filled by avlib_load; read-only afterwards. */
extern struct avlib avlib;

/* Load the libraries (once; thread-safe) and silence libav's own logging
 * (our messages carry the reasons). 0, or -1 with a reason in err. */
int avlib_load(char *err, size_t errlen);

#endif
