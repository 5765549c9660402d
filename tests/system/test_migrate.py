"""System tests: jibri-pipeline migrate and check against a throwaway
PostgreSQL cluster (tests/lib/pg.py) -- the tables on an empty database,
twice, on a pre-filled Reflector-like schema, two at once, and the errors."""
import subprocess
import unittest

import pg
from harness import PIPELINE, PipelineCase, SLOW

VERSION = 1

# Every column migrate makes: (table, column) -> (data_type, is_nullable,
# column_default) as information_schema.columns gives them.
COLUMNS = {
    "room": {
        "id": ("text", "NO", None),
        "name": ("text", "NO", None),
        "user_id": ("text", "YES", None),
        "created_at": ("timestamp with time zone", "NO", "now()"),
        "zulip_auto_post": ("boolean", "NO", "false"),
        "zulip_stream": ("text", "YES", None),
        "zulip_topic": ("text", "YES", None),
        "is_locked": ("boolean", "NO", "false"),
        "room_mode": ("text", "NO", "'normal'::text"),
        "recording_type": ("text", "NO", "'cloud'::text"),
        "recording_trigger": ("text", "NO",
                              "'automatic-2nd-participant'::text"),
        "is_shared": ("boolean", "NO", "false"),
        "platform": ("text", "NO", "'whereby'::text"),
    },
    "meeting": {
        "id": ("text", "NO", None),
        "room_name": ("text", "YES", None),
        "room_url": ("text", "YES", None),
        "host_room_url": ("text", "YES", None),
        "start_date": ("timestamp with time zone", "YES", None),
        "end_date": ("timestamp with time zone", "YES", None),
        "user_id": ("text", "YES", None),
        "room_id": ("text", "YES", None),
        "is_locked": ("boolean", "NO", "false"),
        "room_mode": ("text", "NO", "'normal'::text"),
        "recording_type": ("text", "NO", "'cloud'::text"),
        "recording_trigger": ("text", "NO",
                              "'automatic-2nd-participant'::text"),
        "num_clients": ("integer", "NO", "0"),
        "is_active": ("boolean", "NO", "true"),
        "platform": ("text", "NO", "'whereby'::text"),
        "events": ("json", "NO", "'[]'::json"),
    },
    "recording": {
        "id": ("text", "NO", None),
        "meeting_id": ("text", "YES", None),
        "bucket_name": ("text", "YES", None),
        "object_key": ("text", "YES", None),
        "recorded_at": ("timestamp with time zone", "YES", None),
        "status": ("text", "NO", "'pending'::text"),
    },
    "meeting_event": {
        "id": ("bigint", "NO", "nextval('meeting_event_id_seq'::regclass)"),
        "meeting_id": ("text", "NO", None),
        "received_at": ("timestamp with time zone", "NO", "now()"),
        "type": ("text", "NO", None),
        "event": ("json", "NO", None),
        "dedup_key": ("text", "YES", None),
        "occupant": ("text", "YES", None),
        "scope": ("text", "NO", "''::text"),
        "delta": ("smallint", "NO", "0"),
        "event_time": ("timestamp with time zone", "NO", None),
        "reported_count": ("integer", "YES", None),
    },
    "meeting_event_base": {
        "meeting_id": ("text", "NO", None),
        "events": ("json", "NO", None),
        "captured_at": ("timestamp with time zone", "NO", "now()"),
    },
    "jibri_pipeline_schema": {
        "version": ("integer", "NO", None),
        "applied_at": ("timestamp with time zone", "NO", "now()"),
    },
}

# A Reflector database as an older Reflector left it: meeting without
# platform, is_locked, room_mode, recording_*, host_room_url; room with
# few columns; one column of its own migrate knows nothing about.
REFLECTOR = """
CREATE TABLE room (
    id text PRIMARY KEY,
    name text NOT NULL UNIQUE,
    user_id text NOT NULL,
    created_at timestamptz NOT NULL,
    zulip_auto_post boolean NOT NULL DEFAULT true,
    zulip_stream text,
    zulip_topic text
);
CREATE TABLE meeting (
    id text PRIMARY KEY,
    room_name text,
    room_url text,
    start_date timestamptz,
    end_date timestamptz,
    user_id text,
    room_id text REFERENCES room (id),
    num_clients integer NOT NULL DEFAULT 0,
    is_active boolean NOT NULL DEFAULT true,
    calendar_event_id text,
    events json NOT NULL DEFAULT '[]'
);
CREATE INDEX idx_meeting_room_id ON meeting (room_id);
INSERT INTO room VALUES
    ('r1', 'standup', 'u1', '2025-03-01 09:00:00+00', false, 'eng', 'daily'),
    ('r2', 'retro \u00e9\u00e8 \U0001F600', 'u2', '2025-03-02 10:00:00+01',
     true, NULL, NULL);
INSERT INTO meeting (id, room_name, room_url, start_date, end_date, user_id,
                     room_id, num_clients, is_active, calendar_event_id,
                     events) VALUES
    ('m1', 'reflector-standup-1', 'https://meet.example.com/reflector-standup-1',
     '2025-03-01 09:00:00+00', '2025-03-01 17:00:00+00', 'u1', 'r1', 2,
     true, 'cal-7',
     '[{"type": "muc-occupant-joined", "timestamp": "2025-03-01T09:01:00.000001Z", "data": {"user_id": "a", "display_name": "Ann \u00c5"}},  {"type":"muc-occupant-joined","timestamp":"2025-03-01T09:02:00.000002Z","data":{"user_id":"b"}}]'),
    ('m2', 'reflector-retro-2', NULL, NULL, NULL, NULL, 'r2', 0, false, NULL,
     DEFAULT),
    ('m3', 'reflector-x-3', 'u', '2025-01-01 00:00:00+00', NULL, 'u9', NULL, 0,
     true, NULL, '[]');
"""

OLD_MEETING = ("id, room_name, room_url, start_date, end_date, user_id, "
               "room_id, num_clients, is_active, calendar_event_id, "
               "events::text")
OLD_ROOM = ("id, name, user_id, created_at, zulip_auto_post, zulip_stream, "
            "zulip_topic")

cluster = None


def setUpModule():
    global cluster
    why = pg.available()
    if why:
        raise unittest.SkipTest(why)
    cluster = pg.Cluster().start()


def tearDownModule():
    global cluster
    if cluster is not None:
        cluster.destroy()
        cluster = None


class MigrateCase(PipelineCase):
    """Each test gets a fresh database in the module's cluster."""

    WEBHOOK = False

    def setUp(self):
        super().setUp()
        self.db = "t_" + self._testMethodName[:50].lower()
        self.url = cluster.create_database(self.db)
        self.settings["DATABASE_URL"] = self.url

    def sql(self, q):
        return cluster.rows(q, url=self.url)

    def migrate(self, **extra):
        return self.cli("migrate", **extra)

    def assert_migrated(self, p):
        self.assertEqual(p.returncode, 0, p.stderr)
        self.assertEqual(p.stdout.strip(),
                         "database schema up to date (version %d)" % VERSION)

    def columns(self, table):
        return {r[0]: tuple(r[1:]) for r in self.sql(
            "SELECT column_name, data_type, is_nullable, column_default "
            "FROM information_schema.columns WHERE table_schema = "
            "current_schema() AND table_name = '%s'" % table)}

    def snapshot(self):
        """Everything about the schema that migrate could change."""
        return {
            "columns": self.sql(
                "SELECT table_name, column_name, ordinal_position, "
                "data_type, is_nullable, column_default FROM "
                "information_schema.columns WHERE table_schema = "
                "current_schema() ORDER BY 1, 3"),
            "indexes": self.sql(
                "SELECT indexname, indexdef FROM pg_indexes WHERE "
                "schemaname = current_schema() ORDER BY 1"),
            "constraints": self.sql(
                "SELECT conrelid::regclass::text, conname, "
                "pg_get_constraintdef(oid) FROM pg_constraint WHERE "
                "connamespace = current_schema()::regnamespace ORDER BY 1, 2"),
            "versions": self.sql(
                "SELECT version, applied_at FROM jibri_pipeline_schema "
                "ORDER BY 1"),
            "relfilenodes": self.sql(
                "SELECT relname, relfilenode FROM pg_class WHERE "
                "relnamespace = current_schema()::regnamespace AND "
                "relkind = 'r' ORDER BY 1"),
        }

    # (a) an empty database
    def test_empty_database(self):
        self.assert_migrated(self.migrate())
        for table, want in COLUMNS.items():
            self.assertEqual(self.columns(table), want, table)
        # events: json NOT NULL DEFAULT '[]', as the application reads it
        self.sql("INSERT INTO meeting (id, room_name) VALUES ('m', 'r')")
        self.assertEqual(self.sql(
            "SELECT events::text, num_clients, is_active, platform FROM "
            "meeting"), [["[]", "0", "t", "whereby"]])
        self.assertEqual(self.sql(
            "SELECT version FROM jibri_pipeline_schema"), [[str(VERSION)]])
        # meeting_event: a dedup key once per meeting, NULL any number
        cols = "INSERT INTO meeting_event (meeting_id, type, event, " \
            "dedup_key, event_time) VALUES "
        self.sql(cols + "('m', 'x', '{}', 'k', now()), ('m', 'x', '{}', "
                 "NULL, now()), ('m', 'x', '{}', NULL, now()), "
                 "('n', 'x', '{}', 'k', now())")
        with self.assertRaisesRegex(pg.PGError, "duplicate key"):
            self.sql(cols + "('m', 'y', '{}', 'k', now())")
        self.assertEqual(self.sql("SELECT count(*) FROM meeting_event"),
                         [["4"]])
        indexes = {r[0] for r in self.sql(
            "SELECT indexname FROM pg_indexes WHERE schemaname = "
            "current_schema()")}
        for name in ("jp_meeting_room_name_idx", "jp_recording_meeting_id_idx",
                     "jp_meeting_event_meeting_id_idx", "room_name_key",
                     "meeting_event_meeting_id_dedup_key_key"):
            self.assertIn(name, indexes)

    # (b) twice: the second run changes nothing
    def test_twice(self):
        self.assert_migrated(self.migrate())
        self.sql("INSERT INTO meeting (id, room_name, events) VALUES "
                 "('m', 'r', '[{\"type\": \"a\"}]')")
        before = self.snapshot()
        rows = self.sql("SELECT id, events::text FROM meeting")
        self.assert_migrated(self.migrate())
        self.assertEqual(self.snapshot(), before)
        self.assertEqual(self.sql("SELECT id, events::text FROM meeting"),
                         rows)

    # (c) a pre-filled Reflector-like schema
    def test_reflector_schema(self):
        self.sql(REFLECTOR)
        meetings = self.sql("SELECT %s FROM meeting ORDER BY id" % OLD_MEETING)
        rooms = self.sql("SELECT %s FROM room ORDER BY id" % OLD_ROOM)
        old_cols = {t: self.columns(t) for t in ("room", "meeting")}
        self.assertEqual(len(meetings), 3)
        for _ in range(2):
            self.assert_migrated(self.migrate())
            self.assertEqual(self.sql("SELECT %s FROM meeting ORDER BY id" %
                                      OLD_MEETING), meetings)
            self.assertEqual(self.sql("SELECT %s FROM room ORDER BY id" %
                                      OLD_ROOM), rooms)
        for table in ("room", "meeting"):
            cols = self.columns(table)
            # every column there, the old ones exactly as they were
            self.assertEqual(set(cols), set(COLUMNS[table]) |
                             set(old_cols[table]), table)
            for name, how in old_cols[table].items():
                self.assertEqual(cols[name], how, (table, name))
        # the added columns: their defaults on the old rows
        self.assertEqual(self.sql(
            "SELECT id, host_room_url, is_locked, room_mode, recording_type, "
            "recording_trigger, platform FROM meeting ORDER BY id"),
            [[m, None, "f", "normal", "cloud", "automatic-2nd-participant",
              "whereby"] for m in ("m1", "m2", "m3")])
        self.assertEqual(self.sql(
            "SELECT id, is_locked, is_shared, platform FROM room ORDER BY id"),
            [["r1", "f", "f", "whereby"], ["r2", "f", "f", "whereby"]])
        # Reflector's own index and foreign key are still there
        self.assertEqual(self.sql(
            "SELECT count(*) FROM pg_indexes WHERE indexname = "
            "'idx_meeting_room_id'"), [["1"]])
        self.assertEqual(self.sql(
            "SELECT count(*) FROM pg_constraint WHERE conrelid = "
            "'meeting'::regclass AND contype = 'f'"), [["1"]])
        # the new tables exist; the application can go on writing
        self.sql("INSERT INTO recording (id, meeting_id) VALUES ('x', 'm1')")
        self.sql("INSERT INTO meeting (id) VALUES ('m4')")
        self.assertEqual(self.sql(
            "SELECT events::text, platform FROM meeting WHERE id = 'm4'"),
            [["[]", "whereby"]])

    # (d) two daemons migrating at once
    def test_concurrent(self):
        env = self.environ()
        for n in range(3):
            url = cluster.create_database("%s_%d" % (self.db, n))
            env["DATABASE_URL"] = url
            procs = [subprocess.Popen([PIPELINE, "migrate"], env=env,
                                      stdout=subprocess.PIPE,
                                      stderr=subprocess.PIPE, text=True)
                     for _ in range(4)]
            for p in procs:
                out, err = p.communicate(timeout=60 * SLOW)
                self.assertEqual(p.returncode, 0, err)
                self.assertEqual(out.strip(), "database schema up to date "
                                 "(version %d)" % VERSION)
            self.assertEqual(cluster.rows(
                "SELECT version FROM jibri_pipeline_schema", url=url),
                [[str(VERSION)]])
            self.assertEqual(cluster.rows(
                "SELECT count(*) FROM information_schema.tables WHERE "
                "table_schema = current_schema()", url=url), [["6"]])

    # (e) the errors
    def test_no_database_url(self):
        p = self.migrate(DATABASE_URL=None)
        self.assertEqual(p.returncode, 1)
        self.assertEqual(p.stdout, "")
        self.assertRegex(p.stderr, r"^error: DATABASE_URL is not set")

    def assert_refused(self, p, secret):
        self.assertEqual(p.returncode, 1, p.stdout)
        self.assertIn("error: DATABASE_URL: ", p.stderr)
        self.assertNotIn(secret, p.stderr + p.stdout)

    def test_wrong_password(self):
        wrong = "Wr0ng-pass-77ab"
        # the right password works (the role exists, the check is real)
        self.assert_migrated(self.migrate(
            DATABASE_URL=cluster.password_url(database=self.db)))
        p = self.migrate(DATABASE_URL=cluster.password_url(wrong, self.db))
        self.assert_refused(p, wrong)
        self.assertIn("password authentication failed", p.stderr)
        # the password as a query parameter or in key=value form
        for url in ("postgresql://%s@127.0.0.1:%d/%s?password=%s" % (
                        pg.PASSWORD_USER, cluster.port, self.db, wrong),
                    "host=127.0.0.1 port=%d dbname=%s user=%s password=%s" % (
                        cluster.port, self.db, pg.PASSWORD_USER, wrong)):
            p = self.migrate(DATABASE_URL=url)
            self.assert_refused(p, wrong)
            self.assertIn("password authentication failed", p.stderr)
            p = self.cli("check", DATABASE_URL=url)
            self.assert_refused(p, wrong)
            self.assertNotIn("configuration OK", p.stdout)

    def test_wrong_port(self):
        url = "postgresql://%s:%s@127.0.0.1:%d/%s" % (
            pg.PASSWORD_USER, pg.PASSWORD, pg.free_port(), self.db)
        for cmd in ("migrate", "check"):
            p = self.cli(cmd, DATABASE_URL=url)
            self.assert_refused(p, pg.PASSWORD)
            self.assertIn("127.0.0.1", p.stderr)

    def test_unparseable_url(self):
        """A DATABASE_URL libpq cannot parse: its message quotes it, and
        the password is still not shown."""
        for url in ("host=127.0.0.1 password=Zz-secret-41 port='5",
                    "postgresql://u:Zz-secret-41@[::1:5/x"):
            for cmd in ("migrate", "check"):
                p = self.cli(cmd, DATABASE_URL=url)
                self.assert_refused(p, "Zz-secret-41")

    # (f) check
    def test_check(self):
        p = self.cli("check")
        self.assertEqual(p.returncode, 0, p.stderr)
        self.assertEqual(p.stdout.splitlines(), [
            "database: answers (PostgreSQL %s)" % self.server_version(),
            "database schema: not current (version 0, this build wants "
            "%d): run jibri-pipeline migrate" % VERSION,
            "configuration OK"])
        self.assert_migrated(self.migrate())
        p = self.cli("check")
        self.assertEqual(p.returncode, 0, p.stderr)
        self.assertEqual(p.stdout.splitlines(), [
            "database: answers (PostgreSQL %s)" % self.server_version(),
            "database schema: current (version %d)" % VERSION,
            "configuration OK"])

    def test_check_outage(self):
        """The server stopped and started again (pg.Cluster.stop/start)."""
        self.assert_migrated(self.migrate())
        url = cluster.password_url(database=self.db)
        cluster.stop()
        try:
            p = self.cli("check", DATABASE_URL=url)
            self.assert_refused(p, pg.PASSWORD)
            self.assertIn("cannot connect", p.stderr)
            self.assertNotIn("configuration OK", p.stdout)
        finally:
            cluster.start()
        p = self.cli("check", DATABASE_URL=url)
        self.assertEqual(p.returncode, 0, p.stderr)
        self.assertIn("database schema: current (version %d)" % VERSION,
                      p.stdout)

    def server_version(self):
        num = int(self.sql("SHOW server_version_num")[0][0])
        return "%d.%d" % (num // 10000, num % 10000)


if __name__ == "__main__":
    unittest.main()
