"""api.py -- the HTTP side of jibri-pipeline in the system tests.

A client for the co-hosted endpoint (http.client, one connection per call,
or a Session that keeps one), X-Jitsi-Signature signing (hmac + hashlib,
nothing shared with the daemon), raw-socket requests for what http.client
will not send (chunked streams, half-sent headers), the bodies the tests
post (the seed's shape and Prosody mod_event_sync's), the seed's examples
verbatim, and a test case base (ApiCase) with a PostgreSQL cluster per
class, a fresh database per test and SQL helpers for meetings.

    class T(ApiCase):
        DATABASE = True                 # one pg.Cluster for the class
        def test_x(self):
            self.start_daemon()         # LISTEN=127.0.0.1:<free port>
            mid, room = self.db.create_meeting()
            r = self.api.post_event(seed_event("muc-occupant-joined", room,
                                               {"user_id": "u"}))
            self.assertEqual(r.status, 200, r)
            self.db.events(mid)         # meeting.events, parsed
"""
import datetime
import http.client
import json
import os
import re
import select
import socket
import subprocess
import tempfile
import time
import unittest
import uuid

import pg
from harness import SECRET, SLOW, Daemon, PipelineCase
from receiver import free_port, signature

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(os.path.dirname(HERE))

SYNC_TOKEN = "TOKEN-sync-5c0e7d2a91b4f8"
API_TOKENS = ("tok-api-one-3f9d1c77e2", "tok-api-two-a48be01d5c")

MAX_BODY = 65536

# The contract: meeting.events / num_clients follow meeting_event within
# 1 s; half a second more for psql's own start-up while polling.
SYNC = 1.5

EVENTS = "/v1/jitsi/events"
HEALTH = "/v1/jitsi/health"
RECORDING = "/v1/jibri/recording-complete"
SYNC_PREFIX = "/v1/jitsi/event-sync/events/"
SYNC_ROUTES = {
    "muc-room-created": SYNC_PREFIX + "room/created",
    "muc-room-destroyed": SYNC_PREFIX + "room/destroyed",
    "muc-occupant-joined": SYNC_PREFIX + "occupant/joined",
    "muc-occupant-left": SYNC_PREFIX + "occupant/left",
}

ISO_MS = re.compile(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$")
ISO_US = re.compile(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{6}Z$")


# ---- the seed's examples, byte for byte ---------------------------------
# (seed/jitsi-integration-guide.md; seed_check() compares them with the
# guide when it can be found)

# "Manual Webhook Event Testing": the one-line PAYLOAD
SEED_JOIN_PAYLOAD = ('{"event":"muc-occupant-joined","room":"reflector-test-'
                     'room-uuid","timestamp":"2025-01-15T10:30:00.000Z","data"'
                     ':{"user_id":"test-user","display_name":"Test User"}}')
SEED_JOIN_ANSWER = {"status": "ok", "event": "muc-occupant-joined",
                    "room": "reflector-test-room-uuid"}

# "Webhook Event Payload Examples": Participant Joined Event
SEED_JOINED_PRETTY = """{
  "event": "muc-occupant-joined",
  "room": "reflector-my-room-uuid123",
  "timestamp": "2025-01-15T10:30:00.000Z",
  "data": {
    "occupant_id": "participant-456",
    "nick": "John Doe",
    "role": "participant",
    "affiliation": "none"
  }
}"""

# Recording Started Event
SEED_RECORDING_ON_PRETTY = """{
  "event": "jibri-recording-on",
  "room": "reflector-my-room-uuid123",
  "timestamp": "2025-01-15T10:32:00.000Z",
  "data": {
    "recording_id": "rec-789",
    "initiator": "moderator-123"
  }
}"""

# Recording Completed Event
SEED_RECORDING_COMPLETED_PRETTY = """{
  "room_name": "reflector-my-room-uuid123",
  "recording_file": "/var/recordings/rec-789.mp4",
  "recording_status": "completed",
  "timestamp": "2025-01-15T11:15:00.000Z"
}"""

# "Recording Webhook Testing": the one-line PAYLOAD
SEED_RECORDING_PAYLOAD = ('{"room_name":"reflector-test-room-uuid","recording'
                          '_file":"/recordings/test.mp4","recording_status":'
                          '"completed","timestamp":"2025-01-15T10:30:00.000Z"}')

SEED_DOMAIN = "https://your-reflector-domain.com"

# The shell snippets, as printed (the URL is replaced by the daemon's)
SEED_HEALTH_SH = 'curl "https://your-reflector-domain.com/v1/jitsi/health"'

SEED_EVENT_SH = """# Generate proper signature
PAYLOAD='""" + SEED_JOIN_PAYLOAD + """'
SIGNATURE=$(echo -n "$PAYLOAD" | openssl dgst -sha256 -hmac "$JITSI_WEBHOOK_SECRET" | cut -d' ' -f2)

curl -X POST "https://your-reflector-domain.com/v1/jitsi/events" \\
  -H "Content-Type: application/json" \\
  -H "X-Jitsi-Signature: $SIGNATURE" \\
  -d "$PAYLOAD"
"""

SEED_RECORDING_SH = """PAYLOAD='""" + SEED_RECORDING_PAYLOAD + """'
SIGNATURE=$(echo -n "$PAYLOAD" | openssl dgst -sha256 -hmac "$JITSI_WEBHOOK_SECRET" | cut -d' ' -f2)

curl -X POST "https://your-reflector-domain.com/v1/jibri/recording-complete" \\
  -H "Content-Type: application/json" \\
  -H "X-Jitsi-Signature: $SIGNATURE" \\
  -d "$PAYLOAD"
"""

SEED_FINALIZE_SH = """#!/bin/bash
# Jibri finalize script for Reflector integration

RECORDING_FILE="$1"
ROOM_NAME="$2"
REFLECTOR_API_URL="${REFLECTOR_API_URL:-http://localhost:1250}"

# Prepare webhook payload
TIMESTAMP=$(date -u +%Y-%m-%dT%H:%M:%S.%3NZ)
PAYLOAD=$(cat <<EOF
{
    "room_name": "$ROOM_NAME",
    "recording_file": "$RECORDING_FILE",
    "recording_status": "completed",
    "timestamp": "$TIMESTAMP"
}
EOF
)

# Generate signature
SIGNATURE=$(echo -n "$PAYLOAD" | openssl dgst -sha256 -hmac "$JITSI_WEBHOOK_SECRET" | cut -d' ' -f2)

# Send webhook to Reflector
curl -X POST "$REFLECTOR_API_URL/v1/jibri/recording-complete" \\
    -H "Content-Type: application/json" \\
    -H "X-Jitsi-Signature: $SIGNATURE" \\
    -d "$PAYLOAD"

echo "Recording finalization webhook sent for room: $ROOM_NAME"
"""

# The seed's expected health answer (its timestamp is an example)
SEED_HEALTH_ANSWER = {"status": "ok", "service": "jitsi-webhooks",
                      "timestamp": "2025-01-15T10:30:00.000Z",
                      "webhook_secret_configured": True}

# The seed's SQL to read a meeting's events back
SEED_SQL = "SELECT events FROM meeting WHERE id = '%s';"


def seed_guide():
    """The text of seed/jitsi-integration-guide.md, or None where it is
    not beside this checkout (shared/ next to the repository)."""
    for base in (os.path.join(ROOT, "..", "shared"), "/work/shared",
                 os.environ.get("JP_SHARED") or "/nonexistent"):
        p = os.path.join(base, "seed", "jitsi-integration-guide.md")
        if os.path.isfile(p):
            with open(p, encoding="utf-8") as f:
                return f.read()
    return None


def seed_check(test):
    """Where the guide is found: every example above is in it verbatim
    (the tests post the guide's own bytes, not a look-alike)."""
    guide = seed_guide()
    if guide is None:
        return False
    for name in ("SEED_JOIN_PAYLOAD", "SEED_JOINED_PRETTY",
                 "SEED_RECORDING_ON_PRETTY", "SEED_RECORDING_COMPLETED_PRETTY",
                 "SEED_RECORDING_PAYLOAD", "SEED_HEALTH_SH",
                 "SEED_EVENT_SH", "SEED_RECORDING_SH", "SEED_FINALIZE_SH"):
        test.assertIn(globals()[name].rstrip("\n"), guide,
                      "%s is not verbatim in the seed guide" % name)
    test.assertIn(SEED_SQL % "meeting-uuid", guide)
    return True


# ---- bodies -------------------------------------------------------------

def compact(obj, ascii=False):
    """obj as compact JSON bytes (what Prosody sends)."""
    return json.dumps(obj, separators=(",", ":"),
                      ensure_ascii=ascii).encode("utf-8")


def as_bytes(body):
    if body is None:
        return b""
    if isinstance(body, bytes):
        return body
    if isinstance(body, str):
        return body.encode("utf-8")
    return compact(body)


def iso_ms(t):
    """Unix seconds (float) as the seed writes times: ...T10:30:00.000Z."""
    d = datetime.datetime.fromtimestamp(t, datetime.timezone.utc)
    return d.strftime("%Y-%m-%dT%H:%M:%S.") + "%03dZ" % (d.microsecond // 1000)


def iso_s(t):
    """Unix seconds as the stored, normalised data.timestamp: ...:00Z
    (fractions kept only when not zero)."""
    d = datetime.datetime.fromtimestamp(t, datetime.timezone.utc)
    s = d.strftime("%Y-%m-%dT%H:%M:%S")
    if d.microsecond:
        s += (".%06d" % d.microsecond).rstrip("0")
    return s + "Z"


def parse_iso(s):
    """ISO-8601 UTC with Z -> Unix seconds (float)."""
    return datetime.datetime.strptime(
        s.replace("Z", "+0000"), "%Y-%m-%dT%H:%M:%S.%f%z"
        if "." in s else "%Y-%m-%dT%H:%M:%S%z").timestamp()


def seed_event(event, room, data, timestamp="2025-01-15T10:30:00.000Z"):
    """A body of the seed's shape (POST /v1/jitsi/events)."""
    return {"event": event, "room": room, "timestamp": timestamp,
            "data": data}


def occupant(jid, name=None, id=None, email=None, joined_at=None,
             left_at=None):
    """mod_event_sync's occupant object (name/email/id only with JWT)."""
    o = {}
    if name is not None:
        o["name"] = name
    if email is not None:
        o["email"] = email
    if id is not None:
        o["id"] = id
    o["occupant_jid"] = jid
    if joined_at is not None:
        o["joined_at"] = joined_at
    if left_at is not None:
        o["left_at"] = left_at
    return o


def _room(event_name, room_name, room_jid, breakout):
    b = {"event_name": event_name, "room_name": room_name,
         "room_jid": room_jid, "is_breakout": breakout is not None}
    if breakout is not None:
        b["breakout_room_id"] = breakout
    return b


def sync_created(room_name, room_jid, created_at, breakout=None):
    b = _room("muc-room-created", room_name, room_jid, breakout)
    b["created_at"] = created_at
    return b


def sync_destroyed(room_name, room_jid, created_at, destroyed_at,
                   all_occupants=(), breakout=None):
    b = _room("muc-room-destroyed", room_name, room_jid, breakout)
    b["created_at"] = created_at
    b["destroyed_at"] = destroyed_at
    b["all_occupants"] = list(all_occupants)
    return b


def sync_joined(room_name, room_jid, occ, count, breakout=None):
    b = _room("muc-occupant-joined", room_name, room_jid, breakout)
    b["active_occupants_count"] = count
    b["occupant"] = occ
    return b


def sync_left(room_name, room_jid, occ, count, breakout=None):
    b = _room("muc-occupant-left", room_name, room_jid, breakout)
    b["active_occupants_count"] = count
    b["occupant"] = occ
    return b


def reorder(obj):
    """The same JSON object with its keys (and its occupant's) in reverse
    order: a retried copy as another Prosody build would write it."""
    if isinstance(obj, dict):
        return {k: reorder(obj[k]) for k in reversed(list(obj))}
    if isinstance(obj, list):
        return [reorder(v) for v in obj]
    return obj


def sign(body, secret=SECRET):
    """X-Jitsi-Signature of body: lowercase hex HMAC-SHA256."""
    return signature(secret, as_bytes(body))


# ---- responses ----------------------------------------------------------

class Response:
    def __init__(self, status, reason, headers, body, elapsed=None):
        self.status = status
        self.reason = reason
        self.headers = {}
        for k, v in headers:
            k = k.lower()
            self.headers[k] = (self.headers[k] + ", " + v) if \
                k in self.headers else v
        self.body = body
        self.elapsed = elapsed
        try:
            self.json = json.loads(body.decode("utf-8"))
        except ValueError:
            self.json = None

    def header(self, name):
        return self.headers.get(name.lower())

    @property
    def content_type(self):
        return (self.header("content-type") or "").split(";")[0].strip()

    @property
    def detail(self):
        return self.json.get("detail") if isinstance(self.json, dict) \
            else None

    def __repr__(self):
        return "<HTTP %s %s %r>" % (self.status, self.content_type,
                                    self.body[:600])


class Client:
    """Requests to one daemon; every call opens and closes a connection.
    sent_secrets collects every signature and token put on the wire (the
    log must hold none of them)."""

    def __init__(self, port, host="127.0.0.1", timeout=30):
        self.host = host
        self.port = port
        self.timeout = timeout
        self.sent_secrets = set()

    @property
    def base(self):
        return "http://%s:%d" % (self.host, self.port)

    def request(self, method, path, body=None, headers=None, timeout=None):
        data = None if body is None else as_bytes(body)
        h = dict(headers or {})
        for k, v in h.items():
            if k.lower() in ("x-jitsi-signature", "authorization") and v:
                self.sent_secrets.add(v.split()[-1])
        c = http.client.HTTPConnection(self.host, self.port,
                                       timeout=(timeout or self.timeout) *
                                       SLOW)
        t0 = time.monotonic()
        try:
            c.request(method, path, body=data, headers=h)
            r = c.getresponse()
            payload = r.read()
            return Response(r.status, r.reason, r.getheaders(), payload,
                            time.monotonic() - t0)
        finally:
            c.close()

    def get(self, path, token=None, headers=None, **kw):
        h = {"Authorization": "Bearer " + token} if token else {}
        h.update(headers or {})
        return self.request("GET", path, headers=h, **kw)

    def post(self, path, body, sig=True, token=None, idem=None,
             headers=None, secret=SECRET, **kw):
        """POST body (bytes, str, or an object sent as compact JSON).
        sig: True signs with secret, a str is sent as the header as is,
        None/False sends none; token: a bearer token."""
        data = as_bytes(body)
        h = {"Content-Type": "application/json"}
        if sig is True:
            h["X-Jitsi-Signature"] = signature(secret, data)
        elif sig:
            h["X-Jitsi-Signature"] = sig
        if token is not None:
            h["Authorization"] = "Bearer " + token
        if idem is not None:
            h["Idempotency-Key"] = idem
        h.update(headers or {})
        return self.request("POST", path, body=data, headers=h, **kw)

    def health(self, **kw):
        return self.get(HEALTH, **kw)

    def post_event(self, body, **kw):
        return self.post(EVENTS, body, **kw)

    def post_sync(self, body, route=None, sig=None, token=SYNC_TOKEN, **kw):
        """A mod_event_sync body to the route of its event_name (or route),
        with the bearer token Prosody's api_headers send."""
        if route is None:
            route = SYNC_ROUTES[body["event_name"]]
        elif not route.startswith("/"):
            route = SYNC_PREFIX + route
        return self.post(route, body, sig=sig, token=token, **kw)

    def post_recording(self, body, **kw):
        return self.post(RECORDING, body, **kw)

    def meeting(self, mid, token=API_TOKENS[0], **kw):
        return self.get("/v1/meetings/" + mid, token=token, **kw)


class Session:
    """One kept-alive connection for many requests (load tests). A request
    that fails is not retried: whether it was stored is unknown."""

    def __init__(self, port, host="127.0.0.1", timeout=60):
        self.conn = http.client.HTTPConnection(host, port,
                                               timeout=timeout * SLOW)

    def post(self, path, body, sig=True, secret=SECRET, headers=None):
        data = as_bytes(body)
        h = {"Content-Type": "application/json"}
        if sig is True:
            h["X-Jitsi-Signature"] = signature(secret, data)
        h.update(headers or {})
        self.conn.request("POST", path, body=data, headers=h)
        r = self.conn.getresponse()
        payload = r.read()
        resp = Response(r.status, r.reason, r.getheaders(), payload)
        if r.will_close:
            self.conn.close()     # http.client reconnects on the next call
        return resp

    def close(self):
        self.conn.close()


# ---- raw sockets ---------------------------------------------------------

def connect(port, host="127.0.0.1", timeout=10):
    s = socket.create_connection((host, port), timeout=timeout * SLOW)
    s.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    return s


def head(method, path, headers, host="127.0.0.1"):
    """A request head (bytes): request line, Host, headers, blank line."""
    lines = ["%s %s HTTP/1.1" % (method, path), "Host: %s" % host]
    lines += ["%s: %s" % kv for kv in headers]
    return ("\r\n".join(lines) + "\r\n\r\n").encode("latin-1")


def readable(sock, timeout):
    r, _, _ = select.select([sock], [], [], timeout)
    return bool(r)


def read_response(sock, timeout=10):
    """One HTTP response from sock (Content-Length, chunked, or to EOF);
    None when the peer closed (or reset) without sending one."""
    deadline = time.monotonic() + timeout * SLOW
    buf = b""

    def more():
        nonlocal buf
        left = deadline - time.monotonic()
        if left <= 0 or not readable(sock, left):
            raise TimeoutError("no complete HTTP response within %.0fs "
                               "(got %r)" % (timeout * SLOW, buf[:300]))
        try:
            chunk = sock.recv(65536)
        except ConnectionResetError:
            chunk = b""
        buf += chunk
        return bool(chunk)

    while b"\r\n\r\n" not in buf:
        if not more():
            if not buf:
                return None
            raise ValueError("connection closed inside the head: %r" %
                             buf[:300])
    top, rest = buf.split(b"\r\n\r\n", 1)
    lines = top.decode("latin-1").split("\r\n")
    parts = lines[0].split(" ", 2)
    status = int(parts[1])
    reason = parts[2] if len(parts) > 2 else ""
    headers = [tuple(x.strip() for x in l.split(":", 1)) for l in lines[1:]
               if ":" in l]
    hd = {k.lower(): v for k, v in headers}
    buf = rest
    if "content-length" in hd:
        n = int(hd["content-length"])
        while len(buf) < n:
            if not more():
                break
        body = buf[:n]
    elif "chunked" in hd.get("transfer-encoding", "").lower():
        body = b""
        while True:
            while b"\r\n" not in buf:
                if not more():
                    raise ValueError("cut inside a chunk size")
            size, buf = buf.split(b"\r\n", 1)
            n = int(size.split(b";")[0], 16)
            while len(buf) < n + 2:
                if not more():
                    raise ValueError("cut inside a chunk")
            if n == 0:
                break
            body += buf[:n]
            buf = buf[n + 2:]
    else:
        while more():
            pass
        body = buf
    return Response(status, reason, headers, body)


def closed_by_peer(sock, timeout):
    """Wait up to timeout (not scaled) for the peer to close sock; the
    seconds it took, or None if it is still open."""
    t0 = time.monotonic()
    while time.monotonic() - t0 < timeout:
        if readable(sock, 0.2):
            try:
                if sock.recv(65536) == b"":
                    return time.monotonic() - t0
            except (ConnectionResetError, OSError):
                return time.monotonic() - t0
    return None


# ---- processes and sockets of a daemon ----------------------------------

def listening_ports(pid):
    """The TCP ports process pid listens on (from /proc)."""
    inodes = set()
    try:
        fds = os.listdir("/proc/%d/fd" % pid)
    except OSError:
        return set()
    for fd in fds:
        try:
            t = os.readlink("/proc/%d/fd/%s" % (pid, fd))
        except OSError:
            continue
        if t.startswith("socket:["):
            inodes.add(t[8:-1])
    ports = set()
    for table in ("/proc/net/tcp", "/proc/net/tcp6"):
        try:
            with open(table) as f:
                next(f)
                for line in f:
                    cols = line.split()
                    if cols[3] == "0A" and cols[9] in inodes:  # LISTEN
                        ports.add(int(cols[1].rsplit(":", 1)[1], 16))
        except OSError:
            pass
    return ports


def run_shell(script, env, timeout=30):
    """bash -c script; curl's status code is added at the end of what it
    prints by a curlrc (the script itself stays as the seed wrote it).
    (stdout, status code of the last curl, stderr)."""
    home = tempfile.mkdtemp(prefix="jp-curlrc-")
    try:
        with open(os.path.join(home, ".curlrc"), "w") as f:
            f.write('silent\nshow-error\nwrite-out = "\\n@@HTTP %{http_code}'
                    '@@\\n"\n')
        e = dict(env)
        e["CURL_HOME"] = home
        p = subprocess.run(["bash", "-c", script], capture_output=True,
                           text=True, env=e, timeout=timeout * SLOW)
    finally:
        for n in os.listdir(home):
            os.unlink(os.path.join(home, n))
        os.rmdir(home)
    m = re.search(r"\n?@@HTTP (\d+)@@\n", p.stdout)
    if not m:
        raise AssertionError("no curl answer from %r:\n%s\n%s" % (
            script[:200], p.stdout, p.stderr))
    return p.stdout[:m.start()], int(m.group(1)), p.stdout[m.end():], \
        p.stderr


# ---- the database --------------------------------------------------------

def lit(s):
    """s as an SQL string literal (standard_conforming_strings)."""
    if "\0" in s:
        raise ValueError("PostgreSQL text cannot hold NUL")
    return "'" + s.replace("'", "''") + "'"


class Database:
    """One database of a pg.Cluster, with the SQL the tests need."""

    def __init__(self, cluster, url):
        self.cluster = cluster
        self.url = url

    def sql(self, q):
        return self.cluster.rows(q, url=self.url)

    def value(self, q):
        """The one value of a one-row, one-column query, as psql prints
        it (newlines inside kept), or None for no row."""
        out = self.cluster.psql(q, url=self.url)
        if out == "":
            return None
        assert out.endswith("\n"), out[-100:]
        out = out[:-1]
        return None if out == pg.NULL else out

    def json(self, q):
        v = self.value(q)
        return None if v is None else json.loads(v)

    def migrate(self, test):
        p = test.cli("migrate", DATABASE_URL=self.url)
        test.assertEqual(p.returncode, 0, p.stderr)

    def create_meeting(self, mid=None, room=None, **cols):
        """INSERT a meeting (as Reflector would, columns as given); its
        (id, room_name). The schema must exist (the daemon migrates at
        start, or migrate())."""
        mid = mid or "m-" + str(uuid.uuid4())
        room = room if room is not None else \
            "reflector-test-room-" + str(uuid.uuid4())
        names = ["id", "room_name"] + list(cols)
        vals = [lit(mid), lit(room)] + [
            lit(v) if isinstance(v, str) else
            ("NULL" if v is None else str(v)) for v in cols.values()]
        self.sql("INSERT INTO meeting (%s) VALUES (%s)" % (
            ", ".join(names), ", ".join(vals)))
        return mid, room

    def events(self, mid):
        """meeting.events of mid, parsed (key order kept), or None when
        there is no such meeting."""
        return self.json("SELECT events FROM meeting WHERE id = %s" % lit(mid))

    def events_len(self, mid):
        v = self.value("SELECT json_array_length(events) FROM meeting WHERE "
                       "id = %s" % lit(mid))
        return None if v is None else int(v)

    def num_clients(self, mid):
        v = self.value("SELECT num_clients FROM meeting WHERE id = %s" %
                       lit(mid))
        return None if v is None else int(v)

    def state(self, mid):
        """(events length, num_clients) of mid in one read."""
        r = self.sql("SELECT json_array_length(events), num_clients FROM "
                     "meeting WHERE id = %s" % lit(mid))
        return (int(r[0][0]), int(r[0][1])) if r else None

    def rows(self, mid=None):
        """How many meeting_event rows (of mid, or all)."""
        where = "" if mid is None else " WHERE meeting_id = %s" % lit(mid)
        return int(self.value("SELECT count(*) FROM meeting_event" + where))

    def row_events(self, mid):
        """meeting_event.event of mid's rows, in id order, parsed."""
        v = self.value("SELECT coalesce(json_agg(event ORDER BY id), '[]') "
                       "FROM meeting_event WHERE meeting_id = %s" % lit(mid))
        return json.loads(v)

    def columns(self, table):
        return [r[0] for r in self.sql(
            "SELECT column_name FROM information_schema.columns WHERE "
            "table_schema = current_schema() AND table_name = %s ORDER BY "
            "ordinal_position" % lit(table))]


# ---- the test case -------------------------------------------------------

class ApiCase(PipelineCase):
    """PipelineCase with the HTTP endpoint on a free port (self.api), the
    tokens set, and with DATABASE = True a PostgreSQL cluster for the
    class (cls.cluster) and a fresh database per test (self.db, and
    DATABASE_URL in the settings)."""

    DATABASE = False
    WEBHOOK = False
    cluster = None

    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        if cls.DATABASE:
            why = pg.available()
            if why:
                raise unittest.SkipTest(why)
            cls.cluster = pg.Cluster().start()

    @classmethod
    def tearDownClass(cls):
        if cls.cluster is not None:
            cls.cluster.destroy()
            cls.cluster = None
        super().tearDownClass()

    def setUp(self):
        super().setUp()
        self.port = free_port()
        self.settings.update({
            "LISTEN": "127.0.0.1:%d" % self.port,
            "EVENT_SYNC_TOKEN": SYNC_TOKEN,
            "API_TOKENS": ",".join(API_TOKENS),
        })
        self.api = Client(self.port)
        self.instance_logs = []
        self.db = None
        if self.DATABASE:
            if not self.cluster.running:    # an outage test left it down
                self.cluster.start()
            name = "t_" + self._testMethodName[:40].lower()
            self.db = Database(self.cluster,
                               self.cluster.create_database(name))
            self.settings["DATABASE_URL"] = self.db.url

    def describe(self):
        out = super().describe()
        for path in self.instance_logs:
            try:
                with open(path, "rb") as f:
                    tail = f.read().decode("utf-8", "replace").splitlines()
            except OSError:
                continue
            out += "\n%s (tail):\n%s" % (os.path.basename(path),
                                         "\n".join(tail[-30:]))
        if self.cluster is not None and not self.cluster.running:
            out += "\n(PostgreSQL is stopped)"
        return out

    # ---- daemons ----------------------------------------------------------
    def wait_ready(self, d):
        self.wait_until(lambda: "jibri-pipeline started" in d.log() or
                        not d.alive(), 30, "the daemon to start")
        if not d.alive():
            self.fail("the daemon exited at start (status %s):\n%s" %
                      (d.proc.returncode, d.log()[-3000:]))
        return d

    def start_instance(self, name, env=None, **extra):
        """Another daemon with its own STATE_DIR, RECORDINGS_DIR, port and
        log (tmp/NAME*), the same settings otherwise; (daemon, client)."""
        if env is None:
            base = os.path.join(self.tmp, name)
            os.makedirs(os.path.join(base, "recordings"), exist_ok=True)
            os.makedirs(os.path.join(base, "storage"), exist_ok=True)
            port = free_port()
            env = self.environ(**dict({
                "LISTEN": "127.0.0.1:%d" % port,
                "STATE_DIR": os.path.join(base, "state"),
                "RECORDINGS_DIR": os.path.join(base, "recordings"),
                "STORAGE_URL": "file://" + os.path.join(base, "storage"),
            }, **extra))
        port = int(env["LISTEN"].rsplit(":", 1)[1])
        log = os.path.join(self.tmp, name + ".log")
        if log not in self.instance_logs:
            self.instance_logs.append(log)
        d = Daemon(env, log).start()
        self.daemons.append(d)
        self.wait_ready(d)
        return d, Client(port)

    def restart(self, d):
        """The same daemon (env, log) started again after it stopped."""
        n = Daemon(d.env, d.log_path).start()
        self.daemons.append(n)
        return self.wait_ready(n)

    # ---- assertions -------------------------------------------------------
    def assert_json(self, r, status, body=None, msg=None):
        """r has status, is JSON (Content-Type application/json); when
        body is given, r's JSON equals it. The JSON."""
        self.assertEqual(r.status, status, msg or r)
        self.assertEqual(r.content_type, "application/json", r)
        self.assertIsNotNone(r.json, r)
        if body is not None:
            self.assertEqual(r.json, body, msg)
        return r.json

    def assert_error(self, r, status, detail=None, contains=(), msg=None):
        """r is status {"detail": ...}: exactly detail, or containing each
        of contains (case-insensitive)."""
        j = self.assert_json(r, status, msg=msg)
        self.assertIsInstance(j, dict, r)
        self.assertIsInstance(j.get("detail"), str, r)
        self.assertTrue(j["detail"], r)
        if detail is not None:
            self.assertEqual(j, {"detail": detail}, msg)
        for c in ([contains] if isinstance(contains, str) else contains):
            self.assertIn(c.lower(), j["detail"].lower(), msg or r)
        return j["detail"]

    def assert_ok(self, r, event, room, duplicate=False, msg=None):
        """The 200 of a stored (or duplicate) event."""
        want = {"status": "ok", "event": event, "room": room}
        if duplicate:
            want["duplicate"] = True
        return self.assert_json(r, 200, want, msg=msg)

    def wait_state(self, mid, events, clients, timeout=SYNC):
        """meeting.events has events elements and num_clients is clients,
        read by SQL within timeout (scaled)."""
        last = []

        def ok():
            last[:] = [self.db.state(mid)]
            return last[0] == (events, clients)
        try:
            self.wait_until(ok, timeout, "meeting %s to show %d events, "
                            "num_clients %d by SQL" % (mid, events, clients),
                            interval=0.02)
        except AssertionError as e:
            raise AssertionError("%s\nlast (events, num_clients) read: %r" %
                                 (e, last)) from None

    def api_state(self, mid):
        r = self.api.meeting(mid)
        j = self.assert_json(r, 200)
        self.assertIsInstance(j.get("num_clients"), int, j)
        self.assertNotIsInstance(j["num_clients"], bool)
        self.assertIsInstance(j.get("events"), list)
        return j

    def assert_clients(self, mid, events, clients, msg=None):
        """num_clients and the number of events: at once in the API, and
        within SYNC by SQL."""
        j = self.api_state(mid)
        self.assertEqual((len(j["events"]), j["num_clients"]),
                         (events, clients), msg or "the API's view")
        self.wait_state(mid, events, clients)
        return j
