"""System tests: jibri-finalize, the program Jibri runs as finalize-script.

It checks its argument, drops a request into $STATE_DIR/incoming and exits;
errors are one line on stderr and a non-zero exit, and a recording it could
not queue is still found by the daemon's watcher."""
import glob
import json
import os
import shutil
import subprocess
import unittest

from harness import (FINALIZE, PipelineCase, job_id, jibri_name,
                     sha256_file)


class Finalize(PipelineCase):

    def requests(self):
        return glob.glob(os.path.join(self.state, "incoming", "*.req"))

    def assert_refused(self, p, code=1):
        what = "jibri-finalize %s" % " ".join(p.args[1:])
        self.assertEqual(p.returncode, code, (what, p.stdout, p.stderr))
        lines = p.stderr.splitlines()
        self.assertEqual(len(lines), 1, (what, p.stderr))
        self.assertTrue(lines[0].startswith("jibri-finalize: "), lines[0])
        self.assertEqual(p.stdout, "", what)
        self.assertEqual(self.requests(), [], what)

    def test_queues_session_dir(self):
        s = self.jibri(finalize=False)
        p = self.finalize(s.dir)
        self.assertEqual(p.returncode, 0, p.stderr)
        self.assertEqual(len(p.stdout.splitlines()), 1, p.stdout)
        self.assertTrue(p.stdout.startswith("jibri-finalize: queued "))
        self.assertEqual(p.stderr, "")
        self.assertEqual(len(self.requests()), 1)
        # with a trailing slash, as Jibri may pass it
        p = self.finalize(s.dir + "/")
        self.assertEqual(p.returncode, 0, p.stderr)
        self.assertEqual(len(self.requests()), 2)
        # no temporary files left in the spool
        self.assertEqual([n for n in os.listdir(os.path.join(
            self.state, "incoming")) if not n.endswith(".req")], [])

    def test_missing_dir(self):
        self.assert_refused(self.finalize(os.path.join(self.rec, "nope")))
        self.assert_refused(self.finalize(os.path.join(self.rec, "nope.mp4"),
                                          "room"))

    def test_outside_recordings_dir(self):
        odir = os.path.join(self.outside, "session")
        os.mkdir(odir)
        f = os.path.join(odir, jibri_name("outside"))
        shutil.copyfile(self.media_file(), f)
        os.symlink(odir, os.path.join(self.rec, "linked-session"))
        inside = os.path.join(self.rec, "real-session")
        os.mkdir(inside)
        os.symlink(f, os.path.join(inside, jibri_name("linked")))
        for args in ([odir], [f, "room"],
                     [os.path.join(self.rec, "..", "outside", "session")],
                     [os.path.join(self.rec, "real-session", "..", "..",
                                   "outside", "session", os.path.basename(f)),
                      "room"],
                     [os.path.join(self.rec, "linked-session")],
                     [os.path.join(self.rec, "linked-session",
                                   os.path.basename(f)), "room"],
                     [os.path.join(inside, jibri_name("linked")), "room"],
                     ["/etc"], ["/etc/passwd", "room"]):
            self.assert_refused(self.finalize(*args))

    def test_usage(self):
        p = self.finalize()
        self.assertEqual(p.returncode, 2)
        self.assertIn("usage", p.stderr)
        p = self.finalize("a", "b", "c")
        self.assertEqual(p.returncode, 2)
        p = self.finalize("--help")
        self.assertEqual(p.returncode, 0)
        self.assertIn("SESSION_DIR", p.stdout)
        self.assertEqual(self.requests(), [])

    def test_state_dir_is_a_file(self):
        s = self.jibri(finalize=False)
        bogus = os.path.join(self.tmp, "state-file")
        with open(bogus, "w") as f:
            f.write("not a directory\n")
        p = self.finalize(s.dir, STATE_DIR=bogus)
        self.assertNotEqual(p.returncode, 0)
        self.assertEqual(len(p.stderr.splitlines()), 1, p.stderr)
        self.assertTrue(p.stderr.startswith("jibri-finalize: "), p.stderr)
        with open(bogus) as f:
            self.assertEqual(f.read(), "not a directory\n")

    def test_read_only_spool_then_watcher_finds_it(self):
        self.start_daemon()
        incoming = os.path.join(self.state, "incoming")
        self.mount("--bind", incoming, target=incoming)
        p = subprocess.run(["mount", "-o", "remount,ro,bind", incoming],
                           capture_output=True, text=True)
        self.assertEqual(p.returncode, 0, p.stderr)
        s = self.jibri(finalize=False)
        p = self.finalize(s.dir)
        self.assertNotEqual(p.returncode, 0)
        self.assertEqual(len(p.stderr.splitlines()), 1, p.stderr)
        self.assertTrue(p.stderr.startswith("jibri-finalize: "), p.stderr)
        self.assertEqual(p.stdout, "")
        j = self.wait_job(s.id, timeout=15)
        self.assertEqual(j["discovered_by"], "watcher")
        self.assert_session_done(s, j)
        self.assert_webhook(s, j)

    def test_legacy_file_room_form(self):
        self.start_daemon()
        # no metadata, a file name without the room shape: ROOM is used
        a = os.path.join(self.rec, "legacy-session")
        os.mkdir(a)
        fa = os.path.join(a, "recording.mp4")
        shutil.copyfile(self.media_file(), fa)
        # the file name has the room shape: it wins over ROOM
        b = os.path.join(self.rec, "legacy-named")
        os.mkdir(b)
        fb = os.path.join(b, jibri_name("named-room"))
        shutil.copyfile(self.media_file(), fb)
        # metadata.json's meeting_url wins over both
        c = os.path.join(self.rec, "legacy-meta")
        os.mkdir(c)
        fc = os.path.join(c, jibri_name("named-room2"))
        shutil.copyfile(self.media_file(), fc)
        with open(os.path.join(c, "metadata.json"), "w") as f:
            json.dump({"meeting_url": "https://meet.example.com/t/meta-room"},
                      f)
        for path, room in ((fa, "seed-room \"x\""), (fb, "ignored-1"),
                           (fc, "ignored-2")):
            p = self.finalize(path, room)
            self.assertEqual(p.returncode, 0, p.stderr)
            self.assertTrue(p.stdout.startswith("jibri-finalize: queued "))
        jobs = self.wait_jobs(3)
        for path, session, room in ((fa, "legacy-session", 'seed-room "x"'),
                                    (fb, "legacy-named", "named-room"),
                                    (fc, "legacy-meta", "meta-room")):
            j = jobs[job_id(os.path.relpath(path, self.rec))]
            self.assertEqual(j["room_name"], room)
            self.assertEqual(j["session_id"], session)
            self.assertEqual(j["objects"]["video"]["key"],
                             "%s/%s/recording.mp4" % (room, session))
            self.assertTrue(os.path.isfile(self.stored(
                j["objects"]["video"]["key"])))
        rooms = sorted(d.json["room_name"] for d in
                       self.receiver.acknowledged())
        self.assertEqual(rooms, sorted(['seed-room "x"', "named-room",
                                        "meta-room"]))

    def test_settings_from_env_file(self):
        """RECORDINGS_DIR/STATE_DIR from $JIBRI_PIPELINE_CONFIG; the
        process environment wins over the file."""
        s = self.jibri(finalize=False)
        with open(self.config_file, "w") as f:
            f.write("# jibri-pipeline\nRECORDINGS_DIR=%s\nSTATE_DIR=%s\n" %
                    (self.rec, self.state))
        p = self.finalize(s.dir, RECORDINGS_DIR=None, STATE_DIR=None)
        self.assertEqual(p.returncode, 0, p.stderr)
        self.assertEqual(len(self.requests()), 1)
        other = os.path.join(self.tmp, "other-state")
        p = self.finalize(s.dir, RECORDINGS_DIR=None, STATE_DIR=other)
        self.assertEqual(p.returncode, 0, p.stderr)
        self.assertEqual(len(self.requests()), 1)
        self.assertEqual(len(glob.glob(os.path.join(other, "incoming",
                                                    "*.req"))), 1)
        # and the daemon reading the same file takes it
        self.start_daemon(RECORDINGS_DIR=None, STATE_DIR=None)
        self.wait_job(s.id)

    def test_never_touches_the_network(self):
        if shutil.which("strace") is None:
            self.fail("strace is missing (scripts/deps test installs it)")
        s = self.jibri(finalize=False)
        out = os.path.join(self.tmp, "finalize.strace")
        p = subprocess.run(["strace", "-f", "-qq", "-o", out, "-e",
                            "trace=%network", FINALIZE, s.dir],
                           capture_output=True, text=True,
                           env=self.environ(ASAN_OPTIONS="detect_leaks=0"))
        self.assertEqual(p.returncode, 0, p.stderr)
        with open(out) as f:
            calls = f.read()
        self.assertEqual(calls.strip(), "", calls)
        self.assertEqual(len(self.requests()), 1)

    def test_request_waits_for_daemon(self):
        """Several finalize calls while the daemon is stopped: each
        recording is processed at start, once; the source is untouched."""
        sessions = [self.jibri(room="wait-%d" % i, slow=False)
                    for i in range(2)]
        self.finalize(sessions[0].dir)          # the same one twice
        self.assertEqual(len(self.requests()), 3)
        self.start_daemon()
        self.wait_jobs(2)
        self.assertEqual(self.requests(), [])
        for s in sessions:
            j, _ = self.assert_session_done(s)
            self.assert_webhook(s, j)
            self.assertEqual(sha256_file(s.path), s.sha256)


if __name__ == "__main__":
    unittest.main()
