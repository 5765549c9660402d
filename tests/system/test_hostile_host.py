"""Hostile hosts: what anything in Jibri's group can do to RECORDINGS_DIR
and the spool (FIFOs, symlinks, renamed and swapped directories, a reused
file name), and a symlinked RECORDINGS_DIR. The daemon keeps working,
touches nothing outside RECORDINGS_DIR, and loses no recording."""
import json
import os
import shutil
import signal
import time

from harness import PipelineCase, SLOW, job_id, jibri_name, sha256_file


def fifo_open_by(path):
    """Pids of processes that hold path open (a FIFO someone blocks on)."""
    out = []
    for pid in os.listdir("/proc"):
        if not pid.isdigit():
            continue
        try:
            for fd in os.listdir("/proc/%s/fd" % pid):
                try:
                    if os.readlink("/proc/%s/fd/%s" % (pid, fd)) == path:
                        out.append(int(pid))
                except OSError:
                    pass
        except OSError:
            pass
    return out


class Fifos(PipelineCase):
    """A FIFO where the daemon reads a file must never block it."""

    def assert_stops_promptly(self, d):
        t0 = time.monotonic()
        rc = d.stop(timeout=10)
        self.assertEqual(rc, 0, "SIGTERM did not stop the daemon:\n" +
                         d.log()[-2000:])
        self.assertLess(time.monotonic() - t0, 10 * SLOW)

    def test_fifo_request_in_the_spool(self):
        """mkfifo incoming/0001.req, then jibri-finalize: the request
        after it is taken, the watcher and SIGTERM still work; the same
        FIFO at start-up does not stop the daemon before READY."""
        incoming = os.path.join(self.state, "incoming")
        os.makedirs(incoming)
        fifo = os.path.join(incoming, "0001.req")
        os.mkfifo(fifo)
        d = self.start_daemon()          # would block before READY
        s = self.jibri()
        self.wait_job(s.id, timeout=20)
        self.assertFalse(fifo_open_by(fifo))
        self.assertIn("malformed request moved aside", d.log())
        self.assertFalse(os.path.exists(fifo))
        # another one while it runs: still taken, never waited on
        os.mkfifo(os.path.join(incoming, "0002.req"))
        t = self.jibri(room="after-second-fifo")
        self.wait_job(t.id, timeout=20)
        self.assert_stops_promptly(d)

    def test_fifo_metadata_in_two_sessions(self):
        """A FIFO named metadata.json in two session directories (both
        workers would block): both recordings are processed without
        metadata, the next one normally, and shutdown is prompt."""
        d = self.start_daemon(WORKERS="2")
        sessions = []
        for i in range(2):
            s = self.jibri(room="fifo-meta-%d" % i, metadata=False,
                           finalize=False, slow=False)
            os.mkfifo(os.path.join(s.dir, "metadata.json"))
            self.assertEqual(self.finalize(s.dir).returncode, 0)
            sessions.append(s)
        for s in sessions:
            j = self.wait_job(s.id, timeout=20)
            self.assertIn("not a regular file", j.get("metadata_error", ""))
            self.assertEqual(j["room_name"], s.room)   # from the file name
        normal = self.jibri(room="after-fifos")
        j = self.wait_job(normal.id, timeout=20)
        self.assertEqual(j["meeting_url"], normal.meeting_url)
        self.assert_stops_promptly(d)

    def test_fifo_job_file_and_fifo_media(self):
        """A FIFO among the job files, and FIFOs with media names in
        RECORDINGS_DIR: the daemon starts, ignores them and works."""
        jobs = os.path.join(self.state, "jobs")
        os.makedirs(jobs)
        job_fifo = os.path.join(jobs, "0" * 32 + ".json")
        os.mkfifo(job_fifo)
        os.mkfifo(os.path.join(self.rec, "pipe.mp4"))
        sdir = os.path.join(self.rec, "fifo-session")
        os.mkdir(sdir)
        os.mkfifo(os.path.join(sdir, jibri_name("fifo-room")))
        d = self.start_daemon()
        self.assertIn("unreadable job file skipped", d.log())
        self.assertEqual(self.finalize(sdir).returncode, 0)
        self.finalize(os.path.join(self.rec, "pipe.mp4"), "r")  # no hang
        s = self.jibri()
        self.wait_job(s.id, timeout=20)
        time.sleep(2.5)                  # the watcher's quiet time passes
        self.assertEqual(list(self.jobs()), [s.id])
        self.assertTrue(os.path.exists(job_fifo))   # not ours to remove
        self.assert_stops_promptly(d)


class SwappedDirectories(PipelineCase):
    """A session directory renamed and replaced by a symlink to a
    directory outside RECORDINGS_DIR."""

    ENV = {"KEEP_LOCAL": "delete"}

    def elsewhere(self, name):
        """A precious file outside RECORDINGS_DIR, with a media name."""
        other = os.path.join(self.outside, name)
        shutil.copyfile(self.media_file(), other)
        return other, sha256_file(other)

    def test_swap_before_the_quiet_time_is_over(self):
        """The watcher saw rec/x/a.mp4; then `mv rec/x rec/.gone; ln -s
        /elsewhere rec/x`: nothing outside is probed, stored, announced
        or deleted, and the moved recording is intact."""
        self.settings["STABLE_SECONDS"] = "2"
        d = self.start_daemon()
        other, other_sha = self.elsewhere("a.mp4")
        x = os.path.join(self.rec, "x")
        os.mkdir(x)
        shutil.copyfile(self.media_file(), os.path.join(x, "a.mp4"))
        mine = sha256_file(os.path.join(x, "a.mp4"))
        time.sleep(0.5)                  # the watcher has seen it
        os.rename(x, os.path.join(self.rec, ".gone"))
        os.symlink(self.outside, x)
        time.sleep(5 * SLOW)             # well past STABLE_SECONDS
        self.assertTrue(os.path.exists(other), "deleted a file outside")
        self.assertEqual(sha256_file(other), other_sha)
        self.assertEqual(self.jobs(), {})
        self.assertEqual(self.storage_files(), [])
        self.assertEqual(self.receiver.all(), [])
        self.assertEqual(sha256_file(os.path.join(self.rec, ".gone",
                                                  "a.mp4")), mine)
        self.assertTrue(d.alive())

    def test_swap_after_admission_keeps_both_files(self):
        """The recording was admitted and stored; while its webhook is
        retried the session directory is swapped for a link to a
        directory holding a file of the same name. When the webhook
        goes through, the deletion refuses: neither file is removed."""
        self.receiver.respond(503)
        d = self.start_daemon()
        s = self.jibri(room="swapped-room")
        self.wait_until(lambda: self.receiver.all(), 20, "a webhook try")
        other, other_sha = self.elsewhere(s.name)
        gone = os.path.join(self.rec, ".gone")
        os.rename(s.dir, gone)
        os.symlink(self.outside, s.dir)
        self.receiver.respond(200)
        j = self.wait_job(s.id, timeout=30)
        time.sleep(0.3)
        self.assertTrue(os.path.exists(other), "deleted a file outside")
        self.assertEqual(sha256_file(other), other_sha)
        self.assertTrue(os.path.exists(os.path.join(gone, s.name)))
        self.assertNotIn("source_deleted_at", j)
        self.assertIn("source kept", d.log())
        # and the outside file was never taken as a recording
        self.assertEqual(list(self.jobs()), [s.id])

    def test_symlinked_directory_component_not_admitted(self):
        """jibri-finalize with a path through a symlinked directory that
        points back inside RECORDINGS_DIR resolves it; one that points
        out is refused; the watcher never follows either."""
        d = self.start_daemon()
        other, other_sha = self.elsewhere(jibri_name("outside-room"))
        os.symlink(self.outside, os.path.join(self.rec, "link-out"))
        self.assertNotEqual(self.finalize(os.path.join(
            self.rec, "link-out")).returncode, 0)
        time.sleep(2.5)
        self.assertEqual(self.jobs(), {})
        self.assertTrue(os.path.exists(other))
        self.assertTrue(d.alive())


class WatcherRenames(PipelineCase):

    def test_renamed_session_directory_is_followed(self):
        """A session directory renamed while its recording is being
        written: the recording is found under its new name, and files
        written there later too."""
        self.settings["STABLE_SECONDS"] = "2"
        self.start_daemon()
        name = "renamed-room_2025-01-15-10-00-00.mp4"
        a = os.path.join(self.rec, "first-name")
        os.mkdir(a)
        with open(os.path.join(a, name), "wb") as f:
            f.write(b"\0" * 1000)        # still being written
        time.sleep(0.3)
        b = os.path.join(self.rec, "second-name")
        os.rename(a, b)
        time.sleep(0.3)
        # written after the rename, as ffmpeg would go on writing
        src = self.media_file()
        later = os.path.join(b, "later_2025-01-15-10-30-00.mp4")
        shutil.copyfile(src, later)
        shutil.copyfile(src, os.path.join(b, name))
        jobs = self.wait_jobs(2, timeout=20)
        rels = sorted(j["rel"] for j in jobs.values())
        self.assertEqual(rels, sorted(["second-name/" + name,
                                       "second-name/" +
                                       os.path.basename(later)]))
        for j in jobs.values():
            self.assertEqual(j["discovered_by"], "watcher")


class SymlinkedRecordingsDir(PipelineCase):
    """RECORDINGS_DIR=/var/recordings a symlink to a bigger disk."""

    ENV = {"KEEP_LOCAL": "delete"}

    def test_top_level_recordings_and_delete(self):
        real = self.rec
        link = os.path.join(self.tmp, "recordings-link")
        os.symlink(real, link)
        self.settings["RECORDINGS_DIR"] = link
        self.start_daemon()
        paths = []
        for i in range(2):
            p = os.path.join(link, "legacy-%d.mp4" % i)
            shutil.copyfile(self.media_file(), p)
            paths.append(p)
            r = self.finalize(p, "same-room")
            self.assertEqual(r.returncode, 0, r.stderr)
        jobs = self.wait_jobs(2, timeout=30)
        keys = sorted(j["objects"]["video"]["key"] for j in jobs.values())
        self.assertEqual(keys, ["same-room/legacy-0/recording.mp4",
                                "same-room/legacy-1/recording.mp4"])
        for j in jobs.values():
            self.assertIsNone(j.get("session_dir"))
            self.assertIn("source_deleted_at", j)
        # RECORDINGS_DIR itself is still there, and still works
        self.assertTrue(os.path.isdir(real))
        self.assertTrue(os.path.islink(link))
        p = os.path.join(link, "legacy-2.mp4")
        shutil.copyfile(self.media_file(), p)
        r = self.finalize(p, "same-room")
        self.assertEqual(r.returncode, 0, r.stderr)
        self.wait_jobs(3, timeout=30)
        self.assertTrue(os.path.isdir(real))


class ReusedPath(PipelineCase):
    """The seed's finalize script uses fixed names like rec-789.mp4."""

    def test_new_file_at_a_known_path_is_a_new_recording(self):
        self.start_daemon()
        path = os.path.join(self.rec, "rec-789.mp4")
        shutil.copyfile(self.media_file(seconds=2), path)
        first_sha = sha256_file(path)
        self.assertEqual(self.finalize(path, "seed-room").returncode, 0)
        first = self.wait_job(job_id("rec-789.mp4"))
        # the next meeting: another file at the same name
        tmp = path + ".new"
        shutil.copyfile(self.media_file(seconds=3), tmp)
        os.rename(tmp, path)
        self.assertEqual(self.finalize(path, "seed-room").returncode, 0)
        jobs = self.wait_jobs(2, timeout=30)
        second = [j for j in jobs.values() if j["id"] != first["id"]][0]
        self.assertNotEqual(first["objects"]["video"]["key"],
                            second["objects"]["video"]["key"])
        self.assertEqual(self.receiver.acknowledged()[0].json["recording_id"],
                         first["id"])
        keys = {x.idempotency_key for x in self.receiver.acknowledged()}
        self.assertEqual(keys, {first["id"], second["id"]})
        # both recordings are in storage, each whole
        v1 = self.stored(first["objects"]["video"]["key"])
        v2 = self.stored(second["objects"]["video"]["key"])
        self.assertTrue(os.path.isfile(v1) and os.path.isfile(v2))
        self.assertNotEqual(sha256_file(v1), sha256_file(v2))
        self.assertEqual(first["outputs"]["video"]["sha256"],
                         sha256_file(v1))
        self.assertNotEqual(first_sha, sha256_file(path))
        # the same file handed over again: still two jobs
        self.assertEqual(self.finalize(path, "seed-room").returncode, 0)
        time.sleep(2.5)
        self.assertEqual(len(self.jobs()), 2)
        self.assertEqual(len(self.receiver.all()), 2)
