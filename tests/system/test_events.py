"""System tests: POST /v1/jitsi/events (the seed's shape) into PostgreSQL --
the guide's examples byte for byte, what is stored (meeting.events by SQL
within 1 s, GET /v1/meetings/{id} at once), unknown rooms, Idempotency-Key,
num_clients, the recording_completed event, no database, and a meeting
whose events column already holds 10,000 elements."""
import json
import os
import time
import unittest

import api
from api import (ApiCase, API_TOKENS, SYNC, SYNC_TOKEN, Session, compact,
                 lit, seed_event)
from harness import SLOW, job_id

JOINED = "muc-occupant-joined"
LEFT = "muc-occupant-left"


class Events(ApiCase):

    DATABASE = True
    ENV = {"STABLE_SECONDS": "3600"}

    def setUp(self):
        super().setUp()
        self.start_daemon()

    def check_element(self, e, type, data, t0, t1):
        """One element of meeting.events: keys type, timestamp (the
        receive time, microseconds), data exactly."""
        self.assertEqual(list(e), ["type", "timestamp", "data"], e)
        self.assertEqual(e["type"], type)
        self.assertRegex(e["timestamp"], api.ISO_US)
        got = api.parse_iso(e["timestamp"])
        self.assertGreaterEqual(got, t0 - 2, e["timestamp"])
        self.assertLessEqual(got, t1 + 2, e["timestamp"])
        self.assertEqual(e["data"], data)

    # ---- the guide's examples -------------------------------------------
    def test_seed_one_line_payload(self):
        """Manual Webhook Event Testing: the guide's shell lines (openssl
        signature, curl), its expected answer; the guide's Event Storage
        Structure in meeting.events, read with the guide's SQL."""
        api.seed_check(self)
        mid, room = self.db.create_meeting(room="reflector-test-room-uuid")
        t0 = time.time()
        out, code, _, err = api.run_shell(api.SEED_EVENT_SH.replace(
            api.SEED_DOMAIN, self.api.base), self.environ())
        t1 = time.time()
        self.assertEqual(code, 200, (out, err))
        self.assertEqual(json.loads(out), api.SEED_JOIN_ANSWER)
        want = {"user_id": "test-user", "display_name": "Test User",
                "timestamp": "2025-01-15T10:30:00Z"}
        # the API at once
        j = self.api_state(mid)
        self.assertEqual(len(j["events"]), 1, j)
        e = j["events"][0]
        self.check_element(e, JOINED, want, t0, t1)
        self.assertEqual(j["num_clients"], 1)
        # SQL within 1 s, the same element
        self.wait_state(mid, 1, 1)
        self.assertEqual(self.db.events(mid), [e])
        # the guide's own query, as printed
        self.assertEqual(json.loads(self.db.value(api.SEED_SQL % mid)), [e])
        # the append-only table: one row, the same element
        self.assertEqual(self.db.rows(mid), 1)
        self.assertEqual(self.db.row_events(mid), [e])
        self.assertEqual(self.db.value(
            "SELECT type FROM meeting_event WHERE meeting_id = %s" %
            lit(mid)), JOINED)

    def test_seed_pretty_payloads(self):
        """The guide's Participant Joined and Recording Started examples,
        pretty-printed as they are."""
        mid, room = self.db.create_meeting(room="reflector-my-room-uuid123")
        t0 = time.time()
        r = self.api.post_event(api.SEED_JOINED_PRETTY)
        t1 = time.time()
        self.assert_ok(r, JOINED, "reflector-my-room-uuid123")
        j = self.assert_clients(mid, 1, 1)
        self.check_element(j["events"][0], JOINED, {
            "occupant_id": "participant-456", "nick": "John Doe",
            "role": "participant", "affiliation": "none",
            "timestamp": "2025-01-15T10:30:00Z",
            "user_id": "participant-456", "display_name": "John Doe"},
            t0, t1)
        r = self.api.post_event(api.SEED_RECORDING_ON_PRETTY)
        t2 = time.time()
        self.assert_ok(r, "jibri-recording-on", "reflector-my-room-uuid123")
        j = self.assert_clients(mid, 2, 1)
        e = j["events"][1]
        self.assertEqual(e["type"], "jibri-recording-on")
        self.assertEqual(e["data"]["recording_id"], "rec-789")
        self.assertEqual(e["data"]["initiator"], "moderator-123")
        self.assertEqual(e["data"]["timestamp"], "2025-01-15T10:32:00Z")
        self.assertIsNone(e["data"].get("user_id"))
        self.assertIsNone(e["data"].get("display_name"))
        self.assertRegex(e["timestamp"], api.ISO_US)
        self.assertLessEqual(api.parse_iso(e["timestamp"]), t2 + 2)
        self.assertEqual(self.db.events(mid), j["events"])
        self.assertEqual([x["type"] for x in self.db.row_events(mid)],
                         [JOINED, "jibri-recording-on"])

    def test_derived_fields(self):
        """user_id: data.user_id, else data.occupant_id; display_name:
        data.display_name, else data.nick; the payload's fields kept."""
        mid, room = self.db.create_meeting()
        cases = [
            ({"user_id": "u1", "occupant_id": "o1", "display_name": "D",
              "nick": "N"}, "u1", "D"),
            ({"occupant_id": "o2", "nick": "N2"}, "o2", "N2"),
            ({"user_id": "u3", "nick": "N3", "extra": {"k": [1, 2]}},
             "u3", "N3"),
        ]
        for i, (data, uid, name) in enumerate(cases):
            self.assert_ok(self.api.post_event(seed_event(
                JOINED, room, data, "2025-01-15T10:3%d:00.000Z" % i)),
                JOINED, room)
        j = self.assert_clients(mid, 3, 3)
        for i, (data, uid, name) in enumerate(cases):
            d = j["events"][i]["data"]
            self.assertEqual(d, dict(data, user_id=uid, display_name=name,
                                     timestamp="2025-01-15T10:3%d:00Z" % i))
        # a timestamp already without fractions is kept as it is
        self.assert_ok(self.api.post_event(seed_event(
            "jibri-recording-off", room, {}, "2025-01-15T11:00:00Z")),
            "jibri-recording-off", room)
        j = self.assert_clients(mid, 4, 3)
        self.assertEqual(j["events"][3]["data"]["timestamp"],
                         "2025-01-15T11:00:00Z")

    # ---- refusals ---------------------------------------------------------
    def test_unknown_room(self):
        mid, room = self.db.create_meeting(room="reflector-known-room")
        for other in ("reflector-unknown", "Reflector-known-room",
                      "reflector-known-room ", "reflector-known-roo",
                      "reflector-known-room%", "reflector-known-_oom",
                      "' OR '1'='1"):
            with self.subTest(room=other):
                r = self.api.post_event(seed_event(JOINED, other,
                                                   {"user_id": "u"}))
                self.assert_error(r, 404, "Meeting not found")
        # no room at all is a malformed event, not an unknown meeting
        self.assert_error(self.api.post_event(seed_event(
            JOINED, "", {"user_id": "u"})), 422, contains="room")
        self.assertEqual(self.db.rows(), 0)
        self.assertEqual(self.db.events(mid), [])
        self.assert_ok(self.api.post_event(seed_event(
            JOINED, room, {"user_id": "u"})), JOINED, room)
        self.assertEqual(self.db.rows(), 1)

    def test_meetings_api(self):
        mid, room = self.db.create_meeting(room_url="https://meet.example."
                                           "com/x", num_clients=0)
        for token in (None, "", "wrong", API_TOKENS[0] + "x",
                      API_TOKENS[0][:-1], ",".join(API_TOKENS), SYNC_TOKEN,
                      API_TOKENS[0].upper()):
            with self.subTest(token=token):
                self.assert_error(self.api.meeting(mid, token=token), 401)
        r = self.api.get("/v1/meetings/" + mid, headers={
            "Authorization": "Basic " + API_TOKENS[0]})
        self.assert_error(r, 401)
        self.assert_error(self.api.meeting("m-nope", token="wrong"), 401)
        self.assert_error(self.api.meeting("m-nope"), 404,
                          "Meeting not found")
        self.assert_error(self.api.meeting("x%27%20OR%20%271%27%3D%271"),
                          404, "Meeting not found")
        for token in API_TOKENS:
            j = self.assert_json(self.api.meeting(mid, token=token), 200)
            for col in self.db.columns("meeting"):
                self.assertIn(col, j)
            self.assertEqual(j["id"], mid)
            self.assertEqual(j["room_name"], room)
            self.assertEqual(j["room_url"], "https://meet.example.com/x")
            self.assertIsNone(j["host_room_url"])
            self.assertIs(j["is_active"], True)
            self.assertEqual(j["events"], [])
            self.assertEqual(j["num_clients"], 0)
            self.assertNotIsInstance(j["num_clients"], bool)

    # ---- duplicates -------------------------------------------------------
    def test_idempotency_key(self):
        mid, room = self.db.create_meeting()
        other, oroom = self.db.create_meeting()
        body = seed_event(JOINED, room, {"user_id": "u-1"})
        self.assert_ok(self.api.post_event(body, idem="key-1"), JOINED, room)
        self.assert_ok(self.api.post_event(body, idem="key-1"), JOINED, room,
                       duplicate=True)
        # the same key with another body: still the one already seen
        r = self.api.post_event(seed_event(JOINED, room, {"user_id": "u-2"}),
                                idem="key-1")
        self.assert_ok(r, JOINED, room, duplicate=True)
        self.assertEqual(self.db.rows(mid), 1)
        # another key: a new event; no key: every POST is a new one
        self.assert_ok(self.api.post_event(body, idem="key-2"), JOINED, room)
        self.assert_ok(self.api.post_event(body), JOINED, room)
        self.assert_ok(self.api.post_event(body), JOINED, room)
        self.assertEqual(self.db.rows(mid), 4)
        # the same key for another meeting is that meeting's own
        self.assert_ok(self.api.post_event(seed_event(
            JOINED, oroom, {"user_id": "u-1"}), idem="key-1"), JOINED, oroom)
        self.assertEqual(self.db.rows(other), 1)
        # one person, however often joined
        self.assert_clients(mid, 4, 1)
        self.assert_clients(other, 1, 1)
        # keys survive a restart of the daemon (they are in the database)
        self.assertEqual(self.daemons[-1].stop(), 0)
        self.start_daemon()
        self.assert_ok(self.api.post_event(body, idem="key-2"), JOINED, room,
                       duplicate=True)
        self.assertEqual(self.db.rows(mid), 4)

    # ---- num_clients -------------------------------------------------------
    def test_join_leave_counting(self):
        mid, room = self.db.create_meeting()
        n = 0

        def post(event, user, ts, clients, **data):
            nonlocal n
            d = dict({"user_id": user}, **data)
            self.assert_ok(self.api.post_event(seed_event(
                event, room, d, "2025-01-15T%s.000Z" % ts)), event, room)
            n += 1
            self.assert_clients(mid, n, clients, "after %s %s at %s" % (
                event, user, ts))

        post(JOINED, "a", "10:30:00", 1, display_name="A")
        post(JOINED, "b", "10:30:01", 2)
        post(JOINED, "c", "10:30:02", 3)
        post(LEFT, "b", "10:31:00", 2)
        post(JOINED, "a", "10:30:00", 2)          # a again: one person
        # c's left from before c's join (late copy of an older stay)
        post(LEFT, "c", "10:29:00", 2)
        # d: left arrives first, then the (earlier) join: out
        post(LEFT, "d", "10:40:00", 2)
        post(JOINED, "d", "10:35:00", 2)
        post(LEFT, "a", "10:45:00", 1)
        post(JOINED, "b", "10:50:00", 2)           # b is back
        # occupant_id counts like user_id
        self.assert_ok(self.api.post_event(seed_event(
            JOINED, room, {"occupant_id": "e", "nick": "E"})), JOINED, room)
        self.assert_clients(mid, n + 1, 3)
        # the events are plain JSON for the application's own queries
        self.assertEqual(self.db.value(
            "SELECT count(*) FROM meeting, json_array_elements(events) e "
            "WHERE id = %s AND e->>'type' = 'muc-occupant-joined'" %
            lit(mid)), "7")

    # ---- recording_completed ------------------------------------------------
    def test_recording_completed_event(self):
        mid, room = self.db.create_meeting()
        s = self.jibri(finalize=False, slow=False, room=room)
        body = {"room_name": room, "recording_file": s.path,
                "recording_status": "completed",
                "timestamp": "2025-01-15T11:15:00.000Z"}
        for _ in range(2):
            r = self.api.post_recording(body)
            self.assert_json(r, 202, {"status": "queued", "job_id": s.id})
        j = self.assert_clients(mid, 1, 0)
        e = j["events"][0]
        self.assertEqual(e["type"], "recording_completed")
        self.assertRegex(e["timestamp"], api.ISO_US)
        for k, v in (("room_name", room), ("recording_file", s.path),
                     ("recording_status", "completed"), ("job_id", s.id),
                     ("timestamp", "2025-01-15T11:15:00Z")):
            self.assertEqual(e["data"].get(k), v, k)
        self.assertEqual(self.db.rows(mid), 1)
        # a room without a meeting: queued all the same, nothing stored
        t = self.jibri(finalize=False, slow=False, room="reflector-nomeet")
        r = self.api.post_recording(dict(body, room_name="reflector-nomeet",
                                         recording_file=t.path))
        self.assert_json(r, 202, {"status": "queued", "job_id": t.id})
        self.assertEqual(self.db.rows(), 1)
        self.wait_job(s.id, timeout=60)
        self.wait_job(t.id, timeout=60)
        self.assertEqual(sorted(self.jobs()), sorted([s.id, t.id]))
        self.assertEqual(t.id, job_id(t.rel))

    # ---- a long meeting -------------------------------------------------------
    def test_10000_existing_events(self):
        """meeting.events already holds 10,000 elements: they stay, in
        front of the new ones, and an event is not slower to take."""
        big, broom = self.db.create_meeting()
        small, sroom = self.db.create_meeting()
        self.db.sql(
            "UPDATE meeting SET events = (SELECT json_agg(json_build_object("
            "'type', 'muc-occupant-joined', 'timestamp', "
            "'2024-01-01T00:00:00.000001Z', 'data', json_build_object("
            "'user_id', 'old-' || i, 'seq', i)) ORDER BY i) FROM "
            "generate_series(1, 10000) i) WHERE id = %s" % lit(big))
        self.assertEqual(self.db.events_len(big), 10000)
        first = self.db.json("SELECT events->0 FROM meeting WHERE id = %s" %
                             lit(big))

        def post_many(room, n, tag):
            s = Session(self.port)
            try:
                t0 = time.monotonic()
                for i in range(n):
                    r = s.post(api.EVENTS, seed_event(JOINED, room, {
                        "user_id": "%s-%d" % (tag, i), "seq": i}))
                    self.assert_ok(r, JOINED, room)
                return time.monotonic() - t0
            finally:
                s.close()

        post_many(sroom, 20, "warm")
        t_small = post_many(sroom, 200, "new")
        t_big = post_many(broom, 200, "new")
        self.assertLess(t_big, 3 * t_small + 1.0 * SLOW,
                        "200 events took %.2fs into a meeting of 10,000, "
                        "%.2fs into a small one" % (t_big, t_small))
        self.wait_until(lambda: self.db.events_len(big) == 10200, SYNC,
                        "10,200 events by SQL", interval=0.02)
        self.assertEqual(self.db.value(
            "SELECT count(*) FROM meeting, json_array_elements(events) "
            "WITH ORDINALITY e(v, n) WHERE id = %s AND n <= 10000 AND "
            "(v->'data'->>'seq')::int = n AND v->'data'->>'user_id' = "
            "'old-' || n AND v->>'type' = 'muc-occupant-joined'" % lit(big)),
            "10000")
        self.assertEqual(self.db.value(
            "SELECT count(*) FROM meeting, json_array_elements(events) "
            "WITH ORDINALITY e(v, n) WHERE id = %s AND n > 10000 AND "
            "(v->'data'->>'seq')::int = n - 10001 AND v->'data'->>'user_id' "
            "= 'new-' || (n - 10001)" % lit(big)), "200")
        self.assertEqual(self.db.json(
            "SELECT events->0 FROM meeting WHERE id = %s" % lit(big)), first)
        self.assertEqual(self.db.rows(big), 200)
        j = self.api_state(big)
        self.assertEqual(len(j["events"]), 10200)
        self.assertEqual(j["events"][0], first)
        self.assertEqual(j["events"][9999]["data"], {"user_id": "old-10000",
                                                     "seq": 10000})
        self.assertEqual(j["events"][-1]["data"]["seq"], 199)
        self.wait_until(lambda: self.db.events_len(small) == 220, SYNC,
                        "220 events in the small meeting")
        self.assertEqual(self.api_state(small)["num_clients"], 220)


class EventsWithoutDatabase(ApiCase):
    """No DATABASE_URL: events cannot be stored, and the answer says why."""

    def test_503_names_database_url(self):
        self.start_daemon()
        body = compact(seed_event(JOINED, "reflector-x", {"user_id": "u"}))
        r = self.api.post_event(body)
        self.assert_error(r, 503, contains="DATABASE_URL")
        r = self.api.post_event(api.SEED_JOIN_PAYLOAD)
        self.assert_error(r, 503, contains="DATABASE_URL")
        j = self.assert_json(self.api.health(), 200)
        self.assertEqual(j["database"], "not configured")
        self.assertEqual(j["status"], "ok")
        # nothing was journaled for later either
        self.assertEqual(j["journal"], {"events": 0, "bytes": 0})
        journal = os.path.join(self.state, "events.journal")
        self.assertEqual(os.path.getsize(journal) if os.path.exists(journal)
                         else 0, 0)


if __name__ == "__main__":
    unittest.main()
