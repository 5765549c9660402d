/* test_probe.c -- probe_file on ffmpeg-made recordings and the fixtures. */
#include "unit.h"
#include "testmedia.h"

#include <math.h>
#include <sys/resource.h>

#include "media/probe.h"

static const char *
rec(void)
{
	return tm_recording("rec.mp4", 4, "320x240", "300k", NULL);
}

static const struct probe_stream *
stream_of(const struct probe_result *p, const char *type)
{
	int i;

	for (i = 0; i < p->nb_streams; i++)
		if (strcmp(p->streams[i].type, type) == 0)
			return &p->streams[i];
	return NULL;
}

static void
probe_recording(void)
{
	struct probe_result p;
	const struct probe_stream *v, *a;
	char err[256] = "";

	CHECK(rec() != NULL);
	CHECK_INT(probe_file(rec(), &p, err, sizeof(err)), PROBE_OK);
	CHECK_STR(err, "");
	CHECK(strstr(p.format, "mp4") != NULL);
	CHECK(fabs(p.duration - 4.0) < 0.1);
	CHECK_INT(p.size, tm_size(rec()));
	CHECK(p.bit_rate > 0);
	CHECK(p.has_video);
	CHECK(p.has_audio);
	CHECK_INT(p.nb_streams, 2);
	v = stream_of(&p, "video");
	a = stream_of(&p, "audio");
	CHECK(v != NULL && a != NULL);
	if (v == NULL || a == NULL)
		return;
	CHECK_STR(v->codec, "h264");
	CHECK_INT(v->width, 320);
	CHECK_INT(v->height, 240);
	CHECK(fabs(v->fps - 15.0) < 0.01);
	CHECK(v->profile[0] != '\0');
	CHECK(fabs(v->duration - 4.0) < 0.1);
	CHECK_STR(a->codec, "aac");
	CHECK_STR(a->profile, "LC");
	CHECK_INT(a->sample_rate, 44100);
	CHECK_INT(a->channels, 2);
	CHECK(a->bit_rate > 100000 && a->bit_rate < 160000);
}

/* The JSON carries the fields that apply to each stream type. */
static void
probe_json(void)
{
	struct probe_result p;
	char err[256];
	json_t *j, *s, *v = NULL, *a = NULL;
	size_t i;

	CHECK_INT(probe_file(rec(), &p, err, sizeof(err)), PROBE_OK);
	j = probe_to_json(&p);
	CHECK(json_is_object(j));
	CHECK_STR(json_string_value(json_object_get(j, "format")), p.format);
	CHECK(fabs(json_number_value(json_object_get(j, "duration")) - 4.0) <
	    0.1);
	CHECK_INT(json_integer_value(json_object_get(j, "size")), p.size);
	CHECK(json_object_get(j, "start_time") != NULL);
	CHECK(json_object_get(j, "bit_rate") != NULL);
	s = json_object_get(j, "streams");
	CHECK_INT(json_array_size(s), 2);
	json_array_foreach(s, i, v) {
		if (strcmp(json_string_value(json_object_get(v, "type")),
		    "audio") == 0)
			a = v;
	}
	v = json_array_get(s, 0);
	CHECK_STR(json_string_value(json_object_get(v, "type")), "video");
	CHECK_INT(json_integer_value(json_object_get(v, "width")), 320);
	CHECK(json_object_get(v, "fps") != NULL);
	CHECK(json_object_get(v, "sample_rate") == NULL);
	CHECK(a != NULL);
	if (a != NULL) {
		CHECK_INT(json_integer_value(json_object_get(a, "sample_rate")),
		    44100);
		CHECK_INT(json_integer_value(json_object_get(a, "channels")), 2);
		CHECK(json_object_get(a, "width") == NULL);
		CHECK_STR(json_string_value(json_object_get(a, "codec")), "aac");
	}
	json_decref(j);
}

static void
expect_bad(const char *path, const char *reason_part)
{
	struct probe_result p;
	char err[256] = "";
	int rc;

	memset(&p, 0x5a, sizeof(p));
	rc = probe_file(path, &p, err, sizeof(err));
	CHECK_INT(rc, PROBE_BAD_MEDIA);
	if (strstr(err, reason_part) == NULL)
		fprintf(stderr, "  %s: reason `%s' lacks `%s'\n", path, err,
		    reason_part);
	CHECK(strstr(err, reason_part) != NULL);
	CHECK_INT(p.nb_streams, 0); /* cleared on failure */
}

static void
probe_fixtures(void)
{
	struct probe_result p;
	char err[256];

	expect_bad("fixtures/truncated.mp4", "no moov atom");
	expect_bad("fixtures/truncated.mp4", "cut off");
	expect_bad("fixtures/empty.mp4", "empty file");
	expect_bad("fixtures/notmp4.mp4", "not a media file");
	expect_bad("fixtures/cutmdat.mp4", "truncated");
	CHECK_INT(probe_file("fixtures/noaudio.mp4", &p, err, sizeof(err)),
	    PROBE_OK);
	CHECK(p.has_video);
	CHECK(!p.has_audio);
	CHECK_INT(p.nb_streams, 1);
	CHECK(fabs(p.duration - 2.0) < 0.1);
}

/* A moov that lists no samples: nothing to play. */
static void
probe_zero_duration(void)
{
	const char *path = tm_path("zero.mp4");

	CHECK_INT(tm_system("ffmpeg -nostdin -loglevel error -y -f lavfi -i "
	    "testsrc=size=64x64:rate=15 -frames:v 0 -c:v libx264 %s", path), 0);
	expect_bad(path, "duration");
}

/* The same streams in Matroska probe fine (and say so). */
static void
probe_matroska(void)
{
	struct probe_result p;
	char err[256];
	const char *mkv = tm_path("rec.mkv");

	CHECK_INT(tm_system("ffmpeg -nostdin -loglevel error -y -i %s -c copy "
	    "%s", rec(), mkv), 0);
	CHECK_INT(probe_file(mkv, &p, err, sizeof(err)), PROBE_OK);
	CHECK_STR(p.format, "matroska,webm");
	CHECK(p.has_audio && p.has_video);
	CHECK(fabs(p.duration - 4.0) < 0.1);
}

/* Read errors are PROBE_IO (try again), not bad media (quarantine). */
static void
probe_io_errors(void)
{
	struct probe_result p;
	struct rlimit old, low;
	char err[256];
	int fd;

	CHECK_INT(probe_file(tm_path("does-not-exist.mp4"), &p, err,
	    sizeof(err)), PROBE_IO);
	CHECK(strstr(err, "No such file") != NULL);

	/* EMFILE: no descriptor left to open the file with */
	CHECK(rec() != NULL);
	fd = open("/dev/null", O_RDONLY);
	CHECK(fd >= 0);
	getrlimit(RLIMIT_NOFILE, &old);
	low = old;
	low.rlim_cur = (rlim_t)fd; /* every lower descriptor is in use */
	setrlimit(RLIMIT_NOFILE, &low);
	CHECK_INT(probe_file(rec(), &p, err, sizeof(err)), PROBE_IO);
	setrlimit(RLIMIT_NOFILE, &old);
	close(fd);
	CHECK(strstr(err, "Too many open files") != NULL);
}

/* Symbolic links are not followed; directories and FIFOs are no media. */
static void
probe_not_regular(void)
{
	const char *link = tm_path("link.mp4"), *fifo = tm_path("fifo.mp4");

	unlink(link);
	CHECK_INT(symlink(rec(), link), 0);
	expect_bad(link, "symbolic link");
	expect_bad(tm_dir(), "not a regular file");
	unlink(fifo);
	CHECK_INT(mkfifo(fifo, 0600), 0);
	expect_bad(fifo, "not a regular file"); /* and does not hang */
}

UNIT_MAIN("probe",
    T(probe_recording),
    T(probe_json),
    T(probe_fixtures),
    T(probe_zero_duration),
    T(probe_matroska),
    T(probe_io_errors),
    T(probe_not_regular))
