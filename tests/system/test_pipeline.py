"""System tests: the recording pipeline end to end on file:// storage.

A simulated Jibri records into RECORDINGS_DIR and calls jibri-finalize; the
daemon probes, remuxes, stores and notifies a real HTTP receiver that
checks the signature on its own."""
import datetime
import json
import os
import shutil
import subprocess
import time
import types
import unittest

import media
from harness import (PipelineCase, job_id, jibri_name, make_fixture,
                     sha256_file)


class SimulatedJibri(PipelineCase):

    def test_end_to_end(self):
        d = self.start_daemon()
        s = self.jibri(room="reflector-weekly-sync-9d1c", seconds=3)
        j = self.wait_job(s.id)
        job, manifest = self.assert_session_done(s, j)
        body = self.assert_webhook(s, job)
        # exactly one delivery at all (nothing to retry here)
        self.assertEqual(len(self.receiver.all()), 1, self.receiver.all())
        self.assertEqual(body["meeting_url"], s.meeting_url)
        self.assertEqual(body["participants"], s.participants)
        self.assertNotIn("no_audio", body)
        self.assertNotIn("error", body)
        # the objects: exactly the three outputs, nothing else
        prefix = "reflector-weekly-sync-9d1c/%s/" % s.session_id
        self.assertEqual(self.storage_files(), sorted(
            prefix + f for f in ("recording.mp4", "audio.m4a",
                                 "manifest.json")))
        # the remux is a stream copy: the very same packets
        self.assertEqual(media.framemd5(s.path, "-map", "0:v"),
                         media.framemd5(self.stored(prefix + "recording.mp4"),
                                        "-map", "0:v"))
        self.assertEqual(media.framemd5(s.path, "-map", "0:a"),
                         media.framemd5(self.stored(prefix + "audio.m4a"),
                                        "-map", "0:a"))
        # manifest: probe data and metadata without the secrets
        self.assertEqual(manifest["probe"]["duration"],
                         job["probe"]["duration"])
        want = sorted((st["codec_type"], st["codec_name"])
                      for st in media.ffprobe_json(s.path)["streams"])
        self.assertEqual(sorted((st["type"], st["codec"]) for st in
                                manifest["probe"]["streams"]), want)
        self.assertEqual(want, [("audio", "aac"), ("video", "h264")])
        self.assertEqual(manifest["metadata"]["custom"], {"note": "kept"})
        self.assertNotIn("extra_session_token", manifest["metadata"])
        # upload log: one line, completed, agreeing with the job
        lines = self.uploads_log()
        self.assertEqual(len(lines), 1, lines)
        e = lines[0]
        self.assertEqual(e["id"], s.id)
        self.assertEqual(e["status"], "completed")
        self.assertEqual(e["room_name"], s.room)
        self.assertEqual(e["session_id"], s.session_id)
        self.assertEqual(e["source"], s.path)
        self.assertEqual(e["size_bytes"], s.size)
        self.assertEqual(e["objects"]["video"]["sha256"],
                         job["objects"]["video"]["sha256"])
        self.assertEqual(e["webhook"]["status"], 200)
        self.assertEqual(e["webhook"]["attempts"], 1)
        self.assertTrue(e["webhook"]["delivered_at"])
        # the source is kept (KEEP_LOCAL=keep), unchanged
        self.assertEqual(sha256_file(s.path), s.sha256)
        self.assertTrue(os.path.exists(os.path.join(s.dir, "metadata.json")))
        # the live token is nowhere
        self.assert_secret_nowhere(s.token)
        # status --json while running
        st = self.status()
        self.assertTrue(st["daemon_running"])
        self.assertEqual(st["counts"]["done"], 1)
        self.assertEqual(st["pending_requests"], 0)
        sj = st["jobs"][0]
        self.assertEqual(sj["id"], s.id)
        self.assertEqual(sj["state"], "done")
        self.assertEqual(sj["webhook"]["status"], 200)
        self.assertEqual(sj["objects"]["video"]["key"], prefix +
                         "recording.mp4")
        self.assertEqual(d.stop(), 0)

    def test_log_format_json(self):
        """LOG_FORMAT=json: every stderr line is a JSON object; the token
        is in none of them."""
        self.settings["LOG_FORMAT"] = "json"
        d = self.start_daemon()
        s = self.jibri(room='json"room=x y')
        self.wait_job(s.id)
        self.assertEqual(d.stop(), 0)
        lines = [l for l in d.log().splitlines() if l.strip()]
        self.assertGreater(len(lines), 3)
        msgs = [json.loads(l) for l in lines]
        self.assertTrue(any(m.get("room") == 'json"room=x y' for m in msgs),
                        lines)
        self.assert_secret_nowhere(s.token)

    def test_several_sessions_in_parallel(self):
        """Three Jibris finish at once (WORKERS=2): three jobs, three
        acknowledged webhooks, nine objects, three upload-log lines."""
        self.start_daemon()
        sessions = [self.jibri(room="room-%d" % i, slow=False)
                    for i in range(3)]
        self.wait_jobs(3)
        for s in sessions:
            j, _ = self.assert_session_done(s)
            self.assert_webhook(s, j)
        self.assertEqual(len(self.storage_files()), 9)
        self.assertEqual(sorted(e["id"] for e in self.uploads_log()),
                         sorted(s.id for s in sessions))


class HostileNames(PipelineCase):

    ROOMS = [
        # (meeting_url's last segment as sent, the room name it means)
        ('quote%22s-and-%27apostrophes%27', 'quote"s-and-\'apostrophes\''),
        ('line%0Abreak%0D%0Aand-tab%09x', 'line\nbreak\r\nand-tab\tx'),
        ('Raum-%C3%9Cbung-%E6%97%A5%E6%9C%AC-%F0%9F%8E%A5',
         'Raum-\u00dcbung-\u65e5\u672c-\U0001f3a5'),
        ('with%20spaces%20and%20%7B%22json%22%3A1%7D',
         'with spaces and {"json":1}'),
        ('slash%2F..%2Fescape', 'slash/../escape'),
    ]

    def test_room_names_from_meeting_url(self):
        self.start_daemon()
        sessions = []
        for seg, room in self.ROOMS:
            s = self.jibri(room=room, file_name=jibri_name("plainroom"),
                           meeting_url="https://meet.example.com/tenant/" +
                           seg, slow=False)
            sessions.append(s)
        self.wait_jobs(len(sessions))
        for s in sessions:
            j, m = self.assert_session_done(s)
            b = self.assert_webhook(s, j)
            # the JSON round-trips the exact room name
            self.assertEqual(b["room_name"], s.room)
            self.assertEqual(json.loads(json.dumps(b))["room_name"], s.room)
            self.assertEqual(m["room_name"], s.room)
            # and the object stays inside the storage directory
            for o in j["objects"].values():
                real = os.path.realpath(self.stored(o["key"]))
                self.assertTrue(real.startswith(self.storage + "/"), real)
                self.assertEqual(o["key"].count("/"), 2, o["key"])
        lines = self.uploads_log()
        self.assertEqual(sorted(e["room_name"] for e in lines),
                         sorted(s.room for s in sessions))
        # logfmt: an untrusted newline must not split a log line
        for line in self.daemon_log().splitlines():
            if line.startswith("---- ") or not line.strip():
                continue
            self.assertTrue(line.startswith("ts="), "broken log line: %r" %
                            line)

    def test_file_names(self):
        """Files with spaces, quotes and unicode in their names are
        processed; without metadata the room comes from the file name."""
        self.start_daemon()
        names = [
            ('team "alpha" room_2024-05-06-07-08-09.mp4',
             'team "alpha" room'),
            ("it's a room_2024-05-06-07-08-10.mp4", "it's a room"),
            ("r\u00e9union-\u4f1a\u8b70-\U0001f4f9_2024-05-06-07-08-11.mp4",
             "r\u00e9union-\u4f1a\u8b70-\U0001f4f9"),
            ("semi;colon $(echo x) `y`_2024-05-06-07-08-12.mp4",
             "semi;colon $(echo x) `y`"),
        ]
        sessions = [self.jibri(room=room, file_name=name, metadata=False,
                               slow=False) for name, room in names]
        self.wait_jobs(len(sessions))
        for s in sessions:
            j, _ = self.assert_session_done(s)
            b = self.assert_webhook(s, j)
            self.assertEqual(b["recording_file"], s.path)
            self.assertEqual(j["source"], s.path)
        # the watcher finds such names by itself too
        sdir = os.path.join(self.rec, "watched \"dir\" \u00fc")
        os.mkdir(sdir)
        path = os.path.join(sdir, "a b \"c\" \u00e4_2024-01-01-00-00-00.mp4")
        shutil.copyfile(self.media_file(), path)
        jid = job_id(os.path.relpath(path, self.rec))
        j = self.wait_job(jid, timeout=10)
        self.assertEqual(j["room_name"], 'a b "c" \u00e4')
        self.assertEqual(j["discovered_by"], "watcher")


class Metadata(PipelineCase):

    def test_metadata_cut_off_inside_the_token(self):
        """metadata.json is written in place: one cut off in the middle of
        the upload token is not used (the room comes from the file name)
        and no part of the token leaks anywhere."""
        self.start_daemon()
        s = self.jibri(room="cut-meta-room", finalize=False, slow=False,
                       meeting_url="https://meet.example.com/from-url")
        path = os.path.join(s.dir, "metadata.json")
        with open(path) as f:
            text = f.read()
        cut = text.index(s.token) + 24
        with open(path, "w") as f:
            f.write(text[:cut])
        visible = s.token[:24]
        self.assertEqual(self.finalize(s.dir).returncode, 0)
        j = self.wait_job(s.id)
        self.assertEqual(j["room_name"], "cut-meta-room")
        self.assertEqual(j["objects"]["video"]["key"],
                         "cut-meta-room/%s/recording.mp4" % s.session_id)
        self.assert_secret_nowhere(visible)
        self.assertEqual(len(self.receiver.acknowledged()), 1)

    def test_metadata_secrets_removed_everywhere(self):
        """Nested and differently named secrets in metadata.json stay out
        of the manifest, the job file, the webhook and the logs; the rest
        is kept."""
        self.start_daemon()
        secret = "nested-secret-" + "7" * 20
        s = self.jibri(room="meta-room", finalize=False, slow=False)
        path = os.path.join(s.dir, "metadata.json")
        with open(path) as f:
            meta = json.load(f)
        meta["participants"][0]["user"]["jwt"] = secret
        meta["app"] = {"Authorization": "Bearer " + secret,
                       "nested": [{"password": secret, "ok": 1}],
                       "title": "Weekly sync"}
        with open(path, "w") as f:
            json.dump(meta, f)
        self.assertEqual(self.finalize(s.dir).returncode, 0)
        j = self.wait_job(s.id)
        with open(self.stored(j["objects"]["manifest"]["key"])) as f:
            m = json.load(f)
        self.assertEqual(m["metadata"]["app"]["title"], "Weekly sync")
        self.assertEqual(m["metadata"]["app"]["nested"], [{"ok": 1}])
        self.assertEqual(m["metadata"]["participants"][0]["user"]["name"],
                         "Ada Lovelace")
        self.assert_secret_nowhere(secret)
        self.assert_secret_nowhere(s.token)


class BadMedia(PipelineCase):
    """Bad input is quarantined: kept in place (even with
    KEEP_LOCAL=delete), reported by a failed webhook and the upload log."""

    ENV = {"KEEP_LOCAL": "delete"}

    def quarantine_case(self, fixture, reason):
        """Quarantine the fixture; the job's error holds reason (one
        fixed phrase of probe.h's contract, not the whole message)."""
        self.start_daemon()
        sdir = os.path.join(self.rec, "sess-" + fixture.split(".")[0])
        os.mkdir(sdir)
        path = make_fixture(fixture, os.path.join(
            sdir, "broken-room_2024-02-03-04-05-06.mp4"))
        with open(os.path.join(sdir, "metadata.json"), "w") as f:
            json.dump({"meeting_url": "https://meet.example.com/broken-room",
                       "participants": []}, f)
        before = sha256_file(path)
        p = self.finalize(sdir)
        self.assertEqual(p.returncode, 0, p.stderr)
        jid = job_id(os.path.relpath(path, self.rec))
        j = self.wait_job(jid, ("quarantined",))
        self.assertTrue(j["quarantined"])
        self.assertIn(reason, j.get("error") or "")
        # kept in place, untouched; nothing stored
        self.assertEqual(sha256_file(path), before)
        self.assertTrue(os.path.exists(os.path.join(sdir, "metadata.json")))
        self.assertEqual(self.storage_files(), [])
        # a failed webhook with the reason
        acks = self.receiver.acknowledged()
        self.assertEqual(len(acks), 1, self.receiver.all())
        b = acks[0].json
        self.assertTrue(acks[0].sig_valid)
        self.assertEqual(acks[0].idempotency_key, jid)
        self.assertEqual(b["recording_status"], "failed")
        self.assertEqual(b["room_name"], "broken-room")
        self.assertEqual(b["recording_file"], path)
        self.assertTrue(b.get("error"), b)
        self.assertEqual(b["error"], j["error"])
        # upload log
        lines = self.uploads_log()
        self.assertEqual(len(lines), 1, lines)
        self.assertEqual(lines[0]["status"], "quarantined")
        self.assertEqual(lines[0]["id"], jid)
        self.assertEqual(lines[0]["error"], j["error"])
        # status
        st = self.status()
        self.assertEqual(st["counts"]["quarantined"], 1)
        self.assertEqual(st["jobs"][0]["state"], "quarantined")
        self.assertTrue(st["jobs"][0]["error"])
        # not retried blindly: still quarantined a while later
        time.sleep(1.5)                         # > RETRY_MAX_DELAY
        self.assertEqual(self.job(jid)["state"], "quarantined")
        self.assertEqual(len(self.receiver.all()), 1)
        self.assertEqual(sha256_file(path), before)
        return j

    def test_truncated_mp4(self):
        self.quarantine_case("truncated.mp4", "no moov atom: the recording "
                             "was cut off before ffmpeg finished")

    def test_fast_start_mp4_cut_in_mdat(self):
        if not os.path.exists(os.path.join(media.FIXTURES, "cutmdat.mp4")):
            self.skipTest("fixtures/cutmdat.mp4 is not there")
        self.quarantine_case("cutmdat.mp4", "sample data cut off: the mdat "
                             "box")

    def test_zero_byte_file(self):
        self.quarantine_case("empty.mp4", "empty file")

    def test_not_an_mp4(self):
        self.quarantine_case("notmp4.mp4", "not a media file: ")

    def test_mp4_without_audio(self):
        self.start_daemon()
        sid = "sess-noaudio"
        sdir = os.path.join(self.rec, sid)
        os.mkdir(sdir)
        src = os.path.join(self.scratch, "noaudio.mp4")
        make_fixture("noaudio.mp4", src)
        path = os.path.join(sdir, jibri_name("silent-room"))
        shutil.copyfile(src, path)
        p = self.finalize(sdir)
        self.assertEqual(p.returncode, 0, p.stderr)
        jid = job_id(os.path.relpath(path, self.rec))
        j = self.wait_job(jid)
        self.assertTrue(j["no_audio"])
        self.assertEqual(sorted(j["objects"]), ["manifest", "video"])
        self.assertEqual(self.storage_files(), [
            "silent-room/sess-noaudio/manifest.json",
            "silent-room/sess-noaudio/recording.mp4"])
        self.assert_same_streams(src, self.stored(j["objects"]["video"]["key"]
                                                  ), kinds=("video",))
        b = self.receiver.acknowledged()[0].json
        self.assertIs(b["no_audio"], True)
        self.assertEqual(b["recording_status"], "completed")
        self.assertNotIn("audio", b["objects"])
        with open(self.stored(j["objects"]["manifest"]["key"])) as f:
            m = json.load(f)
        self.assertIs(m["no_audio"], True)
        self.assertNotIn("audio", m["outputs"])
        # KEEP_LOCAL=delete: a completed recording's source goes
        self.wait_until(lambda: not os.path.exists(path), 10,
                        "the source to be deleted")


class Symlinks(PipelineCase):

    def test_symlink_to_outside_is_not_followed(self):
        real = self.media_file()                    # outside RECORDINGS_DIR
        outside_sha = sha256_file(real)
        sdir = os.path.join(self.rec, "sess-link")
        os.mkdir(sdir)
        link = os.path.join(sdir, jibri_name("evil"))
        os.symlink(real, link)
        # a symlinked session directory pointing outside, too
        odir = os.path.join(self.outside, "elsewhere")
        os.mkdir(odir)
        shutil.copyfile(real, os.path.join(odir, jibri_name("evil2")))
        os.symlink(odir, os.path.join(self.rec, "sess-dirlink"))

        p = self.finalize(link, "evil-room")
        self.assertEqual(p.returncode, 1)
        self.assertEqual(len(p.stderr.splitlines()), 1, p.stderr)
        self.assertTrue(p.stderr.startswith("jibri-finalize:"), p.stderr)
        p = self.finalize(os.path.join(self.rec, "sess-dirlink"))
        self.assertNotEqual(p.returncode, 0)
        self.assertTrue(p.stderr.startswith("jibri-finalize:"), p.stderr)
        # the session directory itself is inside: queued, but holds no
        # recording the daemon may take
        p = self.finalize(sdir)
        self.assertEqual(p.returncode, 0, p.stderr)

        self.start_daemon()
        # a real recording as a control: when it is done (and the
        # watcher's quiet time has long passed), look for the link
        good = self.jibri(room="good-room", slow=False)
        self.wait_job(good.id)
        time.sleep(2.5)                   # > 2x STABLE_SECONDS
        self.assertEqual(list(self.jobs()), [good.id])
        self.assertEqual([d.idempotency_key for d in self.receiver.all()],
                         [good.id])
        self.assertFalse(any("evil" in f for f in self.storage_files()),
                         self.storage_files())
        self.assertEqual(sha256_file(real), outside_sha)
        self.assertTrue(os.path.islink(link))


def iso_to_epoch(ts):
    """2025-01-15T11:15:00.123Z -> seconds since the epoch."""
    return datetime.datetime.strptime(ts, "%Y-%m-%dT%H:%M:%S.%fZ").replace(
        tzinfo=datetime.timezone.utc).timestamp()


class Webhook(PipelineCase):

    def test_receiver_down_then_up(self):
        self.receiver.stop()                    # connection refused
        self.start_daemon()
        s = self.jibri()
        # stored, then waiting: failed with an automatic next attempt
        j = self.wait_job(s.id, ("failed",), pred=lambda j: j.get(
            "webhook", {}).get("attempts", 0) >= 2)
        self.assertEqual(j["resume_step"], "notifying")
        self.assertIn("next_attempt_at", j)
        self.assertNotIn("error", j)
        self.assertIn("webhook", j["last_error"])
        self.assertEqual(len(self.storage_files()), 3)
        st = [x for x in self.status()["jobs"] if x["id"] == s.id][0]
        self.assertEqual(st["state"], "failed")
        self.assertTrue(st["next_attempt_at"])
        self.assertTrue(st["last_error"])
        self.assertGreaterEqual(st["webhook"]["attempts"], 2)
        self.assertEqual(os.path.getsize(s.path), s.size)
        time.sleep(1.5)
        self.receiver.start()                   # same port, up again
        j = self.wait_job(s.id)
        attempts = j["webhook"]["attempts"]
        self.assertGreaterEqual(attempts, 3)
        self.assert_webhook(s, j)
        self.assertEqual(len(self.receiver.all()), 1)
        self.assertEqual(self.uploads_log()[0]["webhook"]["attempts"],
                         attempts)
        self.assertEqual(self.uploads_log()[0]["status"], "completed")

    def test_400_fails_then_retry_resends(self):
        self.receiver.respond(400)
        self.start_daemon()
        s = self.jibri()
        j = self.wait_job(s.id, ("failed",))
        self.assertNotIn("next_attempt_at", j)   # not retried by itself
        self.assertEqual(j["resume_step"], "notifying")
        self.assertIn("400", j["error"])
        st = [x for x in self.status()["jobs"] if x["id"] == s.id][0]
        self.assertEqual(st["state"], "failed")
        self.assertIn("400", st["error"])
        self.assertNotIn("next_attempt_at", st)
        p = self.cli("status")
        self.assertIn("failed", p.stdout)
        time.sleep(2)                            # > RETRY_MAX_DELAY
        self.assertEqual(len(self.receiver.all()), 1)
        self.assertEqual(self.job(s.id)["state"], "failed")
        self.assertEqual(self.uploads_log(), [])
        # the operator fixes the receiver and retries
        self.receiver.respond(200)
        p = self.cli("retry", s.id[:6])
        self.assertEqual(p.returncode, 0, p.stderr)
        self.assertRegex(p.stdout, r"retry of %s.* queued" % s.id)
        j = self.wait_job(s.id)
        self.assertEqual(len(self.receiver.all()), 2)
        first, second = self.receiver.all()
        self.assertEqual(first.answer, 400)
        self.assertEqual(second.answer, 200)
        self.assertEqual(first.body, second.body)
        self.assertEqual(first.idempotency_key, second.idempotency_key)
        self.assert_webhook(s, j)
        lines = self.uploads_log()
        self.assertEqual([e["status"] for e in lines], ["completed"])

    def test_retry_failed_and_bad_ids(self):
        self.receiver.respond(404)
        self.start_daemon()
        a = self.jibri(room="room-a", slow=False)
        b = self.jibri(room="room-b", slow=False)
        self.wait_jobs(2, ("failed",))
        for bad in ("xyz", "12", "0000000000"):
            p = self.cli("retry", bad)
            self.assertEqual(p.returncode, 1, (bad, p.stdout))
            self.assertTrue(p.stderr.strip(), bad)
        self.receiver.respond(200)
        p = self.cli("retry", "--failed")
        self.assertEqual(p.returncode, 0, p.stderr)
        self.assertIn("retry of 2 failed jobs queued", p.stdout)
        self.wait_jobs(2)
        for s in (a, b):
            self.assert_webhook(s, self.job(s.id))
        p = self.cli("retry", a.id)
        self.assertEqual(p.returncode, 1)
        self.assertIn("not failed", p.stderr)

    def test_hang_longer_than_timeout_is_retried(self):
        self.settings["WEBHOOK_TIMEOUT"] = "1s"
        self.receiver.script(["hang:5"])
        self.start_daemon()
        s = self.jibri()
        j = self.wait_job(s.id, timeout=20)
        ds = self.receiver.all()
        self.assertGreaterEqual(len(ds), 2, ds)
        self.assertEqual(ds[0].answer, "hang")
        self.assertTrue(ds[-1].acknowledged)
        self.assertEqual({d.body for d in ds}, {ds[0].body})
        self.assertGreaterEqual(j["webhook"]["attempts"], 2)
        # the second attempt came after the timeout, not after the hang
        self.assertLess(ds[1].time - ds[0].time, 4.5)
        self.assert_webhook(s, j)

    def test_gives_up_after_webhook_retry_for(self):
        """WEBHOOK_RETRY_FOR bounds the retries: then failed, waiting for
        `retry` (which starts a new window and resends the same body)."""
        self.settings["WEBHOOK_RETRY_FOR"] = "2s"
        self.receiver.respond(503)
        self.start_daemon()
        s = self.jibri()
        j = self.wait_job(s.id, ("failed",), timeout=20,
                          pred=lambda j: "next_attempt_at" not in j)
        self.assertEqual(j["resume_step"], "notifying")
        self.assertIn("503", j["error"])
        n = len(self.receiver.all())
        self.assertGreaterEqual(n, 2)
        time.sleep(1.5)
        self.assertEqual(len(self.receiver.all()), n)   # no more tries
        self.receiver.respond(200)
        p = self.cli("retry", s.id)
        self.assertEqual(p.returncode, 0, p.stderr)
        j = self.wait_job(s.id)
        self.assertEqual(len({d.body for d in self.receiver.all()}), 1)
        self.assert_webhook(s, j)

    def test_5xx_408_429_are_retried(self):
        self.receiver.script([500, 408, 429, 503])
        self.start_daemon()
        s = self.jibri()
        j = self.wait_job(s.id, timeout=20)
        ds = self.receiver.all()
        self.assertEqual([d.answer for d in ds], [500, 408, 429, 503, 200])
        self.assertEqual(j["webhook"]["attempts"], 5)
        self.assertEqual(len({d.body for d in ds}), 1)
        self.assertEqual({d.idempotency_key for d in ds}, {s.id})
        self.assertTrue(all(d.sig_valid for d in ds))
        self.assert_webhook(s, j)


class Discovery(PipelineCase):

    def test_watcher_only(self):
        """No finalize call (Jibri crashed): the file is taken once it has
        been quiet for STABLE_SECONDS, not while it grows."""
        self.start_daemon()
        sid = "b4a1e5c0-watch-only"
        sdir = os.path.join(self.rec, sid)
        os.mkdir(sdir)
        with open(os.path.join(sdir, "metadata.json"), "w") as f:
            json.dump({"meeting_url": "https://meet.example.com/lost-room",
                       "participants": []}, f)
        src = self.media_file(seconds=3)
        path = os.path.join(sdir, jibri_name("lost-room"))
        # pauses shorter than STABLE_SECONDS, 2 s of writing in all
        size = os.path.getsize(src)
        media.write_slowly(src, path, chunk=size // 8 + 1, delay=0.25)
        written = time.time()
        jid = job_id(os.path.relpath(path, self.rec))
        self.assertIsNone(self.job(jid), "taken while still growing")
        j = self.wait_job(jid, timeout=10)
        self.assertEqual(j["discovered_by"], "watcher")
        self.assertGreater(iso_to_epoch(j["created_at"]), written + 0.8)
        s = types.SimpleNamespace(
            id=jid, path=path, source=src, room="lost-room", session_id=sid,
            size=size, meeting_url="https://meet.example.com/lost-room",
            participants=[])
        self.assert_session_done(s, j)
        self.assertEqual(len(self.receiver.acknowledged()), 1)

    def test_startup_rescan(self):
        """Recordings that arrived while the daemon was stopped (no
        finalize call) are found when it starts."""
        sessions = [self.jibri(room="offline-%d" % i, slow=False,
                               finalize=False) for i in range(2)]
        # one directly in RECORDINGS_DIR, one nested a level deeper
        flat = os.path.join(self.rec, jibri_name("flat-room"))
        shutil.copyfile(self.media_file(), flat)
        old = time.time() - 60
        for p in [s.path for s in sessions] + [flat]:
            os.utime(p, (old, old))
        self.start_daemon()
        jobs = self.wait_jobs(3, timeout=10)
        for s in sessions:
            j, _ = self.assert_session_done(s, jobs[s.id])
            self.assertEqual(j["discovered_by"], "watcher")
            self.assert_webhook(s, j)
        jflat = jobs[job_id(os.path.basename(flat))]
        self.assertEqual(jflat["room_name"], "flat-room")
        # a file directly in RECORDINGS_DIR: its stem is the session id
        self.assertEqual(jflat["session_id"], os.path.basename(flat)[:-4])
        self.assertEqual(jflat["objects"]["video"]["key"],
                         "flat-room/%s/recording.mp4" %
                         os.path.basename(flat)[:-4])

    def test_one_job_through_every_door(self):
        d = self.start_daemon()
        s = self.jibri()
        p = self.finalize(s.dir)                       # twice
        self.assertEqual(p.returncode, 0, p.stderr)
        p = self.finalize(s.path, "some-room")         # the legacy form
        self.assertEqual(p.returncode, 0, p.stderr)
        self.wait_job(s.id)
        time.sleep(2.5)                                # the watcher, too
        self.assertEqual(list(self.jobs()), [s.id])
        self.assertEqual(len(self.receiver.all()), 1)
        self.assertEqual(len(self.uploads_log()), 1)
        self.assertEqual(len(self.storage_files()), 3)
        self.assertEqual(self.job(s.id)["room_name"], s.room)
        # and after a restart
        self.assertEqual(d.stop(), 0)
        p = self.finalize(s.dir)
        self.assertEqual(p.returncode, 0, p.stderr)
        self.start_daemon()
        self.wait_until(lambda: self.status()["pending_requests"] == 0, 10,
                        "the request to be taken")
        time.sleep(1.5)
        self.assertEqual(list(self.jobs()), [s.id])
        self.assertEqual(len(self.receiver.all()), 1)
        self.assertEqual(len(self.uploads_log()), 1)

    def test_finalize_while_daemon_stopped(self):
        s = self.jibri()
        st = self.status()
        self.assertFalse(st["daemon_running"])
        self.assertEqual(st["pending_requests"], 1)
        self.assertEqual(st["jobs"], [])
        self.start_daemon()
        j = self.wait_job(s.id)
        self.assertEqual(j["discovered_by"], "finalize")
        self.assert_session_done(s, j)
        self.assert_webhook(s, j)
        st = self.status()
        self.assertTrue(st["daemon_running"])
        self.assertEqual(st["pending_requests"], 0)
        self.assertEqual(st["counts"]["done"], 1)


class DiskFull(PipelineCase):
    """STATE_DIR (where the remux writes) on a small tmpfs; storage
    elsewhere. A recording bigger than the free space waits, the source
    untouched, and goes through once there is room."""

    def test_disk_full_during_remux(self):
        os.mkdir(self.state)
        self.mount("-t", "tmpfs", "-o", "size=2m,mode=0750", "tmpfs",
                   target=self.state)
        src = self.big_media_file(seconds=4)          # ~4 MB
        self.assertGreater(os.path.getsize(src), 3 << 20)
        self.start_daemon()
        s = self.jibri(room="big-room", source=src, slow=False)
        j = self.wait_job(s.id, ("failed",), pred=lambda j:
                          j.get("attempts", 0) >= 2)
        self.assertEqual(j["resume_step"], "remuxing")
        self.assertIn("next_attempt_at", j)
        self.assertRegex(j["last_error"].lower(), "space")
        self.assertEqual(sha256_file(s.path), s.sha256)
        self.assertEqual(self.storage_files(), [])
        self.assertEqual(self.receiver.all(), [])
        st = [x for x in self.status()["jobs"] if x["id"] == s.id][0]
        self.assertRegex(st["last_error"].lower(), "space")
        # the operator makes room
        p = subprocess.run(
            ["mount", "-o", "remount,size=64m", self.state],
            capture_output=True, text=True)
        self.assertEqual(p.returncode, 0, p.stderr)
        j = self.wait_job(s.id, timeout=20)
        self.assert_session_done(s, j)
        self.assert_webhook(s, j)
        self.assertEqual(sha256_file(s.path), s.sha256)
        self.assertEqual(os.listdir(os.path.join(self.state, "work")), [])


    def test_storage_full(self):
        """The file:// storage fills up while storing: the job waits and
        retries, leaves no partial object behind, and completes once
        there is room."""
        self.mount("-t", "tmpfs", "-o", "size=2m", "tmpfs",
                   target=self.storage)
        src = self.big_media_file(seconds=4)
        self.start_daemon()
        s = self.jibri(room="full-room", source=src, slow=False)
        j = self.wait_job(s.id, ("failed",), pred=lambda j:
                          j.get("attempts", 0) >= 2)
        self.assertEqual(j["resume_step"], "storing")
        self.assertIn("next_attempt_at", j)
        self.assertRegex(j["last_error"].lower(), "space")
        leftovers = [f for f in self.storage_files() if ".tmp" in f]
        self.assertEqual(leftovers, [])
        self.assertEqual(self.receiver.all(), [])
        p = subprocess.run(
            ["mount", "-o", "remount,size=64m", self.storage],
            capture_output=True, text=True)
        self.assertEqual(p.returncode, 0, p.stderr)
        j = self.wait_job(s.id, timeout=20)
        self.assert_session_done(s, j)
        self.assert_webhook(s, j)
        self.assertEqual(len(self.storage_files()), 3, self.storage_files())


if __name__ == "__main__":
    unittest.main()
