"""System tests: the rooms API (POST/GET /v1/rooms, GET /v1/rooms/{name},
POST /v1/rooms/{name}/meeting) against PostgreSQL -- the guide's "Room
Configuration" curls verbatim, rows read back by SQL, bearer tokens, 409 and
422 answers, both JWTs decoded and verified here (base64url + hmac, nothing
shared with the daemon), concurrent meetings, missing JITSI_* settings, and
no token in the daemon's log."""
import base64
import hashlib
import hmac
import json
import re
import threading
import time
import urllib.parse

import api
from api import ApiCase, API_TOKENS, compact, lit

DOMAIN = "meet.example.com"
JWT_SECRET = "jwt-test-secret-0f4c9a7e1b3d5f2a8c6e0b9d7f1a3c5e"
TTL = 8 * 3600

ROOMS = "/v1/rooms"
UUID4 = re.compile(r"^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-"
                   r"[0-9a-f]{12}$")

# ---- the guide's "Room Configuration" examples, byte for byte ------------

SEED_ROOM_SH = """curl -X POST "https://your-reflector-domain.com/v1/rooms" \\
  -H "Content-Type: application/json" \\
  -H "Authorization: Bearer $AUTH_TOKEN" \\
  -d '{
    "name": "my-jitsi-room",
    "platform": "jitsi",
    "recording_type": "cloud",
    "recording_trigger": "automatic-2nd-participant",
    "is_locked": false,
    "room_mode": "normal"
  }'"""

SEED_MEETING_SH = """curl -X POST "https://your-reflector-domain.com/v1/rooms/my-jitsi-room/meeting" \\
  -H "Authorization: Bearer $AUTH_TOKEN\""""

# the fields the guide's answer shows
SEED_MEETING_KEYS = ("id", "room_name", "room_url", "host_room_url")

ROOM_KEYS = {"id", "name", "user_id", "created_at", "zulip_auto_post",
             "zulip_stream", "zulip_topic", "is_locked", "room_mode",
             "recording_type", "recording_trigger", "is_shared", "platform"}
MEETING_KEYS = {"id", "room_name", "room_url", "host_room_url", "start_date",
                "end_date", "room_id", "is_locked", "room_mode",
                "recording_type", "recording_trigger", "platform",
                "is_active", "num_clients"}

NAME_RULE = ("lower-case letters", "digits", "starting with a letter or "
             "digit")


def b64url(s):
    return base64.urlsafe_b64decode(s + "=" * (-len(s) % 4))


def decode_jwt(token, secret):
    """(header, claims) of an HS256 JWT whose signature checks out with
    secret; AssertionError otherwise."""
    parts = token.split(".")
    assert len(parts) == 3, token
    want = hmac.new(secret.encode(), (parts[0] + "." + parts[1]).encode(),
                    hashlib.sha256).digest()
    assert hmac.compare_digest(b64url(parts[2]), want), "bad signature"
    return json.loads(b64url(parts[0])), json.loads(b64url(parts[1]))


def jwt_of(url):
    """The ?jwt= of a room URL (URL-decoded) and the URL without it."""
    u = urllib.parse.urlsplit(url)
    q = urllib.parse.parse_qs(u.query, strict_parsing=True)
    assert list(q) == ["jwt"] and len(q["jwt"]) == 1, url
    return q["jwt"][0], "%s://%s%s" % (u.scheme, u.netloc, u.path)


class Rooms(ApiCase):

    DATABASE = True
    ENV = {"STABLE_SECONDS": "3600"}

    def setUp(self):
        super().setUp()
        self.settings.update(JITSI_DOMAIN=DOMAIN, JITSI_JWT_SECRET=JWT_SECRET)

    # ---- helpers --------------------------------------------------------
    def create(self, body, token=API_TOKENS[0]):
        return self.api.post(ROOMS, body, sig=None, token=token)

    def new_meeting(self, name, token=API_TOKENS[0]):
        return self.api.post(ROOMS + "/" + name + "/meeting", None, sig=None,
                             token=token)

    def room_rows(self):
        return int(self.db.value("SELECT count(*) FROM room"))

    def room_row(self, name):
        return self.db.json(
            "SELECT json_build_object('id', id, 'name', name, 'platform', "
            "platform, 'recording_type', recording_type, 'recording_trigger', "
            "recording_trigger, 'is_locked', is_locked, 'room_mode', "
            "room_mode, 'created_at', extract(epoch FROM created_at)) FROM "
            "room WHERE name = %s" % lit(name))

    def meeting_row(self, mid):
        return self.db.json(
            "SELECT json_build_object('room_name', room_name, 'room_url', "
            "room_url, 'host_room_url', host_room_url, 'start', "
            "extract(epoch FROM start_date), 'end', extract(epoch FROM "
            "end_date), 'room_id', room_id, 'is_locked', is_locked, "
            "'room_mode', room_mode, 'recording_type', recording_type, "
            "'recording_trigger', recording_trigger, 'platform', platform, "
            "'is_active', is_active, 'num_clients', num_clients, 'events', "
            "events) FROM meeting WHERE id = %s" % lit(mid))

    def shell(self, script):
        return api.run_shell(script.replace(api.SEED_DOMAIN, self.api.base),
                             self.environ(AUTH_TOKEN=API_TOKENS[0]))

    def assert_seed_verbatim(self):
        guide = api.seed_guide()
        if guide is not None:
            self.assertIn(SEED_ROOM_SH, guide)
            self.assertIn(SEED_MEETING_SH, guide)
            for k in SEED_MEETING_KEYS:
                self.assertIn('"%s":' % k, guide)

    def check_meeting(self, j, room, t0, t1, secret=JWT_SECRET, ttl=TTL):
        """A meeting answer for room (its create answer): the fields, the
        room name, both URLs and their JWTs; the row by SQL. The two
        tokens' claims."""
        self.assertEqual(set(j), MEETING_KEYS, j)
        self.assertRegex(j["id"], UUID4)
        m = re.fullmatch(r"reflector-%s-([0-9a-f-]{36})" % re.escape(
            room["name"]), j["room_name"])
        self.assertIsNotNone(m, j["room_name"])
        self.assertRegex(m.group(1), UUID4)
        self.assertRegex(j["start_date"], api.ISO_US)
        self.assertRegex(j["end_date"], api.ISO_US)
        start, end = api.parse_iso(j["start_date"]), \
            api.parse_iso(j["end_date"])
        self.assertEqual(start, int(start), "start_date in whole seconds")
        self.assertGreaterEqual(start, int(t0) - 1)
        self.assertLessEqual(start, t1 + 1)
        self.assertEqual(end - start, ttl)
        for k in ("is_locked", "room_mode", "recording_type",
                  "recording_trigger"):
            self.assertEqual(j[k], room[k], k)
        self.assertEqual(j["room_id"], room["id"])
        self.assertEqual((j["platform"], j["is_active"], j["num_clients"]),
                         ("jitsi", True, 0))
        self.assertIsInstance(j["num_clients"], int)
        self.assertNotIsInstance(j["num_clients"], bool)

        claims = {}
        for key, moderator in (("room_url", False), ("host_room_url", True)):
            token, bare = jwt_of(j[key])
            self.assertEqual(bare, "https://%s/%s" % (DOMAIN, j["room_name"]))
            self.assertTrue(j[key].startswith(bare + "?jwt="), j[key])
            self.assertEqual(j[key], bare + "?jwt=" +
                             urllib.parse.quote(token, safe=""))
            header, c = decode_jwt(token, secret)
            self.assertEqual(header, {"alg": "HS256", "typ": "JWT"})
            self.assertEqual(c["room"], j["room_name"])
            self.assertEqual(c["room"], c["room"].lower())
            self.assertEqual(c["exp"], end)
            self.assertEqual(c["iat"], start)
            self.assertEqual(c["nbf"], start - 60)
            self.assertEqual((c["iss"], c["aud"], c["sub"]),
                             ("reflector", "jitsi", DOMAIN))
            user = c["context"]["user"]
            self.assertIs(user["moderator"], moderator)
            self.assertEqual(user["name"], "Moderator" if moderator else
                             "Participant")
            self.assertEqual(user["affiliation"], "owner" if moderator else
                             "member")
            self.assertTrue(user["id"])
            self.assertEqual(c["context"]["features"],
                             {"recording": True, "livestreaming": False})
            claims[key] = c
        self.assertNotEqual(claims["room_url"]["context"]["user"]["id"],
                            claims["host_room_url"]["context"]["user"]["id"])

        row = self.meeting_row(j["id"])
        self.assertIsNotNone(row, "no meeting row %s" % j["id"])
        for k in ("room_name", "room_url", "host_room_url", "room_id",
                  "is_locked", "room_mode", "recording_type",
                  "recording_trigger", "platform", "is_active",
                  "num_clients"):
            self.assertEqual(row[k], j[k], k)
        self.assertEqual((row["start"], row["end"]), (start, end))
        self.assertEqual(row["events"], [])
        return claims

    # ---- rooms ----------------------------------------------------------
    def test_seed_room_curl(self):
        """Creating Jitsi Rooms: the guide's curl as printed -> 201 with the
        row, the row by SQL."""
        self.assert_seed_verbatim()
        self.start_daemon()
        out, code, _, err = self.shell(SEED_ROOM_SH)
        self.assertEqual(code, 201, (out, err))
        j = json.loads(out)
        self.assertEqual(set(j), ROOM_KEYS, j)
        self.assertRegex(j["id"], UUID4)
        self.assertRegex(j["created_at"], api.ISO_US)
        want = {"name": "my-jitsi-room", "platform": "jitsi",
                "recording_type": "cloud",
                "recording_trigger": "automatic-2nd-participant",
                "is_locked": False, "room_mode": "normal"}
        for k, v in want.items():
            self.assertEqual(j[k], v, k)
        self.assertEqual((j["user_id"], j["is_shared"], j["zulip_auto_post"]),
                         (None, False, False))
        row = self.room_row("my-jitsi-room")
        self.assertIsNotNone(row)
        self.assertEqual(row["id"], j["id"])
        for k, v in want.items():
            self.assertEqual(row[k], v, k)
        self.assertAlmostEqual(row["created_at"], api.parse_iso(
            j["created_at"]), delta=1e-5)
        # the same curl again: the name is taken
        out, code, _, err = self.shell(SEED_ROOM_SH)
        self.assertEqual(code, 409, (out, err))
        self.assertEqual(json.loads(out),
                         {"detail": "Room `my-jitsi-room' exists"})
        self.assertEqual(self.room_rows(), 1)

    def test_defaults(self):
        self.start_daemon()
        j = self.assert_json(self.create({"name": "only-a-name"}), 201)
        self.assertEqual(
            (j["platform"], j["recording_type"], j["recording_trigger"],
             j["is_locked"], j["room_mode"]),
            ("jitsi", "cloud", "automatic-2nd-participant", False, "normal"))
        j = self.assert_json(self.create({
            "name": "all-set_2", "platform": "whereby", "recording_type":
            "local", "recording_trigger": "prompt", "is_locked": True,
            "room_mode": "group"}), 201)
        row = self.room_row("all-set_2")
        self.assertEqual(
            (row["platform"], row["recording_type"], row["recording_trigger"],
             row["is_locked"], row["room_mode"]),
            ("whereby", "local", "prompt", True, "group"))

    def test_bearer(self):
        """Every rooms route: 401 without a bearer token, with a wrong one,
        with the wrong scheme; nothing stored."""
        self.start_daemon()
        self.assert_json(self.create({"name": "r1"}), 201)
        body = compact({"name": "r2"})
        for h in ({}, {"Authorization": "Bearer nope"},
                  {"Authorization": "Bearer " + API_TOKENS[0] + "x"},
                  {"Authorization": "Basic " + API_TOKENS[0]},
                  {"Authorization": "Bearer " + api.SYNC_TOKEN}):
            for method, path, data in (
                    ("POST", ROOMS, body), ("GET", ROOMS, None),
                    ("GET", ROOMS + "/r1", None),
                    ("POST", ROOMS + "/r1/meeting", None)):
                hh = dict(h)
                if data is not None:
                    hh["Content-Type"] = "application/json"
                r = self.api.request(method, path, body=data, headers=hh)
                self.assert_error(r, 401, msg="%s %s %r" % (method, path, h))
        self.assertEqual(self.room_rows(), 1)
        self.assertEqual(int(self.db.value("SELECT count(*) FROM meeting")),
                         0)
        # the second token of API_TOKENS works too
        self.assert_json(self.create({"name": "r2"}, token=API_TOKENS[1]),
                         201)

    def test_same_name_race(self):
        """Ten creations of one name at once: one 201, nine 409."""
        self.start_daemon()
        codes = []
        lock = threading.Lock()

        def one():
            r = self.create({"name": "raced"})
            with lock:
                codes.append(r.status)
        ts = [threading.Thread(target=one) for _ in range(10)]
        for t in ts:
            t.start()
        for t in ts:
            t.join()
        self.assertEqual(sorted(codes), [201] + [409] * 9)
        self.assertEqual(self.room_rows(), 1)

    def test_refusals(self):
        """422 naming the field and what it may be; nothing stored."""
        self.start_daemon()
        names = ["My-Room", "my room", "a" * 65, "../x", "", "caf\u00e9",
                 "-room", "_room", "room/x", "room?jwt=1", "\u0440\u0443\u043c",
                 "tab\tname"]
        for name in names:
            r = self.create({"name": name})
            self.assert_error(r, 422, contains=("name",) + NAME_RULE,
                              msg=repr(name))
        d = self.assert_error(self.create({"name": "My-Room"}), 422)
        self.assertIn("`My-Room'", d)
        self.assert_error(self.create({"name": "a" * 65}), 422,
                          contains="too long")
        for body in ({}, {"name": None}, {"name": 7}, {"name": ["x"]},
                     {"platform": "jitsi"}):
            self.assert_error(self.create(body), 422,
                              contains=("name", "required"), msg=body)
        enums = {
            "recording_type": ("none", "local", "cloud"),
            "recording_trigger": ("none", "prompt", "automatic",
                                  "automatic-2nd-participant"),
            "room_mode": ("normal", "group"),
            "platform": ("jitsi",),
        }
        for field, allowed in enums.items():
            for bad in ("Cloud", "", 1, True, None, ["cloud"], {"a": 1}):
                r = self.create({"name": "ok-name", field: bad})
                self.assert_error(r, 422, contains=(field,) + tuple(
                    '"%s"' % a for a in allowed), msg="%s=%r" % (field, bad))
        for bad in ("false", 0, 1, None, "true", []):
            r = self.create({"name": "ok-name", "is_locked": bad})
            self.assert_error(r, 422, contains=("is_locked", "true or false"),
                              msg=repr(bad))
        for raw in (b"", b"{", b"not json", b'{"name": "x",}', b"[]",
                    b'"my-room"', b"null", b'{"name":"a","name":"b"}',
                    b'{"name": "room\\u0000x"}',
                    b'\xff{"name": "x"}'):
            self.assert_error(self.create(raw), 422, contains="body",
                              msg=repr(raw))
        self.assert_error(self.create({"name": "x", "zulip_stream": "s"}),
                          422, contains=("zulip_stream", "no such field"))
        self.assertEqual(self.room_rows(), 0)
        self.assert_json(self.create({"name": "ok-name"}), 201)

    def test_list_and_get(self):
        self.start_daemon()
        self.assert_json(self.api.get(ROOMS, token=API_TOKENS[0]), 200,
                         {"rooms": []})
        made = {}
        for name in ("zeta", "alpha-2", "alpha", "alpha_1", "9lives"):
            made[name] = self.assert_json(self.create({"name": name}), 201)
        j = self.assert_json(self.api.get(ROOMS, token=API_TOKENS[0]), 200)
        self.assertEqual(list(j), ["rooms"])
        self.assertEqual([r["name"] for r in j["rooms"]],
                         sorted(made))          # bytewise
        for r in j["rooms"]:
            self.assertEqual(r, made[r["name"]])
        r = self.api.get(ROOMS + "/alpha_1", token=API_TOKENS[0])
        self.assert_json(r, 200, made["alpha_1"])
        for path in ("/nope", "/Alpha", "/alpha%20x", "/" + "a" * 65):
            self.assert_error(self.api.get(ROOMS + path, token=API_TOKENS[0]),
                              404, "Room not found", msg=path)

    # ---- meetings -------------------------------------------------------
    def test_seed_meeting_curl(self):
        """Meeting Creation: the guide's two curls as printed -> 201 with
        the guide's fields and the rest; both JWTs; the row by SQL."""
        self.assert_seed_verbatim()
        self.start_daemon()
        out, code, _, err = self.shell(SEED_ROOM_SH)
        self.assertEqual(code, 201, (out, err))
        room = json.loads(out)
        t0 = time.time()
        out, code, _, err = self.shell(SEED_MEETING_SH)
        t1 = time.time()
        self.assertEqual(code, 201, (out, err))
        j = json.loads(out)
        for k in SEED_MEETING_KEYS:
            self.assertIn(k, j)
        self.check_meeting(j, room, t0, t1)
        # GET /v1/meetings/{id} shows it, events empty
        m = self.api_state(j["id"])
        self.assertEqual((m["events"], m["num_clients"]), ([], 0))
        self.assertEqual(m["room_name"], j["room_name"])
        # the event routes find it by its room name
        r = self.api.post_event(api.seed_event("muc-occupant-joined",
                                               j["room_name"],
                                               {"user_id": "u1"}))
        self.assert_ok(r, "muc-occupant-joined", j["room_name"])

    def test_meeting_copies_room(self):
        self.start_daemon()
        room = self.assert_json(self.create({
            "name": "locked-group", "recording_type": "local",
            "recording_trigger": "prompt", "is_locked": True,
            "room_mode": "group", "platform": "whereby"}), 201)
        self.db.sql("UPDATE room SET user_id = 'owner-1' WHERE id = %s" %
                    lit(room["id"]))
        t0 = time.time()
        j = self.assert_json(self.new_meeting("locked-group"), 201)
        self.check_meeting(j, room, t0, time.time())
        self.assertEqual(self.db.value("SELECT user_id FROM meeting WHERE "
                                       "id = %s" % lit(j["id"])), "owner-1")
        # a second meeting: its own id, room name and tokens
        k = self.assert_json(self.new_meeting("locked-group"), 201)
        self.assertNotEqual(k["id"], j["id"])
        self.assertNotEqual(k["room_name"], j["room_name"])
        self.assertNotEqual(k["room_url"], j["room_url"])

    def test_unknown_room(self):
        self.start_daemon()
        for name in ("nope", "Nope", "a" * 65):
            self.assert_error(self.new_meeting(name), 404, "Room not found",
                              msg=name)
        self.assertEqual(int(self.db.value("SELECT count(*) FROM meeting")),
                         0)

    def test_concurrent_meetings(self):
        """Twenty meetings for one room at once: twenty 201s, twenty
        distinct meetings and rows."""
        self.start_daemon()
        room = self.assert_json(self.create({"name": "busy"}), 201)
        got = []
        lock = threading.Lock()

        def one():
            r = self.new_meeting("busy")
            with lock:
                got.append(r)
        t0 = time.time()
        ts = [threading.Thread(target=one) for _ in range(20)]
        for t in ts:
            t.start()
        for t in ts:
            t.join()
        t1 = time.time()
        self.assertEqual([r.status for r in got], [201] * 20, got[:3])
        ids = {r.json["id"] for r in got}
        self.assertEqual(len(ids), 20)
        self.assertEqual(len({r.json["room_name"] for r in got}), 20)
        for r in got[:3]:
            self.check_meeting(r.json, room, t0, t1)
        self.assertEqual(int(self.db.value(
            "SELECT count(DISTINCT id) FROM meeting WHERE room_id = %s" %
            lit(room["id"]))), 20)

    def test_jwt_ttl_and_app_id(self):
        """JWT_TTL sets end_date and exp; JITSI_APP_ID (lower-cased) the
        room name's prefix."""
        self.start_daemon(JWT_TTL="90m", JITSI_APP_ID="Acme")
        self.assert_json(self.create({"name": "ttl"}), 201)
        j = self.assert_json(self.new_meeting("ttl"), 201)
        self.assertRegex(j["room_name"], r"^acme-ttl-[0-9a-f-]{36}$")
        self.assertEqual(api.parse_iso(j["end_date"]) -
                         api.parse_iso(j["start_date"]), 5400)
        token, _ = jwt_of(j["host_room_url"])
        _, c = decode_jwt(token, JWT_SECRET)
        self.assertEqual(c["room"], j["room_name"])
        self.assertEqual(c["exp"] - c["iat"], 5400)

    def test_missing_jitsi_settings(self):
        """No JITSI_JWT_SECRET, or no JITSI_DOMAIN: 503 naming it, no
        meeting; rooms still work."""
        for key in ("JITSI_JWT_SECRET", "JITSI_DOMAIN"):
            with self.subTest(key=key):
                d = self.start_daemon(**{key: None})
                self.assert_json(self.create({"name": "r-" + key.lower()
                                              .replace("_", "-")}), 201)
                r = self.new_meeting("r-" + key.lower().replace("_", "-"))
                self.assert_error(r, 503, contains=key)
                self.assertEqual(int(self.db.value(
                    "SELECT count(*) FROM meeting")), 0)
                d.stop()

    def test_no_token_in_log(self):
        """Neither token, nor a URL carrying one, nor the JWT secret nor
        the API token, anywhere in the daemon log (debug level) or its
        state directory."""
        self.start_daemon()
        self.assert_json(self.create({"name": "quiet"}), 201)
        secrets = set()
        for _ in range(3):
            j = self.assert_json(self.new_meeting("quiet"), 201)
            for k in ("room_url", "host_room_url"):
                tok = jwt_of(j[k])[0]
                _, claims, sig = tok.split(".")
                # the header part is the same in every token: not secret
                secrets.update((j[k], tok, claims, sig))
        self.assert_error(self.new_meeting("nope"), 404)
        log = self.daemon_log()
        self.assertIn("meeting created", log)
        for t in secrets:
            self.assertNotIn(t, log)
        self.assertNotIn("jwt=", log)
        for s in (JWT_SECRET,) + API_TOKENS:
            self.assert_secret_nowhere(s)


if __name__ == "__main__":
    import unittest
    unittest.main()
