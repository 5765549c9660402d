/* avlib.c -- libavformat/libavcodec/libavutil, loaded on first use. */
#include "media/avlib.h"
#include "base/util.h"

#include <dlfcn.h>
#include <pthread.h>
#include <string.h>

struct avlib avlib;

/* The sonames of the headers we were compiled against: a libav with
 * another ABI must not be picked up. */
#define AVLIB_SONAME(lib, major) "lib" #lib ".so." AV_STRINGIFY(major)

static pthread_once_t avlib_once = PTHREAD_ONCE_INIT;
static char avlib_err[256];
static int avlib_rc = -1;

static void
avlib_do_load(void)
{
	/* dependency order: each library finds the one before it loaded */
	static const struct {
		const char *name, *soname;
	} libs[] = {
		{ "avutil", AVLIB_SONAME(avutil, LIBAVUTIL_VERSION_MAJOR) },
		{ "avcodec", AVLIB_SONAME(avcodec, LIBAVCODEC_VERSION_MAJOR) },
		{ "avformat", AVLIB_SONAME(avformat, LIBAVFORMAT_VERSION_MAJOR) },
	};
	void *handle[3];
	const char *e;
	size_t i;

	for (i = 0; i < 3; i++) {
		handle[i] = dlopen(libs[i].soname, RTLD_LAZY | RTLD_LOCAL);
		if (handle[i] == NULL) {
			e = dlerror();
			util_snprintf(avlib_err, sizeof(avlib_err), "cannot load "
			    "%s (install the FFmpeg libraries): %s",
			    libs[i].soname, e ? e : "?");
			return;
		}
	}
#define AVLIB_LOOKUP(lib, fn) \
	do { \
		size_t k; \
		for (k = 0; k < 3 && strcmp(libs[k].name, #lib) != 0; k++) \
			; \
		*(void **)&avlib.fn = dlsym(handle[k], #fn); \
		if (avlib.fn == NULL) { \
			util_snprintf(avlib_err, sizeof(avlib_err), "%s lacks " \
			    "%s", libs[k].soname, #fn); \
			return; \
		} \
	} while (0);
	AVLIB_FUNCTIONS(AVLIB_LOOKUP)
#undef AVLIB_LOOKUP
	avlib.av_log_set_level(AV_LOG_QUIET);
	avlib_rc = 0;
}

int
avlib_load(char *err, size_t errlen)
{
	pthread_once(&avlib_once, avlib_do_load);
	if (avlib_rc < 0)
		util_snprintf(err, errlen, "%s", avlib_err);
	return avlib_rc;
}
