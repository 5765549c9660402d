"""System tests: kill -9 at many points of processing, restart, finish.

The points are chosen without hooks in the daemon: it runs under
`strace -f -e inject=SYSCALL:signal=KILL:when=N`, which kills it exactly
at its Nth call of SYSCALL (counted per thread). A calibration run finds
how many calls of each system call one recording takes, and the points are
spread over that range. After each kill the daemon is restarted (sometimes
first killed a second time during its recovery) and must finish: done,
stored once (no duplicate, partial or temporary objects), outputs valid,
every webhook delivery with the same Idempotency-Key and bytes."""
import json
import os
import random
import re
import shutil
import signal
import time
import unittest

import media
from harness import PipelineCase, SLOW, sha256_file

# (system call, how many points at most), in the order they are tried
SYSCALLS = [("rename", 7), ("fsync", 7), ("copy_file_range", 5),
            ("write", 5), ("pwrite64", 2), ("openat", 4), ("mkdir", 2),
            ("unlink", 3), ("rmdir", 1), ("connect", 1), ("sendto", 1),
            ("ftruncate", 1), ("fdatasync", 1)]
CALL = re.compile(r"^(\d+)\s+([a-z0-9_]+)\(")


def count_calls(path):
    """{syscall: {tid: n}} from an strace -f -o file."""
    out = {}
    with open(path, errors="replace") as f:
        for line in f:
            m = CALL.match(line)
            if m:
                tid, name = int(m.group(1)), m.group(2)
                out.setdefault(name, {}).setdefault(tid, 0)
                out[name][tid] += 1
    return out


def killed_call(path):
    """The call strace killed the daemon in (its line), or None."""
    with open(path, errors="replace") as f:
        lines = f.read().splitlines()
    if not any("+++ killed by SIGKILL +++" in l for l in lines):
        return None
    for l in reversed(lines):
        if "= ?" in l or "<unfinished" in l:
            return l
    return "?"


def spread(lo, hi, k):
    """k integers evenly spread over lo+1..hi."""
    if hi <= lo:
        return []
    if hi - lo <= k:
        return list(range(lo + 1, hi + 1))
    return sorted({lo + 1 + round(i * (hi - lo - 1) / (k - 1))
                   for i in range(k)})


class CrashCase(PipelineCase):
    ENV = {"WORKERS": "1"}

    def setUp(self):
        super().setUp()
        if shutil.which("strace") is None:
            self.fail("strace is missing (scripts/deps test installs it)")
        self.src = self.media_file(seconds=2)
        self.want_video = media.framemd5(self.src, "-map", "0:v")
        self.want_audio = media.framemd5(self.src, "-map", "0:a")
        self.src_probe = media.ffprobe_json(self.src)

    def record(self, room="crash-room", source=None):
        """A finished Jibri session, handed over while the daemon is
        stopped."""
        return self.jibri(room=room, source=source or self.src, slow=False)

    def job_state(self, jid):
        j = self.job(jid)
        return j["state"] if j else None

    def verify(self, s, want_video=None, want_audio=None):
        """Done, stored once, valid, one upload-log line, consistent
        webhooks. Returns the job."""
        j = self.job(s.id)
        self.assertIsNotNone(j, "no job for %s" % s.path)
        self.assertEqual(j["state"], "done", self.describe())
        prefix = "%s/%s/" % (s.room, s.session_id)
        files = set(self.storage_files())
        want = {prefix + f for f in ("recording.mp4", "audio.m4a",
                                      "manifest.json")}
        self.assertEqual(files, want, "storage: left over %s, missing %s" % (
            sorted(files - want), sorted(want - files)))
        for name, o in j["objects"].items():
            p = self.stored(o["key"])
            self.assertEqual(o["size"], os.path.getsize(p), p)
            self.assertEqual(o["sha256"], sha256_file(p), p)
        video = self.stored(prefix + "recording.mp4")
        order = media.box_order(video)
        self.assertLess(order.index("moov"), order.index("mdat"), order)
        self.assertEqual(media.framemd5(video, "-map", "0:v"),
                         want_video or self.want_video)
        self.assertEqual(media.framemd5(video, "-map", "0:a"),
                         want_audio or self.want_audio)
        self.assertEqual(media.framemd5(self.stored(prefix + "audio.m4a"),
                                        "-map", "0:a"),
                         want_audio or self.want_audio)
        self.assertEqual(len(media.ffprobe_json(self.stored(
            prefix + "audio.m4a"))["streams"]), 1)
        with open(self.stored(prefix + "manifest.json")) as f:
            m = json.load(f)
        self.assertEqual(m["recording_id"], s.id)
        self.assertEqual(m["outputs"]["video"]["sha256"],
                         j["objects"]["video"]["sha256"])
        self.assertEqual(m["outputs"]["audio"]["sha256"],
                         j["objects"]["audio"]["sha256"])
        lines = [e for e in self.uploads_log() if e.get("id") == s.id]
        self.assertEqual(len(lines), 1, self.uploads_log())
        self.assertEqual(lines[0]["status"], "completed")
        mine = [d for d in self.receiver.all()
                if d.json and d.json.get("recording_id") == s.id]
        self.assertTrue(any(d.acknowledged for d in mine), mine)
        self.assertEqual({d.idempotency_key for d in mine}, {s.id})
        self.assertEqual(len({d.body for d in mine}), 1,
                         "webhook retries carried different bodies")
        self.assertTrue(all(d.sig_valid for d in mine))
        b = mine[0].json
        self.assertEqual(b["recording_status"], "completed")
        self.assertEqual(b["objects"]["video"]["sha256"],
                         j["objects"]["video"]["sha256"])
        self.assertEqual(sha256_file(s.path), s.sha256)   # source untouched
        self.assertEqual(os.listdir(os.path.join(self.state, "work")), [],
                         "work files left behind")
        self.assertEqual([n for n in os.listdir(os.path.join(
            self.state, "incoming")) if n.endswith(".req")], [])
        return j

    def finish(self, s, timeout=30):
        """Restart without strace, wait for done, stop cleanly."""
        d = self.start_daemon()
        self.wait_job(s.id, timeout=timeout)
        self.assertEqual(d.stop(), 0, d.log()[-2000:])


class KillAtSyscalls(CrashCase):

    def calibrate(self):
        """Per system call: (calls of the main thread when idle, most
        calls by one thread while one recording is processed)."""
        traced = ",".join("?" + n for n, _ in SYSCALLS)
        self.new_world("calib-idle")
        out = os.path.join(self.tmp, "calib-idle.strace")
        d = self.start_daemon(strace={"trace": traced, "out": out})
        time.sleep(0.3 * SLOW)
        self.assertEqual(d.stop(), 0)
        idle = count_calls(out)
        self.new_world("calib-busy")
        s = self.record()
        out = os.path.join(self.tmp, "calib-busy.strace")
        d = self.start_daemon(strace={"trace": traced, "out": out},
                              wait_ready=False)
        self.wait_job(s.id)
        self.assertEqual(d.stop(), 0)
        self.verify(s)
        busy = count_calls(out)
        window = {}
        for name, _ in SYSCALLS:
            lo = max(idle.get(name, {0: 0}).values())
            hi = max(busy.get(name, {0: 0}).values())
            window[name] = (lo, hi)
        return window

    def traced_run(self, s, out, sc, when):
        """Start the daemon under strace, killing it at the Nth call of
        sc; return once it died or finished the job. (strace cannot exec
        a binary the linker is rewriting: then try again.)"""
        for attempt in range(5):
            d = self.start_daemon(wait_ready=False, strace={
                "trace": sc, "out": out,
                "inject": "%s:signal=KILL:when=%d" % (sc, when)})
            self.wait_until(lambda: not d.alive() or
                            self.job_state(s.id) == "done", 30,
                            "the daemon to die at %s #%d" % (sc, when))
            if d.alive() or d.proc.returncode != 1 or \
                    "strace: exec:" not in d.log():
                return d
            time.sleep(1)
        return d

    def test_kill_at_many_points(self):
        window = self.calibrate()
        points = []
        for name, k in SYSCALLS:
            lo, hi = window[name]
            points += [(name, n) for n in spread(lo, hi, k)]
        self.assertGreaterEqual(len(points), 20, window)
        died = {}            # (syscall, N) -> the call it died in
        not_reached = []
        problems = []
        second = 0
        for i, (name, n) in enumerate(points):
            self.new_world("p%02d-%s-%d" % (i, name, n))
            s = self.record(room="crash-%d" % i)
            kills = [(name, n)]
            if i % 3 == 2:   # now and then: killed again while recovering
                kills.append(points[(i * 7) % len(points)])
            for k, (sc, when) in enumerate(kills):
                out = os.path.join(self.tmp, "p%02d-%d.strace" % (i, k))
                d = self.traced_run(s, out, sc, when)
                if d.alive():
                    d.kill()
                    if k == 0:
                        not_reached.append((sc, when))
                    break
                d.kill()            # (returns once the daemon is gone)
                self.assertEqual(d.proc.returncode, -signal.SIGKILL,
                                 d.log()[-2000:])
                call = killed_call(out)
                self.assertIsNotNone(call, "strace saw no SIGKILL")
                if k == 0:
                    died[(sc, when)] = (call, self.job_state(s.id))
                else:
                    second += 1
            try:
                self.finish(s)
                self.verify(s)
            except AssertionError as e:
                msg = str(e)
                if "storage: " in msg:
                    msg = msg[msg.index("storage: "):]
                problems.append("kill at %s #%d (then %s): %s" % (
                    name, n, kills[1:] or "restart",
                    msg.splitlines()[0][:400]))
        in_processing = {p for p, (_, st) in died.items() if st != "done"}
        print("\n  crash points: %d chosen, %d killed the daemon (%d before "
              "the job was done), %d more kills during recovery; not "
              "reached: %s" % (len(points), len(died), len(in_processing),
                               second, not_reached or "none"))
        for (sc, n), (call, st) in sorted(died.items()):
            print("    %-16s #%-4d job %-10s %s" % (sc, n, st, call[:110]))
        if problems:
            self.fail("%d of %d crash points went wrong:\n  " % (
                len(problems), len(points)) + "\n  ".join(problems))
        self.assertGreaterEqual(len(in_processing), 20, sorted(died))


class KillAtRandomTimes(CrashCase):
    """SIGKILL after random delays while a few bigger recordings are
    processed and the receiver is slow to answer."""

    def test_random_kills_during_longer_jobs(self):
        rng = random.Random(20240515)
        big = self.big_media_file(seconds=12, bitrate="6M")
        want_v = media.framemd5(big, "-map", "0:v")
        want_a = media.framemd5(big, "-map", "0:a")
        self.receiver.respond("hang:0.3")          # slow, but answers
        self.settings["WORKERS"] = "2"
        # an undisturbed run first: how long the work takes here
        self.new_world("timing")
        sessions = [self.record(room="long-%d" % i, source=big)
                    for i in range(6)]
        t0 = time.monotonic()
        d = self.start_daemon(wait_ready=False)
        for s in sessions:
            self.wait_job(s.id, timeout=60)
        took = time.monotonic() - t0
        self.assertEqual(d.stop(), 0)
        self.new_world("kills")
        sessions = [self.record(room="long-%d" % i, source=big)
                    for i in range(6)]
        kills = []
        for attempt in range(20):
            states = {s.id: self.job_state(s.id) for s in sessions}
            if all(v == "done" for v in states.values()):
                break
            d = self.start_daemon(wait_ready=False)
            delay = rng.uniform(0.05, 0.5) * took
            time.sleep(delay)
            alive = d.alive()
            d.kill()
            after = sorted(str(self.job_state(s.id)) for s in sessions)
            if alive and after != ["done"] * len(sessions):
                kills.append((round(delay, 3), after))
        print("\n  undisturbed run: %.2f s; random kills (delay s, job "
              "states after): %s" % (took, kills))
        self.assertGreaterEqual(len(kills), 3)
        d = self.start_daemon()
        for s in sessions:
            self.wait_job(s.id, timeout=30)
        self.assertEqual(d.stop(), 0)
        for s in sessions:
            self.verify_many(s, want_v, want_a)

    def verify_many(self, s, want_v, want_a):
        j = self.job(s.id)
        self.assertEqual(j["state"], "done")
        prefix = "%s/%s/" % (s.room, s.session_id)
        mine = {f for f in self.storage_files()
                if f.startswith(s.room + "/")}
        want = {prefix + f for f in ("recording.mp4", "audio.m4a",
                                      "manifest.json")}
        self.assertEqual(mine, want, "storage: left over %s, missing %s" % (
            sorted(mine - want), sorted(want - mine)))
        video = self.stored(prefix + "recording.mp4")
        self.assertEqual(j["objects"]["video"]["sha256"], sha256_file(video))
        self.assertEqual(media.framemd5(video, "-map", "0:v"), want_v)
        self.assertEqual(media.framemd5(self.stored(prefix + "audio.m4a"),
                                        "-map", "0:a"), want_a)
        lines = [e for e in self.uploads_log() if e.get("id") == s.id]
        self.assertEqual(len(lines), 1)
        mine = [d for d in self.receiver.all()
                if d.idempotency_key == s.id or
                (d.json or {}).get("recording_id") == s.id]
        self.assertTrue(mine)
        self.assertEqual({d.idempotency_key for d in mine}, {s.id})
        self.assertEqual(len({d.body for d in mine}), 1)


if __name__ == "__main__":
    unittest.main()
