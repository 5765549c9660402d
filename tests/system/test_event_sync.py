"""System tests: POST /v1/jitsi/event-sync/events/... -- the bodies Prosody's
mod_event_sync (event_sync_component) really sends: every shape, breakout
rooms, unicode and hostile names, retried copies, events out of order,
rooms destroyed and created again; num_clients after every step, at once
in GET /v1/meetings/{id} and by SQL within 1 s; bearer, signature, none."""
import json
import signal
import unittest

import api
from api import (ApiCase, SYNC_ROUTES, SYNC_TOKEN, compact, occupant, reorder,
                 sign, sync_created, sync_destroyed, sync_joined, sync_left)

T = 1736937000              # 2025-01-15T10:30:00Z
MUC = "conference.meet.example.com"
BREAKOUT = "breakout.meet.example.com"


def jid(n):
    return "%08x-5195-4a4d-8efb-f58b49d18741@meet.example.com/r%d" % (n, n)


class EventSync(ApiCase):

    DATABASE = True

    def setUp(self):
        super().setUp()
        self.start_daemon()
        self.mid, self.room = self.db.create_meeting()
        self.rjid = self.room + "@" + MUC
        self.n = 0          # events stored so far

    def post(self, body, clients, duplicate=False, raw=None, **kw):
        """Post body (or raw bytes of it) to its route: 200 (duplicate or
        stored); then num_clients == clients via the API and by SQL."""
        r = self.api.post_sync(body, **kw) if raw is None else \
            self.api.post(SYNC_ROUTES[body["event_name"]], raw,
                          **dict({"sig": None, "token": SYNC_TOKEN}, **kw))
        self.assert_ok(r, body["event_name"], body["room_name"],
                       duplicate=duplicate,
                       msg="%s %s" % (body["event_name"], r))
        if not duplicate:
            self.n += 1
        what = "after %s of %s" % (body["event_name"],
                                   body.get("occupant", {}).get(
                                       "occupant_jid", body["room_jid"]))
        return self.assert_clients(self.mid, self.n, clients, what)

    def occ(self, n, joined_at, left_at=None, **kw):
        d = dict(name="Person %d" % n, id="user-%d" % n,
                 email="p%d@example.com" % n)
        d.update(kw)
        return occupant(jid(n), joined_at=joined_at, left_at=left_at, **d)

    # ---- the shapes --------------------------------------------------------
    def test_room_lifecycle(self):
        a = self.occ(1, T + 5)
        b = self.occ(2, T + 6)
        j = self.post(sync_created(self.room, self.rjid, T), 0)
        e = j["events"][0]
        self.assertEqual(e["type"], "muc-room-created")
        self.assertRegex(e["timestamp"], api.ISO_US)
        self.assertEqual(e["data"]["timestamp"], api.iso_s(T))
        self.post(sync_joined(self.room, self.rjid, a, 1), 1)
        j = self.post(sync_joined(self.room, self.rjid, b, 2), 2)
        e = j["events"][2]
        self.assertEqual(e["type"], "muc-occupant-joined")
        self.assertEqual(list(e), ["type", "timestamp", "data"])
        for k, v in b.items():
            self.assertEqual(e["data"].get(k), v, k)
        self.assertEqual(e["data"]["user_id"], "user-2")
        self.assertEqual(e["data"]["display_name"], "Person 2")
        self.assertEqual(e["data"]["timestamp"], api.iso_s(T + 6))
        a_left = dict(a, left_at=T + 60)
        j = self.post(sync_left(self.room, self.rjid, a_left, 1), 1)
        e = j["events"][3]
        self.assertEqual(e["type"], "muc-occupant-left")
        self.assertEqual(e["data"]["left_at"], T + 60)
        self.assertEqual(e["data"]["timestamp"], api.iso_s(T + 60))
        self.assertEqual(e["data"]["user_id"], "user-1")
        j = self.post(sync_destroyed(self.room, self.rjid, T, T + 90, [
            a_left, dict(b, left_at=T + 90)]), 0)
        e = j["events"][4]
        self.assertEqual(e["type"], "muc-room-destroyed")
        self.assertEqual(e["data"]["timestamp"], api.iso_s(T + 90))
        # SQL holds the same elements, in this order
        self.assertEqual(self.db.events(self.mid), j["events"])
        self.assertEqual([x["type"] for x in self.db.row_events(self.mid)], [
            "muc-room-created", "muc-occupant-joined", "muc-occupant-joined",
            "muc-occupant-left", "muc-room-destroyed"])

    def test_occupant_without_jwt(self):
        """No token auth: the occupant is only its jid; counted by it."""
        o1 = occupant(jid(1), joined_at=T)
        o2 = occupant(jid(2), joined_at=T)
        j = self.post(sync_joined(self.room, self.rjid, o1, 1), 1)
        d = j["events"][0]["data"]
        self.assertEqual(d["occupant_jid"], jid(1))
        self.assertIsNone(d.get("user_id"))
        self.assertIsNone(d.get("display_name"))
        self.post(sync_joined(self.room, self.rjid, o2, 2), 2)
        self.post(sync_left(self.room, self.rjid, dict(o1, left_at=T + 1),
                            1), 1)

    def test_same_user_two_devices(self):
        """One JWT user on two devices: two occupants (two jids)."""
        a = self.occ(1, T)
        a2 = dict(a, occupant_jid=jid(11))
        self.post(sync_joined(self.room, self.rjid, a, 1), 1)
        self.post(sync_joined(self.room, self.rjid, a2, 2), 2)
        self.post(sync_left(self.room, self.rjid, dict(a, left_at=T + 5), 1),
                  1)

    def test_breakout_move(self):
        """Moving to a breakout room is left (main) + joined (breakout,
        same room_name): the person counts once, whatever the order; a
        breakout room's destroy ends only its own occupants."""
        a, b = self.occ(1, T), self.occ(2, T)
        bid = "b0d7e5c2-1f4e-4a8e-9d0a-3c6f2b1a9e77"
        bjid = bid + "@" + BREAKOUT
        self.post(sync_created(self.room, self.rjid, T - 10), 0)
        self.post(sync_joined(self.room, self.rjid, a, 1), 1)
        self.post(sync_joined(self.room, self.rjid, b, 2), 2)
        # a: left main, then the breakout room is created and joined
        self.post(sync_left(self.room, self.rjid, dict(a, left_at=T + 30),
                            1), 1)
        j = self.post(sync_created(self.room, bjid, T + 30, breakout=bid), 1)
        self.assertEqual(j["events"][-1]["type"], "muc-room-created")
        j = self.post(sync_joined(self.room, bjid, dict(a, joined_at=T + 30),
                                  1, breakout=bid), 2)
        e = j["events"][-1]
        self.assertEqual(e["data"]["user_id"], "user-1")
        # b: the breakout join arrives before the main room's left
        self.post(sync_joined(self.room, bjid, dict(b, joined_at=T + 40), 2,
                              breakout=bid), 2)
        self.post(sync_left(self.room, self.rjid, dict(b, left_at=T + 40),
                            0), 2)
        # a comes back to the main room
        self.post(sync_left(self.room, bjid, dict(a, joined_at=T + 30,
                                                  left_at=T + 70), 1,
                            breakout=bid), 1)
        self.post(sync_joined(self.room, self.rjid, dict(a, joined_at=T + 70),
                              1), 2)
        # the breakout room goes (b with it, no left for b ever came);
        # a, in the main room, stays
        self.post(sync_destroyed(self.room, bjid, T + 30, T + 80, [
            dict(a, joined_at=T + 30, left_at=T + 70),
            dict(b, joined_at=T + 40, left_at=T + 80)], breakout=bid), 1)
        # then the main room
        self.post(sync_destroyed(self.room, self.rjid, T - 10, T + 100, [
            dict(a, left_at=T + 100), dict(b, left_at=T + 40)]), 0)

    # ---- retried copies ------------------------------------------------------
    def test_duplicates(self):
        a = self.occ(1, T)
        joined = sync_joined(self.room, self.rjid, a, 1)
        self.post(joined, 1)
        # Prosody's retry: the same event, keys in another order, other
        # spacing, by signature instead of bearer
        self.post(joined, 1, duplicate=True, raw=compact(reorder(joined)))
        self.post(joined, 1, duplicate=True,
                  raw=json.dumps(joined, indent=3).encode())
        body = compact(reorder(joined))
        self.post(joined, 1, duplicate=True, raw=body, sig=sign(body),
                  token=None)
        self.post(joined, 1, duplicate=True, raw=compact(joined, ascii=True))
        self.assertEqual(self.db.rows(self.mid), 1)
        # not copies: another occupant, another time, another room (jid)
        self.post(sync_joined(self.room, self.rjid, dict(
            a, occupant_jid=jid(9)), 2), 2)
        left = sync_left(self.room, self.rjid, dict(a, left_at=T + 20), 1)
        self.post(left, 1)
        self.post(left, 1, duplicate=True, raw=compact(reorder(left)))
        self.post(sync_joined(self.room, self.rjid, dict(a, joined_at=T + 30),
                              2), 2)
        created = sync_created(self.room, self.rjid, T - 5)
        self.post(created, 2)
        self.post(created, 2, duplicate=True, raw=compact(reorder(created)))
        destroyed = sync_destroyed(self.room, self.rjid, T - 5, T + 99,
                                   [dict(a, left_at=T + 99)])
        self.post(destroyed, 0)
        self.post(destroyed, 0, duplicate=True,
                  raw=compact(reorder(destroyed)))
        # destroyed twice for real (another time): stored, still nobody
        self.post(dict(destroyed, destroyed_at=T + 100), 0)
        self.assertEqual(self.db.rows(self.mid), self.n)
        self.assertEqual(len(self.db.row_events(self.mid)), 7)

    # ---- order --------------------------------------------------------------
    def test_left_before_joined(self):
        a = self.occ(1, T)
        # the left arrives first: nobody, and not below zero
        self.post(sync_left(self.room, self.rjid, dict(a, left_at=T + 10), 0),
                  0)
        self.post(sync_joined(self.room, self.rjid, a, 1), 0)
        # a later stay
        self.post(sync_joined(self.room, self.rjid, dict(a, joined_at=T + 20),
                              1), 1)
        # its left would be at T + 50, but the rejoin at T + 60 is already
        # here: in
        self.post(sync_joined(self.room, self.rjid, dict(a, joined_at=T + 60),
                              1), 1)
        self.post(sync_left(self.room, self.rjid, dict(
            a, joined_at=T + 20, left_at=T + 50), 0), 1)
        # b: a left only, never a join
        self.post(sync_left(self.room, self.rjid, self.occ(2, T, T + 5), 1),
                  1)

    def test_destroy_create_join(self):
        """After its room is destroyed and created again, a meeting takes
        events as before."""
        a, b, c = self.occ(1, T + 1), self.occ(2, T + 2), self.occ(3, T + 3)
        self.post(sync_created(self.room, self.rjid, T), 0)
        self.post(sync_joined(self.room, self.rjid, a, 1), 1)
        self.post(sync_joined(self.room, self.rjid, b, 2), 2)
        # destroyed with nobody's left sent: all out
        self.post(sync_destroyed(self.room, self.rjid, T, T + 50, [
            dict(a, left_at=T + 50), dict(b, left_at=T + 50)]), 0)
        # a late join from before the destroy changes nothing
        self.post(sync_joined(self.room, self.rjid, c, 3), 0)
        # destroyed again (Prosody sends it twice): still nobody
        self.post(sync_destroyed(self.room, self.rjid, T, T + 51, []), 0)
        self.post(sync_created(self.room, self.rjid, T + 100), 0)
        self.post(sync_joined(self.room, self.rjid, dict(b, joined_at=T + 101),
                              1), 1)
        self.post(sync_joined(self.room, self.rjid, dict(a, joined_at=T + 102),
                              2), 2)
        self.post(sync_left(self.room, self.rjid, dict(
            b, joined_at=T + 101, left_at=T + 110), 1), 1)

    # ---- names --------------------------------------------------------------
    def test_hostile_names(self):
        rooms = [
            'reflector-"quoted" \'single\' room',
            "reflector-\\back\\slash\\",
            "reflector-\U0001F389\U0001F468\u200D\U0001F469\u200D\U0001F467",
            "reflector-\u05e9\u05dc\u05d5\u05dd-\u0645\u0631\u062d\u0628\u0627"
            "-\u202e-rtl",
            "reflector-" + "x" * 1014,
            "'; DROP TABLE meeting; --",
            "reflector-%s-{}-$1-\u00e9\u0301-\u200b",
        ]
        self.assertEqual(len(rooms[4]), 1024)
        names = [
            'Zoë "The Quote" O\'Brien',
            "back\\slash \\u0041 not an escape",
            "\U0001F600 emoji \U0001F3F3\uFE0F\u200D\U0001F308",
            "\u05d3\u05e0\u05d4 \u0633\u0627\u0631\u0629 \u202eRTL\u202c",
            "line\nbreak\ttab",
            "<script>alert(1)</script>",
            "N" * 1024,
        ]
        for i, room in enumerate(rooms):
            mid, _ = self.db.create_meeting(room=room)
            rjid = "r%d@%s" % (i, MUC)
            for k, name in enumerate(names):
                o = occupant(jid(k), name, "id-%s-%d" % (name[:20], k),
                             joined_at=T + k)
                body = sync_joined(room, rjid, o, k + 1)
                # half as raw UTF-8, half as \\u escapes (surrogate pairs)
                raw = compact(body, ascii=bool(k % 2))
                with self.subTest(room=room[:40], name=name[:40]):
                    r = self.api.post(SYNC_ROUTES["muc-occupant-joined"],
                                      raw, sig=None, token=SYNC_TOKEN)
                    self.assert_ok(r, "muc-occupant-joined", room)
            j = self.assert_clients(mid, len(names), len(names))
            self.assertEqual(j["room_name"], room)
            self.assertEqual([e["data"]["display_name"] for e in
                              j["events"]], names)
            self.assertEqual([e["data"]["user_id"] for e in j["events"]],
                             ["id-%s-%d" % (n[:20], k) for k, n in
                              enumerate(names)])
            self.assertEqual(self.db.events(mid), j["events"])
        # the meeting table is still there, every room found by its name
        self.assertEqual(self.db.value("SELECT count(*) FROM meeting"),
                         str(len(rooms) + 1))

    # ---- auth, rooms, routes -------------------------------------------------
    def test_token_reload(self):
        """SIGHUP (systemctl reload) takes a new EVENT_SYNC_TOKEN from the
        env file: the old one is refused at once, the new one taken, the
        daemon and its connections stay."""
        for d in self.daemons:
            d.stop()
        with open(self.config_file, "w") as f:
            f.write("EVENT_SYNC_TOKEN=old-token-1\n")
        d = self.start_daemon(EVENT_SYNC_TOKEN=None)
        pid = d.pid
        self.post(sync_joined(self.room, self.rjid, self.occ(1, T), 1), 1,
                  token="old-token-1")
        with open(self.config_file, "w") as f:
            f.write("EVENT_SYNC_TOKEN=new-token-2\n")
        d.signal(signal.SIGHUP)
        self.wait_until(lambda: "configuration reloaded" in d.log(), 10,
                        "the reload")
        body = sync_joined(self.room, self.rjid, self.occ(2, T), 2)
        self.assert_error(self.api.post_sync(body, token="old-token-1"), 401)
        self.post(body, 2, token="new-token-2")
        self.assertEqual(d.pid, pid)
        self.assertTrue(d.alive())

    def test_auth(self):
        a = self.occ(1, T)
        body = sync_joined(self.room, self.rjid, a, 1)
        raw = compact(body)
        for what, kw in {"none": dict(sig=None, token=None),
                         "wrong bearer": dict(sig=None, token="TOKEN-x"),
                         "bearer of another": dict(sig=None,
                                                   token=api.API_TOKENS[0]),
                         "bad signature": dict(sig=sign(raw, "x"),
                                               token=None)}.items():
            with self.subTest(what):
                r = self.api.post(SYNC_ROUTES["muc-occupant-joined"], raw,
                                  **kw)
                self.assert_error(r, 401, msg=what)
        self.assertEqual(self.db.rows(), 0)
        self.assertEqual(self.api_state(self.mid)["events"], [])
        # bearer: stored; a signature instead: stored (another occupant)
        self.post(body, 1)
        other = sync_joined(self.room, self.rjid, self.occ(2, T), 2)
        self.post(other, 2, raw=compact(other), sig=sign(compact(other)),
                  token=None)

    def test_unknown_room_and_wrong_route(self):
        a = self.occ(1, T)
        for room in ("reflector-unknown", self.room.upper(), self.room + "x"):
            r = self.api.post_sync(sync_joined(room, self.rjid, a, 1))
            self.assert_error(r, 404, "Meeting not found")
        # a body on another event's route
        for name, route in SYNC_ROUTES.items():
            if name == "muc-occupant-joined":
                continue
            r = self.api.post_sync(sync_joined(self.room, self.rjid, a, 1),
                                   route=route)
            self.assert_error(r, 422, contains="event_name")
        self.assertEqual(self.db.rows(), 0)
        self.post(sync_joined(self.room, self.rjid, a, 1), 1)


if __name__ == "__main__":
    unittest.main()
