"""test_s3_pipeline.py -- the daemon storing into a real S3 server (Ceph RGW).

test_s3.py proves the S3 client on its own (`jibri-pipeline put`); here the
whole pipeline runs against the throwaway gateway of tests/lib/rgw.py: a
simulated Jibri session ends up at PREFIX/ROOM/SESSION/... in the bucket,
byte-identical, announced with s3:// URLs; a kill -9 in the middle of a
multipart upload resumes the same upload; the gateway stopped for 30 s in
the middle of an upload is ridden out by the job itself; a refused
signature fails the job until the operator fixes the secret and retries.
"""
import json
import os
import re
import signal
import time
import urllib.parse

import rgw
from harness import PipelineCase, key_component, sha256_file

C = None
PART = 5 << 20
PREFIX = "jibri rec+2025"


def setUpModule():
    global C
    C = rgw.shared()


def tearDownModule():
    rgw.stop_shared()


PART_RE = re.compile(r"[?&]partNumber=(\d+)&uploadId=([^?& ]+)")


def parts_sent(entries, upload_id):
    """Part numbers of the successful UploadPart requests of upload_id."""
    out = []
    for e in entries:
        m = PART_RE.search(e.get("uri", ""))
        if (m and m.group(2) == upload_id and e["uri"].startswith("PUT ")
                and e["http_status"] == "200"):
            out.append(int(m.group(1)))
    return out


class S3Pipeline(PipelineCase):
    def setUp(self):
        super().setUp()
        self.settings.update(C.env(prefix=PREFIX))
        self.settings.update(S3_PART_SIZE=str(PART), S3_CONCURRENCY="2")
        self.addCleanup(C.abort_all_uploads, C.bucket)

    def proxy(self, **kw):
        p = rgw.Proxy(C.port, **kw)
        self.addCleanup(p.close)
        return p

    def full_key(self, s, file):
        return "%s/%s/%s/%s" % (PREFIX, key_component(s.room),
                                key_component(s.session_id), file)

    def assert_in_bucket(self, s, j, files):
        """Every output of job j is in the bucket at its full key,
        byte-identical to what the manifest and the webhook say."""
        self.assertEqual(sorted(o["key"] for o in j["objects"].values()),
                         sorted(self.full_key(s, f) for f in files))
        for name, o in j["objects"].items():
            self.assertEqual(o["url"], "s3://%s/%s" % (
                C.bucket, urllib.parse.quote(o["key"])))
            sha, size = C.object_sha256(C.bucket, o["key"])
            self.assertEqual((sha, size), (o["sha256"], o["size"]), name)
            head = C.head_object(C.bucket, o["key"])
            want = {"video": "video/mp4", "audio": "audio/mp4",
                    "manifest": "application/json"}[name]
            self.assertEqual(head.get("content-type"), want)
        self.assertEqual(C.list_multipart_uploads(C.bucket), [])

    def wait_parts(self, jid, n, timeout=60):
        """Wait until job jid has recorded n finished parts of its video
        upload; the job document then."""
        def parts():
            j = self.job(jid)
            r = (j or {}).get("store_resume", {}).get("video", {})
            return len(r.get("parts", [])) >= n and j
        self.wait_until(parts, timeout, "%d uploaded parts" % n)
        return self.job(jid)

    def test_session_to_bucket(self):
        p = self.cli("check")
        self.assertEqual(p.returncode, 0, p.stderr)
        self.assertIn("configuration OK", p.stdout)
        self.start_daemon()
        s = self.jibri(room='Team "A" + 100% ünï')
        j = self.wait_job(s.id, timeout=60)
        self.assert_in_bucket(s, j, ("recording.mp4", "audio.m4a",
                                     "manifest.json"))
        manifest = json.loads(C.get_object(
            C.bucket, j["objects"]["manifest"]["key"]))
        self.assertEqual(manifest["outputs"]["video"]["key"],
                         self.full_key(s, "recording.mp4"))
        self.assertEqual(manifest["outputs"]["video"]["sha256"],
                         j["objects"]["video"]["sha256"])
        body = self.assert_webhook_s3(s, j)
        self.assertEqual(body["objects"]["video"]["url"],
                         "s3://%s/%s" % (C.bucket, urllib.parse.quote(
                             self.full_key(s, "recording.mp4"))))
        self.assert_secret_nowhere(s.token)
        self.assertNotIn(C.secret_key, self.daemon_log())

    def assert_webhook_s3(self, s, j):
        acks = [d for d in self.receiver.acknowledged()
                if d.idempotency_key == s.id]
        self.assertEqual(len(acks), 1, self.receiver.all())
        self.assertTrue(acks[0].sig_valid)
        b = acks[0].json
        for name, o in j["objects"].items():
            self.assertEqual(b["objects"][name]["key"], o["key"])
            self.assertEqual(b["objects"][name]["sha256"], o["sha256"])
        return b

    def test_kill_9_mid_multipart_resumes_same_upload(self):
        # a ~25 MB recording: five parts; the proxy slows the upload so
        # the daemon dies with some parts done and some not
        slow = self.proxy(rate=6 << 20)
        self.settings.update(S3_ENDPOINT=slow.endpoint, S3_CONCURRENCY="1")
        d = self.start_daemon()
        s = self.jibri(source=self.big_media_file(seconds=25, bitrate="8M"),
                       slow=False)
        before = self.wait_parts(s.id, 2)
        d.kill()
        with open(os.path.join(self.state, "jobs", s.id + ".json")) as f:
            before = json.load(f)        # what the killed daemon persisted
        resume = before["store_resume"]["video"]
        upload_id = resume["upload_id"]
        done = {n for n, _ in resume["parts"]}
        total = -(-resume["size"] // resume["part_size"])
        self.assertLess(len(done), total, "the upload finished before the kill")
        self.settings.update(S3_ENDPOINT=C.endpoint)
        self.start_daemon()
        j = self.wait_job(s.id, timeout=120)
        self.assert_in_bucket(s, j, ("recording.mp4", "audio.m4a",
                                     "manifest.json"))
        entries = []
        deadline = time.monotonic() + 15
        while time.monotonic() < deadline:
            entries = C.ops_log()
            if any(e["uri"].startswith("POST ") and upload_id in e["uri"]
                   and e["http_status"] == "200" for e in entries):
                break
            time.sleep(0.2)
        else:
            self.fail("upload %s was not completed" % upload_id)
        sent = parts_sent(entries, upload_id)
        for n in done:
            self.assertEqual(sent.count(n), 1, "part %d sent again" % n)
        self.assertEqual(set(sent), set(range(1, total + 1)))
        self.assertEqual(j["objects"]["video"]["etag"].split("-")[-1],
                         str(total))
        self.assert_webhook_s3(s, j)

    def test_gateway_down_30s_job_finishes_by_itself(self):
        slow = self.proxy(rate=6 << 20)
        self.settings.update(S3_ENDPOINT=slow.endpoint)
        self.start_daemon()
        s = self.jibri(source=self.big_media_file(seconds=25, bitrate="8M"),
                       slow=False)
        self.wait_parts(s.id, 1)
        C.stop_gateway()
        try:
            self.wait_until(
                lambda: (self.job(s.id) or {}).get("state") == "failed",
                60, "the job to wait for the storage")
            j = self.job(s.id)
            self.assertEqual(j["resume_step"], "storing")
            self.assertIn("next_attempt_at", j)
            time.sleep(30)
        finally:
            C.start_gateway()
        j = self.wait_job(s.id, timeout=180)
        self.assert_in_bucket(s, j, ("recording.mp4", "audio.m4a",
                                     "manifest.json"))
        self.assert_webhook_s3(s, j)

    def test_wrong_secret_fails_until_fixed_and_retried(self):
        secret = os.path.join(self.tmp, "aws-secret")
        with open(secret, "w") as f:
            f.write("not-the-secret\n")
        self.settings.pop("AWS_SECRET_ACCESS_KEY")
        self.settings["AWS_SECRET_ACCESS_KEY_FILE"] = secret
        p = self.cli("check")
        self.assertEqual(p.returncode, 1)
        self.assertIn("SignatureDoesNotMatch", p.stderr)
        d = self.start_daemon()
        s = self.jibri(room="secret-room")
        j = self.wait_job(s.id, states=("failed",), timeout=60,
                          pred=lambda j: "next_attempt_at" not in j)
        self.assertEqual(j["resume_step"], "storing")
        self.assertIn("SignatureDoesNotMatch", j["error"])
        self.assertIn(C.bucket, j["error"])
        self.assertEqual(self.receiver.all(), [])   # nothing announced
        with open(secret, "w") as f:
            f.write(C.secret_key + "\n")
        d.signal(signal.SIGHUP)
        self.wait_until(lambda: "configuration reloaded" in self.daemon_log(),
                        10, "the reload")
        p = self.cli("retry", s.id[:8])
        self.assertEqual(p.returncode, 0, p.stderr)
        j = self.wait_job(s.id, timeout=60)
        self.assert_in_bucket(s, j, ("recording.mp4", "audio.m4a",
                                     "manifest.json"))
        self.assert_webhook_s3(s, j)
        self.assertNotIn(C.secret_key, self.daemon_log())
        self.assertNotIn(C.secret_key.encode(),
                         open(os.path.join(self.state, "jobs",
                                           s.id + ".json"), "rb").read())
