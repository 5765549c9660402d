/* test_webhook.c -- the completion body (jansson, hostile names), the signature, manifest and upload log lines. */
#include "unit.h"
#include "base/hash.h"
#include "base/util.h"
#include "daemon/manifest.h"
#include "daemon/uploadlog.h"
#include "daemon/webhook.h"

#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <stdlib.h>
#include <sys/socket.h>
#include <unistd.h>

static const char *const hostile[] = {
	"reflector-my-room-uuid123",
	"room \"with\" quotes",
	"room\nwith\nnewlines\r\t",
	"ünïcødé 会议室 🎥",
	"back\\slash and '\"'$(rm -rf /)`",
	"</script><x>&amp;",
};

static struct job *
sample_job(const char *room)
{
	struct job *j = job_new("0123456789abcdef0123456789abcdef",
	    "/var/recordings/s1/x_2025-01-15-10-30-00.mp4",
	    "s1/x_2025-01-15-10-30-00.mp4", "finalize");
	struct job_object *o = &j->objects[JOB_OUT_VIDEO];

	job_set(&j->room_name, room);
	job_set(&j->session_id, "s1");
	job_set(&j->meeting_url, "https://meet.example.com/r");
	j->probed = true;
	j->source_size = 123456789;
	j->probe = json_pack("{s:f}", "duration", 3601.2);
	o->stored = true;
	job_set(&o->url, "s3://b/k");
	job_set(&o->key, "k");
	job_set(&o->etag, "e");
	o->size = 10;
	util_strlcpy(o->sha256, "ab", sizeof(o->sha256));
	j->metadata = json_pack("{s:[{s:{s:s}}]}", "participants", "user",
	    "name", room);
	return j;
}

static void
body_roundtrips_hostile_names(void)
{
	size_t i;

	for (i = 0; i < sizeof(hostile) / sizeof(hostile[0]); i++) {
		struct job *job = sample_job(hostile[i]);
		json_t *back;
		char *body = webhook_body(job, 1736939700000LL);
		json_error_t e;

		back = json_loads(body, JSON_REJECT_DUPLICATES, &e);
		CHECK(back != NULL);
		CHECK_STR(json_string_value(json_object_get(back, "room_name")),
		    hostile[i]);
		CHECK_STR(json_string_value(json_object_get(json_object_get(
		    json_array_get(json_object_get(back, "participants"), 0),
		    "user"), "name")), hostile[i]);
		/* one line, ASCII only: safe for any receiver and any log */
		CHECK(strchr(body, '\n') == NULL);
		for (const char *p = body; *p; p++)
			CHECK((unsigned char)*p < 0x80);
		json_decref(back);
		job_free(job);
		free(body);
	}
}

static void
body_shape(void)
{
	struct job *job = sample_job("r");
	json_t *b;
	const char *first[] = { "room_name", "recording_file",
		"recording_status", "timestamp" };
	char *body;
	void *it;
	size_t i;

	body = webhook_body(job, 1736939700000LL);
	b = json_loads(body, 0, NULL);
	/* the seed's four fields come first, in its order */
	it = json_object_iter(b);
	for (i = 0; i < 4 && it != NULL; i++, it = json_object_iter_next(b, it))
		CHECK_STR(json_object_iter_key(it), first[i]);
	CHECK_STR(json_string_value(json_object_get(b, "recording_status")),
	    "completed");
	CHECK_STR(json_string_value(json_object_get(b, "timestamp")),
	    "2025-01-15T11:15:00.000Z");
	CHECK_STR(json_string_value(json_object_get(b, "recording_id")),
	    "0123456789abcdef0123456789abcdef");
	CHECK(json_real_value(json_object_get(b, "duration_seconds")) == 3601.2);
	CHECK_INT(json_integer_value(json_object_get(b, "size_bytes")), 123456789);
	CHECK(json_object_get(json_object_get(json_object_get(b, "objects"),
	    "video"), "etag") == NULL);
	CHECK(json_object_get(b, "error") == NULL);
	json_decref(b);
	free(body);

	job_set(&job->result, "failed");
	job_set(&job->error, "no moov atom");
	body = webhook_body(job, 0);
	b = json_loads(body, 0, NULL);
	CHECK_STR(json_string_value(json_object_get(b, "recording_status")),
	    "failed");
	CHECK_STR(json_string_value(json_object_get(b, "error")), "no moov atom");
	json_decref(b);
	free(body);
	job_free(job);
}

static void
signature(void)
{
	char hex[HASH_HEX_LEN];

	/* RFC 4231 test case 2 */
	hash_hmac_sha256_hex("Jefe", 4, "what do ya want for nothing?", 28, hex);
	CHECK_STR(hex, "5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843");
	CHECK(hash_equal_ct(hex, "5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843"));
	CHECK(!hash_equal_ct(hex, "5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3844"));
	CHECK(!hash_equal_ct(hex, "5bdcc146"));
	CHECK(!hash_equal_ct(hex, ""));
	hash_sha256_hex("", 0, hex);
	CHECK_STR(hex, "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855");
}

static void
manifest_and_log(void)
{
	struct job *job = sample_job("room \"q\"");
	struct job_file *f = &job->outputs[JOB_OUT_VIDEO];
	json_t *m, *e;
	char *text;

	f->made = true;
	job_set(&f->file, "recording.mp4");
	job_set(&f->key, "k");
	job_set(&f->content_type, "video/mp4");
	f->size = 10;
	util_strlcpy(f->sha256, "ab", sizeof(f->sha256));
	text = manifest_build(job, 0);
	m = json_loads(text, 0, NULL);
	CHECK(m != NULL);
	CHECK_STR(json_string_value(json_object_get(m, "room_name")), "room \"q\"");
	CHECK_INT(json_integer_value(json_object_get(json_object_get(json_object_get(
	    m, "outputs"), "video"), "size")), 10);
	CHECK(json_object_get(m, "probe") != NULL);
	CHECK(json_object_get(m, "metadata") != NULL);
	json_decref(m);
	free(text);

	e = uploadlog_entry(job, 0);
	CHECK_STR(json_string_value(json_object_get(e, "status")), "completed");
	job->quarantined = true;
	json_decref(e);
	e = uploadlog_entry(job, 0);
	CHECK_STR(json_string_value(json_object_get(e, "status")), "quarantined");
	json_decref(e);
	job_free(job);
}

static void
upload_log_once(void)
{
	char path[] = "/tmp/jp-test-uploadlog-XXXXXX";
	int fd = mkstemp(path);
	json_t *a = json_pack("{s:s}", "id", "aaaa"), *b = json_pack("{s:s}",
	    "id", "bbbb");
	int64_t off;

	close(fd);
	CHECK(uploadlog_append(path, a) == 0);
	off = uploadlog_size(path);
	CHECK(off > 0);
	CHECK(!uploadlog_has(path, off, "bbbb"));
	CHECK(uploadlog_append(path, b) == 0);
	CHECK(uploadlog_has(path, off, "bbbb"));
	CHECK(!uploadlog_has(path, off, "aaaa"));
	CHECK(uploadlog_has(path, 0, "aaaa"));
	unlink(path);
	json_decref(a);
	json_decref(b);
}

static void
url_redact(void)
{
	static const char *const cases[][2] = {
		{ "https://user:pass@host/path", "https://***@host/path" },
		{ "http://user:pa55word@127.0.0.1:9/x?q=1", "http://***@127.0.0.1:9/x?q=1" },
		{ "http://tok@h", "http://***@h" },
		{ "http://@h/", "http://***@h/" },
		{ "http://u:p@ss@h/a@b", "http://***@h/a@b" },
		{ "http://u:p#w?d@h/", "http://***@h/" },   /* unencoded # ? */
		{ "https://host/a@b", "https://host/a@b" },
		{ "https://host:8443/x", "https://host:8443/x" },
		{ "s3://key:secret@bucket/p", "s3://***@bucket/p" },
		{ "not-a-url", "not-a-url" },
		{ "", "" },
		{ "webhook http://a:b@h/x: Failed; then `https://c:d@i' too",
		  "webhook http://***@h/x: Failed; then `https://***@i' too" },
		{ "://@", "://***@" },
	};
	size_t i;

	for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		char *r = util_url_redact(cases[i][0]);
		CHECK_STR(r, cases[i][1]);
		free(r);
	}
}

/* A port nothing listens on: bound, then closed again. */
static int
closed_port(void)
{
	struct sockaddr_in sa = { .sin_family = AF_INET };
	socklen_t len = sizeof(sa);
	int fd = socket(AF_INET, SOCK_STREAM, 0), port;

	sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	if (fd < 0 || bind(fd, (struct sockaddr *)&sa, sizeof(sa)) < 0 ||
	    getsockname(fd, (struct sockaddr *)&sa, &len) < 0)
		abort();
	port = ntohs(sa.sin_port);
	close(fd);
	return port;
}

static void
post_error_hides_password(void)
{
	char url[128], err[700];
	int64_t retry_after;
	long status;
	int rc;

	snprintf(url, sizeof(url), "http://user:pa55word@127.0.0.1:%d/x",
	    closed_port());
	rc = webhook_post(url, "secret", "id", "{}", 5, &status, &retry_after,
	    err, sizeof(err));
	CHECK_INT(rc, WEBHOOK_RETRY);
	CHECK(strstr(err, "pa55word") == NULL);
	CHECK(strstr(err, "user") == NULL);
	CHECK(strstr(err, "http://***@127.0.0.1:") != NULL);
}

UNIT_MAIN("webhook", T(body_roundtrips_hostile_names), T(body_shape),
    T(signature), T(manifest_and_log), T(upload_log_once), T(url_redact),
    T(post_error_hides_password))
