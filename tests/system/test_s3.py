"""test_s3.py -- s3:// storage against a real Ceph RGW: sizes, keys, refusals, integrity, resume, outages.

Every test drives `jibri-pipeline put FILE KEY [--resume STATE]` (and
`check`) against the throwaway cluster of tests/lib/rgw.py, shared by the
whole module, and checks the result through an independent client (the
harness' own SigV4 signer) and RGW's per-request ops log. Where a test
needs the network to misbehave (a flipped byte, a slow link to stop the
gateway in the middle of an upload), rgw.Proxy sits between the two.
"""
import datetime
import hashlib
import json
import os
import re
import signal
import subprocess
import tempfile
import time
import unittest
import urllib.parse

import rgw
from harness import sha256_file

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(os.path.dirname(HERE))
BUILD = os.path.abspath(os.environ.get("JP_BUILD") or
                        os.path.join(ROOT, "build"))
PIPELINE = os.path.join(BUILD, "jibri-pipeline")
SLOW = 4 if os.sep + "asan" in BUILD else 1
PART = 5 << 20          # the smallest part S3 allows: many parts per MB
EX_TEMPFAIL = 75

C = None


def setUpModule():
    global C
    C = rgw.shared()


def tearDownModule():
    rgw.stop_shared()


def write_random(path, size):
    with open(path, "wb") as f:
        left = size
        while left > 0:
            n = min(left, 8 << 20)
            f.write(os.urandom(n))
            left -= n
    return path


def expected_etag(path, part_size, multipart):
    """The ETag S3 gives the object, computed here from the file: MD5 of
    the bytes, or for multipart MD5 of the parts' binary MD5s + "-N"."""
    with open(path, "rb") as f:
        if not multipart:
            return hashlib.md5(f.read()).hexdigest()
        digests = []
        for chunk in iter(lambda: f.read(part_size), b""):
            digests.append(hashlib.md5(chunk).digest())
    return "%s-%d" % (hashlib.md5(b"".join(digests)).hexdigest(),
                      len(digests))


def part_sha256s(path, part_size):
    out = {}
    with open(path, "rb") as f:
        for i, chunk in enumerate(iter(lambda: f.read(part_size), b"")):
            out[i + 1] = hashlib.sha256(chunk).hexdigest()
    return out


PART_RE = re.compile(r"[?&]partNumber=(\d+)&uploadId=([^?& ]+)")


def upload_parts(entries, upload_id):
    """[(part number, http status, error code, content sha256)] of the
    UploadPart requests of upload_id in the ops log."""
    out = []
    for e in entries:
        m = PART_RE.search(e.get("uri", ""))
        if m and m.group(2) == upload_id and e["uri"].startswith("PUT "):
            sha = None
            for h in e.get("http_x_headers", []):
                sha = h.get("HTTP_X_AMZ_CONTENT_SHA256", sha)
            out.append((int(m.group(1)), int(e["http_status"]),
                        e.get("error_code", ""), sha))
    return out


class S3Case(unittest.TestCase):
    """A temp dir, a clean environment pointing at the shared cluster,
    and helpers to run put and check what it stored."""

    def setUp(self):
        self.tmp = tempfile.TemporaryDirectory(prefix="jp-s3-")
        self.dir = self.tmp.name
        self.addCleanup(self.tmp.cleanup)
        self.conf = os.path.join(self.dir, "env")
        open(self.conf, "w").close()
        for d in ("recordings", "state"):
            os.makedirs(os.path.join(self.dir, d))
        self.procs = []
        self.addCleanup(self._kill_all)

    def _kill_all(self):
        for p in self.procs:
            if p.poll() is None:
                p.kill()
                p.wait()

    def env(self, **extra):
        e = {k: os.environ[k] for k in ("PATH", "HOME", "LANG")
             if k in os.environ}
        e.update({
            "RECORDINGS_DIR": os.path.join(self.dir, "recordings"),
            "STATE_DIR": os.path.join(self.dir, "state"),
            "WEBHOOK_URL": "none",
            "S3_PART_SIZE": str(PART),
            "S3_CONCURRENCY": "4",
            "LOG_LEVEL": "debug",
        })
        e.update(C.env())
        e.update({k: str(v) for k, v in extra.items()})
        return e

    def file(self, name, size):
        return write_random(os.path.join(self.dir, name), size)

    def proxy(self, **kw):
        """An rgw.Proxy in front of the gateway for this test."""
        p = rgw.Proxy(C.port, **kw)
        self.addCleanup(p.close)
        return p

    def put_via(self, proxy, path, key, **extra):
        return self.put(path, key, self.env(S3_ENDPOINT=proxy.endpoint,
                                            **extra))

    def state_path(self):
        return os.path.join(self.dir, "resume.json")

    def start_put(self, path, key, env, resume=True):
        args = [PIPELINE, "-c", self.conf, "put", path, key]
        if resume:
            args += ["--resume", self.state_path()]
        p = subprocess.Popen(args, env=env, stdout=subprocess.PIPE,
                             stderr=subprocess.PIPE, text=True)
        self.procs.append(p)
        return p

    def put(self, path, key, env=None, resume=True, timeout=300):
        p = self.start_put(path, key, env or self.env(), resume)
        out, err = p.communicate(timeout=timeout * SLOW)
        return p.returncode, out, err

    def put_ok(self, path, key, env=None, **kw):
        rc, out, err = self.put(path, key, env, **kw)
        self.assertEqual(rc, 0, "put %s failed:\n%s" % (key, err[-3000:]))
        return json.loads(out)

    def full_key(self, key, prefix=""):
        return (prefix + "/" if prefix else "") + key

    def assert_object(self, key, path, multipart, part_size=PART,
                      content_type=None, result=None):
        sha, size = C.object_sha256(C.bucket, key)
        self.assertEqual(size, os.path.getsize(path), key)
        self.assertEqual(sha, sha256_file(path), key)
        head = C.head_object(C.bucket, key)
        etag = expected_etag(path, part_size, multipart)
        self.assertEqual(head["etag"].strip('"'), etag, key)
        if content_type:
            self.assertEqual(head["content-type"], content_type, key)
        if result is not None:
            self.assertEqual(result["etag"], etag)
            self.assertEqual(result["size"], size)
            self.assertEqual(result["url"], "s3://%s/%s" % (
                C.bucket, urllib.parse.quote(key)))

    def assert_no_open_uploads(self):
        self.assertEqual(C.list_multipart_uploads(C.bucket), [])

    def wait_ops(self, pred, what, timeout=15):
        """RGW writes its ops log in batches: poll until pred(entries)."""
        deadline = time.monotonic() + timeout
        while True:
            entries = C.ops_log()
            if pred(entries):
                return entries
            if time.monotonic() > deadline:
                self.fail("ops log never showed %s" % what)
            time.sleep(0.2)

    def completed(self, upload_id):
        return lambda entries: any(
            e["uri"].startswith("POST ") and
            ("uploadId=" + upload_id) in e["uri"] and
            e["http_status"] == "200" for e in entries)

    def wait_parts_in_state(self, proc, n, timeout=60):
        """Wait until the resume file lists at least n finished parts;
        return its content."""
        deadline = time.monotonic() + timeout * SLOW
        while time.monotonic() < deadline:
            try:
                with open(self.state_path()) as f:
                    st = json.load(f)
                if len(st.get("parts", [])) >= n:
                    return st
            except (OSError, ValueError):
                pass
            if proc.poll() is not None:
                self.fail("put ended (%d) before %d parts were recorded: %s"
                          % (proc.returncode, n, proc.stderr.read()[-2000:]))
            time.sleep(0.02)
        self.fail("no %d parts in the resume file after %ds" % (n, timeout))


class Sizes(S3Case):
    def test_sizes_around_the_part_size(self):
        # single PUT up to S3_PART_SIZE, multipart above it
        for size in (0, 1, PART - 1, PART, PART + 1, 2 * PART):
            key = "sizes/%d/recording.mp4" % size
            path = self.file("f%d.mp4" % size, size)
            res = self.put_ok(path, key)
            self.assert_object(key, path, multipart=size > PART,
                               content_type="video/mp4", result=res)
            self.assertFalse(os.path.exists(self.state_path()),
                             "the resume file outlived a finished upload")
        self.assert_no_open_uploads()

    def test_200mb_many_parts_in_parallel(self):
        size = 200 * (1 << 20) + 12345
        path = self.file("big.mp4", size)
        key = "big/session/recording.mp4"
        t0 = time.monotonic()
        res = self.put_ok(path, key, self.env(S3_CONCURRENCY=4))
        took = time.monotonic() - t0
        self.assert_object(key, path, multipart=True, result=res,
                           content_type="video/mp4")
        nparts = (size + PART - 1) // PART
        self.assertTrue(res["etag"].endswith("-%d" % nparts))
        self.assert_no_open_uploads()
        # Every part went once, and carried the SHA-256 of exactly its
        # bytes (signed, so the server checked the body against it).
        upload_id = self._last_upload_id(key)
        entries = self.wait_ops(self.completed(upload_id), "the Complete")
        parts = upload_parts(entries, upload_id)
        want = part_sha256s(path, PART)
        self.assertEqual(sorted(p[0] for p in parts), list(range(1,
                         nparts + 1)))
        for number, status, _, sha in parts:
            self.assertEqual(status, 200)
            self.assertEqual(sha, want[number], "part %d" % number)
        # more than one part in flight at a time (RGW logs when a request
        # started and how long it took)
        spans = sorted(
            (datetime.datetime.fromisoformat(e["time"].rstrip("Z")),
             e["total_time"]) for e in entries
            if PART_RE.search(e["uri"]) and
            PART_RE.search(e["uri"]).group(2) == upload_id)
        overlaps = sum(1 for i in range(1, len(spans)) if spans[i][0] <
                       spans[i - 1][0] + datetime.timedelta(
                           milliseconds=spans[i - 1][1]))
        self.assertGreater(overlaps, nparts // 4, "parts were not sent in "
                           "parallel")
        print("\n  200 MB: %.2fs (%d parts of 5 MiB, 4 in flight)" %
              (took, nparts), end=" ")

    def _last_upload_id(self, key):
        quoted = rgw.quote_key(key)
        for e in reversed(C.ops_log()):
            m = PART_RE.search(e.get("uri", ""))
            if m and quoted in e["uri"]:
                return m.group(2)
        self.fail("no UploadPart for %s in the ops log" % key)

    def test_content_types(self):
        for name, ctype in (("manifest.json", "application/json"),
                            ("audio.m4a", "audio/mp4"),
                            ("blob.bin", "application/octet-stream")):
            path = self.file(name, 100)
            key = "types/" + name
            self.put_ok(path, key)
            self.assertEqual(C.head_object(C.bucket, key)["content-type"],
                             ctype)
        # multipart objects get it at CreateMultipartUpload
        path = self.file("audio2.m4a", PART + 10)
        self.put_ok(path, "types/audio2.m4a")
        self.assertEqual(C.head_object(C.bucket, "types/audio2.m4a")
                         ["content-type"], "audio/mp4")


ROOMS = [
    "room with spaces",
    "Zoë's café ☕ 日本語",
    "a+b=c & d?e#f",
    "100% sure",
    'quote"double\'single',
    "semi;colon,comma:colon@at!bang*star(paren)[br]{br}~tilde",
    "%2F not a slash %20",
]


class Keys(S3Case):
    def test_room_names_in_keys(self):
        prefix = "rec/odd prefix+"
        env = self.env(STORAGE_URL="s3://%s/%s" % (C.bucket, prefix))
        small = self.file("s.json", 1000)
        for room in ROOMS:
            key = "%s/session-1/manifest.json" % room
            res = self.put_ok(small, key, env)
            full = self.full_key(key, prefix)
            self.assert_object(full, small, multipart=False, result=res)
        # multipart requests carry the key too (and the upload id)
        big = self.file("b.mp4", PART + 1000)
        key = "%s/session-2/recording.mp4" % ROOMS[1]
        res = self.put_ok(big, key, env)
        self.assert_object(self.full_key(key, prefix), big, multipart=True,
                           result=res)
        listed = set(C.list_keys(C.bucket, prefix + "/"))
        for room in ROOMS:
            self.assertIn(self.full_key("%s/session-1/manifest.json" % room,
                                        prefix), listed)
        self.assert_no_open_uploads()

    def test_virtual_hosted_addressing(self):
        # RGW runs with rgw_dns_name = localhost; curl resolves any
        # *.localhost to the loopback address itself.
        env = self.env(S3_ENDPOINT="http://localhost:%d" % C.port,
                       S3_PATH_STYLE="false")
        small = self.file("v.json", 500)
        big = self.file("v.mp4", PART + 7)
        res = self.put_ok(small, "vhost/a b/manifest.json", env)
        self.assert_object("vhost/a b/manifest.json", small, False,
                           result=res)
        res = self.put_ok(big, "vhost/a b/recording.mp4", env)
        self.assert_object("vhost/a b/recording.mp4", big, True, result=res)
        entries = self.wait_ops(lambda es: any(
            "/vhost/a%20b/recording.mp4" in e["uri"] and
            e["uri"].startswith("HEAD ") and e["user_agent"].startswith(
                "jibri-pipeline") for e in es), "the HEAD")
        mine = [e for e in entries if "/vhost/a%20b/" in e["uri"] and
                e["user_agent"].startswith("jibri-pipeline")]
        self.assertTrue(mine)
        for e in mine:   # the bucket was in the host name, not the path
            self.assertNotIn("/%s/" % C.bucket, e["uri"])
        # an IP address cannot carry the bucket: a clear refusal
        rc, _, err = self.put(small, "vhost/x.json", self.env(
            S3_PATH_STYLE="false"))
        self.assertEqual(rc, 1)
        self.assertIn("S3_PATH_STYLE=true", err)


class Refusals(S3Case):
    def test_wrong_secret(self):
        for size in (10, PART + 1):
            path = self.file("w%d.mp4" % size, size)
            t0 = time.monotonic()
            rc, _, err = self.put(path, "refused/w.mp4", self.env(
                AWS_SECRET_ACCESS_KEY="not-the-secret"))
            self.assertEqual(rc, 1, err)
            self.assertIn("SignatureDoesNotMatch", err)
            self.assertIn("s3://%s/refused/w.mp4" % C.bucket, err)
            self.assertIn("AWS_SECRET_ACCESS_KEY", err)
            self.assertLess(time.monotonic() - t0, 10 * SLOW,
                            "a refusal must not be retried")
        self.assertNotIn("refused/w.mp4", C.list_keys(C.bucket, "refused/"))
        self.assert_no_open_uploads()

    def test_missing_bucket(self):
        path = self.file("m.mp4", 10)
        rc, _, err = self.put(path, "x/m.mp4", self.env(
            STORAGE_URL="s3://no-such-bucket-here"))
        self.assertEqual(rc, 1, err)
        self.assertIn("NoSuchBucket", err)
        self.assertIn("s3://no-such-bucket-here/x/m.mp4", err)

    def test_corrupted_part_is_refused_and_sent_again(self):
        path = self.file("c.mp4", 3 * PART - 5)
        key = "corrupt/once/recording.mp4"
        proxy = self.proxy(corrupt=lambda m, t, h: (
            m == "PUT" and "partNumber=2&" in t and not proxy.corrupted))
        res = self.put_ok(path, key, self.env(S3_ENDPOINT=proxy.endpoint))
        self.assertEqual(len(proxy.corrupted), 1)
        self.assert_object(key, path, multipart=True, result=res)
        upload_id = PART_RE.search(proxy.corrupted[0]).group(2)
        entries = self.wait_ops(self.completed(upload_id), "the Complete")
        part2 = [p for p in upload_parts(entries, upload_id) if p[0] == 2]
        self.assertEqual([(s, c) for _, s, c, _ in part2],
                         [(400, "XAmzContentSHA256Mismatch"), (200, "")])
        self.assert_no_open_uploads()

    def test_corrupted_single_put_is_sent_again(self):
        path = self.file("c1.json", 4000)
        key = "corrupt/single/manifest.json"
        proxy = self.proxy(corrupt_offset=10, corrupt=lambda m, t, h: (
            m == "PUT" and not proxy.corrupted))
        res = self.put_ok(path, key, self.env(S3_ENDPOINT=proxy.endpoint))
        self.assertEqual(len(proxy.corrupted), 1)
        self.assert_object(key, path, multipart=False, result=res)

    def test_corrupted_every_time_fails_and_aborts(self):
        path = self.file("cc.mp4", 2 * PART + 1)
        key = "corrupt/always/recording.mp4"
        proxy = self.proxy(corrupt=lambda m, t, h: (
            m == "PUT" and "partNumber=2&" in t))
        rc, _, err = self.put_via(proxy, path, key)
        self.assertEqual(rc, 1, err)
        self.assertIn("XAmzContentSHA256Mismatch", err)
        self.assertIn("UploadPart 2", err)
        self.assertEqual(len(proxy.corrupted), 2)   # sent, re-read, sent
        self.assertTrue(any(m == "DELETE" and "uploadId=" in t
                            for m, t, _ in proxy.requests))
        self.assert_no_open_uploads()
        self.assertFalse(os.path.exists(self.state_path()))

class ServerErrors(S3Case):
    """What an overloaded or failing server answers, injected by the proxy
    in front of RGW."""

    def test_slowdown_is_retried(self):
        # an overloaded server (503 SlowDown) for a while, then fine
        path = self.file("sd.mp4", 2 * PART + 9)
        key = "slowdown/recording.mp4"

        def fail(method, target, headers):
            if method == "PUT" and "partNumber=" in target and \
                    len(proxy.failed) < 3:
                return 503, "SlowDown"
            return None
        proxy = self.proxy(fail=fail)
        rc, out, err = self.put_via(proxy, path, key)
        self.assertEqual(rc, 0, err)
        self.assertEqual(len(proxy.failed), 3)
        self.assertIn("SlowDown", err)
        self.assertIn("retrying", err)
        self.assert_object(key, path, multipart=True, result=json.loads(out))
        self.assert_no_open_uploads()

    def test_internal_error_in_complete_is_retried(self):
        # CompleteMultipartUpload answered 200 with an <Error> body is
        # not a success; InternalError is worth another try
        path = self.file("ie.mp4", PART + 9)
        key = "complete-error/recording.mp4"

        def fail(method, target, headers):
            if method == "POST" and "uploadId=" in target and \
                    not proxy.failed:
                return 200, "InternalError"
            return None
        proxy = self.proxy(fail=fail)
        rc, out, err = self.put_via(proxy, path, key)
        self.assertEqual(rc, 0, err)
        self.assertEqual(len(proxy.failed), 1)
        self.assertIn("InternalError", err)
        self.assert_object(key, path, multipart=True, result=json.loads(out))
        self.assert_no_open_uploads()

    def test_complete_refused_in_a_200_fails(self):
        path = self.file("ip.mp4", PART + 9)
        key = "complete-refused/recording.mp4"
        proxy = self.proxy(fail=lambda m, t, h: (
            (200, "InvalidPart") if m == "POST" and "uploadId=" in t
            else None))
        rc, _, err = self.put_via(proxy, path, key)
        self.assertEqual(rc, 1, err)
        self.assertIn("CompleteMultipartUpload: HTTP 200 InvalidPart", err)
        self.assert_no_open_uploads()      # aborted

class Check(S3Case):
    def test_check_reachability(self):
        def check(**extra):
            p = subprocess.run([PIPELINE, "-c", self.conf, "check"],
                               env=self.env(**extra), capture_output=True,
                               text=True, timeout=60 * SLOW)
            return p.returncode, p.stdout + p.stderr

        rc, out = check()
        self.assertEqual(rc, 0, out)
        self.assertIn("configuration OK", out)
        rc, out = check(AWS_SECRET_ACCESS_KEY="wrong")
        self.assertEqual(rc, 1, out)
        self.assertIn("SignatureDoesNotMatch", out)
        rc, out = check(AWS_ACCESS_KEY_ID="NOSUCHKEY0000000")
        self.assertEqual(rc, 1, out)
        self.assertIn("InvalidAccessKeyId", out)
        rc, out = check(STORAGE_URL="s3://no-such-bucket-here/p")
        self.assertEqual(rc, 1, out)
        self.assertIn("NoSuchBucket", out)
        rc, out = check(S3_ENDPOINT="http://127.0.0.1:%d" % rgw.free_port())
        self.assertEqual(rc, 1, out)
        self.assertIn("not reachable", out)


class Credentials(S3Case):
    def test_session_token(self):
        C.set_sts(True)
        self.addCleanup(C.set_sts, False)
        ak, sk, token = C.session_credentials()
        proxy = self.proxy()
        env = self.env(AWS_ACCESS_KEY_ID=ak, AWS_SECRET_ACCESS_KEY=sk,
                       AWS_SESSION_TOKEN=token, S3_ENDPOINT=proxy.endpoint)
        small = self.file("t.json", 300)
        big = self.file("t.mp4", PART + 3)
        res = self.put_ok(small, "sts/manifest.json", env)
        self.assert_object("sts/manifest.json", small, False, result=res)
        res = self.put_ok(big, "sts/recording.mp4", env)
        self.assert_object("sts/recording.mp4", big, True, result=res)
        # every request carried the token, inside the signature
        self.assertTrue(proxy.requests)
        for method, target, h in proxy.requests:
            self.assertEqual(h.get("x-amz-security-token"), token, target)
            signed = re.search(r"SignedHeaders=([^,]+)",
                               h["authorization"]).group(1).split(";")
            self.assertIn("x-amz-security-token", signed)
            self.assertIn("x-amz-content-sha256", signed)
        # the server checks it: without it, or another one, refused
        env.pop("AWS_SESSION_TOKEN")
        rc, _, err = self.put(small, "sts/no-token.json", env)
        self.assertEqual(rc, 1, err)
        self.assertIn("AccessDenied", err)
        env["AWS_SESSION_TOKEN"] = token[:-4] + "AAAA"
        rc, _, err = self.put(small, "sts/bad-token.json", env)
        self.assertEqual(rc, 1, err)


class Resume(S3Case):
    def slow_put(self, path, key, rate=8 << 20, concurrency=2):
        proxy = self.proxy(rate=rate)
        env = self.env(S3_ENDPOINT=proxy.endpoint,
                       S3_CONCURRENCY=concurrency)
        return self.start_put(path, key, env)

    def test_kill_9_mid_multipart_then_resume(self):
        path = self.file("k.mp4", 12 * PART + 777)
        key = "resume/kill/recording.mp4"
        p = self.slow_put(path, key)
        before = self.wait_parts_in_state(p, 3)
        p.send_signal(signal.SIGKILL)
        p.wait()
        with open(self.state_path()) as f:
            before = json.load(f)    # what the killed process persisted
        done = {n for n, _ in before["parts"]}
        self.assertGreaterEqual(len(done), 3)
        self.assertLess(len(done), 13)
        res = self.put_ok(path, key)          # direct, full speed
        self.assert_object(key, path, multipart=True, result=res)
        uid = before["upload_id"]
        entries = self.wait_ops(self.completed(uid), "the Complete of " + uid)
        ok = [n for n, status, _, _ in upload_parts(entries, uid)
              if status == 200]
        for n in done:
            self.assertEqual(ok.count(n), 1, "part %d sent again" % n)
        self.assertEqual(set(ok), set(range(1, 14)))
        self.assert_no_open_uploads()
        self.assertFalse(os.path.exists(self.state_path()))

    def test_upload_gone_starts_over(self):
        path = self.file("g.mp4", 6 * PART)
        key = "resume/gone/recording.mp4"
        p = self.slow_put(path, key)
        self.wait_parts_in_state(p, 2)
        p.send_signal(signal.SIGKILL)
        p.wait()
        with open(self.state_path()) as f:
            old = json.load(f)["upload_id"]
        C.abort_all_uploads(C.bucket)         # e.g. a lifecycle rule
        rc, out, err = self.put(path, key)
        self.assertEqual(rc, 0, err)
        self.assertIn("starting over", err)
        self.assert_object(key, path, multipart=True,
                           result=json.loads(out))
        started = re.findall(r'upload started.* upload_id=(\S+)', err)
        self.assertEqual(len(started), 1, err)
        self.assertNotEqual(started[0], old)
        self.assert_no_open_uploads()

    def test_file_changed_starts_over(self):
        path = self.file("ch.mp4", 6 * PART)
        key = "resume/changed/recording.mp4"
        p = self.slow_put(path, key)
        self.wait_parts_in_state(p, 2)
        p.send_signal(signal.SIGKILL)
        p.wait()
        with open(path, "ab") as f:
            f.write(b"more")
        res = self.put_ok(path, key)
        self.assert_object(key, path, multipart=True, result=res)
        self.assert_no_open_uploads()         # the stale one was aborted


class Outage(S3Case):
    """The gateway killed in the middle of an upload and started again on
    the same port, cluster data kept."""

    def outage(self, seconds):
        path = self.file("o.mp4", 12 * PART + 5)
        key = "outage/%ds/recording.mp4" % seconds
        proxy = self.proxy(rate=8 << 20)
        env = self.env(S3_ENDPOINT=proxy.endpoint, S3_CONCURRENCY=2)
        p = self.start_put(path, key, env)
        self.wait_parts_in_state(p, 2)
        C.stop_gateway()
        try:
            with open(self.state_path()) as f:
                st = json.load(f)       # finished before the outage
            time.sleep(seconds)
        finally:
            C.start_gateway()
        done = {n for n, _ in st["parts"]}
        uid = st["upload_id"]
        out, err = p.communicate(timeout=120 * SLOW)
        return p, path, key, env, done, uid, out, err

    def check_no_resend(self, uid, done, nparts):
        entries = self.wait_ops(self.completed(uid), "the Complete of " + uid)
        ok = [n for n, status, _, _ in upload_parts(entries, uid)
              if status == 200]
        for n in done:
            self.assertEqual(ok.count(n), 1, "part %d sent again" % n)
        self.assertEqual(set(ok), set(range(1, nparts + 1)))

    def test_short_outage_is_ridden_out(self):
        # a few seconds: the per-request retries cover it, one run
        p, path, key, env, done, uid, out, err = self.outage(5)
        self.assertEqual(p.returncode, 0, err[-3000:])
        self.assertIn("retrying", err)
        self.assert_object(key, path, multipart=True, result=json.loads(out))
        self.check_no_resend(uid, done, 13)
        self.assert_no_open_uploads()

    def test_gateway_down_30s(self):
        # Longer than put retries one request (about 30 s): it gives up
        # with EX_TEMPFAIL and keeps its progress; run again, as the
        # daemon does with a job, it finishes the same upload.
        p, path, key, env, done, uid, out, err = self.outage(30)
        runs = 1
        while p.returncode == EX_TEMPFAIL and runs < 5:
            self.assertIn("temporary failure", err)
            self.assertTrue(os.path.exists(self.state_path()))
            p = self.start_put(path, key, env)
            out, err = p.communicate(timeout=120 * SLOW)
            runs += 1
        self.assertEqual(p.returncode, 0, err[-3000:])
        self.assert_object(key, path, multipart=True, result=json.loads(out))
        self.check_no_resend(uid, done, 13)
        self.assert_no_open_uploads()
        print("\n  30 s outage: finished after %d run(s) of put" % runs,
              end=" ")


if __name__ == "__main__":
    unittest.main()
