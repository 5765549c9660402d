/* test_page.c -- the status page's HTML: escaping of everything from outside, links only of known schemes, the sections and what they say. */
#include "unit.h"
#include "api/page.h"
#include "base/buf.h"
#include "base/metrics.h"

#include <jansson.h>
#include <stdlib.h>

#define ID_A "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa"
#define ID_F "ffffffffffffffffffffffffffffffff"
#define ID_Q "bbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbb"
#define ID_D "dddddddddddddddddddddddddddddddd"

static const char *const states[] = { "queued", "probing", "remuxing",
	"storing", "notifying", "finishing", "done", "failed", "quarantined" };

static void
escaping(void)
{
	struct buf b;
	char *s;

	buf_init(&b, 1024);
	page_escape(&b, "<script>alert('x')</script> & \"q\"\x01\x7f\tok");
	s = buf_take(&b);
	CHECK_STR(s, "&lt;script&gt;alert(&#39;x&#39;)&lt;/script&gt; &amp; "
	    "&quot;q&quot;\tok");
	free(s);
	buf_init(&b, 1024);
	page_escape(&b, NULL);
	page_escape(&b, "");
	s = buf_take(&b);
	CHECK_STR(s, "");
	free(s);
}

static json_t *
jobs(void)
{
	const char *room = "<script>alert(1)</script>";

	return json_pack("[{s:s, s:s, s:s, s:s, s:s, s:I, s:{s:I, s:I, s:I,"
	    " s:I, s:{s:s, s:I, s:I}}},"
	    " {s:s, s:s, s:s, s:s, s:s, s:s, s:I, s:{s:I, s:I, s:I, s:I}},"
	    " {s:s, s:s, s:s, s:s, s:s, s:{}},"
	    " {s:s, s:s, s:s, s:s, s:s, s:f, s:{s:{s:s, s:I}, s:{s:s, s:I}},"
	    "  s:{}}]",
	    "id", ID_A, "state", "storing", "room_name", room, "session_id",
	    "s\"1", "created_at", "2025-01-15T10:00:00.000Z", "attempts",
	    (json_int_t)0, "progress", "outputs_stored", (json_int_t)0,
	    "outputs_total", (json_int_t)3, "bytes_stored", (json_int_t)(2 << 20),
	    "bytes_total", (json_int_t)(8 << 20), "uploading", "output",
	    "video", "parts_done", (json_int_t)2, "parts_total", (json_int_t)4,

	    "id", ID_F, "state", "failed", "room_name", room, "resume_step",
	    "notifying", "error", "webhook answered <b>400</b>", "source",
	    "/rec/x.mp4", "attempts", (json_int_t)1, "progress",
	    "outputs_stored", (json_int_t)3, "outputs_total", (json_int_t)3,
	    "bytes_stored", (json_int_t)10, "bytes_total", (json_int_t)10,

	    "id", ID_Q, "state", "quarantined", "room_name", "q",
	    "source", "/rec/it's <bad>.mp4", "error", "not a media file",
	    "progress",

	    "id", ID_D, "state", "done", "room_name", room, "finished_at",
	    "2025-01-15T11:15:00.000Z", "session_id", "s2", "duration_seconds",
	    3601.2, "objects", "video", "url", "javascript:alert(1)", "size",
	    (json_int_t)1048576, "audio", "url", "s3://b/r/\"s2\"/audio.m4a",
	    "size", (json_int_t)2048, "progress");
}

static char *
render(json_t *j)
{
	struct page_view v = { 0 };

	v.jobs = j;
	v.host = "host<1>";
	v.recordings_dir = "/var/recordings";
	v.state_dir = "/var/lib/jibri-pipeline";
	v.now_ms = 1736939700000LL;
	v.mono_ms = 1000;
	return page_render(&v);
}

static void
sections(void)
{
	json_t *j = jobs();
	char *h;

	CHECK(j != NULL);
	metrics_dim_set(METRICS_DIM_STATE, states, 9);
	h = render(j);
	/* nothing from outside is markup */
	CHECK(strstr(h, "<script") == NULL);
	CHECK(strstr(h, "<b>400") == NULL);
	CHECK(strstr(h, "&lt;script&gt;alert(1)&lt;/script&gt;") != NULL);
	CHECK(strstr(h, "host&lt;1&gt;") != NULL);
	CHECK(strstr(h, "s&quot;1") != NULL);
	CHECK(strstr(h, "<meta http-equiv=\"refresh\" content=\"5\">") != NULL);
	/* the queue */
	CHECK(strstr(h, "id=\"count-storing\">1<") != NULL);
	CHECK(strstr(h, "id=\"count-done\">1<") != NULL);
	/* the upload: bar, bytes, part */
	CHECK(strstr(h, "id=\"job-" ID_A "\"") != NULL);
	CHECK(strstr(h, "width:25.0%") != NULL);
	CHECK(strstr(h, "2.0 MiB of 8.0 MiB</span> (25%)") != NULL);
	CHECK(strstr(h, "video: part 2 of 4 uploaded") != NULL);
	CHECK(strstr(h, "rate: measuring") != NULL);
	/* failures: the command to run, the path quoted for a shell */
	CHECK(strstr(h, "<code class=\"retry\">jibri-pipeline retry " ID_F
	    "</code>") != NULL);
	CHECK(strstr(h, "<code class=\"retry\">jibri-pipeline retry " ID_Q
	    "</code>") != NULL);
	CHECK(strstr(h, "jibri-pipeline probe &#39;/rec/it&#39;\\&#39;&#39;s "
	    "&lt;bad&gt;.mp4&#39;") != NULL);
	CHECK(strstr(h, "webhook answered &lt;b&gt;400&lt;/b&gt;") != NULL);
	/* recent: links only of known schemes */
	CHECK(strstr(h, "id=\"rec-" ID_D "\"") != NULL);
	CHECK(strstr(h, "href=\"javascript") == NULL);
	CHECK(strstr(h, "href=\"s3://b/r/&quot;s2&quot;/audio.m4a\"") != NULL);
	CHECK(strstr(h, "1 h 00 min") != NULL);
	CHECK(strstr(h, "1.0 MiB") != NULL);
	free(h);
	json_decref(j);
}

/* The rate comes from an earlier render of the same upload. */
static void
rate_and_eta(void)
{
	json_t *j = json_pack("[{s:s, s:s, s:{s:I, s:I}}]", "id", ID_A,
	    "state", "storing", "progress", "bytes_stored", (json_int_t)0,
	    "bytes_total", (json_int_t)(100 << 20));
	struct page_view v = { 0 };
	char *h;

	v.jobs = j;
	v.host = "h";
	v.recordings_dir = v.state_dir = "/";
	v.now_ms = 1736939700000LL;
	v.mono_ms = 50000;
	h = page_render(&v);
	CHECK(strstr(h, "rate: measuring") != NULL);
	free(h);
	json_integer_set(json_object_get(json_object_get(json_array_get(j, 0),
	    "progress"), "bytes_stored"), 20 << 20);
	v.mono_ms += 10000;
	h = page_render(&v);
	CHECK(strstr(h, "2.0 MiB/s &middot; ETA 40 s") != NULL);
	free(h);
	json_decref(j);
}

static void
no_pipeline(void)
{
	struct page_view v = { 0 };
	char *h;

	v.host = "h";
	v.recordings_dir = v.state_dir = "/nonexistent";
	h = page_render(&v);
	CHECK(strstr(h, "not running in this process") != NULL);
	CHECK(strstr(h, "cannot be read") != NULL);
	CHECK(strstr(h, "</html>") != NULL);
	free(h);
}

UNIT_MAIN("page", T(escaping), T(sections), T(rate_and_eta), T(no_pipeline))
