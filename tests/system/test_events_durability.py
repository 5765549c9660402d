"""System tests: events under load and through outages -- two daemons
sharing one database taking 4,000 concurrent events for one meeting, none
lost; PostgreSQL stopped: events journaled (202), replayed in arrival
order exactly once when it is back, also across a kill -9 of the daemon;
a full journal refuses (503) without losing what it acknowledged; events
for a meeting unknown at replay are kept aside; migrations at start on a
pre-filled Reflector database."""
import os
import threading
import time
import unittest

import api
from api import ApiCase, SYNC, Session, lit, seed_event
from harness import SLOW
from test_migrate import OLD_MEETING, REFLECTOR

JOINED = "muc-occupant-joined"
LEFT = "muc-occupant-left"
BASE = 1736937000           # 2025-01-15T10:30:00Z
# Reflector's meeting columns an event may not change
M1_COLUMNS = OLD_MEETING.replace("num_clients, ", "").replace(
    ", events::text", "")


def load_event(room, i, joins, users_left):
    """Event i of the load: i < joins joins user i; then the lefts of users
    0..users_left-1, each later (by its timestamp) than that user's join."""
    if i < joins:
        return seed_event(JOINED, room, {"user_id": "u-%d" % i,
                                         "display_name": "User %d" % i,
                                         "seq": i},
                          api.iso_ms(BASE + i / 1000.0))
    u = i - joins
    assert u < users_left
    return seed_event(LEFT, room, {"user_id": "u-%d" % u, "seq": i},
                      api.iso_ms(BASE + 600 + i / 1000.0))


class Durability(ApiCase):

    DATABASE = True

    def seqs(self, mid):
        """data.seq of mid's stored events: (meeting.events order,
        meeting_event id order)."""
        a = self.db.json(
            "SELECT coalesce(json_agg((e->'data'->>'seq')::int ORDER BY n), "
            "'[]') FROM meeting, json_array_elements(events) WITH ORDINALITY "
            "x(e, n) WHERE id = %s" % lit(mid))
        b = self.db.json(
            "SELECT coalesce(json_agg((event->'data'->>'seq')::int ORDER BY "
            "id), '[]') FROM meeting_event WHERE meeting_id = %s" % lit(mid))
        return a, b

    def health(self, client=None, status=None):
        r = (client or self.api).health()
        j = self.assert_json(r, r.status)
        if status is not None:
            self.assertEqual(r.status, status, r)
        return r.status, j

    def wait_health(self, client, status, what, timeout=15, pred=None):
        def ok():
            try:
                s, j = self.health(client)
            except (OSError, AssertionError):
                return None
            return j if s == status and (pred is None or pred(j)) else None
        return self.wait_until(ok, timeout, what, interval=0.1)

    def post_journaled(self, client, body):
        r = client.post_event(body)
        j = self.assert_json(r, 202, msg="a journaled event: %r" % r)
        self.assertEqual(j.get("status"), "accepted", j)
        self.assertIs(j.get("journaled"), True, j)
        self.assertEqual(j.get("event"), body["event"], j)
        self.assertEqual(j.get("room"), body["room"], j)
        return j

    def stop_pg(self):
        self.cluster.stop()
        self.addCleanup(lambda: self.cluster.running or self.cluster.start())

    # ---- load ---------------------------------------------------------------
    def test_two_daemons_4000_events(self):
        """16 threads, 4,000 distinct events (2,500 joins, then 1,500 of
        them left), one meeting, two daemons: every event once, meeting.events
        4,000 long within 1 s of the last answer, num_clients 1,000."""
        joins, users_left = 2500, 1500
        total = joins + users_left
        a = self.start_daemon()
        _, b_api = self.start_instance("second")
        mid, room = self.db.create_meeting()
        clients = [self.api, b_api]
        errors = []
        lock = threading.Lock()

        def worker(k):
            s = Session(clients[k % 2].port)
            try:
                for i in range(k, total, 16):
                    body = load_event(room, i, joins, users_left)
                    r = s.post(api.EVENTS, body)
                    want = {"status": "ok", "event": body["event"],
                            "room": room}
                    if r.status != 200 or r.json != want:
                        with lock:
                            errors.append((i, r))
                        return
            except Exception as e:          # noqa: BLE001 (reported below)
                with lock:
                    errors.append((k, repr(e)))
            finally:
                s.close()

        threads = [threading.Thread(target=worker, args=(k,))
                   for k in range(16)]
        t0 = time.monotonic()
        for t in threads:
            t.start()
        for t in threads:
            t.join(300 * SLOW)
        took = time.monotonic() - t0
        self.assertFalse([t for t in threads if t.is_alive()], "hung")
        self.assertEqual(errors, [], "%d failed" % len(errors))
        # by SQL within 1 s of the last answer
        self.wait_state(mid, total, joins - users_left)
        self.assertEqual(self.db.rows(mid), total)
        a_seqs, b_seqs = self.seqs(mid)
        self.assertEqual(sorted(a_seqs), list(range(total)))
        self.assertEqual(sorted(b_seqs), list(range(total)))
        # both daemons' APIs show all of it
        for c in clients:
            j = self.assert_json(c.meeting(mid), 200)
            self.assertEqual(len(j["events"]), total)
            self.assertEqual(j["num_clients"], joins - users_left)
        self.assertTrue(a.alive())
        print("\n  4,000 events through two daemons in %.1fs" % took)

    # ---- outage --------------------------------------------------------------
    def test_outage_journal_and_replay(self):
        self.start_daemon()
        mid, room = self.db.create_meeting()
        for i in range(5):
            self.assert_ok(self.api.post_event(seed_event(
                JOINED, room, {"user_id": "pre-%d" % i, "seq": i})),
                JOINED, room)
        self.wait_state(mid, 5, 5)
        self.stop_pg()
        # every event answered 202, journaled, in this order
        n = 200
        for i in range(5, 5 + n):
            ev = JOINED if i % 2 else LEFT
            self.post_journaled(self.api, seed_event(
                ev, room, {"user_id": "o-%d" % (i // 2), "seq": i},
                api.iso_ms(BASE + i)))
        # a meeting that does not exist: acknowledged now, set aside later
        self.post_journaled(self.api, seed_event(
            JOINED, "reflector-no-such-room-4d1f", {"user_id": "ghost"}))
        j = self.wait_health(self.api, 503, "health to say degraded")
        self.assertEqual(j["status"], "degraded")
        self.assertEqual(j["database"], "down")
        self.assertEqual(j["journal"]["events"], n + 1)
        self.assertGreater(j["journal"]["bytes"], 0)
        journal = os.path.join(self.state, "events.journal")
        self.assertGreater(os.path.getsize(journal), 0)
        self.cluster.start()
        self.wait_health(self.api, 200, "health to be ok again, the journal "
                         "replayed", pred=lambda j: j["journal"]["events"]
                         == 0 and j["database"] == "ok")
        # exactly once, in arrival order
        self.assertEqual(self.db.rows(), 5 + n)
        a_seqs, b_seqs = self.seqs(mid)
        self.assertEqual(b_seqs, list(range(5 + n)))
        self.wait_until(lambda: self.seqs(mid)[0] == list(range(5 + n)),
                        SYNC, "meeting.events in arrival order")
        # o-k joined (odd seq 2k+1) after its left (seq 2k): all 100 in
        self.wait_state(mid, 5 + n, 5 + n // 2)
        j = self.api_state(mid)
        self.assertEqual(len(j["events"]), 5 + n)
        # the ghost: logged and kept
        rejected = os.path.join(self.state, "events.rejected")
        self.wait_until(lambda: os.path.exists(rejected), 5,
                        "events.rejected")
        with open(rejected, encoding="utf-8") as f:
            self.assertIn("reflector-no-such-room-4d1f", f.read())
        self.assertIn("reflector-no-such-room-4d1f", self.daemon_log())
        # and it goes on as usual
        self.assert_ok(self.api.post_event(seed_event(
            JOINED, room, {"user_id": "after", "seq": 5 + n})), JOINED, room)
        self.assertEqual(self.db.rows(mid), 6 + n)

    def test_kill_while_journaling(self):
        """kill -9 while the database is down, after some 202s; started
        again with the database up: every acknowledged event stored once."""
        d = self.start_daemon()
        mid, room = self.db.create_meeting()
        self.stop_pg()
        n = 60
        for i in range(n):
            self.post_journaled(self.api, seed_event(
                JOINED, room, {"user_id": "k-%d" % i, "seq": i}))
        d.kill()
        self.assertGreater(os.path.getsize(os.path.join(
            self.state, "events.journal")), 0)
        self.cluster.start()
        self.start_daemon()
        self.wait_until(lambda: self.db.rows(mid) >= n, 15,
                        "the journal replayed after the restart")
        self.wait_health(self.api, 200, "health ok, journal empty",
                         pred=lambda j: j["journal"]["events"] == 0)
        self.assertEqual(self.db.rows(mid), n)
        self.assertEqual(self.seqs(mid)[1], list(range(n)))
        self.wait_state(mid, n, n)
        # a second restart replays nothing again
        self.assertEqual(self.daemons[-1].stop(), 0)
        self.start_daemon()
        self.assert_ok(self.api.post_event(seed_event(
            JOINED, room, {"user_id": "k-last", "seq": n})), JOINED, room)
        self.assertEqual(self.db.rows(mid), n + 1)
        self.assertEqual(self.seqs(mid)[1], list(range(n + 1)))

    def test_journal_full(self):
        """A tiny EVENT_JOURNAL_MAX: 503 once full, with a detail that says
        so; what was acknowledged before is replayed, what was refused is
        not stored."""
        self.start_daemon(EVENT_JOURNAL_MAX="8KiB")
        mid, room = self.db.create_meeting()
        self.stop_pg()
        acked, refused = [], []
        for i in range(400):
            body = seed_event(JOINED, room, {"user_id": "f-%d" % i, "seq": i,
                                             "pad": "p" * 100})
            r = self.api.post_event(body)
            if r.status == 202:
                self.assertFalse(refused, "accepted after a refusal")
                self.assertIs(r.json.get("journaled"), True, r)
                acked.append(i)
            else:
                self.assert_error(r, 503, contains="journal")
                refused.append(i)
                if len(refused) >= 5:
                    break
        self.assertGreater(len(acked), 0, "nothing fitted in 8 KiB")
        self.assertEqual(len(refused), 5, "8 KiB never filled up")
        s, j = self.health()
        self.assertEqual(s, 503)
        self.assertEqual(j["journal"]["events"], len(acked))
        self.assertLessEqual(j["journal"]["bytes"], 8192)
        self.cluster.start()
        self.wait_health(self.api, 200, "the journal replayed",
                         pred=lambda j: j["journal"]["events"] == 0)
        self.assertEqual(self.seqs(mid)[1], acked)
        self.wait_state(mid, len(acked), len(acked))
        # room again
        self.assert_ok(self.api.post_event(seed_event(
            JOINED, room, {"user_id": "f-next"})), JOINED, room)

    # ---- an existing Reflector database --------------------------------------
    def test_start_on_reflector_database(self):
        """The daemon migrates at start: Reflector's rows stay as they
        were, and events for its meeting go after the events it had."""
        self.db.sql(REFLECTOR)
        before = self.db.sql("SELECT %s FROM meeting ORDER BY id" %
                             OLD_MEETING)
        old_events = self.db.events("m1")
        m1_before = self.db.sql("SELECT %s FROM meeting WHERE id = 'm1'" %
                                M1_COLUMNS)
        self.assertEqual(len(old_events), 2)
        self.start_daemon()
        after = self.db.sql("SELECT %s FROM meeting ORDER BY id" %
                            OLD_MEETING)
        # events and num_clients may be brought up to date; nothing else
        # may change (nothing was posted yet: not those either)
        self.assertEqual(after, before)
        self.assert_ok(self.api.post_event(seed_event(
            JOINED, "reflector-standup-1", {"user_id": "c"})), JOINED,
            "reflector-standup-1")
        self.wait_until(lambda: self.db.events_len("m1") == 3, SYNC,
                        "m1's third event")
        ev = self.db.events("m1")
        self.assertEqual(ev[:2], old_events)
        self.assertEqual(ev[2]["data"]["user_id"], "c")
        self.assertEqual(self.api_state("m1")["events"], ev)
        # the other meetings untouched, m1's other columns too
        self.assertEqual(
            self.db.sql("SELECT %s FROM meeting WHERE id <> 'm1' ORDER BY id"
                        % OLD_MEETING),
            [r for r in before if r[0] != "m1"])
        self.assertEqual(self.db.sql("SELECT %s FROM meeting WHERE id = "
                                     "'m1'" % M1_COLUMNS), m1_before)


if __name__ == "__main__":
    unittest.main()
