"""System tests: the daemon salvages a killed recording (no moov) before it
would quarantine it -- the job goes on (outputs, storage, a `completed`
webhook) marked "salvaged": true with the salvage report in the webhook,
the manifest and the job; the broken original is kept even with
KEEP_LOCAL=delete. The codec configuration of every intact recording it
processed is kept in $STATE_DIR/codec/ and used for later salvages.
Nothing salvageable: quarantined with a `failed` webhook, as before;
`retry` of a quarantined job tries again.

Fixtures: tests/lib/killed.py (Jibri's ffmpeg arguments, cut where a kill
cuts), checked packet by packet against the ground truth's index.
"""
import glob
import json
import os
import shutil
import time

import killed
import media
from harness import PipelineCase, sha256_file
from killed import block_end, complete, of_kind

JIBRI_KEYS = ("JIBRI_RESOLUTION", "JIBRI_FRAMERATE", "JIBRI_PRESET",
              "JIBRI_CRF")


class SalvageDaemon(PipelineCase):

    ENV = {"KEEP_LOCAL": "delete"}

    @classmethod
    def setUpClass(cls):
        cls.truth_path = killed.recording(12)
        cls.truth = killed.packets(cls.truth_path)

    def environ(self, **extra):
        # JIBRI_* are not in the harness's list of settings: the caller's
        # must not leak in; only what a test sets counts
        env = super().environ(**extra)
        for k in JIBRI_KEYS:
            if k not in self.settings and k not in extra:
                env.pop(k, None)
        return env

    def intact_copy(self):
        path = os.path.join(self.scratch, "intact.mp4")
        shutil.copyfile(self.truth_path, path)
        return path

    def killed_copy(self, k):
        path = os.path.join(self.scratch, "killed-%d.mp4" % k)
        return killed.cut(self.truth_path, path, block_end(k))

    def webhook_of(self, jid):
        """The body of the last acknowledged delivery for job jid (a
        quarantined job retried announces its new outcome under a key of
        its own, "<id>.2")."""
        acks = [d for d in self.receiver.acknowledged()
                if d.idempotency_key == jid or
                (d.idempotency_key or "").startswith(jid + ".")]
        self.assertTrue(acks, self.receiver.all())
        d = acks[-1]
        self.assertTrue(d.sig_valid, "bad X-Jitsi-Signature")
        self.assertIsNotNone(d.json, d.body[:200])
        self.assertEqual(d.json["recording_id"], jid)
        return d.json

    def finished(self, jid, timeout=60):
        """The job once it is done, quarantined or failed for good (a
        test that expects one of them fails at once on another); a failure
        that is retried by itself (a webhook delivery that broke off) is
        waited out."""
        return self.wait_job(jid, ("done", "quarantined", "failed"),
                             timeout=timeout, pred=lambda j: j["state"] !=
                             "failed" or not j.get("next_attempt_at"))

    def assert_salvaged(self, s, j, end, source):
        """Job j of the killed recording s (its first end bytes the ground
        truth's) went through salvage: stored outputs exact, webhook,
        manifest and job marked, the original kept. The report."""
        self.assertEqual(j["state"], "done", self.describe())
        self.assertIs(j.get("salvaged"), True, j)
        rep = j.get("salvage")
        self.assertIsInstance(rep, dict, j)
        want = complete(self.truth, end)

        # the outputs: recording.mp4 (fast start, every complete sample of
        # the original, exactly), audio.m4a (its audio), the manifest
        objs = j["objects"]
        self.assertEqual(sorted(objs), ["audio", "manifest", "video"])
        for o in objs.values():
            path = self.stored(o["key"])
            self.assertTrue(os.path.isfile(path), path)
            self.assertEqual(o["sha256"], sha256_file(path))
        video = self.stored(objs["video"]["key"])
        order = media.box_order(video)
        self.assertLess(order.index("moov"), order.index("mdat"), order)
        got = killed.packets(video)
        for kind in ("video", "audio"):
            self.assertEqual(
                [(p.pts, p.dts, p.flags, p.hash) for p in of_kind(got, kind)],
                [(p.pts, p.dts, p.flags, p.hash) for p in of_kind(want, kind)],
                "%s samples of the stored recording.mp4" % kind)
        self.assertEqual(killed.decode_errors(video), "")
        audio = killed.packets(self.stored(objs["audio"]["key"]))
        self.assertEqual([(p.pts, p.hash) for p in audio],
                         [(p.pts, p.hash) for p in of_kind(want, "audio")],
                         "audio.m4a")

        # the report
        self.assertEqual(rep["video_frames"], len(of_kind(want, "video")))
        self.assertEqual(rep["audio_frames"], len(of_kind(want, "audio")))
        self.assertEqual(rep["bytes_in"], end)
        self.assertEqual(rep["config_source"], source, rep)
        self.assertEqual(rep["video"], {"width": 640, "height": 360,
                                        "fps": 30})

        # the webhook: completed, marked, the report, the duration
        # recovered
        b = self.webhook_of(s.id)
        self.assertEqual(b["recording_status"], "completed", b)
        self.assertEqual(b["recording_file"], s.path)
        self.assertIs(b.get("salvaged"), True, b)
        self.assertEqual(b.get("salvage"), rep)
        self.assertAlmostEqual(b["duration_seconds"],
                               rep["recovered_seconds"], delta=0.1)
        self.assertEqual(b["size_bytes"], end)
        for name, o in objs.items():
            self.assertEqual(b["objects"][name]["sha256"], o["sha256"])

        # the manifest
        with open(self.stored(objs["manifest"]["key"])) as f:
            m = json.load(f)
        self.assertIs(m.get("salvaged"), True, m)
        self.assertEqual(m.get("salvage"), rep)
        self.assertEqual(m["source"]["size"], end)

        # status --json says so too
        st = [x for x in self.status()["jobs"] if x["id"] == s.id]
        self.assertEqual(len(st), 1)
        self.assertIs(st[0].get("salvaged"), True, st[0])

        # the broken original stays, untouched, KEEP_LOCAL=delete or not
        time.sleep(0.5)
        self.assertTrue(os.path.exists(s.path), "the broken original was "
                        "deleted")
        self.assertEqual(sha256_file(s.path), s.sha256)
        self.assertIsNone(self.job(s.id).get("source_deleted_at"))
        return rep

    def test_killed_recording_completes(self):
        """A killed 640x360 recording, JIBRI_RESOLUTION=640x360, no cache:
        salvaged with the synthesized configuration, completed."""
        self.settings["JIBRI_RESOLUTION"] = "640x360"
        self.start_daemon()
        src = self.killed_copy(6)
        s = self.jibri(source=src, slow=False)
        j = self.finished(s.id)
        rep = self.assert_salvaged(s, j, block_end(6), "synthesized")
        self.assertEqual(rep["resyncs"], 0)
        lines = self.uploads_log()
        self.assertEqual([l["status"] for l in lines], ["completed"], lines)

    def test_cache_from_intact_recording(self):
        """An intact 640x360 recording goes through first: its codec
        configuration lands in $STATE_DIR/codec/, and a killed one made
        with the same settings is salvaged with it although JIBRI_*
        (1920x1080 by default) do not match; the CLI finds the same
        cache."""
        self.start_daemon()
        a = self.jibri(room="intact-room", source=self.intact_copy(),
                       slow=False)
        ja = self.finished(a.id)
        self.assertEqual(ja["state"], "done", self.describe())
        self.assertFalse(ja.get("salvaged"), ja)
        self.assertFalse(self.webhook_of(a.id).get("salvaged"))
        codec = os.path.join(self.state, "codec")
        self.assertTrue(glob.glob(os.path.join(codec, "*")),
                        "nothing in %s after an intact recording" % codec)

        src = self.killed_copy(5)
        s = self.jibri(room="killed-room", source=src, slow=False)
        j = self.finished(s.id)
        self.assert_salvaged(s, j, block_end(5), "cache")

        out = os.path.join(self.scratch, "cli.mp4")
        p = self.cli("salvage", src, out, "--json")
        self.assertEqual(p.returncode, 0, p.stderr)
        self.assertEqual(json.loads(p.stdout)["config_source"], "cache")

    def test_nothing_salvageable_quarantined(self):
        """48 bytes (ftyp, free, an empty mdat): quarantined, a failed
        webhook naming the reason, the file kept, nothing stored."""
        self.start_daemon()
        src = killed.cut(self.truth_path, os.path.join(self.scratch,
                                                       "48.mp4"), killed.DATA)
        s = self.jibri(source=src, slow=False)
        j = self.finished(s.id)
        self.assertEqual(j["state"], "quarantined", self.describe())
        self.assertIn("nothing", j.get("error") or "", j)
        b = self.webhook_of(s.id)
        self.assertEqual(b["recording_status"], "failed")
        self.assertEqual(b["error"], j["error"])
        self.assertFalse(b.get("salvaged"), b)
        self.assertEqual(self.storage_files(), [])
        time.sleep(1.5)                     # > RETRY_MAX_DELAY: not retried
        self.assertEqual(self.job(s.id)["state"], "quarantined")
        self.assertEqual(sha256_file(s.path), s.sha256)

    def test_retry_quarantined_after_reference(self):
        """JIBRI_RESOLUTION=1280x720 while the host records 640x360, no
        cache: the killed recording cannot be salvaged (quarantined, the
        reason given) -- unless salvage recovers it correctly on its own.
        Then an intact recording goes through (the cache now has the
        right configuration) and `retry ID` salvages the quarantined one."""
        self.settings["JIBRI_RESOLUTION"] = "1280x720"
        self.start_daemon()
        src = self.killed_copy(4)
        s = self.jibri(source=src, slow=False)
        j = self.finished(s.id)
        if j["state"] == "done":
            # inferred on its own: then it must be right
            self.assert_salvaged(s, j, block_end(4), "synthesized")
            return
        self.assertTrue(j.get("error"), j)
        b = self.webhook_of(s.id)
        self.assertEqual(b["recording_status"], "failed")

        a = self.jibri(room="intact-room", source=self.intact_copy(),
                       slow=False)
        self.assertEqual(self.finished(a.id)["state"], "done")

        p = self.cli("retry", s.id)
        self.assertEqual(p.returncode, 0, (p.stdout, p.stderr))
        # the retry has been taken once attempts or the state moved
        self.wait_until(lambda: self.job(s.id)["state"] != "quarantined" or
                        self.job(s.id).get("updated_at") != j.get(
                            "updated_at"), 30, "the retry to be taken")
        j = self.finished(s.id)
        self.assert_salvaged(s, j, block_end(4), "cache")

