"""System tests: recordings tied to their meeting -- the `recording` row
that follows a job (pending .. completed, meeting found by room name),
GET /v1/recordings[/{id}], a meeting's recordings in GET /v1/meetings/{id},
participants taken from the meeting's events when Jibri's metadata.json
names nobody (webhook and manifest, marked as such), and PostgreSQL
stopped while a recording goes through (the job completes; the row
follows once the database is back). Real PostgreSQL, real HTTP, media
made by ffmpeg."""
import json
import os
import time

import api
from api import ApiCase, API_TOKENS, lit, seed_event

JOINED = "muc-occupant-joined"
LEFT = "muc-occupant-left"


class Recordings(ApiCase):
    DATABASE = True
    WEBHOOK = True

    def row(self, rid):
        r = self.db.sql(
            "SELECT coalesce(meeting_id, ''), coalesce(bucket_name, ''), "
            "coalesce(object_key, ''), status, extract(epoch FROM "
            "recorded_at) FROM recording WHERE id = %s" % lit(rid))
        if not r:
            return None
        return dict(zip(("meeting_id", "bucket_name", "object_key",
                         "status", "recorded_at"), r[0]))

    def wait_row(self, rid, status, timeout=10):
        return self.wait_until(
            lambda: (lambda r: r if r and r["status"] == status else None)(
                self.row(rid)), timeout,
            "recording row %s %s" % (rid, status))

    def event(self, name, room, uid, nick, t):
        r = self.api.post_event(seed_event(
            name, room, {"user_id": uid, "display_name": nick},
            api.iso_ms(t)))
        self.assert_ok(r, name, room)

    def webhook_of(self, rid):
        acks = [d for d in self.receiver.acknowledged()
                if d.json and d.json.get("recording_id") == rid]
        self.assertEqual(len(acks), 1, self.receiver.all())
        return acks[0].json

    def test_meeting_recording(self):
        """A recording of a known meeting whose metadata.json lists nobody:
        its row (meeting, bucket, key, recorded_at, completed), the API's
        views, and the participants from the events for the time it ran
        in the webhook and the manifest."""
        self.start_daemon()
        now = time.time()
        mid, room = self.db.create_meeting(
            room="reflector-standup-" + os.urandom(4).hex())
        self.db.sql("UPDATE meeting SET start_date = now() - interval "
                    "'5 minutes' WHERE id = %s" % lit(mid))
        self.event(JOINED, room, "u-ada", "Ada", now - 90)
        self.event(JOINED, room, "u-bob", "Bob", now - 80)
        self.event(LEFT, room, "u-bob", "Bob", now - 70)   # gone before
        self.event(JOINED, room, "u-cy", "Cy", now - 60)
        self.event(JOINED, room, "u-late", "Late", now + 3600)  # after it
        s = self.jibri(room=room, participants=[], slow=False)
        j = self.wait_job(s.id, timeout=60)
        body = self.webhook_of(s.id)
        self.assertEqual(body.get("participants_source"), "meeting_events")
        got = [(p["id"], p["name"], p["left_at"]) for p in
               body["participants"]]
        self.assertEqual(got, [("u-ada", "Ada", None), ("u-cy", "Cy", None)])
        for p in body["participants"]:
            self.assertRegex(p["joined_at"], r"^\d{4}-\d\d-\d\dT\d\d:\d\d:"
                             r"\d\dZ$")
        self.assertAlmostEqual(api.parse_iso(body["participants"][0][
            "joined_at"]), now - 90, delta=1.5)
        with open(self.stored(j["objects"]["manifest"]["key"])) as f:
            manifest = json.load(f)
        self.assertEqual(manifest["participants"], body["participants"])
        self.assertEqual(manifest["participants_source"], "meeting_events")

        row = self.wait_row(s.id, "completed")
        self.assertEqual(row["meeting_id"], mid)
        self.assertEqual(row["object_key"], j["objects"]["video"]["key"])
        # file:// storage: the bucket is the storage URL up to the key
        self.assertEqual(row["bucket_name"] + "/" + row["object_key"],
                         "file://" + self.stored(j["objects"]["video"]["key"]))
        # Jibri's file name carries the start, in the host's time
        self.assertAlmostEqual(float(row["recorded_at"]), now, delta=120)

        r = self.api.get("/v1/recordings", token=API_TOKENS[0])
        self.assertEqual(r.status, 200, r)
        recs = {x["id"]: x for x in r.json["recordings"]}
        self.assertEqual(recs[s.id]["state"], "done")
        self.assertEqual(recs[s.id]["ledger_status"], "completed")
        self.assertEqual(recs[s.id]["objects"]["video"]["key"],
                         j["objects"]["video"]["key"])
        self.assertIn("progress", recs[s.id])
        self.assertIn("attempts", recs[s.id])
        r = self.api.get("/v1/recordings/" + s.id, token=API_TOKENS[1])
        self.assertEqual(r.status, 200, r)
        self.assertEqual(r.json["id"], s.id)
        self.assert_error(self.api.get("/v1/recordings/" + "0" * 32,
                                       token=API_TOKENS[0]), 404)
        self.assert_error(self.api.get("/v1/recordings/..%2f..",
                                       token=API_TOKENS[0]), 404)
        self.assert_error(self.api.get("/v1/recordings"), 401)
        self.assert_error(self.api.get("/v1/recordings/" + s.id,
                                       token="nope"), 401)

        m = self.api.meeting(mid)
        self.assertEqual(m.status, 200, m)
        self.assertEqual([(x["id"], x["status"]) for x in
                          m.json["recordings"]], [(s.id, "completed")])

    def test_jibri_participants_kept(self):
        """metadata.json that names people: the webhook carries Jibri's
        list, unmarked; no meeting: the row is written without one."""
        self.start_daemon()
        s = self.jibri(room="reflector-nomeeting-" + os.urandom(3).hex(),
                       slow=False)
        self.wait_job(s.id, timeout=60)
        body = self.webhook_of(s.id)
        self.assertEqual(body["participants"], s.participants)
        self.assertNotIn("participants_source", body)
        row = self.wait_row(s.id, "completed")
        self.assertEqual(row["meeting_id"], "")

    def test_database_down(self):
        """PostgreSQL stopped while a recording goes through: the job
        completes and is announced; its row appears, completed and tied
        to its meeting, once the database is back."""
        self.start_daemon()
        mid, room = self.db.create_meeting(
            room="reflector-outage-" + os.urandom(4).hex())
        self.cluster.stop()
        try:
            s = self.jibri(room=room, participants=[], slow=False)
            self.wait_job(s.id, timeout=60)
            body = self.webhook_of(s.id)
            self.assertEqual(body["participants"], [])
            self.assertNotIn("participants_source", body)
        finally:
            self.cluster.start()
        row = self.wait_row(s.id, "completed", timeout=45)
        self.assertEqual(row["meeting_id"], mid)

    def test_status_follows_job(self):
        """A job that fails for good (its webhook refused with 400): the
        row says failed."""
        self.receiver.respond(400)
        self.start_daemon()
        s = self.jibri(slow=False)
        self.wait_job(s.id, states=("failed",), timeout=60)
        self.wait_row(s.id, "failed")
