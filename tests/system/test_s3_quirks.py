"""test_s3_quirks.py -- s3:// against servers unlike Ceph RGW: 1000-byte UploadIds, no ListParts.

Why a stub (tests/lib/s3stub.py) and not RGW, which every other S3 test
uses: RGW never shows these behaviours. Its UploadIds are short and need
no encoding, while AWS allows 1 KiB and some servers hand out long ones
full of '+', '/' and '=' (a client that cuts or mis-encodes one gets
NoSuchUpload for ever); and RGW implements ListParts, which some
S3-compatible servers and gateways implementing only the upload half of
multipart answer with 405 or 501 (a client that needs it to resume after
a crash fails the recording for good). The stub is not blind: it refuses
a query or path not in SigV4's canonical encoding, a body whose
x-amz-content-sha256 is not its SHA-256, unknown UploadIds, parts out of
order or with wrong ETags; signatures themselves are checked by the RGW
tests. It records every request, so the tests see the UploadId as it
arrived, byte for byte.

To stop a client in the middle of a multipart upload deterministically,
the stub holds one UploadPart unanswered until the test has killed it.
"""
import hashlib
import json
import os
import signal
import subprocess
import tempfile
import unittest
import urllib.parse

from harness import PipelineCase, sha256_file
from s3stub import S3Stub, canonical

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(os.path.dirname(HERE))
BUILD = os.path.abspath(os.environ.get("JP_BUILD") or
                        os.path.join(ROOT, "build"))
PIPELINE = os.path.join(BUILD, "jibri-pipeline")
SLOW = 4 if os.sep + "asan" in BUILD else 1
PART = 5 << 20


def long_id(n):
    """UploadId number n: 1000 bytes, a third of them needing %XX."""
    head = "%04d." % n
    return (head + "Ab+9/z=" * 200)[:1000]


def short_id(n):
    """UploadId number n for the tests that are not about its length."""
    return "%04d.short+id/=" % n


def write_random(path, size):
    with open(path, "wb") as f:
        f.write(os.urandom(size))
    return path


class StubCase(unittest.TestCase):
    """A temp dir, a stub server, and `jibri-pipeline put` against it."""
    UPLOAD_ID = staticmethod(long_id)       # the ids the stub hands out

    def setUp(self):
        self.tmp = tempfile.TemporaryDirectory(prefix="jp-s3q-")
        self.dir = self.tmp.name
        self.addCleanup(self.tmp.cleanup)
        self.conf = os.path.join(self.dir, "env")
        open(self.conf, "w").close()
        for d in ("recordings", "state"):
            os.makedirs(os.path.join(self.dir, d))
        self.stub = S3Stub(upload_id=self.UPLOAD_ID)
        self.addCleanup(self.stub.close)
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
            "S3_CONCURRENCY": "1",
            "LOG_LEVEL": "debug",
        })
        e.update(self.stub.env())
        e.update({k: str(v) for k, v in extra.items()})
        return e

    def state_path(self):
        return os.path.join(self.dir, "resume.json")

    def start_put(self, path, key, **extra):
        p = subprocess.Popen([PIPELINE, "-c", self.conf, "put", path, key,
                              "--resume", self.state_path()],
                             env=self.env(**extra), stdout=subprocess.PIPE,
                             stderr=subprocess.PIPE, text=True)
        self.procs.append(p)
        return p

    def put(self, path, key, **extra):
        p = self.start_put(path, key, **extra)
        out, err = p.communicate(timeout=120 * SLOW)
        return p.returncode, out, err

    def put_ok(self, path, key, **extra):
        rc, out, err = self.put(path, key, **extra)
        self.assertEqual(rc, 0, "put %s failed:\n%s" % (key, err[-4000:]))
        return json.loads(out), err

    def kill_mid_upload(self, path, key, part):
        """Start put, kill -9 it while UploadPart part is in flight (the
        parts before it done and recorded); the resume state it left."""
        self.stub.hold(part)
        p = self.start_put(path, key)
        if not self.stub.wait_held(60 * SLOW):
            p.kill()
            self.fail("UploadPart %d never came: %s" % (
                part, p.communicate()[1][-3000:]))
        p.send_signal(signal.SIGKILL)
        p.wait()
        self.stub.release()
        with open(self.state_path()) as f:
            st = json.load(f)
        self.assertEqual(sorted(n for n, _ in st["parts"]),
                         list(range(1, part)), st)
        return st

    def assert_stored(self, key, path, res=None, nparts=None):
        o = self.stub.objects.get(key)
        self.assertIsNotNone(o, "%s is not in the bucket" % key)
        self.assertEqual(hashlib.sha256(o["body"]).hexdigest(),
                         sha256_file(path), key)
        self.assertEqual(len(o["body"]), os.path.getsize(path))
        if nparts is not None:
            self.assertTrue(o["etag"].endswith("-%d" % nparts), o["etag"])
        if res is not None:
            self.assertEqual(res["etag"], o["etag"])
            self.assertEqual(res["size"], len(o["body"]))
            self.assertEqual(res["url"], "s3://%s/%s" % (
                self.stub.bucket, urllib.parse.quote(key)))
        self.assertFalse(os.path.exists(self.state_path()),
                         "the resume file outlived a finished upload")

    def parts_sent(self, upload_id):
        """Part numbers of the answered UploadPart requests of upload_id."""
        return [int(S3Stub.param(r, "partNumber"))
                for r in self.stub.calls("PUT", "partNumber")
                if S3Stub.param(r, "uploadId") == upload_id and
                r.status == 200]

    def assert_whole_id(self, requests, what):
        self.assertTrue(requests, "no %s request" % what)
        for r in requests:
            uid = S3Stub.param(r, "uploadId")
            self.assertEqual(len(uid or ""), 1000, "%s: UploadId of %d "
                             "bytes arrived: %s" % (what, len(uid or ""),
                                                    r.query[:200]))
            self.assertIn("uploadId=" + canonical(uid), r.query)
            self.assertEqual(uid, long_id(int(uid[:4])), what)


class LongUploadId(StubCase):
    def test_long_upload_id_sent_whole(self):
        # three parts (the last short) under a 1000-byte UploadId of which
        # a third needs %XX: every UploadPart and the Complete carry all
        # of it, and the object is the file
        path = write_random(os.path.join(self.dir, "l.mp4"), 3 * PART - 5)
        key = "long id/session/recording.mp4"
        res, err = self.put_ok(path, key)
        self.assert_stored(key, path, res, nparts=3)
        uid = long_id(1)
        self.assertEqual(len(self.stub.calls("POST", "uploads")), 1)
        parts = self.stub.calls("PUT", "partNumber")
        self.assert_whole_id(parts, "UploadPart")
        self.assertEqual(sorted(self.parts_sent(uid)), [1, 2, 3])
        self.assertEqual(len(parts), 3, "parts were sent again")
        complete = [r for r in self.stub.calls("POST", "uploadId")]
        self.assertEqual(len(complete), 1)
        self.assert_whole_id(complete, "CompleteMultipartUpload")
        self.assertEqual(complete[0].status, 200)
        self.assertEqual(self.stub.uploads, {})
        self.assertIn(uid, err)     # the log names the upload in full

    def test_resume_with_long_upload_id(self):
        # killed with parts 1-2 done and 3 in flight; the next put asks
        # ListParts with the whole id and sends only 3 and 4
        path = write_random(os.path.join(self.dir, "r.mp4"), 4 * PART - 1)
        key = "long id/resume/recording.mp4"
        st = self.kill_mid_upload(path, key, 3)
        uid = long_id(1)
        self.assertEqual(st["upload_id"], uid)
        res, err = self.put_ok(path, key)
        self.assert_stored(key, path, res, nparts=4)
        listed = self.stub.calls("GET", "uploadId")
        self.assert_whole_id(listed, "ListParts")
        self.assertTrue(all(r.status == 200 for r in listed), listed)
        self.assertEqual(len(self.stub.calls("POST", "uploads")), 1,
                         "the upload was started over")
        sent = self.parts_sent(uid)
        self.assertEqual(sorted(sent), [1, 2, 3, 4])
        self.assert_whole_id(self.stub.calls("PUT", "partNumber"),
                             "UploadPart")
        self.assert_whole_id(self.stub.calls("POST", "uploadId"),
                             "CompleteMultipartUpload")
        self.assertIn("upload resumed", err)
        self.assertEqual(self.stub.uploads, {})


class NoListParts(StubCase):
    """A server that cannot list the parts of an upload: after a crash
    the upload starts over under a new id (the old one aborted) instead
    of failing the recording for good."""
    UPLOAD_ID = staticmethod(short_id)

    def start_over(self, status, abort_status=None):
        self.stub.list_parts_status = status
        self.stub.abort_status = abort_status
        path = write_random(os.path.join(self.dir, "n.mp4"), 4 * PART + 3)
        key = "no-list-parts/%d/recording.mp4" % status
        st = self.kill_mid_upload(path, key, 3)
        old = st["upload_id"]
        rc, out, err = self.put(path, key)
        self.assertEqual(rc, 0, err[-4000:])
        self.assert_stored(key, path, json.loads(out), nparts=5)
        # ListParts was asked once, not retried: the answer is final
        listed = self.stub.calls("GET", "uploadId")
        self.assertEqual([r.status for r in listed], [status])
        self.assertEqual(S3Stub.param(listed[0], "uploadId"), old)
        self.assertIn("starting over", err)
        self.assertIn("ListParts", err)
        # the old upload: aborted (attempted), and all five parts went
        # again under a new one
        aborts = self.stub.calls("DELETE", "uploadId")
        self.assertEqual([S3Stub.param(r, "uploadId") for r in aborts],
                         [old])
        self.assertEqual(len(self.stub.calls("POST", "uploads")), 2)
        new = short_id(2)
        self.assertEqual(sorted(self.parts_sent(new)), [1, 2, 3, 4, 5])
        return old, err

    def test_list_parts_405_starts_over(self):
        self.start_over(405)
        self.assertEqual(self.stub.uploads, {})     # the old one aborted

    def test_list_parts_501_starts_over_abort_refused_too(self):
        # nor can it abort: that is said and ignored; the old upload stays
        old, err = self.start_over(501, abort_status=501)
        self.assertIn("could not be aborted", err)
        self.assertEqual(list(self.stub.uploads), [old])


class DaemonNoListParts(PipelineCase):
    """The daemon killed mid-multipart against a server without ListParts:
    the restarted daemon finishes the job (it used to fail it for good,
    and `retry` failed the same way)."""

    def setUp(self):
        super().setUp()
        self.stub = S3Stub(upload_id=short_id)
        self.addCleanup(self.stub.close)
        self.settings.update(self.stub.env(prefix="rec"))
        self.settings.update(S3_PART_SIZE=str(PART), S3_CONCURRENCY="1")

    def test_kill_9_mid_multipart_without_list_parts(self):
        self.stub.list_parts_status = 405
        self.stub.hold(2)
        d = self.start_daemon()
        s = self.jibri(source=self.big_media_file(seconds=25, bitrate="8M"),
                       slow=False)
        self.wait_until(lambda: self.stub.wait_held(0.1), 120,
                        "UploadPart 2 of the video")
        d.kill()
        self.stub.release()
        with open(os.path.join(self.state, "jobs", s.id + ".json")) as f:
            resume = json.load(f)["store_resume"]["video"]
        old = resume["upload_id"]
        self.assertEqual([n for n, _ in resume["parts"]], [1])
        self.start_daemon()
        j = self.wait_job(s.id, states=("done", "failed", "quarantined"),
                          timeout=120, pred=lambda j: j["state"] != "failed"
                          or "next_attempt_at" not in j)
        self.assertEqual(j["state"], "done", self.describe())
        video = j["objects"]["video"]
        o = self.stub.objects[video["key"]]
        self.assertEqual(hashlib.sha256(o["body"]).hexdigest(),
                         video["sha256"])
        self.assertEqual(len(o["body"]), video["size"])
        total = -(-video["size"] // PART)
        self.assertEqual(o["etag"], video["etag"])
        self.assertTrue(o["etag"].endswith("-%d" % total))
        aborts = [S3Stub.param(r, "uploadId")
                  for r in self.stub.calls("DELETE", "uploadId")]
        self.assertEqual(aborts, [old])
        self.assertEqual(self.stub.uploads, {})
        self.assertIn("starting over", self.daemon_log())
        for name in ("audio", "manifest"):
            o = self.stub.objects[j["objects"][name]["key"]]
            self.assertEqual(hashlib.sha256(o["body"]).hexdigest(),
                             j["objects"][name]["sha256"], name)


if __name__ == "__main__":
    unittest.main()
