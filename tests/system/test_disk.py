"""System tests: a disk that never fills. RECORDINGS_DIR on a small tmpfs:
below DISK_MIN_FREE the daemon deletes the sources of finished recordings
(stored and announced) oldest first until it is above again -- never one
that is not finished, a quarantined file or a salvaged original; with
nothing left to delete, the log and the health endpoint say so. Finished
job files whose source is gone are pruned after JOB_RETENTION."""
import json
import os
import shutil
import time

import api
import prom
from api import ApiCase
from harness import sha256_file


def free_bytes(path):
    st = os.statvfs(path)
    return st.f_bavail * st.f_frsize


class DiskMinFree(ApiCase):
    WEBHOOK = True
    ENV = {"KEEP_LOCAL": "keep", "DISK_MIN_FREE": "0%"}

    def setUp(self):
        super().setUp()
        self.mount("-t", "tmpfs", "-o", "size=24m", "tmpfs", target=self.rec)

    def restart_with(self, **env):
        for d in self.daemons:
            d.stop()
        return self.start_daemon(**env)

    def test_oldest_finished_sources_go_first(self):
        self.start_daemon()
        done = []
        for i in range(3):
            s = self.jibri(room="room-%d" % i, slow=False)
            self.wait_job(s.id, timeout=60)
            done.append(s)
            time.sleep(1.1)           # distinct finish times
        # quarantined: kept whatever happens
        q = os.path.join(self.rec, "q1")
        os.mkdir(q)
        with open(os.path.join(q, "bad_2025-01-01-00-00-00.mp4"), "wb") as f:
            f.write(os.urandom(200000))
        self.assertEqual(self.finalize(q).returncode, 0)
        self.wait_until(lambda: any(
            j["state"] == "quarantined" for j in self.jobs().values()), 60,
            "the bad file quarantined")
        # not finished: its webhook is refused for now (retried)
        self.receiver.respond(503)
        u = self.jibri(room="unfinished", slow=False)
        self.wait_job(u.id, ("failed", "notifying"), timeout=60)
        # fill the disk so that only deleting the two oldest helps
        sizes = [os.path.getsize(s.path) for s in done]
        filler = os.path.join(self.rec, "filler.bin")
        with open(filler, "wb") as f:
            f.truncate(0)
        room = free_bytes(self.rec) - 2 * 1024 * 1024
        with open(filler, "wb") as f:
            f.write(b"\1" * room)
        free = free_bytes(self.rec)
        want = free + sizes[0] + sizes[1] // 2
        self.restart_with(DISK_MIN_FREE=str(want))
        self.wait_until(lambda: not os.path.exists(done[1].path), 30,
                        "the second oldest source deleted")
        time.sleep(1)
        self.assertFalse(os.path.exists(done[0].path))
        self.assertTrue(os.path.exists(done[2].path), "the newest is kept")
        self.assertEqual(sha256_file(u.path), u.sha256)
        self.assertTrue(os.path.exists(
            os.path.join(q, "bad_2025-01-01-00-00-00.mp4")))
        self.assertGreaterEqual(free_bytes(self.rec), want)
        log = self.daemon_log()
        self.assertEqual(log.count("below DISK_MIN_FREE: deleted a "
                                   "finished recording's source"), 2, log)
        m = prom.Scrape(self.api.get("/metrics").body.decode())
        self.assertEqual(m.get("disk_deletions_total"), 2)
        self.assertEqual(m.get("disk_nothing_to_free"), 0)
        for s in done[:2]:
            self.assertIn("source_deleted_at", self.jobs()[s.id])
        # the objects are still in storage, whole
        for s in done:
            self.assertTrue(os.path.exists(self.stored(
                self.jobs()[s.id]["objects"]["video"]["key"])))
        # nothing more to delete: the log and health say so
        r = self.api.health()
        self.assertEqual(r.status, 200)
        self.restart_with(DISK_MIN_FREE="20MiB")
        self.wait_until(lambda: "no finished recording to delete" in
                        self.daemon_log() or "after deleting every "
                        "finished source" in self.daemon_log(), 30,
                        "the warning")
        self.assertTrue(os.path.exists(u.path))
        self.assertTrue(os.path.exists(
            os.path.join(q, "bad_2025-01-01-00-00-00.mp4")))

        def degraded():
            r = self.api.health()
            return r if r.status == 503 else None
        r = self.wait_until(degraded, 20, "health degraded")
        self.assertEqual(r.json["status"], "degraded")
        self.assertIn("DISK_MIN_FREE", r.json["recordings_disk"])
        m = prom.Scrape(self.api.get("/metrics").body.decode())
        self.assertEqual(m.get("disk_nothing_to_free"), 1)
        os.unlink(filler)
        self.wait_until(lambda: self.api.health().status == 200, 20,
                        "health ok again")

    def test_job_retention(self):
        """A finished job whose source is gone: its job file goes once
        JOB_RETENTION has passed (the daemon looks at start and hourly);
        one whose source is still there stays."""
        self.start_daemon()
        a = self.jibri(room="gone", slow=False)
        b = self.jibri(room="kept", slow=False)
        self.wait_job(a.id, timeout=60)
        self.wait_job(b.id, timeout=60)
        os.unlink(a.path)
        jobs = os.path.join(self.state, "jobs")
        self.assertTrue(os.path.exists(os.path.join(jobs, a.id + ".json")))
        # finished long ago, as far as the job file says
        for d in self.daemons:
            d.stop()
        for jid in (a.id, b.id):
            p = os.path.join(jobs, jid + ".json")
            with open(p) as f:
                j = json.load(f)
            j["finished_at_ms"] = int((time.time() - 40 * 86400) * 1000)
            with open(p, "w") as f:
                json.dump(j, f)
        self.start_daemon(JOB_RETENTION="30d")
        self.wait_until(lambda: not os.path.exists(
            os.path.join(jobs, a.id + ".json")), 20, "the job file pruned")
        self.assertTrue(os.path.exists(os.path.join(jobs, b.id + ".json")))
        self.assertIn("JOB_RETENTION", self.daemon_log())


class UploadLogRotation(ApiCase):
    WEBHOOK = True

    def test_rotated_by_size(self):
        """uploads.log at 64 MiB: the next finished job moves it to
        uploads.log.1 and starts a new one with its line."""
        os.makedirs(self.state, exist_ok=True)
        log = os.path.join(self.state, "uploads.log")
        with open(log, "wb") as f:
            f.truncate(64 << 20)          # sparse: costs no disk
        self.start_daemon()
        s = self.jibri(room="rotate", slow=False)
        self.wait_job(s.id, timeout=60)
        self.assertEqual(os.path.getsize(log + ".1"), 64 << 20)
        with open(log) as f:
            lines = [json.loads(l) for l in f]
        self.assertEqual([l["id"] for l in lines], [s.id])
