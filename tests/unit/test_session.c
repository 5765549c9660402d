/* test_session.c -- room names, storage key components, metadata without secrets. */
#include "unit.h"
#include "base/util.h"
#include "daemon/session.h"

#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

static void
check_room_url(const char *url, const char *want)
{
	char *r = session_room_from_url(url);

	if (want == NULL)
		CHECK(r == NULL);
	else
		CHECK_STR(r, want);
	free(r);
}

static void
room_from_url(void)
{
	check_room_url("https://meet.example.com/reflector-my-room-uuid123",
	    "reflector-my-room-uuid123");
	check_room_url("https://meet.example.com/tenant/MyRoom", "MyRoom");
	check_room_url("https://meet.example.com/tenant/MyRoom/?jwt=x#c", "MyRoom");
	check_room_url("https://meet.example.com/My%20Room%C3%A9", "My Roomé");
	check_room_url("https://meet.example.com/a%22b%0Ac", "a\"b\nc");
	check_room_url("https://meet.example.com/bad%zzhex%4", "bad%zzhex%4");
	check_room_url("https://meet.example.com/", NULL);
	check_room_url("https://meet.example.com", NULL);
	check_room_url("https://meet.example.com/x%00y", NULL);
	check_room_url(NULL, NULL);
}

static void
room_from_filename(void)
{
	char *r;

	r = session_room_from_filename("/rec/s/myroom_2025-01-15-10-30-00.mp4");
	CHECK_STR(r, "myroom");
	free(r);
	r = session_room_from_filename("my_room_with_underscores_2025-01-15-10-30-00.mp4");
	CHECK_STR(r, "my_room_with_underscores");
	free(r);
	r = session_room_from_filename("/rec/rec-789.mp4");
	CHECK(r == NULL);
	r = session_room_from_filename("_2025-01-15-10-30-00.mp4");
	CHECK(r == NULL);
	r = session_room_from_filename("room_2025-01-15-10-30-0x.mp4");
	CHECK(r == NULL);
}

static void
key_components(void)
{
	static const struct { const char *in, *out; } cases[] = {
		{ "plain", "plain" },
		{ "with space + 100% \"quotes\" 'x'", "with space + 100% \"quotes\" 'x'" },
		{ "a/b\\c", "a_b_c" },
		{ "line\nbreak\ttab", "line_break_tab" },
		{ "..", "_.." },
		{ ".", "_." },
		{ "", "_" },
		{ "ünïcødé ✓", "ünïcødé ✓" },
		{ "bad\xff\xfe utf8", "bad__ utf8" },
		{ "\xc0\xaf", "__" },          /* overlong '/' */
	};
	size_t i;
	char *k, long_in[600];

	for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		k = session_key_component(cases[i].in);
		CHECK_STR(k, cases[i].out);
		free(k);
	}
	/* 299 two-byte characters: cut to at most 200 bytes, whole characters */
	for (i = 0; i < 299; i++)
		memcpy(long_in + 2 * i, "é", 2);
	long_in[598] = '\0';
	k = session_key_component(long_in);
	CHECK(strlen(k) <= 200);
	CHECK(strlen(k) % 2 == 0);
	free(k);
}

static void
sanitize(void)
{
	json_t *in = json_loads("{\"meeting_url\":\"https://m/x\","
	    "\"upload_credentials\":{\"service_name\":\"s3\",\"token\":\"T0K\"},"
	    "\"participants\":[{\"user\":{\"id\":\"u\",\"name\":\"N\","
	    "\"access_token\":\"T1\"}}],\"nested\":{\"Password\":\"p\","
	    "\"jwt\":\"j\",\"keep\":1,\"api_key\":\"k\",\"client_secret\":\"s\"}}",
	    0, NULL);
	json_t *out = session_sanitize(in);
	char *text = json_dumps(out, 0);

	CHECK(text != NULL);
	CHECK(strstr(text, "T0K") == NULL);
	CHECK(strstr(text, "T1") == NULL);
	CHECK(strstr(text, "upload_credentials") == NULL);
	CHECK(strstr(text, "Password") == NULL);
	CHECK(strstr(text, "\"jwt\"") == NULL);
	CHECK(strstr(text, "api_key") == NULL);
	CHECK(strstr(text, "client_secret") == NULL);
	CHECK(strstr(text, "\"keep\": 1") != NULL);
	CHECK(strstr(text, "https://m/x") != NULL);
	CHECK(strstr(text, "\"name\": \"N\"") != NULL);
	free(text);
	json_decref(in);
	json_decref(out);
}

static void
write_text(const char *path, const char *text)
{
	FILE *f = fopen(path, "w");

	fputs(text, f);
	fclose(f);
}

static void
load_session_dir(void)
{
	char root[] = "/tmp/jp-test-session-XXXXXX";
	char *sess, *media, *link, *other, *rm;
	struct session_info info;
	int sfd;
	char **files;
	size_t n;

	if (mkdtemp(root) == NULL) {
		CHECK(0);
		return;
	}
	sess = xasprintf("%s/0f0e-uuid", root);
	mkdir(sess, 0755);
	media = xasprintf("%s/Room_2025-01-15-10-30-00.mp4", sess);
	write_text(media, "x");
	other = xasprintf("%s/outside.mp4", root);
	write_text(other, "y");
	link = xasprintf("%s/link.mp4", sess);
	CHECK(symlink(other, link) == 0);
	rm = xasprintf("%s/notes.txt", sess);
	write_text(rm, "z");
	free(rm);
	rm = xasprintf("%s/metadata.json", sess);
	write_text(rm, "{\"meeting_url\":\"https://meet.example.com/t/Real%20Room\","
	    "\"upload_credentials\":{\"token\":\"LIVE\"},\"participants\":[]}");
	free(rm);

	files = session_media_files(sess, &n);
	CHECK_INT(n, 1);           /* the symlink and notes.txt are not media */
	if (n == 1)
		CHECK_STR(files[0], media);
	session_free_list(files, n);

	sfd = open(sess, O_RDONLY | O_DIRECTORY);
	CHECK(sfd >= 0);
	session_load(media, sfd, "legacy", &info);
	CHECK_STR(info.session_dir, sess);
	CHECK_STR(info.session_id, "0f0e-uuid");
	CHECK_STR(info.room_name, "Real Room");
	CHECK_STR(info.room_source, "meeting_url");
	CHECK(info.metadata != NULL);
	CHECK(json_object_get(info.metadata, "upload_credentials") == NULL);
	CHECK(info.metadata_error == NULL);
	session_info_free(&info);

	/* broken metadata: recorded, then the file name gives the room */
	rm = xasprintf("%s/metadata.json", sess);
	write_text(rm, "{\"meeting_url\": \"https://m/x\", trunc");
	free(rm);
	session_load(media, sfd, NULL, &info);
	CHECK(info.metadata == NULL);
	CHECK(info.metadata_error != NULL);
	CHECK_STR(info.room_name, "Room");
	CHECK_STR(info.room_source, "file_name");
	session_info_free(&info);

	/* a FIFO named metadata.json: refused at once, never waited on */
	rm = xasprintf("%s/metadata.json", sess);
	unlink(rm);
	CHECK(mkfifo(rm, 0644) == 0);
	free(rm);
	session_load(media, sfd, NULL, &info);
	CHECK(info.metadata == NULL);
	CHECK(info.metadata_error != NULL &&
	    strstr(info.metadata_error, "not a regular file") != NULL);
	session_info_free(&info);
	close(sfd);

	/* a file directly in RECORDINGS_DIR: legacy room, stem as session */
	session_load(other, -1, "legacy room", &info);
	CHECK(info.session_dir == NULL);
	CHECK_STR(info.session_id, "outside");
	CHECK_STR(info.room_name, "legacy room");
	session_info_free(&info);
	session_load(other, -1, NULL, &info);
	CHECK_STR(info.room_name, "unknown");
	session_info_free(&info);

	rm = xasprintf("rm -rf %s", root);
	CHECK(system(rm) == 0);
	free(rm);
	free(sess); free(media); free(link); free(other);
}

static void
media_names(void)
{
	CHECK(session_is_media_name("a.mp4"));
	CHECK(session_is_media_name("A.MP4"));
	CHECK(session_is_media_name("x.webm"));
	CHECK(!session_is_media_name(".hidden.mp4"));
	CHECK(!session_is_media_name("a.mp4.tmp-abc"));
	CHECK(!session_is_media_name("metadata.json"));
	CHECK(!session_is_media_name(".mp4"));
}

UNIT_MAIN("session", T(room_from_url), T(room_from_filename),
    T(key_components), T(sanitize), T(load_session_dir), T(media_names))
