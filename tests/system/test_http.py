"""System tests: the co-hosted HTTP endpoint of jibri-pipeline run
(libmicrohttpd) as a client sees it -- health, signatures, limits (413,
slow and stalled clients, idle connections), routing (404, 405),
malformed bodies (422), POST /v1/jibri/recording-complete queueing the
same job jibri-finalize FILE ROOM makes, what the log never holds, and
LISTEN=none."""
import json
import os
import shlex
import shutil
import socket
import threading
import time
import unittest

import api
from api import (ApiCase, API_TOKENS, EVENTS, HEALTH, MAX_BODY, RECORDING,
                 SYNC_PREFIX, SYNC_ROUTES, SYNC_TOKEN, compact, seed_event,
                 sign)
from harness import SECRET, SLOW, job_id

INVALID_SIG = "Invalid webhook signature"

HEALTH_KEYS = {"status", "service", "timestamp", "webhook_secret_configured",
               "database", "spool", "journal", "recordings_disk"}


def recording_body(room, path, status="completed",
                   timestamp="2025-01-15T10:30:00.000Z", **extra):
    b = {"room_name": room, "recording_file": path,
         "recording_status": status, "timestamp": timestamp}
    b.update(extra)
    return b


def check_413(case, paths):
    """A Content-Length over 64 KiB is 413 from the head alone."""
    for path in paths:
        for n in (MAX_BODY + 1, 10 * MAX_BODY, 1 << 40):
            with case.subTest(path=path, length=n):
                s = api.connect(case.port)
                try:
                    s.sendall(api.head("POST", path, [
                        ("Content-Type", "application/json"),
                        ("X-Jitsi-Signature", "0" * 64),
                        ("Content-Length", str(n))]))
                    # no body is sent
                    r = api.read_response(s, timeout=5)
                finally:
                    s.close()
                case.assertIsNotNone(r, "closed without an answer")
                case.assert_error(r, 413)


def send_chunked(case, path, chunks, headers=()):
    """POST path with Transfer-Encoding: chunked, one chunk at a time;
    stops sending once the daemon answers. (response, bytes sent)."""
    s = api.connect(case.port)
    sent = 0
    try:
        s.sendall(api.head("POST", path, [
            ("Content-Type", "application/json"),
            ("Transfer-Encoding", "chunked")] + list(headers)))
        for c in chunks:
            if api.readable(s, 0.05):
                break
            try:
                s.sendall(b"%x\r\n%s\r\n" % (len(c), c))
            except (BrokenPipeError, ConnectionResetError):
                break
            sent += len(c)
        else:
            try:
                s.sendall(b"0\r\n\r\n")
            except (BrokenPipeError, ConnectionResetError):
                pass
        return api.read_response(s, timeout=10), sent
    finally:
        s.close()


def check_413_chunked(case, paths):
    """A chunked stream that never ends: 413 once it passes 64 KiB."""
    chunk = b"[" + b" " * 8190 + b"]"
    for path in paths:
        with case.subTest(path=path):
            r, sent = send_chunked(case, path, [chunk] * 64,
                                   [("X-Jitsi-Signature", "0" * 64)])
            case.assertIsNotNone(r, "closed without an answer")
            case.assert_error(r, 413)
            case.assertGreater(sent, MAX_BODY - len(chunk))
            case.assertLess(sent, 64 * len(chunk),
                            "answered only after the whole stream")


class Http(ApiCase):
    """A daemon without DATABASE_URL (what works without PostgreSQL)."""

    WEBHOOK = True
    # only the endpoint (not the watcher) may queue recordings here
    ENV = {"STABLE_SECONDS": "3600"}

    # ---- health ---------------------------------------------------------
    def check_health(self, r, secret_configured):
        j = self.assert_json(r, 200)
        self.assertEqual(set(j), HEALTH_KEYS, j)
        self.assertEqual(j["status"], "ok")
        self.assertEqual(j["service"], "jitsi-webhooks")
        self.assertIs(j["webhook_secret_configured"], secret_configured)
        self.assertEqual(j["database"], "not configured")
        self.assertEqual(j["spool"], "ok")
        self.assertEqual(j["journal"], {"events": 0, "bytes": 0})
        for k in ("events", "bytes"):
            self.assertNotIsInstance(j["journal"][k], bool)
        self.assertRegex(j["timestamp"], api.ISO_MS)
        self.assertLess(abs(api.parse_iso(j["timestamp"]) - time.time()),
                        30, j["timestamp"])
        return j

    def test_health(self):
        self.start_daemon()
        self.check_health(self.api.health(), True)
        # two calls: the time moves
        a = api.parse_iso(self.api.health().json["timestamp"])
        time.sleep(0.05)
        b = api.parse_iso(self.api.health().json["timestamp"])
        self.assertGreater(b, a)

    def test_health_without_secret(self):
        """No JITSI_WEBHOOK_SECRET: health says so; every signed POST is
        401 (there is nothing to check a signature with)."""
        self.start_daemon(JITSI_WEBHOOK_SECRET=None, WEBHOOK_URL="none")
        self.check_health(self.api.health(), False)
        s = self.jibri(finalize=False, slow=False)
        body = compact(recording_body(s.room, s.path))
        for sig in (sign(body), sign(body, ""), None):
            self.assert_error(self.api.post_recording(body, sig=sig), 401,
                              INVALID_SIG)
        self.assertEqual(self.jobs(), {})

    def test_seed_health_curl(self):
        """The guide's `curl .../v1/jitsi/health`, its expected answer."""
        self.start_daemon()
        out, code, _, err = api.run_shell(api.SEED_HEALTH_SH.replace(
            api.SEED_DOMAIN, self.api.base), self.environ())
        self.assertEqual(code, 200, (out, err))
        j = json.loads(out)
        for k, v in api.SEED_HEALTH_ANSWER.items():
            if k == "timestamp":
                self.assertRegex(j[k], api.ISO_MS)
            else:
                self.assertEqual(j[k], v, k)

    # ---- signatures (recording-complete works without a database) -------
    def test_bad_signatures(self):
        self.start_daemon()
        s = self.jibri(finalize=False, slow=False)
        body = compact(recording_body(s.room, s.path))
        good = sign(body)
        tampered = body.replace(b"completed", b"Completed")
        cases = {
            "missing": (body, None),
            "empty": (body, ""),
            "another body's": (body, sign(b"{}")),
            "tampered body": (tampered, good),
            "upper case": (body, good.upper()),
            "one short": (body, good[:-1]),
            "one more": (body, good + "0"),
            "other secret": (body, sign(body, SECRET + "x")),
            "body + newline": (body + b"\n", good),
            "spaces": (body, " " + good + " x"),
            "not hex": (body, "z" * 64),
        }
        for what, (b, sig) in cases.items():
            with self.subTest(what):
                self.assert_error(self.api.post_recording(b, sig=sig), 401,
                                  INVALID_SIG, msg=what)
        # a bad signature on a body that is not even JSON: still 401
        self.assert_error(self.api.post_recording(b"{not json", sig="0" * 64),
                          401, INVALID_SIG)
        self.assertEqual(self.jobs(), {})
        self.assertEqual(os.listdir(os.path.join(self.state, "incoming")), [])
        # the right one is taken (the cases above could pass)
        r = self.api.post_recording(body, sig=good)
        self.assert_json(r, 202, {"status": "queued", "job_id": s.id})

    # ---- body limits ----------------------------------------------------
    def test_413_by_content_length(self):
        self.start_daemon()
        check_413(self, [RECORDING])
        # 65536 bytes exactly is a body like any other
        room, path = "reflector-size", os.path.join(self.rec, "no", "x.mp4")
        body = recording_body(room, path, pad="")
        body["pad"] = "p" * (MAX_BODY - len(compact(body)))
        data = compact(body)
        self.assertEqual(len(data), MAX_BODY)
        self.assert_error(self.api.post_recording(data), 422,
                          contains="recording_file")
        data = compact(dict(body, pad=body["pad"] + "p"))
        self.assert_error(self.api.post_recording(data), 413)

    def test_413_chunked(self):
        self.start_daemon()
        # a chunked body under the limit is read like any other
        s = self.jibri(finalize=False, slow=False)
        body = compact(recording_body(s.room, s.path))
        parts = [body[:7], body[7:30], body[30:]]
        r, _ = send_chunked(self, RECORDING, parts,
                            [("X-Jitsi-Signature", sign(body))])
        self.assert_json(r, 202, {"status": "queued", "job_id": s.id})
        check_413_chunked(self, [RECORDING])

    # ---- routing --------------------------------------------------------
    def test_404_and_405(self):
        self.start_daemon()
        for method, path in (("GET", "/nope"),
                             ("GET", "/v1/jitsi/healthz"),
                             ("GET", HEALTH + "/x"),
                             ("POST", "/v1/jitsi/event"),
                             ("POST", SYNC_PREFIX + "room/bogus"),
                             ("POST", SYNC_PREFIX + "occupant"),
                             ("POST", "/v1/jitsi/event-sync/events"),
                             ("POST", "/v2/jitsi/events")):
            with self.subTest(method=method, path=path):
                r = self.api.request(method, path, body=b"{}" if method ==
                                     "POST" else None)
                self.assert_error(r, 404, msg="%s %s" % (method, path))
        for method, path, allowed in (
                ("POST", HEALTH, "GET"), ("DELETE", HEALTH, "GET"),
                ("GET", EVENTS, "POST"), ("PUT", EVENTS, "POST"),
                ("GET", RECORDING, "POST"),
                ("GET", SYNC_ROUTES["muc-occupant-joined"], "POST"),
                ("DELETE", SYNC_ROUTES["muc-room-destroyed"], "POST"),
                ("POST", "/v1/meetings/m-1", "GET")):
            with self.subTest(method=method, path=path):
                r = self.api.request(method, path, body=b"{}" if method in
                                     ("POST", "PUT") else None)
                self.assert_error(r, 405, msg="%s %s" % (method, path))
                allow = [m.strip().upper() for m in
                         (r.header("Allow") or "").split(",")]
                self.assertIn(allowed, allow, r.headers)
                self.assertNotIn(method, allow)

    # ---- slow, stalled and idle clients ---------------------------------
    def test_slowloris(self):
        """500 connections, half idle, half sending a header byte a second:
        a health request still answers within 2 s, and so does a POST."""
        self.start_daemon()
        socks, trickle = [], []
        stop = threading.Event()
        try:
            for i in range(500):
                s = api.connect(self.port, timeout=15)
                socks.append(s)
                if i % 2:
                    s.sendall(b"GET /v1/jitsi/health HTTP/1.1\r\nHost: x\r\n"
                              b"X-Slow: ")
                    trickle.append(s)

            def drip():
                while not stop.wait(1.0):
                    for s in trickle:
                        try:
                            s.send(b"a")
                        except OSError:
                            pass
            t = threading.Thread(target=drip, daemon=True)
            t.start()
            for _ in range(3):
                t0 = time.monotonic()
                r = self.api.health(timeout=2)
                took = time.monotonic() - t0
                self.assert_json(r, 200)
                self.assertLess(took, 2 * SLOW, "health took %.2fs" % took)
                time.sleep(1.0)
            t0 = time.monotonic()
            r = self.api.post_recording(recording_body(
                "r", os.path.join(self.rec, "missing.mp4")), timeout=2)
            self.assert_error(r, 422, contains="recording_file")
            self.assertLess(time.monotonic() - t0, 2 * SLOW)
        finally:
            stop.set()
            for s in socks:
                s.close()

    def test_stalled_body(self):
        """A client that sends its head and never its body blocks nobody."""
        self.start_daemon()
        stalled = []
        try:
            for path in (EVENTS, RECORDING, SYNC_ROUTES["muc-room-created"]):
                s = api.connect(self.port)
                s.sendall(api.head("POST", path, [
                    ("Content-Type", "application/json"),
                    ("X-Jitsi-Signature", "0" * 64),
                    ("Content-Length", "100")]) + b'{"room_name":')
                stalled.append(s)
            for _ in range(5):
                t0 = time.monotonic()
                self.assert_json(self.api.health(timeout=2), 200)
                self.assertLess(time.monotonic() - t0, 2 * SLOW)
            s = self.jibri(finalize=False, slow=False)
            r = self.api.post_recording(recording_body(s.room, s.path),
                                        timeout=2)
            self.assert_json(r, 202, {"status": "queued", "job_id": s.id})
        finally:
            for s in stalled:
                s.close()

    def test_idle_connection_closed(self):
        """An idle connection is closed after ~10 s; one that asks gets
        its answer (keep-alive works)."""
        self.start_daemon()
        idle = api.connect(self.port)
        used = api.connect(self.port)
        try:
            used.sendall(api.head("GET", HEALTH, []))
            self.assert_json(api.read_response(used), 200)
            took = api.closed_by_peer(idle, 25 * SLOW)
            self.assertIsNotNone(took, "an idle connection stayed open "
                                 "%.0fs" % (25 * SLOW))
            self.assertGreater(took, 4, "closed at once (%.1fs)" % took)
            # the daemon still takes new connections
            self.assert_json(self.api.health(), 200)
        finally:
            idle.close()
            used.close()

    # ---- recording-complete ----------------------------------------------
    def test_recording_complete(self):
        """202 with the job id jibri-finalize FILE ROOM would make; twice:
        the same id, one job, processed once."""
        self.start_daemon()
        s = self.jibri(finalize=False, slow=False)
        body = recording_body(s.room, s.path)
        for _ in range(2):
            r = self.api.post_recording(body)
            self.assert_json(r, 202, {"status": "queued", "job_id": s.id})
        self.assertRegex(r.json["job_id"], "^[0-9a-f]{32}$")
        self.assertEqual(r.json["job_id"], job_id(s.rel))
        j = self.wait_job(s.id, timeout=60)
        self.assert_session_done(s, j)
        self.assert_webhook(s, j)
        self.assertEqual(list(self.jobs()), [s.id])
        st = self.status()
        self.assertEqual([x["id"] for x in st["jobs"]], [s.id])
        # posted again once done: the same job, not a new one
        r = self.api.post_recording(body)
        self.assert_json(r, 202, {"status": "queued", "job_id": s.id})
        self.assertEqual(list(self.jobs()), [s.id])
        # the legacy two-argument finalize names the same job
        p = self.finalize(s.path, s.room)
        self.assertEqual(p.returncode, 0, p.stderr)
        incoming = os.path.join(self.state, "incoming")
        self.wait_until(lambda: os.listdir(incoming) == [], 10,
                        "the spool to be taken")
        self.assertEqual(list(self.jobs()), [s.id])
        self.assertEqual(self.job(s.id)["state"], "done")
        self.assertEqual(len(self.receiver.acknowledged()), 1)

    def test_recording_complete_refused(self):
        """Anything but a regular file inside RECORDINGS_DIR reached without
        symlinks: 422 naming recording_file, and no job."""
        self.start_daemon()
        real = os.path.join(self.outside, "outside.mp4")
        shutil.copyfile(self.media_file(), real)
        os.symlink(real, os.path.join(self.rec, "link.mp4"))
        os.symlink(self.outside, os.path.join(self.rec, "linked-dir"))
        sdir = os.path.join(self.rec, "session-a")
        os.mkdir(sdir)
        os.mkfifo(os.path.join(sdir, "fifo.mp4"))
        os.symlink(os.path.join(self.rec, "session-a"),
                   os.path.join(self.rec, "session-link"))
        inside = os.path.join(sdir, "inside.mp4")
        paths = {
            "outside": real,
            "symlink to a file outside": os.path.join(self.rec, "link.mp4"),
            "through a symlinked dir": os.path.join(self.rec, "linked-dir",
                                                    "outside.mp4"),
            "through a symlinked dir inside": os.path.join(
                self.rec, "session-link", "inside.mp4"),
            "missing": os.path.join(self.rec, "nope", "missing.mp4"),
            "../ escape": os.path.join(self.rec, "..", "outside",
                                       "outside.mp4"),
            "../ escape from a session": os.path.join(
                sdir, "..", "..", "outside", "outside.mp4"),
            "a directory": sdir,
            "RECORDINGS_DIR itself": self.rec,
            "a fifo": os.path.join(sdir, "fifo.mp4"),
            "/etc/passwd": "/etc/passwd",
            "empty": "",
            "NUL inside": inside + "\0.txt",
        }
        shutil.copyfile(self.media_file(), inside)
        for what, path in paths.items():
            with self.subTest(what):
                r = self.api.post_recording(recording_body("room", path))
                self.assert_error(r, 422, contains="recording_file",
                                  msg=what)
        for what, body in {
                "no recording_file": {"room_name": "r"},
                "recording_file a number": recording_body("r", 7),
                "recording_file null": recording_body("r", None)}.items():
            with self.subTest(what):
                self.assert_error(self.api.post_recording(body), 422,
                                  contains="recording_file", msg=what)
        # the barrier: a good one is queued and done, and it is the only job
        r = self.api.post_recording(recording_body("room", inside))
        jid = job_id(os.path.relpath(inside, self.rec))
        self.assert_json(r, 202, {"status": "queued", "job_id": jid})
        self.wait_job(jid, timeout=60)
        self.assertEqual(list(self.jobs()), [jid])
        self.assertEqual(os.listdir(os.path.join(self.state, "incoming")), [])

    def test_seed_recording_payloads(self):
        """The guide's examples as printed: /recordings/test.mp4 and
        /var/recordings/rec-789.mp4 are outside this RECORDINGS_DIR (422);
        the same curl with a real file's path: 202; the guide's
        finalize.sh as Jibri's (legacy) finalize-script: 202 and done."""
        self.assertFalse(os.path.exists("/recordings/test.mp4"))
        self.start_daemon()
        env = self.environ()
        script = api.SEED_RECORDING_SH.replace(api.SEED_DOMAIN,
                                               self.api.base)
        out, code, _, err = api.run_shell(script, env)
        self.assertEqual(code, 422, (out, err))
        self.assertIn("recording_file", json.loads(out)["detail"])
        r = self.api.post_recording(api.SEED_RECORDING_COMPLETED_PRETTY)
        self.assert_error(r, 422, contains="recording_file")
        # the same payload, the path replaced by a real recording
        sdir = os.path.join(self.rec, "seed-session")
        os.mkdir(sdir)
        f = os.path.join(sdir, "test.mp4")
        shutil.copyfile(self.media_file(), f)
        out, code, _, err = api.run_shell(
            script.replace("/recordings/test.mp4", f), env)
        jid = job_id("seed-session/test.mp4")
        self.assertEqual(code, 202, (out, err))
        self.assertEqual(json.loads(out), {"status": "queued",
                                           "job_id": jid})
        j = self.wait_job(jid, timeout=60)
        self.assertEqual(j["room_name"], "reflector-test-room-uuid")
        # finalize.sh, verbatim, as Jibri's finalize-script
        sh = os.path.join(self.tmp, "finalize.sh")
        with open(sh, "w") as fh:
            fh.write(api.SEED_FINALIZE_SH)
        os.chmod(sh, 0o755)
        s = self.jibri(finalize=False, slow=False, room="reflector-fin-1")
        out, code, tail, err = api.run_shell(
            " ".join(shlex.quote(a) for a in (sh, s.path, s.room)),
            dict(env, REFLECTOR_API_URL=self.api.base))
        self.assertEqual(code, 202, (out, err))
        self.assertEqual(json.loads(out), {"status": "queued",
                                           "job_id": s.id})
        self.assertIn("webhook sent for room: " + s.room, tail)
        j = self.wait_job(s.id, timeout=60)
        self.assert_session_done(s, j)
        # its pasted JSON breaks on a room name with a quote: 422, no job
        q = self.jibri(finalize=False, slow=False, room="reflector-q")
        out, code, _, err = api.run_shell(
            " ".join(shlex.quote(a) for a in (sh, q.path, 'room "quoted"')),
            dict(env, REFLECTOR_API_URL=self.api.base))
        self.assertEqual(code, 422, (out, err))
        self.assertNotIn(q.id, self.jobs())

    def test_malformed_recording_bodies(self):
        """422 for bodies that are not the payload (signed as sent)."""
        self.start_daemon()
        f = os.path.join(self.rec, "s", "x.mp4")
        cases = {
            "not JSON": (b"{", None),
            "empty": (b"", None),
            "an array": (b"[]", None),
            "a string": (b'"x"', None),
            "trailing garbage": (compact(recording_body("r", f)) + b" x",
                                 None),
            "invalid UTF-8": (b'{"room_name":"\xff\xfe","recording_file":'
                              b'"' + f.encode() + b'"}', None),
            "room_name a number": (compact(recording_body(5, f)),
                                   "room_name"),
            "recording_status a list": (compact(recording_body(
                "r", f, status=[])), "recording_status"),
            "timestamp an object": (compact(recording_body(
                "r", f, timestamp={})), "timestamp"),
        }
        for what, (body, field) in cases.items():
            with self.subTest(what):
                r = self.api.post_recording(body)
                self.assert_error(r, 422, contains=field or (), msg=what)
        self.assertEqual(self.jobs(), {})

    # ---- the log ----------------------------------------------------------
    def test_log_holds_no_secret(self):
        """One access-log line per request (method, route, status); no
        signature, token or body ever in the log."""
        self.start_daemon()
        marker = "body-marker-1f0c9e77"
        s = self.jibri(finalize=False, slow=False)
        good = recording_body(s.room, s.path)
        self.assert_json(self.api.post_recording(good), 202)
        self.assert_error(self.api.post_recording(
            recording_body(marker, s.path), sig="ab" * 32), 401)
        self.api.meeting("m-x", token=API_TOKENS[1])
        self.api.meeting("m-x", token="wrong-api-token-66a1")
        self.api.post_sync(api.sync_created("r", "r@c", 1), token=SYNC_TOKEN)
        self.api.post_sync(api.sync_created("r", "r@c", 1),
                           token="wrong-sync-token-9e0f")
        self.api.request("GET", HEALTH, headers={
            "Cookie": "session=cookie-secret-7d3b",
            "X-Api-Key": "header-secret-4c2a"})
        self.wait_job(s.id, timeout=60)
        self.wait_until(lambda: "/v1/jitsi/health" in self.daemon_log(), 5,
                        "the access log line of GET /v1/jitsi/health")
        log = self.daemon_log()
        secrets = set(self.api.sent_secrets) | {
            SECRET, SYNC_TOKEN, API_TOKENS[0], API_TOKENS[1], marker,
            "cookie-secret-7d3b", "header-secret-4c2a",
            "wrong-api-token-66a1", "wrong-sync-token-9e0f"}
        self.assertIn(sign(good), secrets)
        for secret in secrets:
            self.assertNotIn(secret, log)
        lines = [l for l in log.splitlines() if RECORDING in l and
                 "POST" in l]
        self.assertTrue([l for l in lines if "202" in l], lines)
        self.assertTrue([l for l in lines if "401" in l], lines)

    # ---- LISTEN -----------------------------------------------------------
    def test_listen_none(self):
        d = self.start_daemon()
        self.assertEqual(api.listening_ports(d.pid), {self.port})
        self.assertEqual(d.stop(), 0)
        d = self.start_daemon(LISTEN="none")
        self.assertEqual(api.listening_ports(d.pid), set())
        with self.assertRaises(ConnectionRefusedError):
            socket.create_connection(("127.0.0.1", self.port), timeout=5)
        # the pipeline itself still works
        s = self.jibri()
        self.wait_job(s.id, timeout=60)


class HttpDatabase(ApiCase):
    """The event routes, with a database (so that only the body decides):
    401 for every bad signature or token, nothing stored; 422 for every
    malformed body."""

    DATABASE = True

    def setUp(self):
        super().setUp()
        self.start_daemon()
        self.mid, self.room = self.db.create_meeting()

    def test_bad_signatures_store_nothing(self):
        ev = compact(seed_event("muc-occupant-joined", self.room,
                                {"user_id": "u-1"}))
        sy = compact(api.sync_joined(self.room, "x@conference.example",
                                     api.occupant("x@example/1", "X", "u-1",
                                                  joined_at=1700000000), 1))
        for path, body in ((EVENTS, ev),
                           (SYNC_ROUTES["muc-occupant-joined"], sy)):
            good = sign(body)
            for what, (b, sig) in {
                    "missing": (body, None), "empty": (body, ""),
                    "wrong": (body, sign(b"x")),
                    "tampered": (body.replace(b"u-1", b"u-2"), good),
                    "upper case": (body, good.upper()),
                    "short": (body, good[:32]), "long": (body, good + good),
                    "other secret": (body, sign(body, "other")),
                    "not JSON, bad sig": (b"{", "0" * 64)}.items():
                with self.subTest(path=path, case=what):
                    r = self.api.post(path, b, sig=sig)
                    self.assert_error(r, 401, INVALID_SIG, msg=what)
        # event-sync: a bearer that is not EVENT_SYNC_TOKEN
        for token in ("", "x", SYNC_TOKEN + "x", SYNC_TOKEN[:-1],
                      SYNC_TOKEN.lower(), API_TOKENS[0]):
            with self.subTest(token=token):
                r = self.api.post_sync(json.loads(sy), token=token)
                self.assert_error(r, 401, msg=token)
        r = self.api.post(SYNC_ROUTES["muc-occupant-joined"], sy, sig=None,
                          headers={"Authorization": "Basic " + SYNC_TOKEN})
        self.assert_error(r, 401)
        self.assertEqual(self.db.rows(), 0)
        self.assertEqual(self.api_state(self.mid)["events"], [])
        # the right ones are stored (so the cases above could fail)
        self.assert_ok(self.api.post(EVENTS, ev), "muc-occupant-joined",
                       self.room)
        self.assert_ok(self.api.post_sync(json.loads(sy)),
                       "muc-occupant-joined", self.room)
        self.assertEqual(self.db.rows(), 2)

    def test_malformed_event_bodies(self):
        room = self.room
        good = seed_event("muc-occupant-joined", room, {"user_id": "u"})
        seed_cases = {
            "not JSON": (b"{", ()),
            "empty": (b"", ()),
            "an array": (b"[]", ()),
            "trailing garbage": (compact(good) + b"}", ()),
            "invalid UTF-8": (compact(good).replace(b'"u"', b'"\xc3"'), ()),
            "room a number": (compact(dict(good, room=1)), "room"),
            "room missing": (compact({k: v for k, v in good.items()
                                      if k != "room"}), "room"),
            "event missing": (compact({k: v for k, v in good.items()
                                       if k != "event"}), "event"),
            "event null": (compact(dict(good, event=None)), "event"),
            "data a string": (compact(dict(good, data="x")), "data"),
            "data a list": (compact(dict(good, data=[])), "data"),
            "timestamp a number": (compact(dict(good, timestamp=5)),
                                   "timestamp"),
        }
        for what, (body, field) in seed_cases.items():
            with self.subTest(route=EVENTS, case=what):
                self.assert_error(self.api.post(EVENTS, body), 422,
                                  contains=field, msg=what)
        occ = api.occupant("a@example/1", "A", "u-a", joined_at=1700000000)
        bodies = {
            "muc-room-created": api.sync_created(room, "r@c", 1700000000),
            "muc-room-destroyed": api.sync_destroyed(room, "r@c", 1700000000,
                                                     1700000100, [occ]),
            "muc-occupant-joined": api.sync_joined(room, "r@c", occ, 1),
            "muc-occupant-left": api.sync_left(
                room, "r@c", dict(occ, left_at=1700000050), 0),
        }
        for name, good in bodies.items():
            route = SYNC_ROUTES[name]
            other = [n for n in SYNC_ROUTES if n != name][0]
            cases = {
                "not JSON": (b"{", ()),
                "an array": (b"[]", ()),
                "room_name a number": (compact(dict(good, room_name=3)),
                                       "room_name"),
                "room_name missing": (compact({k: v for k, v in good.items()
                                               if k != "room_name"}),
                                      "room_name"),
                "event_name of another route": (compact(dict(
                    good, event_name=other)), "event_name"),
                "is_breakout a string": (compact(dict(good,
                                                      is_breakout="no")),
                                         "is_breakout"),
            }
            when = {"muc-room-created": "created_at",
                    "muc-room-destroyed": "destroyed_at",
                    "muc-occupant-joined": "joined_at",
                    "muc-occupant-left": "left_at"}[name]
            if "occupant" in good:
                cases["occupant a string"] = (compact(dict(
                    good, occupant="a")), "occupant")
                if name == "muc-occupant-joined":
                    # (a left may lack it: Prosody sends one so when it
                    # lost track of the occupant; test_event_sync)
                    cases["occupant missing"] = (compact({
                        k: v for k, v in good.items() if k != "occupant"}),
                        "occupant")
                cases[when + " a string"] = (compact(dict(good, occupant=dict(
                    good["occupant"], **{when: "1700000000"}))), when)
            else:
                cases[when + " a string"] = (compact(dict(
                    good, **{when: "1700000000"})), when)
            for what, (body, field) in cases.items():
                for auth in ("bearer", "signature"):
                    with self.subTest(route=route, case=what, auth=auth):
                        if auth == "bearer":
                            r = self.api.post(route, body, sig=None,
                                              token=SYNC_TOKEN)
                        else:
                            r = self.api.post(route, body)
                        self.assert_error(r, 422, contains=field, msg=what)
        self.assertEqual(self.db.rows(), 0)
        # each route's good body is taken
        for name, good in bodies.items():
            self.assert_ok(self.api.post_sync(good), name, room)
        self.assert_ok(self.api.post(EVENTS, seed_event(
            "muc-occupant-joined", room, {"user_id": "u"})),
            "muc-occupant-joined", room)
        self.assertEqual(self.db.rows(), 5)

    def test_413_event_routes(self):
        paths = [EVENTS] + list(SYNC_ROUTES.values())
        check_413(self, paths)
        check_413_chunked(self, paths)
        self.assertEqual(self.db.rows(), 0)

    def test_log_holds_no_token(self):
        r = self.api.post_sync(api.sync_created(self.room, "r@c", 1700000000))
        self.assert_ok(r, "muc-room-created", self.room)
        self.assert_json(self.api.meeting(self.mid, token=API_TOKENS[1]), 200)
        self.assert_error(self.api.meeting(self.mid, token="nope-ab12"), 401)
        self.assert_ok(self.api.post_event(seed_event(
            "muc-occupant-joined", self.room, {"user_id": "u"})),
            "muc-occupant-joined", self.room)
        self.wait_until(lambda: "/v1/meetings/" in self.daemon_log(), 5,
                        "the access log line of GET /v1/meetings/...")
        log = self.daemon_log()
        secrets = self.api.sent_secrets | {SYNC_TOKEN, SECRET,
                                           "nope-ab12"} | set(API_TOKENS)
        self.assertIn(SYNC_TOKEN, self.api.sent_secrets)
        for secret in secrets:
            self.assertNotIn(secret, log)


if __name__ == "__main__":
    unittest.main()
