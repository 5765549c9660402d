"""System tests: the ops side of jibri-pipeline -- check, sign, status,
probe, remux, the lock, signals (SIGTERM, SIGHUP) and KEEP_LOCAL."""
import hashlib
import hmac
import json
import os
import re
import signal
import subprocess
import time
import unittest

import media
from harness import (PIPELINE, PipelineCase, SECRET, SLOW, STATES,
                     make_fixture, sha256_file)
from receiver import Receiver


def openssl_hmac(secret, path):
    p = subprocess.run(["openssl", "dgst", "-sha256", "-hmac", secret, path],
                       capture_output=True, text=True, check=True)
    return p.stdout.strip().rsplit("= ", 1)[1]


class Check(PipelineCase):

    BAD = [
        ("STABLE_SECONDS", "soon"),
        ("WORKERS", "0"),
        ("WORKERS", "many"),
        ("KEEP_LOCAL", "sometimes"),
        ("OUTPUTS", "mp4,video4k"),
        ("STORAGE_URL", "ftp://example.com/recordings"),
        ("WEBHOOK_URL", "not-a-url"),
        ("LOG_FORMAT", "xml"),
        ("LOG_LEVEL", "loud"),
        ("RETRY_MAX_DELAY", "forever"),
        ("WEBHOOK_TIMEOUT", "0s"),
        ("WEBHOOK_RETRY_FOR", "3 parsecs"),
        ("S3_PATH_STYLE", "maybe"),
        ("REFLECTOR_API_URL", "localhost:1250"),
    ]

    def errors(self, p):
        return [l for l in p.stderr.splitlines() if l.startswith("error: ")]

    def assert_names(self, p, key, value):
        self.assertEqual(p.returncode, 1, (key, value, p.stdout, p.stderr))
        self.assertNotIn("configuration OK", p.stdout)
        hits = [l for l in self.errors(p)
                if l.startswith("error: %s:" % key) and value in l]
        self.assertTrue(hits, "no `error: %s: ...%s...' line in:\n%s" % (
            key, value, p.stderr))

    def test_ok(self):
        p = self.cli("check")
        self.assertEqual(p.returncode, 0, p.stderr)
        self.assertEqual(p.stdout.strip(), "configuration OK")
        self.assertEqual(self.errors(p), [])

    def test_each_bad_value(self):
        for key, value in self.BAD:
            self.assert_names(self.cli("check", **{key: value}), key, value)

    def test_every_problem_at_once(self):
        bad = dict(self.BAD[:1] + self.BAD[3:])     # one value per key
        p = self.cli("check", **bad)
        for key, value in bad.items():
            self.assert_names(p, key, value)
        self.assertGreaterEqual(len(self.errors(p)), len(bad))

    def test_env_file(self):
        """-c FILE: values from the file, the environment wins; a broken
        line and an unknown key are reported."""
        path = os.path.join(self.tmp, "pipeline.env")
        with open(path, "w") as f:
            f.write("# comment\n\nKEEP_LOCAL=sometimes\nWORKERS=3\n")
        env = self.environ(JIBRI_PIPELINE_CONFIG=None)
        p = self.cli("-c", path, "check", env=env)
        self.assert_names(p, "KEEP_LOCAL", "sometimes")
        # the option after the subcommand works the same
        p = self.cli("check", "-c", path, env=env)
        self.assert_names(p, "KEEP_LOCAL", "sometimes")
        env["KEEP_LOCAL"] = "7d"
        p = self.cli("-c", path, "check", env=env)
        self.assertEqual(p.returncode, 0, p.stderr)
        self.assertIn("configuration OK", p.stdout)
        with open(path, "a") as f:
            f.write("NOT_A_KEY=1\nthis line is not a setting\n")
        p = self.cli("-c", path, "check", env=env)
        self.assertEqual(p.returncode, 1)
        self.assertIn("NOT_A_KEY", p.stderr)
        self.assertRegex(p.stderr, re.escape(path) + ":6")
        # $JIBRI_PIPELINE_CONFIG names the file too
        p = self.cli("check", env=dict(env, JIBRI_PIPELINE_CONFIG=path,
                                       KEEP_LOCAL="keep"))
        self.assertRegex(p.stderr, re.escape(path) + ":6")

    def test_webhook_secret(self):
        p = self.cli("check", JITSI_WEBHOOK_SECRET=None)
        self.assertEqual(p.returncode, 1)
        self.assertTrue(any(l.startswith("error: JITSI_WEBHOOK_SECRET:")
                            for l in self.errors(p)), p.stderr)
        p = self.cli("check", JITSI_WEBHOOK_SECRET=None, WEBHOOK_URL="none")
        self.assertEqual(p.returncode, 0, p.stderr)
        secret_file = os.path.join(self.tmp, "secret")
        with open(secret_file, "w") as f:
            f.write(SECRET + "\n")
        p = self.cli("check", JITSI_WEBHOOK_SECRET=None,
                     JITSI_WEBHOOK_SECRET_FILE=secret_file)
        self.assertEqual(p.returncode, 0, p.stderr)
        p = self.cli("check", JITSI_WEBHOOK_SECRET=None,
                     JITSI_WEBHOOK_SECRET_FILE=secret_file + ".missing")
        self.assertEqual(p.returncode, 1)
        self.assertIn("JITSI_WEBHOOK_SECRET_FILE", p.stderr)

    def test_unusable_storage(self):
        blocker = os.path.join(self.tmp, "a-file")
        open(blocker, "w").close()
        p = self.cli("check", STORAGE_URL="file://" + blocker + "/storage")
        self.assertEqual(p.returncode, 1)
        self.assertTrue(any(l.startswith("error: STORAGE_URL:")
                            for l in self.errors(p)), p.stderr)

    def test_run_refuses_bad_configuration(self):
        p = self.cli("run", WORKERS="zero", timeout=20)
        self.assertEqual(p.returncode, 1)
        self.assertIn("error: WORKERS:", p.stderr)
        self.assertIn("zero", p.stderr)
        self.assertFalse(os.path.exists(os.path.join(self.state, "lock")))


class Sign(PipelineCase):
    WEBHOOK = False

    def test_sign_matches_openssl(self):
        bodies = {
            "binary": os.urandom(70000),
            "json": json.dumps({"room_name": 'a "quoted"\nroom \u00fc',
                                "recording_status": "completed"},
                               ensure_ascii=False).encode(),
            "empty": b"",
        }
        for name, body in bodies.items():
            path = os.path.join(self.tmp, name)
            with open(path, "wb") as f:
                f.write(body)
            want = openssl_hmac(SECRET, path)
            self.assertEqual(want, hmac.new(SECRET.encode(), body,
                                            hashlib.sha256).hexdigest())
            p = self.cli("sign", path)
            self.assertEqual(p.returncode, 0, p.stderr)
            self.assertEqual(p.stdout.strip(), want, name)
            p = subprocess.run([PIPELINE, "sign", "-"], input=body,
                               capture_output=True, env=self.environ())
            self.assertEqual(p.returncode, 0, p.stderr)
            self.assertEqual(p.stdout.decode().strip(), want, name)

    def test_sign_secret_from_file(self):
        secret_file = os.path.join(self.tmp, "secret")
        with open(secret_file, "w") as f:
            f.write("file-secret-value\n")
        body = os.path.join(self.tmp, "body")
        with open(body, "w") as f:
            f.write('{"room_name":"r"}')
        p = self.cli("sign", body, JITSI_WEBHOOK_SECRET=None,
                     JITSI_WEBHOOK_SECRET_FILE=secret_file)
        self.assertEqual(p.returncode, 0, p.stderr)
        self.assertEqual(p.stdout.strip(),
                         openssl_hmac("file-secret-value", body))

    def test_sign_errors(self):
        p = self.cli("sign", os.path.join(self.tmp, "missing"))
        self.assertEqual(p.returncode, 1)
        self.assertTrue(p.stderr.startswith("error:"), p.stderr)
        body = os.path.join(self.tmp, "body")
        open(body, "w").close()
        p = self.cli("sign", body, JITSI_WEBHOOK_SECRET=None)
        self.assertEqual(p.returncode, 1)
        self.assertIn("JITSI_WEBHOOK_SECRET", p.stderr)


class Status(PipelineCase):

    def test_status_with_daemon_stopped(self):
        st = self.status()
        self.assertIs(st["daemon_running"], False)
        self.assertEqual(st["pending_requests"], 0)
        self.assertEqual(st["jobs"], [])
        self.assertEqual(st["counts"], {s: 0 for s in STATES})
        p = self.cli("status")
        self.assertEqual(p.returncode, 0, p.stderr)
        self.assertIn("stopped", p.stdout.splitlines()[0])
        # run one recording, stop, look again
        d = self.start_daemon()
        s = self.jibri()
        self.wait_job(s.id)
        self.assertEqual(d.stop(), 0)
        st = self.status()
        self.assertIs(st["daemon_running"], False)
        self.assertEqual(st["counts"]["done"], 1)
        self.assertEqual(sum(st["counts"].values()), 1)
        j = st["jobs"][0]
        for k in ("id", "state", "attempts", "room_name", "session_id",
                  "source", "objects", "webhook", "progress"):
            self.assertIn(k, j)
        self.assertEqual(j["id"], s.id)
        self.assertEqual(j["state"], "done")
        self.assertEqual(j["room_name"], s.room)
        self.assertEqual(j["session_id"], s.session_id)
        self.assertEqual(j["source"], s.path)
        self.assertEqual(j["webhook"]["attempts"], 1)
        self.assertEqual(j["webhook"]["status"], 200)
        self.assertTrue(j["webhook"]["delivered_at"])
        self.assertEqual(sorted(j["objects"]), ["audio", "manifest",
                                                "video"])
        p = self.cli("status")
        self.assertIn(s.id[:12], p.stdout)
        self.assertIn("done", p.stdout)
        p = self.cli("status", "--all")
        self.assertEqual(p.returncode, 0)
        p = self.cli("status", "--bogus")
        self.assertEqual(p.returncode, 2)


    def test_progress_bar_and_watch(self):
        """A job storing its outputs: a bar with bytes stored / total on
        the screen; --watch redraws a terminal (escape codes) and prints
        plain screens one after another into a pipe."""
        d = self.start_daemon()
        s = self.jibri()
        self.wait_job(s.id)
        d.stop()
        # as a job file looks while the audio and manifest are not stored
        path = os.path.join(self.state, "jobs", s.id + ".json")
        with open(path) as f:
            j = json.load(f)
        j["state"] = "storing"
        for name in ("audio", "manifest"):
            j["objects"].pop(name, None)
        with open(path, "w") as f:
            json.dump(j, f)
        total = sum(o["size"] for o in j["outputs"].values()) \
            if isinstance(j["outputs"], dict) else None
        p = self.cli("status")
        self.assertEqual(p.returncode, 0, p.stderr)
        line = [l for l in p.stdout.splitlines() if s.id[:12] in l][0]
        self.assertIn("storing", line)
        self.assertRegex(line, r"\[#+-+\] +\d+%  [\d.]+/[\d.]+ MB")
        if total:
            self.assertIn("/%.1f MB" % (total / 1e6), line)
        self.assertNotIn("\033", p.stdout)
        st = self.status()
        prog = st["jobs"][0]["progress"]
        self.assertLess(prog["bytes_stored"], prog["bytes_total"])
        # --watch into a pipe: screens, no escape codes
        proc = subprocess.Popen([PIPELINE, "status", "--watch"],
                                env=self.environ(), stdout=subprocess.PIPE,
                                stderr=subprocess.PIPE, text=True)
        time.sleep(3)
        proc.terminate()
        out, _ = proc.communicate(timeout=10)
        self.assertGreaterEqual(out.count("daemon: stopped"), 2, out)
        self.assertNotIn("\033", out)
        # on a terminal (script(1) gives it one): redrawn in place
        proc = subprocess.Popen(["script", "-qfec", PIPELINE +
                                 " status --watch", "/dev/null"],
                                env=self.environ(), stdout=subprocess.PIPE,
                                stderr=subprocess.PIPE)
        time.sleep(3)
        proc.terminate()
        out, _ = proc.communicate(timeout=10)
        self.assertIn(b"\033[H\033[2J", out)


class Lifecycle(PipelineCase):

    def test_second_daemon_refused(self):
        first = self.start_daemon()
        second = self.start_daemon(wait_ready=False)
        rc = second.wait(15 * SLOW)
        self.assertIsNotNone(rc, "the second daemon kept running")
        self.assertNotEqual(rc, 0)
        self.assertRegex(second.log(), "another jibri-pipeline daemon")
        self.assertTrue(first.alive())
        s = self.jibri()
        self.wait_job(s.id)
        self.assertEqual(len(self.receiver.acknowledged()), 1)
        self.assertEqual(first.stop(), 0)
        # once the first is gone, a new one starts
        third = self.start_daemon()
        self.assertEqual(third.stop(), 0)

    def test_sigterm_idle(self):
        d = self.start_daemon()
        t = time.monotonic()
        self.assertEqual(d.stop(), 0, d.log())
        self.assertLess(time.monotonic() - t, 5 * SLOW)
        self.assertIn("jibri-pipeline stopped", d.log())

    def test_sigterm_during_webhook(self):
        """SIGTERM while a webhook hangs: the daemon ends the step (within
        WEBHOOK_TIMEOUT), exits 0; after a restart it resends the same
        bytes and finishes."""
        self.settings["WEBHOOK_TIMEOUT"] = "3s"
        self.receiver.hang(60)
        d = self.start_daemon()
        s = self.jibri()
        self.assertTrue(self.receiver.wait(lambda ds: ds, 20 * SLOW),
                        self.describe())
        t = time.monotonic()
        d.signal(signal.SIGTERM)
        rc = d.wait(20 * SLOW)
        self.assertEqual(rc, 0, d.log()[-2000:])
        self.assertLess(time.monotonic() - t, 8 * SLOW)
        self.assertNotEqual(self.job(s.id)["state"], "done")
        self.receiver.respond(200)
        self.start_daemon()
        j = self.wait_job(s.id)
        ds = self.receiver.all()
        self.assertGreaterEqual(len(ds), 2)
        self.assertEqual(len({x.body for x in ds}), 1)
        self.assertEqual({x.idempotency_key for x in ds}, {s.id})
        self.assert_webhook(s, j)

    def test_sighup_reloads(self):
        """WEBHOOK_URL and LOG_LEVEL come from the env file; after SIGHUP
        the new values are used, without a restart."""
        other = Receiver(SECRET).start()
        self.addCleanup(other.stop)
        with open(self.config_file, "w") as f:
            f.write("WEBHOOK_URL=%s\nLOG_LEVEL=info\n" % self.receiver.url)
        d = self.start_daemon(WEBHOOK_URL=None, LOG_LEVEL=None)
        a = self.jibri(room="before-reload")
        self.wait_job(a.id)
        self.assertEqual(len(self.receiver.acknowledged()), 1)
        # a second finalize of a known recording is a debug line
        self.assertEqual(self.finalize(a.dir).returncode, 0)
        self.wait_until(lambda: not os.listdir(os.path.join(
            self.state, "incoming")), 10, "the request to be taken")
        time.sleep(0.2)
        self.assertNotIn("level=debug", d.log())
        with open(self.config_file, "w") as f:
            f.write("WEBHOOK_URL=%s\nLOG_LEVEL=debug\n" % other.url)
        d.signal(signal.SIGHUP)
        self.wait_until(lambda: "configuration reloaded" in d.log(), 10,
                        "the reload")
        b = self.jibri(room="after-reload")
        self.wait_job(b.id)
        self.assertEqual([x.idempotency_key for x in other.acknowledged()],
                         [b.id])
        self.assertEqual([x.idempotency_key for x in
                          self.receiver.acknowledged()], [a.id])
        self.assertEqual(self.finalize(a.dir).returncode, 0)
        self.wait_until(lambda: "level=debug" in d.log(), 5,
                        "a debug line after LOG_LEVEL=debug")
        # a broken file is not taken: the daemon keeps the last good one
        with open(self.config_file, "w") as f:
            f.write("WEBHOOK_URL=%s\nWORKERS=lots\n" % self.receiver.url)
        d.signal(signal.SIGHUP)
        self.wait_until(lambda: "not reloaded" in d.log(), 10,
                        "the refused reload")
        c = self.jibri(room="after-bad-reload")
        self.wait_job(c.id)
        self.assertEqual([x.idempotency_key for x in other.acknowledged()],
                         [b.id, c.id])
        self.assertTrue(d.alive())
        self.assertEqual(d.stop(), 0)


class KeepLocal(PipelineCase):
    ENV = {"KEEP_LOCAL": "delete"}

    def test_delete_only_after_acknowledged_webhook(self):
        self.receiver.stop()
        self.start_daemon()
        s = self.jibri()
        extra = self.jibri(room="with-notes", slow=False)
        with open(os.path.join(extra.dir, "notes.txt"), "w") as f:
            f.write("not a recording\n")
        for x in (s, extra):
            self.wait_job(x.id, ("failed",), pred=lambda j: j.get(
                "webhook", {}).get("attempts", 0) >= 2)
        # stored, but not acknowledged: everything is still there
        self.assertEqual(len(self.storage_files()), 6)
        self.assertEqual(sha256_file(s.path), s.sha256)
        self.assertTrue(os.path.exists(os.path.join(s.dir, "metadata.json")))
        self.receiver.start()
        for x in (s, extra):
            j = self.wait_job(x.id)
            self.assertTrue(j.get("source_deleted_at"), j)
            self.assertFalse(os.path.exists(x.path))
        self.assertFalse(os.path.exists(s.dir), os.listdir(self.rec))
        # a session directory with something else in it stays
        self.assertTrue(os.path.exists(os.path.join(extra.dir, "notes.txt")))
        # the objects are intact and the webhook was acknowledged first
        for x in (s, extra):
            j = self.job(x.id)
            self.assertEqual(len(self.receiver.acknowledged()), 2)
            for o in j["objects"].values():
                self.assertEqual(sha256_file(self.stored(o["key"])),
                                 o["sha256"])
        st = [x for x in self.status()["jobs"] if x["id"] == s.id][0]
        self.assertTrue(st["source_deleted_at"])

    def test_delete_never_without_webhook_ack_400(self):
        self.receiver.respond(400)
        self.start_daemon()
        s = self.jibri()
        self.wait_job(s.id, ("failed",))
        time.sleep(1)
        self.assertEqual(sha256_file(s.path), s.sha256)


class ProbeRemux(PipelineCase):
    WEBHOOK = False

    def test_probe(self):
        src = self.media_file(seconds=3)
        p = self.cli("probe", src)
        self.assertEqual(p.returncode, 0, p.stderr)
        j = json.loads(p.stdout)
        self.assertAlmostEqual(j["duration"], 3.0, delta=0.15)
        self.assertEqual(j["size"], os.path.getsize(src))
        self.assertEqual(sorted((s["type"], s["codec"]) for s in
                                j["streams"]),
                         [("audio", "aac"), ("video", "h264")])
        video = [s for s in j["streams"] if s["type"] == "video"][0]
        self.assertEqual((video["width"], video["height"]), (320, 240))
        audio = [s for s in j["streams"] if s["type"] == "audio"][0]
        self.assertEqual(audio["sample_rate"], 44100)
        bad = make_fixture("truncated.mp4",
                           os.path.join(self.tmp, "truncated.mp4"))
        p = self.cli("probe", bad)
        self.assertEqual(p.returncode, 1)
        self.assertTrue(p.stderr.startswith("error:"), p.stderr)

    def test_remux(self):
        src = self.media_file(seconds=3)
        out = os.path.join(self.tmp, "out.mp4")
        audio = os.path.join(self.tmp, "out.m4a")
        p = self.cli("remux", src, out, "--audio", audio)
        self.assertEqual(p.returncode, 0, p.stderr)
        order = media.box_order(out)
        self.assertLess(order.index("moov"), order.index("mdat"), order)
        self.assert_same_streams(src, out)
        self.assert_same_streams(src, audio, kinds=("audio",))
        self.assertEqual(media.framemd5(src, "-map", "0:v"),
                         media.framemd5(out, "-map", "0:v"))
        self.assertEqual(media.framemd5(src, "-map", "0:a"),
                         media.framemd5(audio, "-map", "0:a"))


if __name__ == "__main__":
    unittest.main()
