"""harness.py -- the daemon under test, its directories, and a simulated Jibri.

PipelineCase (a unittest.TestCase) gives every test its own temporary
RECORDINGS_DIR, STATE_DIR and file:// storage, a webhook receiver
(receiver.Receiver) on 127.0.0.1, and helpers to

  - start/stop/kill jibri-pipeline (optionally under strace, which kills it
    at the Nth call of a system call), its stderr appended to daemon.log;
  - wait until jobs reach states, failing with the jobs and the log tail;
  - play Jibri: a session directory <RECORDINGS_DIR>/<uuid4>/ with an
    H.264 + AAC MP4 written slowly, metadata.json (meeting_url,
    participants, an upload_credentials token), then jibri-finalize;
  - check what the pipeline produced (objects, manifest, webhook, log).

Every process a test starts is killed in its cleanup; mounts it makes are
unmounted.
"""
import datetime
import glob
import hashlib
import json
import os
import shutil
import signal
import stat
import subprocess
import tempfile
import time
import types
import unittest
import urllib.parse
import uuid

import media
from receiver import Receiver

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(os.path.dirname(HERE))
BUILD = os.path.abspath(os.environ.get("JP_BUILD") or
                        os.path.join(ROOT, "build"))
PIPELINE = os.path.join(BUILD, "jibri-pipeline")
FINALIZE = os.path.join(BUILD, "jibri-finalize")
FIXTURES = os.path.join(ROOT, "fixtures")

SECRET = "whsec-test-7c1d0f3e9a5b4c2d8e6f"

# Sanitizer builds are several times slower: scale the waits, not the tests.
SLOW = 4 if os.sep + "asan" in BUILD else 1

STATES = ("queued", "probing", "remuxing", "storing", "notifying",
          "finishing", "done", "failed", "quarantined")

# Every setting the programs read: none may leak in from the caller.
CONFIG_KEYS = """JITSI_DOMAIN JITSI_JWT_SECRET JITSI_WEBHOOK_SECRET JITSI_APP_ID
JITSI_JWT_ISSUER JITSI_JWT_AUDIENCE JWT_TTL REFLECTOR_API_URL WEBHOOK_URL
WEBHOOK_RETRY_FOR WEBHOOK_TIMEOUT RETRY_MAX_DELAY RECORDINGS_DIR STATE_DIR
STORAGE_URL S3_ENDPOINT S3_REGION S3_PATH_STYLE AWS_ACCESS_KEY_ID
AWS_SECRET_ACCESS_KEY AWS_SESSION_TOKEN S3_PART_SIZE S3_CONCURRENCY OUTPUTS
KEEP_LOCAL WORKERS STABLE_SECONDS DATABASE_URL LISTEN API_TOKENS
EVENT_SYNC_TOKEN EVENT_JOURNAL_MAX LOG_FORMAT LOG_LEVEL JIBRI_PIPELINE_CONFIG
JIBRI_RESOLUTION JIBRI_FRAMERATE JIBRI_PRESET JIBRI_CRF DISK_MIN_FREE
JOB_RETENTION
FINALIZE_FSYNC NOTIFY_SOCKET WATCHDOG_USEC WATCHDOG_PID""".split()


def clean_environ():
    env = {k: v for k, v in os.environ.items()
           if k not in CONFIG_KEYS and not
           (k.endswith("_FILE") and k[:-5] in CONFIG_KEYS)}
    return env


def sha256_file(path):
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            h.update(block)
    return h.hexdigest()


def job_id(rel):
    """The job id of the recording at rel (relative to RECORDINGS_DIR)."""
    return hashlib.sha256(rel.encode()).hexdigest()[:32]


def jibri_name(room, when=None):
    """<room>_<yyyy-MM-dd-HH-mm-ss>.mp4, the name Jibri gives its file."""
    when = when or datetime.datetime.now()
    return "%s_%s.mp4" % (room, when.strftime("%Y-%m-%d-%H-%M-%S"))


def key_component(s):
    """What the daemon makes of a room name or session id in an object key
    (per SPEC: '/' and control characters become '_')."""
    out = "".join("_" if (c == "/" or ord(c) < 0x20 or ord(c) == 0x7f)
                  else c for c in s)
    return out if out not in ("", ".", "..") else "_" + out


def make_fixture(name, dst):
    """Copy fixtures/NAME to dst; when the committed fixture is not there,
    make an equivalent one (truncated.mp4: a Jibri recording cut before
    its moov, as when ffmpeg is killed; noaudio.mp4: H.264 only;
    empty.mp4: zero bytes; notmp4.mp4: text)."""
    src = os.path.join(FIXTURES, name)
    if os.path.exists(src) or name not in ("truncated.mp4", "noaudio.mp4",
                                           "empty.mp4", "notmp4.mp4"):
        shutil.copyfile(src, dst)
        return dst
    if name == "truncated.mp4":
        media.make_recording(dst, seconds=2)
        boxes = media.boxes(dst)
        moov = [b for b in boxes if b[0] == "moov"]
        assert moov, boxes
        with open(dst, "r+b") as f:
            f.truncate(moov[0][1])
    elif name == "noaudio.mp4":
        media.make_recording(dst, seconds=2, audio=False)
    elif name == "empty.mp4":
        open(dst, "wb").close()
    elif name == "notmp4.mp4":
        with open(dst, "w") as f:
            f.write("this is not a recording, just text named .mp4\n" * 40)
    else:
        raise ValueError(name)
    return dst


def noisy_recording(path, seconds=4, size="640x360", bitrate="8M"):
    """Like media.make_recording, but the picture is noise, so the file
    has about the bit rate asked for (a few MB for a few seconds): for
    tests that need a big file. Cached under tests/.cache; returns path."""
    key = "noisy-%s-%s-%s" % (seconds, size, bitrate)
    cached = os.path.join(media.CACHE, key + ".mp4")
    if not os.path.exists(cached):
        os.makedirs(media.CACHE, exist_ok=True)
        tmp = cached + ".tmp-%d" % os.getpid()
        media._run(["ffmpeg", "-nostdin", "-loglevel", "error", "-y",
                    "-f", "lavfi", "-i",
                    "testsrc=size=%s:rate=25:duration=%s,noise=alls=40:"
                    "allf=t+u" % (size, seconds),
                    "-f", "lavfi", "-i",
                    "sine=frequency=440:sample_rate=44100:duration=%s" %
                    seconds,
                    "-map", "0:v", "-map", "1:a", "-c:v", "libx264",
                    "-preset", "ultrafast", "-pix_fmt", "yuv420p",
                    "-b:v", bitrate, "-maxrate", bitrate, "-bufsize", "2M",
                    "-c:a", "aac", "-b:a", "128k", "-ar", "44100", "-ac", "2",
                    "-f", "mp4", tmp])
        os.rename(tmp, cached)
    shutil.copyfile(cached, path)
    return path


def _running(pid):
    """Some thread of process pid has not exited yet (an unreaped zombie
    holds no files, hence no lock)."""
    try:
        tids = os.listdir("/proc/%d/task" % pid)
    except OSError:
        return False
    for tid in tids:
        try:
            with open("/proc/%d/task/%s/stat" % (pid, tid)) as f:
                if f.read().rsplit(")", 1)[1].split()[0] not in "ZX":
                    return True
        except (OSError, IndexError):
            pass
    return False


class Daemon:
    """One jibri-pipeline process (run), stderr appended to log_path.

    strace: optional dict(trace="rename", inject="rename:signal=KILL:when=5",
    out=PATH) to run the daemon under strace -f --seccomp-bpf."""

    def __init__(self, env, log_path, args=("run",), strace=None,
                 prefix=()):
        self.env = env
        self.log_path = log_path
        self.args = list(args)
        self.strace = strace
        self.prefix = list(prefix)   # e.g. ip netns exec NAME
        self.proc = None
        self.child = None
        self.log_start = 0

    def start(self):
        cmd = [PIPELINE] + self.args
        if self.strace is not None:
            # (no --seccomp-bpf: strace 6.1 then misses injections)
            s = ["strace", "-f", "-qq", "-o",
                 self.strace["out"], "-e", "trace=" + self.strace["trace"]]
            if self.strace.get("inject"):
                s += ["-e", "inject=" + self.strace["inject"]]
            cmd = s + cmd
        cmd = self.prefix + cmd
        with open(self.log_path, "ab") as log:
            log.write(("---- %s %s\n" % (datetime.datetime.now().isoformat(),
                                         " ".join(cmd))).encode())
            self.log_start = log.tell()
            self.proc = subprocess.Popen(cmd, stdin=subprocess.DEVNULL,
                                         stdout=log, stderr=log, env=self.env,
                                         start_new_session=True)
        self.child = self.target_pid()
        return self

    @property
    def pid(self):
        return self.proc.pid

    def alive(self):
        return self.proc is not None and self.proc.poll() is None

    def log(self):
        """What this process wrote so far."""
        with open(self.log_path, "rb") as f:
            f.seek(self.log_start)
            return f.read().decode("utf-8", "replace")

    def target_pid(self):
        """The daemon's pid (under strace: strace's child)."""
        if self.strace is None:
            return self.proc.pid
        if getattr(self, "child", None):
            return self.child
        # strace forks short-lived probes of its own first: the daemon is
        # the child that runs our binary
        for _ in range(500):
            try:
                with open("/proc/%d/task/%d/children" % (self.proc.pid,
                                                         self.proc.pid)) as f:
                    kids = f.read().split()
            except OSError:
                return None
            for kid in kids:
                try:
                    with open("/proc/%s/cmdline" % kid, "rb") as f:
                        argv0 = f.read().split(b"\0")[0].decode()
                except OSError:
                    continue
                if argv0 == PIPELINE:
                    return int(kid)
            time.sleep(0.01)
        return None

    def signal(self, sig):
        """Send sig to the daemon (not to strace: with -o FILE it blocks
        fatal signals)."""
        if self.alive():
            pid = self.target_pid()
            if pid is not None:
                os.kill(pid, sig)

    def wait(self, timeout):
        try:
            return self.proc.wait(timeout)
        except subprocess.TimeoutExpired:
            return None

    def stop(self, timeout=30):
        """SIGTERM; the exit status (SIGKILL after timeout: then None)."""
        if not self.alive():
            return self.proc.returncode if self.proc else None
        self.signal(signal.SIGTERM)
        rc = self.wait(timeout * SLOW)
        if rc is None:
            self.kill()
        return rc

    def kill(self):
        """SIGKILL the process group this daemon (and its strace) is in;
        return once the daemon itself is gone."""
        if self.proc is None:
            return None
        target = self.child
        if self.proc.poll() is None:
            try:
                os.killpg(self.proc.pid, signal.SIGKILL)
            except ProcessLookupError:
                pass
        rc = self.proc.wait(30)
        if target is not None and target != self.proc.pid:
            # strace's child is reparented when strace dies: wait until
            # it has exited (a zombie holds no lock)
            deadline = time.monotonic() + 10
            while _running(target) and time.monotonic() < deadline:
                try:
                    os.kill(target, signal.SIGKILL)
                except ProcessLookupError:
                    break
                time.sleep(0.01)
        return rc


class PipelineCase(unittest.TestCase):
    """Base class: fresh directories, a receiver, daemon helpers."""

    WEBHOOK = True          # start a receiver and point WEBHOOK_URL at it
    ENV = {}                # extra settings for this class

    maxDiff = 4000

    # ---- set-up / tear-down ---------------------------------------------
    def setUp(self):
        self.tmp = tempfile.mkdtemp(prefix="jp-test-")
        self.daemons = []
        self.mounts = []
        self.addCleanup(self._cleanup)
        self.rec = self._mkdir("recordings")
        self.state = os.path.join(self.tmp, "state")
        self.storage = self._mkdir("storage")
        self.outside = self._mkdir("outside")
        self.scratch = self._mkdir("scratch")
        self.log_path = os.path.join(self.tmp, "daemon.log")
        self.config_file = os.path.join(self.tmp, "env")
        open(self.config_file, "w").close()
        self.receiver = Receiver(SECRET)
        self.settings = {
            "JIBRI_PIPELINE_CONFIG": self.config_file,
            "RECORDINGS_DIR": self.rec,
            "STATE_DIR": self.state,
            "STORAGE_URL": "file://" + self.storage,
            "JITSI_WEBHOOK_SECRET": SECRET,
            "WEBHOOK_URL": self.receiver.url if self.WEBHOOK else "none",
            "STABLE_SECONDS": "1",
            "RETRY_MAX_DELAY": "1s",
            "WEBHOOK_TIMEOUT": "10s",
            "LISTEN": "none",
            "LOG_LEVEL": "debug",
        }
        self.settings.update(self.ENV)
        if self.WEBHOOK:
            self.receiver.start()

    def new_world(self, name):
        """Switch this test to a fresh RECORDINGS_DIR, STATE_DIR and
        storage under tmp/NAME (the log and the receiver stay)."""
        base = os.path.join(self.tmp, name)
        self.rec = os.path.join(base, "recordings")
        self.state = os.path.join(base, "state")
        self.storage = os.path.join(base, "storage")
        os.makedirs(self.rec)
        os.makedirs(self.storage)
        self.settings.update(RECORDINGS_DIR=self.rec, STATE_DIR=self.state,
                             STORAGE_URL="file://" + self.storage)
        return base

    def _mkdir(self, name):
        p = os.path.join(self.tmp, name)
        os.makedirs(p)
        return p

    def _cleanup(self):
        for d in self.daemons:
            try:
                d.kill()
            except Exception:
                pass
        self.receiver.stop()
        for m in reversed(self.mounts):
            if subprocess.run(["umount", m], capture_output=True).returncode:
                subprocess.run(["umount", "-l", m], capture_output=True)
        if os.environ.get("JP_KEEP_TMP"):
            print("kept", self.tmp)
            return
        shutil.rmtree(self.tmp, ignore_errors=True)

    def environ(self, **extra):
        """The process environment for the programs: settings + extra
        (a value of None removes the key)."""
        env = clean_environ()
        env.update(self.settings)
        for k, v in extra.items():
            if v is None:
                env.pop(k, None)
            else:
                env[k] = v
        return env

    def mount(self, *args, target):
        p = subprocess.run(["mount"] + list(args) + [target],
                           capture_output=True, text=True)
        if p.returncode != 0:
            self.skipTest("cannot mount (%s): %s" % (" ".join(args),
                                                     p.stderr.strip()))
        self.mounts.append(target)

    # ---- the daemon -----------------------------------------------------
    def start_daemon(self, wait_ready=True, env=None, strace=None, **extra):
        e = env if env is not None else self.environ(**extra)
        if strace is not None:
            # LeakSanitizer cannot work under ptrace
            e = dict(e)
            e["ASAN_OPTIONS"] = (e.get("ASAN_OPTIONS", "") +
                                 ":detect_leaks=0").lstrip(":")
        d = Daemon(e, self.log_path, strace=strace).start()
        self.daemons.append(d)
        if wait_ready:
            self.wait_until(lambda: "jibri-pipeline started" in d.log() or
                            not d.alive(), 20, "the daemon to start")
            if not d.alive():
                self.fail("the daemon exited at start (status %s):\n%s" %
                          (d.proc.returncode, d.log()[-3000:]))
        return d

    def daemon_log(self):
        try:
            with open(self.log_path, "rb") as f:
                return f.read().decode("utf-8", "replace")
        except FileNotFoundError:
            return ""

    def cli(self, *args, env=None, input=None, timeout=60, **extra):
        """jibri-pipeline ARGS; the CompletedProcess (text)."""
        return subprocess.run([PIPELINE] + list(args), capture_output=True,
                              text=True, input=input,
                              env=env if env is not None else
                              self.environ(**extra), timeout=timeout * SLOW)

    def finalize(self, *args, env=None, **extra):
        """jibri-finalize ARGS; the CompletedProcess (text)."""
        return subprocess.run([FINALIZE] + list(args), capture_output=True,
                              text=True, timeout=30 * SLOW,
                              env=env if env is not None else
                              self.environ(**extra))

    def status(self):
        p = self.cli("status", "--json")
        self.assertEqual(p.returncode, 0, p.stderr)
        return json.loads(p.stdout)

    # ---- jobs -----------------------------------------------------------
    def jobs(self):
        """id -> job document, read from STATE_DIR/jobs/*.json."""
        out = {}
        for path in glob.glob(os.path.join(self.state, "jobs", "*.json")):
            for _ in range(20):
                try:
                    # a FIFO planted among the job files must not block us
                    fd = os.open(path, os.O_RDONLY | os.O_NONBLOCK |
                                 os.O_NOFOLLOW)
                    if not stat.S_ISREG(os.fstat(fd).st_mode):
                        os.close(fd)
                        break
                    with os.fdopen(fd) as f:
                        doc = json.load(f)
                    out[doc["id"]] = doc
                    break
                except FileNotFoundError:
                    break
                except ValueError:
                    time.sleep(0.01)
        return out

    def job(self, jid):
        return self.jobs().get(jid)

    def describe(self):
        lines = []
        for j in self.jobs().values():
            lines.append("  %s %-11s resume=%s attempts=%s last_error=%s "
                         "error=%s source=%s" % (
                             j["id"][:12], j.get("state"),
                             j.get("resume_step"), j.get("attempts"),
                             j.get("last_error"), j.get("error"),
                             j.get("source")))
        tail = "\n".join(self.daemon_log().splitlines()[-40:])
        return ("jobs:\n%s\nwebhook deliveries: %r\ndaemon log (tail):\n%s" %
                ("\n".join(lines) or "  (none)", self.receiver.all(), tail))

    def wait_until(self, pred, timeout, what, interval=0.05):
        """Poll pred until it returns something true; fail with context."""
        deadline = time.monotonic() + timeout * SLOW
        while True:
            v = pred()
            if v:
                return v
            if time.monotonic() > deadline:
                self.fail("timed out after %.0fs waiting for %s\n%s" % (
                    timeout * SLOW, what, self.describe()))
            time.sleep(interval)

    def wait_jobs(self, n, states=("done",), timeout=30):
        """Wait until there are n jobs, all in one of states; the jobs."""
        def ok():
            js = self.jobs()
            if len(js) == n and all(j["state"] in states for j in
                                    js.values()):
                return js
            return None
        return self.wait_until(ok, timeout, "%d job(s) in %s" % (n, states))

    def wait_job(self, jid, states=("done",), timeout=30, pred=None):
        def ok():
            j = self.job(jid)
            if j and j["state"] in states and (pred is None or pred(j)):
                return j
            return None
        return self.wait_until(ok, timeout, "job %s in %s" % (jid, states))

    def uploads_log(self):
        path = os.path.join(self.state, "uploads.log")
        if not os.path.exists(path):
            return []
        with open(path) as f:
            return [json.loads(l) for l in f if l.strip()]

    # ---- a simulated Jibri ----------------------------------------------
    def media_file(self, seconds=2, audio=True, **kw):
        """A fresh Jibri-like MP4 outside RECORDINGS_DIR (cached media)."""
        path = os.path.join(self.scratch, "src-%s.mp4" % uuid.uuid4().hex)
        return media.make_recording(path, seconds=seconds, audio=audio, **kw)

    def big_media_file(self, **kw):
        path = os.path.join(self.scratch, "big-%s.mp4" % uuid.uuid4().hex)
        return noisy_recording(path, **kw)

    def jibri(self, room="reflector-standup-5f2a", seconds=2, audio=True,
              file_name=None, meeting_url=None, metadata=True, slow=True,
              finalize=True, session_id=None, participants=None,
              source=None, **media_kw):
        """Record like Jibri: <RECORDINGS_DIR>/<uuid4>/<room>_<date>.mp4
        (written slowly), metadata.json with a live upload token, then
        `jibri-finalize SESSION_DIR`. Returns a namespace describing it."""
        sid = session_id or str(uuid.uuid4())
        sdir = os.path.join(self.rec, sid)
        os.makedirs(sdir, exist_ok=True)
        name = file_name or jibri_name(room)
        src = source or self.media_file(seconds=seconds, audio=audio,
                                        **media_kw)
        dst = os.path.join(sdir, name)
        if slow:
            media.write_slowly(src, dst, chunk=16 * 1024, delay=0.01)
        else:
            shutil.copyfile(src, dst)
        token = "live-upload-token-" + uuid.uuid4().hex
        if meeting_url is None:
            meeting_url = "https://meet.example.com/" + room
        participants = participants if participants is not None else [
            {"user": {"id": "u-1", "name": "Ada Lovelace",
                      "avatar": "https://example.com/a.png"}},
            {"user": {"id": "u-2", "name": "Grace Hopper"}}]
        meta = {"meeting_url": meeting_url, "participants": participants,
                "upload_credentials": {"service_name": "s3",
                                       "token": token},
                "extra_session_token": token,
                "custom": {"api_password": token, "note": "kept"}}
        if metadata:
            # Jibri writes it in place, not atomically
            with open(os.path.join(sdir, "metadata.json"), "w") as f:
                json.dump(meta, f)
        s = types.SimpleNamespace(
            dir=sdir, path=dst, name=name, session_id=sid, room=room,
            token=token, meeting_url=meeting_url if metadata else None,
            participants=participants, source=src,
            rel=os.path.relpath(dst, self.rec),
            sha256=sha256_file(dst), size=os.path.getsize(dst))
        s.id = job_id(s.rel)
        if finalize:
            p = self.finalize(sdir)
            self.assertEqual(p.returncode, 0, p.stderr)
            self.assertRegex(p.stdout, r"^jibri-finalize: queued ")
        return s

    # ---- checks ---------------------------------------------------------
    def stored(self, key):
        return os.path.join(self.storage, key)

    def storage_files(self):
        """Every file under the storage directory, relative."""
        out = []
        for d, _, files in os.walk(self.storage):
            for f in files:
                out.append(os.path.relpath(os.path.join(d, f), self.storage))
        return sorted(out)

    def assert_same_streams(self, src, out, kinds=("video", "audio"),
                            tolerance=0.15):
        """ffprobe: out has the streams of src of the given kinds (codec,
        size, rate, channels) and the same duration."""
        a, b = media.ffprobe_json(src), media.ffprobe_json(out)
        fields = ("codec_type", "codec_name", "profile", "width", "height",
                  "pix_fmt", "sample_rate", "channels", "r_frame_rate")

        def streams(p):
            return sorted([{k: s.get(k) for k in fields if k in s}
                           for s in p["streams"]
                           if s["codec_type"] in kinds],
                          key=lambda s: s["codec_type"])
        self.assertEqual(streams(a), streams(b), "streams of %s" % out)
        self.assertEqual(len(b["streams"]), len(streams(b)),
                         "%s holds other streams" % out)
        self.assertAlmostEqual(float(a["format"]["duration"]),
                               float(b["format"]["duration"]),
                               delta=tolerance, msg="duration of %s" % out)

    def assert_session_done(self, s, job=None, deliveries=None,
                            audio=True):
        """Everything the pipeline must have produced for session s."""
        j = job or self.wait_job(s.id)
        self.assertEqual(j["state"], "done")
        self.assertEqual(j["room_name"], s.room)
        self.assertEqual(j["session_id"], s.session_id)
        prefix = "%s/%s/" % (key_component(s.room),
                             key_component(s.session_id))
        want = {"video": "recording.mp4", "manifest": "manifest.json"}
        if audio:
            want["audio"] = "audio.m4a"
        objs = j["objects"]
        self.assertEqual(sorted(objs), sorted(want))
        for name, file in want.items():
            o = objs[name]
            self.assertEqual(o["key"], prefix + file)
            path = self.stored(o["key"])
            self.assertTrue(os.path.isfile(path), path)
            self.assertEqual(o["size"], os.path.getsize(path))
            self.assertEqual(o["sha256"], sha256_file(path))
        video = self.stored(objs["video"]["key"])
        order = media.box_order(video)
        self.assertIn("moov", order)
        self.assertIn("mdat", order)
        self.assertLess(order.index("moov"), order.index("mdat"),
                        "recording.mp4 is not fast-start: %s" % order)
        self.assert_same_streams(s.path if os.path.exists(s.path) else
                                 s.source, video)
        if audio:
            self.assert_same_streams(s.source, self.stored(
                objs["audio"]["key"]), kinds=("audio",))
        with open(self.stored(objs["manifest"]["key"])) as f:
            m = json.load(f)
        self.assertEqual(m["recording_id"], s.id)
        self.assertEqual(m["session_id"], s.session_id)
        self.assertEqual(m["room_name"], s.room)
        self.assertEqual(m["source"]["path"], s.path)
        self.assertEqual(m["source"]["size"], s.size)
        self.assertEqual(m["no_audio"], not audio)
        for name in want:
            if name == "manifest":
                continue
            self.assertEqual(m["outputs"][name]["sha256"],
                             objs[name]["sha256"])
            self.assertEqual(m["outputs"][name]["size"], objs[name]["size"])
        if s.meeting_url is not None:
            self.assertEqual(m["meeting_url"], s.meeting_url)
            self.assertEqual(m["metadata"]["participants"], s.participants)
            self.assertNotIn("upload_credentials", m["metadata"])
        return j, m

    def assert_webhook(self, s, j, status="completed"):
        """Exactly one acknowledged, correctly signed delivery for s; its
        body agrees with the job and the stored objects. The body."""
        acks = [d for d in self.receiver.acknowledged()
                if d.idempotency_key == s.id]
        self.assertEqual(len(acks), 1, self.receiver.all())
        d = acks[0]
        self.assertTrue(d.sig_valid, "bad X-Jitsi-Signature")
        self.assertEqual(d.content_type, "application/json")
        self.assertEqual(d.path, "/v1/jibri/recording-complete")
        b = d.json
        self.assertIsNotNone(b, d.body[:200])
        self.assertEqual(list(b)[:4], ["room_name", "recording_file",
                                       "recording_status", "timestamp"])
        self.assertEqual(b["room_name"], s.room)
        self.assertEqual(b["recording_file"], s.path)
        self.assertEqual(b["recording_status"], status)
        self.assertEqual(b["recording_id"], s.id)
        self.assertEqual(b["session_id"], s.session_id)
        if status == "completed":
            self.assertEqual(b["size_bytes"], s.size)
            self.assertAlmostEqual(b["duration_seconds"], float(
                media.ffprobe_json(s.source)["format"]["duration"]),
                delta=0.15)
            for name, o in j["objects"].items():
                self.assertEqual(b["objects"][name]["sha256"], o["sha256"])
                self.assertEqual(b["objects"][name]["size"], o["size"])
                self.assertEqual(b["objects"][name]["key"], o["key"])
                # percent-encoded (RFC 3986), the key exact
                self.assertEqual(b["objects"][name]["url"], "file://" +
                                 urllib.parse.quote(self.stored(o["key"])))
            self.assertEqual(sorted(b["objects"]), sorted(j["objects"]))
        for other in self.receiver.all():
            if other.idempotency_key == s.id:
                self.assertEqual(other.body, d.body,
                                 "a retry carried different bytes")
        return b

    def assert_secret_nowhere(self, secret):
        """secret appears in no stored object, no file under STATE_DIR,
        not in the daemon log, no webhook body."""
        needle = secret.encode()
        places = [self.storage, self.state]
        for top in places:
            for d, _, files in os.walk(top):
                for f in files:
                    p = os.path.join(d, f)
                    if os.path.islink(p) or not os.path.isfile(p):
                        continue
                    with open(p, "rb") as fh:
                        self.assertNotIn(needle, fh.read(),
                                         "secret leaked into %s" % p)
        self.assertNotIn(secret, self.daemon_log(), "secret in daemon log")
        for dl in self.receiver.all():
            self.assertNotIn(needle, dl.body, "secret in a webhook body")
