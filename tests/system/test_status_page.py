"""System tests: the status page (GET /) in headless Chromium (Debian's
chromium, --headless=new --dump-dom and --screenshot): a job mid-upload
to S3 (tests/lib/s3stub.py, its parts slowed down and one held) shown
with its progress bar, bytes, part, rate and ETA; the finished recording
with its links and sizes; failures and quarantined recordings with the
exact `jibri-pipeline retry ID` (which then works); a hostile room name
escaped everywhere; who may see it (loopback, else an API token; from
a network namespace of the test's own). Screenshots go to the test's directory
and to BUILD/test-output/."""
import html
import json
import os
import re
import shutil
import subprocess
import time
import unittest

from api import ApiCase, API_TOKENS
from harness import BUILD, SLOW, Daemon, make_fixture
from prom import promtool_check
from receiver import free_port
from s3stub import S3Stub

PART = 5 << 20
# in a room name (no '/': it is a path segment of the meeting URL)
HOSTILE = "room-<script>alert(1)<script-&\"'"
OUTPUT = os.path.join(BUILD, "test-output")


class StatusPage(ApiCase):
    WEBHOOK = True

    # ---- the browser -----------------------------------------------------
    def chromium(self, *args, path="/"):
        exe = shutil.which("chromium")
        self.assertIsNotNone(exe, "chromium is missing: apt-get install "
                             "chromium (scripts/deps test)")
        profile = os.path.join(self.tmp, "chromium-profile")
        cmd = [exe, "--headless=new", "--no-sandbox", "--disable-gpu",
               "--no-first-run", "--disable-extensions",
               "--user-data-dir=" + profile] + list(args) + \
            ["http://127.0.0.1:%d%s" % (self.port, path)]
        p = subprocess.run(cmd, capture_output=True, text=True,
                           timeout=120 * SLOW, stdin=subprocess.DEVNULL)
        self.assertEqual(p.returncode, 0, "chromium: %s" % p.stderr[-2000:])
        return p.stdout

    def dom(self):
        """The page as Chromium built it (no script runs: there is none)."""
        d = self.chromium("--dump-dom")
        self.assertIn("jibri-pipeline", d)
        return d

    def screenshot(self, name):
        """A 1280x1024 screenshot into the test's directory, copied to
        BUILD/test-output/ (kept after the test); the copy's path."""
        shot = os.path.join(self.tmp, name)
        self.chromium("--screenshot=" + shot, "--window-size=1280,1024",
                      "--hide-scrollbars")
        self.assertTrue(os.path.getsize(shot) > 10000, shot)
        os.makedirs(OUTPUT, exist_ok=True)
        keep = os.path.join(OUTPUT, name)
        shutil.copyfile(shot, keep)
        return keep

    def row(self, dom, rid):
        """The <tr> whose id is rid, as HTML."""
        m = re.search(r'<tr[^>]*\bid="%s"[^>]*>.*?</tr>' % re.escape(rid),
                      dom, re.S)
        self.assertIsNotNone(m, "no row %s in the page:\n%s" % (rid,
                                                                 dom[-4000:]))
        return m.group(0)

    def text(self, fragment):
        """The visible text of an HTML fragment (tags dropped, entities
        decoded, spaces folded)."""
        t = html.unescape(re.sub(r"<[^>]+>", " ", fragment))
        return " ".join(t.split())

    def assert_hostile_escaped(self, raw):
        """raw (the bytes served) has the hostile room only escaped, and
        no script element at all."""
        self.assertNotIn("<script", raw.lower())
        self.assertIn("room-&lt;script&gt;alert(1)&lt;script-&amp;&quot;"
                      "&#39;", raw)

    def page(self, **kw):
        r = self.api.get("/", **kw)
        self.assertEqual(r.status, 200, r)
        self.assertEqual(r.header("content-type"), "text/html; charset=utf-8")
        return r

    def job_file(self, jid):
        try:
            with open(os.path.join(self.state, "jobs", jid + ".json")) as f:
                return json.load(f)
        except (OSError, ValueError):
            return None

    def video_parts(self, jid):
        """Parts of the video upload recorded in the job file (-1: none)."""
        j = self.job_file(jid) or {}
        r = (j.get("store_resume") or {}).get("video") or {}
        return len(r["parts"]) if isinstance(r.get("parts"), list) else -1

    # ---- the tests -------------------------------------------------------
    def test_mid_upload(self):
        """A 25 MB recording uploaded to S3 in 5 MiB parts, each answered
        after a second, the 4th held: the page shows the job storing with
        its bar, bytes, part 3 of N, a rate and an ETA (measured between
        two loads); a screenshot is taken; /metrics passes promtool
        mid-job. Released: the recording is listed as finished with its
        objects' links and sizes. The hostile room name is escaped
        everywhere."""
        stub = S3Stub()
        self.addCleanup(stub.close)
        handler = stub.server.RequestHandlerClass   # this stub's own
        put_part = handler.upload_part

        def slow_part(h, u, q, body):
            time.sleep(1.0)
            return put_part(h, u, q, body)
        handler.upload_part = slow_part
        self.settings.update(stub.env(prefix="rec"))
        self.settings.update(S3_PART_SIZE=str(PART), S3_CONCURRENCY="1")
        stub.hold(4)
        self.start_daemon()
        src = self.big_media_file(seconds=25, bitrate="8M")
        s = self.jibri(room=HOSTILE, source=src, slow=False)

        # the first load sees one part: the rate is measured from it
        self.wait_until(lambda: self.video_parts(s.id) >= 1, 120,
                        "the first part of the video")
        first = self.page()
        self.assertIn("rate: measuring", first.body.decode())
        self.wait_until(lambda: stub.wait_held(0.1), 120, "part 4 held")
        self.wait_until(lambda: self.video_parts(s.id) == 3, 30,
                        "three parts recorded")
        raw = self.page()
        body = raw.body.decode()
        self.assert_hostile_escaped(body)
        self.assertIn('<meta http-equiv="refresh" content="5">', body)
        self.assertNotRegex(body, r"(?i)<(script|link|img|iframe)\b|src=|"
                            r"@import|url\(")
        self.assertIn("default-src 'none'",
                      raw.header("content-security-policy"))

        dom = self.dom()
        row = self.row(dom, "job-" + s.id)
        text = self.text(row)
        outs = self.job_file(s.id)["outputs"]
        video = outs["video"]["size"]
        nparts = -(-video // PART)
        total = sum(o["size"] for o in outs.values())
        done = video // nparts * 3
        self.assertIn(s.id[:12], text)
        self.assertIn(HOSTILE, text)        # shown as text, as it is
        self.assertIn("storing", text)
        self.assertIn("video: part 3 of %d uploaded" % nparts, text)
        self.assertIn("%.1f MiB of %.1f MiB (%.0f%%)" % (
            done / 1048576, total / 1048576, 100.0 * done / total), text)
        self.assertRegex(text, r"[\d.]+ [KMG]iB/s · ETA ")
        bar = re.search(r'<span style="width:([\d.]+)%"', row)
        self.assertIsNotNone(bar, row)
        self.assertGreater(float(bar.group(1)), 20)
        self.assertLess(float(bar.group(1)), 100)
        self.assertIn("0 of 3 outputs stored", text)
        self.assertIn('id="count-storing">1<', dom.replace(" ", ""))
        shot = self.screenshot("status-page-mid-upload.png")
        print("\n  screenshot: %s" % shot)
        self.assertIsNone(promtool_check(self.api.get("/metrics").body
                                         .decode()))

        stub.release()
        j = self.wait_job(s.id, timeout=180)
        dom = self.dom()
        rec = self.row(dom, "rec-" + s.id)
        rtext = self.text(rec)
        self.assertIn(HOSTILE, rtext)
        for kind in ("video", "audio", "manifest"):
            url = j["objects"][kind]["url"]
            self.assertTrue(url.startswith("s3://quirks/rec/"), url)
            self.assertIn('href="%s"' % html.escape(url, quote=True)
                          .replace("&#x27;", "&#39;"), rec)
        self.assertIn(" 25 s ", rtext)
        self.assertNotIn('id="job-' + s.id, dom)
        self.assert_hostile_escaped(self.page().body.decode())
        self.screenshot("status-page-done.png")

    def test_failures_and_quarantine(self):
        """A quarantined file and a job whose webhook was refused: both
        under failures with what to do; the retry command shown, run as
        shown, completes the failed one."""
        self.start_daemon()
        bad = make_fixture("notmp4.mp4", os.path.join(self.scratch,
                                                      "bad.mp4"))
        q = self.jibri(room="bad-room", source=bad, slow=False)
        self.wait_job(q.id, states=("quarantined",), timeout=60)
        self.receiver.respond(400)
        f = self.jibri(room=HOSTILE, slow=False)
        self.wait_job(f.id, states=("failed",), timeout=60)
        dom = self.dom()
        qrow = self.text(self.row(dom, "fail-" + q.id))
        self.assertIn("quarantined", qrow)
        self.assertIn(q.path, qrow)
        self.assertIn("jibri-pipeline retry " + q.id, qrow)
        self.assertIn("jibri-pipeline probe '%s'" % q.path, qrow)
        frow_html = self.row(dom, "fail-" + f.id)
        frow = self.text(frow_html)
        self.assertIn("failed", frow)
        self.assertIn("400", frow)
        self.assertIn(HOSTILE, frow)
        cmd = re.search(r'<code class="retry">(.*?)</code>', frow_html)
        self.assertIsNotNone(cmd, frow_html)
        self.assertEqual(cmd.group(1), "jibri-pipeline retry " + f.id)
        self.assert_hostile_escaped(self.page().body.decode())
        self.screenshot("status-page-failures.png")

        self.receiver.respond(200)
        argv = html.unescape(cmd.group(1)).split()
        self.assertEqual(argv[:2], ["jibri-pipeline", "retry"])
        p = self.cli(*argv[1:])
        self.assertEqual(p.returncode, 0, p.stderr)
        self.wait_job(f.id, timeout=60)
        dom = self.dom()
        self.assertNotIn('id="fail-' + f.id, dom)
        self.row(dom, "rec-" + f.id)

    def test_who_may_see_it(self):
        """Loopback clients see the page; from another address only with
        one of API_TOKENS (401 without or with another token; 403 when
        API_TOKENS is not set). /metrics needs none. The daemon and the
        other client live in a network namespace of the test's own (a
        second address on its lo): no traffic leaves that namespace."""
        ns = "jp-page-%d" % os.getpid()
        ip = "192.0.2.2"

        def sh(*cmd):
            p = subprocess.run(list(cmd), capture_output=True, text=True)
            self.assertEqual(p.returncode, 0, "%s: %s" % (" ".join(cmd),
                                                        p.stderr))
            return p.stdout

        sh("ip", "netns", "add", ns)
        self.addCleanup(subprocess.run, ["ip", "netns", "del", ns])
        inside = ["ip", "netns", "exec", ns]
        # a second address on the namespace's own lo: a client that
        # connects to it comes from it, not from 127.0.0.0/8
        sh(*inside, "ip", "link", "set", "lo", "up")
        sh(*inside, "ip", "addr", "add", ip + "/32", "dev", "lo")

        def get(host, path, token=None):
            """(status, body) of a GET made inside the namespace."""
            cmd = inside + ["curl", "-s", "-o", "-", "-w", "\n%{http_code}",
                            "--max-time", "10"]
            if token:
                cmd += ["-H", "Authorization: Bearer " + token]
            out = sh(*cmd, "http://%s:%d%s" % (host, self.port, path))
            body, _, code = out.rpartition("\n")
            return int(code), body

        def start():
            d = Daemon(self.environ(), self.log_path, prefix=inside).start()
            self.daemons.append(d)
            self.wait_until(lambda: "jibri-pipeline started" in d.log() or
                            not d.alive(), 20, "the daemon to start")
            self.assertTrue(d.alive(), d.log()[-2000:])
            return d

        self.settings["LISTEN"] = "0.0.0.0:%d" % self.port
        d = start()
        code, body = get("127.0.0.1", "/")
        self.assertEqual(code, 200, body)
        self.assertIn("<h2>Queue</h2>", body)
        code, body = get(ip, "/")
        self.assertEqual(code, 401, body)
        self.assertEqual(json.loads(body)["detail"], "Invalid API token")
        code, body = get(ip, "/", "not-a-token")
        self.assertEqual(code, 401, body)
        code, body = get(ip, "/", API_TOKENS[1])
        self.assertEqual(code, 200, body)
        self.assertIn("<h2>Queue</h2>", body)
        self.assertEqual(get(ip, "/metrics")[0], 200)
        d.stop()

        self.settings.pop("API_TOKENS")
        start()
        code, body = get(ip, "/", API_TOKENS[1])
        self.assertEqual(code, 403, body)
        self.assertIn("loopback", json.loads(body)["detail"])
        self.assertEqual(get("127.0.0.1", "/")[0], 200)

if __name__ == "__main__":
    unittest.main()
