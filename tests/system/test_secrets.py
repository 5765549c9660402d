"""System test: no configured secret anywhere it should not be. One daemon
with every secret set (webhook secret, JWT secret, API and event-sync
tokens, a database password, AWS keys, Jibri's upload_credentials token in
metadata.json) does everything it does -- a recording processed and
announced, events taken, a room and a meeting made (two minted JWTs) --
and then every output is searched for every
secret: the daemon's log (debug level), `status` and `status --json`,
every file under STATE_DIR and the storage (job files, upload log, event
journal, codec cache, manifests), and the endpoint's health, metrics,
status page and recordings list."""
import json
import os
import re
import urllib.parse

import api
import pg
from api import ApiCase, API_TOKENS, SYNC_TOKEN, seed_event
from harness import SECRET

JWT_SECRET = "jwt-secret-for-the-grep-4b1e9c7d2a6f"
AWS_KEY = "AKIA-grep-3c9e1d7b"
AWS_SECRET = "aws-secret-grep-8f2b6d0e4a"
DOMAIN = "meet.example.com"


class Secrets(ApiCase):
    DATABASE = True
    WEBHOOK = True

    def setUp(self):
        super().setUp()
        # the test's database, reached with a password this time
        name = urllib.parse.urlsplit(self.db.url).path.lstrip("/")
        self.settings.update(
            DATABASE_URL=self.cluster.password_url(database=name),
            JITSI_DOMAIN=DOMAIN, JITSI_JWT_SECRET=JWT_SECRET,
            AWS_ACCESS_KEY_ID=AWS_KEY, AWS_SECRET_ACCESS_KEY=AWS_SECRET)

    def outputs(self):
        """Everything the daemon and its tools showed or wrote: (where,
        text) pairs."""
        out = [("daemon log", self.daemon_log())]
        for args in (("status",), ("status", "--json"), ("status", "--all")):
            p = self.cli(*args)
            out.append((" ".join(args), p.stdout + p.stderr))
        for top in (self.state, self.storage):
            for d, _, files in os.walk(top):
                for f in files:
                    path = os.path.join(d, f)
                    if f.endswith(".mp4") or f.endswith(".m4a"):
                        continue
                    with open(path, "rb") as fh:
                        out.append((path, fh.read().decode("utf-8",
                                                           "replace")))
        for path, token in (("/v1/jitsi/health", None), ("/metrics", None),
                            ("/", None),
                            ("/v1/recordings", API_TOKENS[0])):
            r = self.api.get(path, token=token)
            out.append(("GET " + path, r.body.decode("utf-8", "replace")))
        return out

    def test_no_secret_anywhere(self):
        self.start_daemon()
        # a recording (metadata.json carries a live upload token)
        s = self.jibri(room="reflector-grep-room", slow=False)
        self.wait_job(s.id, timeout=60)
        # events, signed and by bearer token
        mid, room = self.db.create_meeting()
        self.assert_ok(self.api.post_event(seed_event(
            "muc-occupant-joined", room, {"user_id": "u1"})),
            "muc-occupant-joined", room)
        # a room and a meeting: two JWTs minted
        r = self.api.post("/v1/rooms", {"name": "grep-room"}, sig=False,
                          token=API_TOKENS[0])
        self.assertEqual(r.status, 201, r)
        r = self.api.post("/v1/rooms/grep-room/meeting", {}, sig=False,
                          token=API_TOKENS[1])
        self.assertEqual(r.status, 201, r)
        jwts = [urllib.parse.parse_qs(urllib.parse.urlsplit(
            r.json[k]).query)["jwt"][0] for k in ("room_url",
                                                   "host_room_url")]
        secrets = {
            "JITSI_WEBHOOK_SECRET": SECRET,
            "JITSI_JWT_SECRET": JWT_SECRET,
            "API_TOKENS[0]": API_TOKENS[0],
            "API_TOKENS[1]": API_TOKENS[1],
            "EVENT_SYNC_TOKEN": SYNC_TOKEN,
            "the database password": pg.PASSWORD,
            "AWS_ACCESS_KEY_ID": AWS_KEY,
            "AWS_SECRET_ACCESS_KEY": AWS_SECRET,
            "upload_credentials token": s.token,
            "a minted JWT": jwts[0],
            "another minted JWT": jwts[1],
            # a JWT's signature alone is as good as the token
            "a minted JWT's signature": jwts[0].rsplit(".", 1)[1],
        }
        seen = self.outputs()
        self.assertGreater(sum(len(t) for _, t in seen), 10000)
        # the search looks where the recording and the meeting left traces
        where = {w: t for w, t in seen}
        self.assertIn(s.id, where["daemon log"])
        self.assertIn(s.id, where["status --json"])
        self.assertTrue(any(w.endswith("manifest.json") and s.session_id in t
                            for w, t in seen))
        self.assertIn("meeting created", where["daemon log"])
        for name, value in secrets.items():
            for where, text in seen:
                self.assertNotIn(value, text, "%s found in %s" % (name,
                                                                  where))
