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
from harness import BUILD, PIPELINE, SLOW, make_fixture
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
        other client run in a network namespace of the test's own
        (unshare --net, a second address on its lo): no traffic leaves
        it."""
        ip = "192.0.2.2"
        script = r"""
set -u
ip link set lo up && ip addr add @IP@/32 dev lo || exit 3
get() { # HOST PATH [TOKEN]
	if [ $# -ge 3 ]; then
		curl -s -o /tmp/body.$$ -w '%{http_code}' --max-time 10 \
		    -H "Authorization: Bearer $3" "http://$1:@PORT@$2"
	else
		curl -s -o /tmp/body.$$ -w '%{http_code}' --max-time 10 \
		    "http://$1:@PORT@$2"
	fi
	printf ' %s\n' "$(tr -d '\n' </tmp/body.$$)"
	rm -f /tmp/body.$$
}
run() { # NAME: the daemon with or without API_TOKENS, then the requests
	"$@" @PIPELINE@ run >>@LOG@ 2>&1 &
	d=$!
	for i in $(seq 1 100); do
		curl -s -o /dev/null --max-time 1 "http://127.0.0.1:@PORT@/metrics" && break
		sleep 0.1
	done
}
run env
echo "@@ loopback $(get 127.0.0.1 /)"
echo "@@ other $(get @IP@ /)"
echo "@@ other-bad $(get @IP@ / not-a-token)"
echo "@@ other-token $(get @IP@ / @TOKEN@)"
echo "@@ metrics $(get @IP@ /metrics)"
kill $d; wait $d
run env -u API_TOKENS
echo "@@ unset $(get @IP@ / @TOKEN@)"
echo "@@ unset-loopback $(get 127.0.0.1 /)"
kill $d; wait $d
"""
        for k, v in (("@IP@", ip), ("@PORT@", str(self.port)),
                     ("@TOKEN@", API_TOKENS[1]), ("@LOG@", self.log_path),
                     ("@PIPELINE@", PIPELINE)):
            script = script.replace(k, v)
        self.settings["LISTEN"] = "0.0.0.0:%d" % self.port
        p = subprocess.run(["unshare", "--net", "bash", "-c", script],
                           env=self.environ(), capture_output=True,
                           text=True, timeout=120)
        self.assertEqual(p.returncode, 0, p.stdout + p.stderr)
        got = {}
        for line in p.stdout.splitlines():
            if line.startswith("@@ "):
                name, code, body = (line[3:].split(" ", 2) + [""])[:3]
                got[name] = (int(code), body)
        self.assertEqual(got["loopback"][0], 200, got)
        self.assertIn("<h2>Queue</h2>", got["loopback"][1])
        self.assertEqual(got["other"][0], 401, got)
        self.assertEqual(json.loads(got["other"][1])["detail"],
                         "Invalid API token")
        self.assertEqual(got["other-bad"][0], 401, got)
        self.assertEqual(got["other-token"][0], 200, got)
        self.assertIn("<h2>Queue</h2>", got["other-token"][1])
        self.assertEqual(got["metrics"][0], 200, got)
        self.assertEqual(got["unset"][0], 403, got)
        self.assertIn("loopback", json.loads(got["unset"][1])["detail"])
        self.assertEqual(got["unset-loopback"][0], 200, got)

if __name__ == "__main__":
    unittest.main()
