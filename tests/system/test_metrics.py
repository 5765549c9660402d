"""System tests: GET /metrics -- the Prometheus text format 0.0.4 checked
by promtool (Debian's prometheus package) idle, mid-job and after jobs,
and every number moving as it should: recordings finished by outcome,
bytes stored equal to the objects' sizes, store and webhook durations,
webhook attempts, salvage outcomes, jobs by state, the spool's depth and
the oldest pending job, free bytes on RECORDINGS_DIR and STATE_DIR, HTTP
requests by route and status, events by type and result, the journal.
Real daemon, real HTTP, media made by ffmpeg, real PostgreSQL for the
events."""
import os
import re
import time
import unittest

import killed
from api import ApiCase, API_TOKENS, seed_event
from harness import make_fixture
from prom import CONTENT_TYPE, PREFIX as P, Scrape, promtool_check


class MetricsCase(ApiCase):
    WEBHOOK = True

    def scrape(self, check=True):
        r = self.api.get("/metrics")
        self.assertEqual(r.status, 200, r)
        self.assertEqual(r.header("content-type"), CONTENT_TYPE)
        text = r.body.decode("utf-8")
        if check:
            self.promtool(text)
        return Scrape(text)

    def promtool(self, text):
        """`promtool check metrics` on text: no problem, no remark."""
        why = promtool_check(text)
        self.assertIsNone(why, "%s\non:\n%s" % (why, text[:3000]))

    def assert_format(self, m):
        """HELP and TYPE for every family; names prefixed; counters end in
        _total, nothing else does; every series belongs to a family."""
        self.assertTrue(m.types)
        self.assertEqual(set(m.types), set(m.helps))
        for name, t in m.types.items():
            self.assertTrue(name.startswith(P), name)
            self.assertEqual(name.endswith("_total"), t == "counter", name)
            self.assertTrue(m.helps[name].strip(), name)
        for (name, _), v in m.series.items():
            base = re.sub(r"_(bucket|sum|count)$", "", name)
            self.assertTrue(name in m.types or (base in m.types and
                            m.types[base] == "histogram"), name)

    def wait_metric(self, pred, what, timeout=30):
        last = []

        def ok():
            last[:] = [self.scrape(check=False)]
            return pred(last[0])
        try:
            self.wait_until(ok, timeout, what, interval=0.2)
        except AssertionError as e:
            raise AssertionError("%s\nlast scrape:\n%s" % (
                e, last[0].text if last else "-")) from None
        return last[0]


class Metrics(MetricsCase):

    def test_idle(self):
        """Idle: the format, build info, every job gauge at 0, the disks
        as statvfs sees them; the scrapes themselves are counted."""
        self.start_daemon()
        m = self.scrape()
        self.assert_format(m)
        families = set(m.types)
        for want in ("build_info", "start_time_seconds", "jobs",
                     "spool_depth", "oldest_pending_seconds",
                     "recordings_finished_total", "stored_bytes_total",
                     "store_duration_seconds", "webhook_duration_seconds",
                     "webhook_attempts_total", "salvage_total",
                     "disk_free_bytes", "disk_size_bytes",
                     "disk_deletions_total", "disk_nothing_to_free",
                     "http_requests_total", "events_total",
                     "event_journal_events", "event_journal_bytes"):
            self.assertIn(P + want, families)
        self.assertEqual(m.types[P + "store_duration_seconds"], "histogram")
        build = [(ls, v) for (n, ls), v in m.series.items()
                 if n == P + "build_info"]
        self.assertEqual(len(build), 1, build)
        self.assertEqual(build[0][1], 1)
        self.assertTrue(dict(build[0][0])["version"])
        self.assertAlmostEqual(m.get("start_time_seconds"), time.time(),
                               delta=60)
        for st in ("queued", "probing", "remuxing", "storing", "notifying",
                   "finishing", "done", "failed", "quarantined"):
            self.assertEqual(m.get("jobs", state=st), 0, st)
        self.assertEqual(m.get("spool_depth"), 0)
        self.assertEqual(m.get("oldest_pending_seconds"), 0)
        for o in ("completed", "failed", "quarantined"):
            self.assertEqual(m.get("recordings_finished_total", outcome=o), 0)
        for k in ("video", "audio", "manifest"):
            self.assertEqual(m.get("stored_bytes_total", kind=k), 0)
            self.assertEqual(m.get("store_duration_seconds_count", kind=k),
                             0)
        for d, path in (("recordings", self.rec), ("state", self.state)):
            st = os.statvfs(path)
            self.assertAlmostEqual(m.get("disk_free_bytes", dir=d),
                                   st.f_bavail * st.f_frsize,
                                   delta=256 << 20)
            self.assertEqual(m.get("disk_size_bytes", dir=d),
                             st.f_blocks * st.f_frsize)
        self.assertEqual(m.get("disk_nothing_to_free"), 0)
        self.assertEqual(m.get("disk_deletions_total"), 0)
        # no database: no event was ever counted
        self.assertEqual(m.total("events_total"), 0)
        # the scrapes themselves are counted (once sent)
        self.wait_metric(lambda m: (m.get("http_requests_total",
                                          route="/metrics", code="200")
                                    or 0) >= 1, "a scrape counted")

    def test_http_requests_by_route_and_status(self):
        """Route patterns, never the URL's values; unknown paths as
        "unmatched"; the status code as answered."""
        self.start_daemon()
        self.assertEqual(self.api.get("/nope/<x>").status, 404)
        self.assertEqual(self.api.get("/v1/recordings").status, 401)
        for _ in range(2):
            self.assertEqual(self.api.get("/v1/recordings/" + "a" * 32,
                                          token=API_TOKENS[0]).status, 404)
        self.assertEqual(self.api.health().status, 200)
        self.assertEqual(self.api.request("POST", "/metrics",
                                          body=b"{}").status, 405)
        # an answer is counted when the server has sent it (the access
        # log's moment), which the client may see a moment earlier
        self.wait_metric(lambda m: m.total("http_requests_total") -
                         m.total("http_requests_total", route="/metrics")
                         >= 6, "the six requests counted")
        m = self.scrape()
        self.assertEqual(m.get("http_requests_total", route="unmatched",
                               code="404"), 1)
        self.assertEqual(m.get("http_requests_total", route="/v1/recordings",
                               code="401"), 1)
        self.assertEqual(m.get("http_requests_total",
                               route="/v1/recordings/{id}", code="404"), 2)
        self.assertEqual(m.get("http_requests_total",
                               route="/v1/jitsi/health", code="200"), 1)
        self.assertEqual(m.get("http_requests_total", route="unmatched",
                               code="405"), 1)
        self.assertNotIn("<x>", m.text)
        self.assertNotIn("a" * 32, m.text)

    def test_recording_completed(self):
        """One recording through: finished{completed}, bytes stored per
        kind equal to the objects' sizes, one store per kind, one webhook
        acknowledged; jobs{done}; nothing pending."""
        self.start_daemon()
        s = self.jibri(slow=False)
        j = self.wait_job(s.id)
        m = self.wait_metric(lambda m: m.get(
            "recordings_finished_total", outcome="completed") == 1,
            "finished{completed} 1")
        self.promtool(m.text)
        self.assert_format(m)
        self.assertEqual(m.get("recordings_finished_total",
                               outcome="failed"), 0)
        objs = j["objects"]
        self.assertEqual(sorted(objs), ["audio", "manifest", "video"])
        for kind, o in objs.items():
            self.assertEqual(o["size"], os.path.getsize(self.stored(
                o["key"])))
            self.assertEqual(m.get("stored_bytes_total", kind=kind),
                             o["size"], kind)
            self.assertEqual(m.get("store_duration_seconds_count",
                                   kind=kind), 1, kind)
            self.assertEqual(m.get("store_duration_seconds_bucket",
                                   kind=kind, le="+Inf"), 1)
            self.assertGreaterEqual(m.get("store_duration_seconds_sum",
                                          kind=kind), 0)
        self.assertEqual(m.get("webhook_attempts_total",
                               outcome="acknowledged"), 1)
        self.assertEqual(m.get("webhook_attempts_total", outcome="retry"), 0)
        self.assertEqual(m.get("webhook_duration_seconds_count"), 1)
        self.assertEqual(m.get("jobs", state="done"), 1)
        self.assertEqual(m.get("spool_depth"), 0)
        self.assertEqual(m.get("oldest_pending_seconds"), 0)
        self.assertEqual(m.get("salvage_total", outcome="salvaged"), 0)

    def test_mid_job_and_retries(self):
        """The receiver answers 503: mid-job the job waits for a retry --
        pending in the spool, its age growing, attempts counted as retry;
        promtool is happy then too. Then 200: completed, nothing pending."""
        self.receiver.respond(503)
        self.start_daemon()
        s = self.jibri(slow=False)
        m = self.wait_metric(lambda m: m.get("webhook_attempts_total",
                                             outcome="retry") >= 2,
                             "two webhook attempts to be retried")
        self.promtool(m.text)
        self.assertEqual(m.get("spool_depth"), 1)
        self.assertEqual(m.get("recordings_finished_total",
                               outcome="completed"), 0)
        self.assertEqual(m.total("jobs"), 1)
        self.assertEqual(m.get("jobs", state="done"), 0)
        self.assertGreaterEqual(m.get("webhook_duration_seconds_count"), 2)
        time.sleep(1.2)
        m2 = self.scrape()
        self.assertGreater(m2.get("oldest_pending_seconds"), 1.0)
        # everything was stored before the webhook: the bytes are there
        self.assertGreater(m2.get("stored_bytes_total", kind="video"), 0)
        self.receiver.respond(200)
        self.wait_job(s.id, timeout=60)
        m3 = self.wait_metric(lambda m: m.get(
            "recordings_finished_total", outcome="completed") == 1,
            "finished{completed} 1")
        self.promtool(m3.text)
        self.assertEqual(m3.get("webhook_attempts_total",
                                outcome="acknowledged"), 1)
        self.assertEqual(m3.get("spool_depth"), 0)
        self.assertEqual(m3.get("oldest_pending_seconds"), 0)

    def test_failed_and_quarantined(self):
        """A webhook refused with 400 fails the job for good
        (finished{failed}, attempts{failed}); a file that is not media
        is quarantined (finished{quarantined})."""
        self.receiver.respond(400)
        self.start_daemon()
        a = self.jibri(room="refused-room", slow=False)
        self.wait_job(a.id, states=("failed",), timeout=60)
        m = self.wait_metric(lambda m: m.get(
            "recordings_finished_total", outcome="failed") == 1,
            "finished{failed} 1")
        self.assertEqual(m.get("webhook_attempts_total", outcome="failed"), 1)
        self.assertEqual(m.get("jobs", state="failed"), 1)
        # failed for good waits for an operator: not pending
        self.assertEqual(m.get("spool_depth"), 0)
        self.receiver.respond(200)
        bad = make_fixture("notmp4.mp4", os.path.join(self.scratch,
                                                      "bad.mp4"))
        q = self.jibri(room="bad-room", source=bad, slow=False)
        self.wait_job(q.id, states=("quarantined",), timeout=60)
        m = self.wait_metric(lambda m: m.get(
            "recordings_finished_total", outcome="quarantined") == 1,
            "finished{quarantined} 1")
        self.promtool(m.text)
        self.assertEqual(m.get("jobs", state="quarantined"), 1)
        self.assertEqual(m.get("recordings_finished_total",
                               outcome="completed"), 0)

    def test_salvage_outcomes(self):
        """A killed recording is salvaged (salvage{salvaged}); one killed
        before its first sample has nothing to rebuild (salvage{nothing},
        quarantined)."""
        self.settings["JIBRI_RESOLUTION"] = "640x360"
        truth = killed.recording(12)
        self.start_daemon()
        src = killed.cut(truth, os.path.join(self.scratch, "k.mp4"),
                         killed.block_end(5))
        s = self.jibri(room="killed-room", source=src, slow=False)
        j = self.wait_job(s.id, states=("done", "failed", "quarantined"),
                          timeout=120)
        self.assertEqual(j["state"], "done", self.describe())
        empty = killed.cut(truth, os.path.join(self.scratch, "e.mp4"),
                           killed.block_end(0))
        e = self.jibri(room="empty-room", source=empty, slow=False)
        self.wait_job(e.id, states=("quarantined", "failed", "done"),
                      timeout=60)
        m = self.wait_metric(lambda m: m.get(
            "salvage_total", outcome="salvaged") == 1 and
            m.get("salvage_total", outcome="nothing") == 1,
            "salvage{salvaged} 1, salvage{nothing} 1")
        self.promtool(m.text)


class EventMetrics(MetricsCase):
    DATABASE = True

    def test_events_by_type_and_result(self):
        """Events by name and what became of them: stored, duplicate, no
        meeting; the journal empty while the database answers."""
        self.start_daemon()
        mid, room = self.db.create_meeting()
        ev = seed_event("muc-occupant-joined", room, {"user_id": "u-1"})
        self.assert_ok(self.api.post_event(ev, idem="k-1"),
                       "muc-occupant-joined", room)
        r = self.api.post_event(ev, idem="k-1")
        self.assertEqual(r.status, 200, r)
        self.assertEqual(r.json.get("duplicate"), True, r)
        self.assertEqual(self.api.post_event(seed_event(
            "muc-occupant-left", "no-such-room", {})).status, 404)
        self.assertEqual(self.api.post_event(seed_event(
            "custom-thing", room, {})).status, 200)
        self.assertEqual(self.api.post_event(b"{", ).status, 422)
        self.wait_metric(lambda m: m.get("http_requests_total",
                                         route="/v1/jitsi/events",
                                         code="422") == 1, "the 422 counted")
        m = self.scrape()
        self.assertEqual(m.get("events_total", type="muc-occupant-joined",
                               result="stored"), 1)
        self.assertEqual(m.get("events_total", type="muc-occupant-joined",
                               result="duplicate"), 1)
        self.assertEqual(m.get("events_total", type="muc-occupant-left",
                               result="no_meeting"), 1)
        self.assertEqual(m.get("events_total", type="other",
                               result="stored"), 1)
        # a body that does not parse never reached the store
        self.assertEqual(m.total("events_total"), 4)
        self.assertEqual(m.get("http_requests_total",
                               route="/v1/jitsi/events", code="422"), 1)
        self.assertEqual(m.get("event_journal_events"), 0)


if __name__ == "__main__":
    unittest.main()
