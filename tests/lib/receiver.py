"""receiver.py -- a completion-webhook receiver for the system tests.

An HTTP server in a thread on 127.0.0.1 (a free port, kept across restarts)
that records every request it gets and checks its X-Jitsi-Signature on its
own (hmac + hashlib over the raw body bytes, nothing shared with the daemon).

    r = Receiver(secret)            # not listening yet: connections refused
    r.start()                       # answers 200
    r.respond(400)                  # answer every later request with 400
    r.hang(5)                       # hold every later request 5 s, then 200
    r.script(["hang:3", 500, 200])  # the next requests, in order; then the
                                    # default behaviour again
    r.stop()                        # down: the socket is closed
    r.start()                       # up again on the same port
    r.deliveries                    # every request, as Delivery objects
    r.acknowledged()                # the ones answered 2xx
"""
import hashlib
import hmac
import http.server
import json
import select
import socket
import socketserver
import threading
import time

PATH = "/v1/jibri/recording-complete"


def free_port():
    """A TCP port on 127.0.0.1 nobody listens on right now."""
    s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    try:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]
    finally:
        s.close()


def signature(secret, body):
    """hex HMAC-SHA256 of body (bytes) with secret (str or bytes)."""
    if isinstance(secret, str):
        secret = secret.encode()
    return hmac.new(secret, body, hashlib.sha256).hexdigest()


def _peer_closed(sock):
    """True when the other end has closed the connection."""
    try:
        r, _, _ = select.select([sock], [], [], 0)
        return bool(r) and sock.recv(1, socket.MSG_PEEK) == b""
    except OSError:
        return True


class Delivery:
    """One request the receiver got."""

    def __init__(self, method, path, headers, body, secret):
        self.time = time.time()
        self.method = method
        self.path = path
        self.headers = {k.lower(): v for k, v in headers.items()}
        self.body = body
        self.signature = self.headers.get("x-jitsi-signature")
        self.sig_valid = (self.signature is not None and hmac.compare_digest(
            self.signature, signature(secret, body)))
        self.idempotency_key = self.headers.get("idempotency-key")
        self.content_type = self.headers.get("content-type")
        try:
            self.json = json.loads(body.decode("utf-8"))
        except ValueError:
            self.json = None
        self.answer = None          # HTTP status sent, or "hang", "drop"

    @property
    def acknowledged(self):
        return isinstance(self.answer, int) and 200 <= self.answer < 300

    def __repr__(self):
        return "<Delivery %s key=%s answer=%s sig=%s>" % (
            self.path, self.idempotency_key, self.answer,
            "ok" if self.sig_valid else "BAD")


class _Server(socketserver.ThreadingMixIn, http.server.HTTPServer):
    daemon_threads = True
    block_on_close = False
    allow_reuse_address = True


class Receiver:
    def __init__(self, secret, port=None):
        self.secret = secret
        self.port = port or free_port()
        self.deliveries = []
        self._lock = threading.Lock()
        self._cond = threading.Condition(self._lock)
        self._default = 200
        self._script = []
        self._server = None
        self._thread = None
        self._release = threading.Event()   # set on stop: hanging requests end

    # ---- control -------------------------------------------------------
    @property
    def url(self):
        return "http://127.0.0.1:%d%s" % (self.port, PATH)

    @property
    def running(self):
        return self._server is not None

    def start(self):
        if self._server is not None:
            return self
        receiver = self

        class Handler(http.server.BaseHTTPRequestHandler):
            def log_message(self, *a):
                pass

            def do_POST(self):
                receiver._handle(self)

            do_PUT = do_GET = do_POST

        deadline = time.monotonic() + 10
        while True:
            try:
                self._server = _Server(("127.0.0.1", self.port), Handler)
                break
            except OSError:
                if time.monotonic() > deadline:
                    raise
                time.sleep(0.1)
        self._release.clear()
        self._thread = threading.Thread(target=self._server.serve_forever,
                                        kwargs={"poll_interval": 0.05},
                                        daemon=True)
        self._thread.start()
        return self

    def stop(self):
        """Go down: close the listening socket (connections are refused)
        and let any hanging request go."""
        srv, self._server = self._server, None
        self._release.set()
        if srv is not None:
            srv.shutdown()
            srv.server_close()
            self._thread.join(5)

    def respond(self, status):
        with self._lock:
            self._default = status
            self._script = []

    def hang(self, seconds):
        self.respond("hang:%s" % seconds)

    def script(self, answers):
        with self._lock:
            self._script = list(answers)

    # ---- results -------------------------------------------------------
    def acknowledged(self):
        with self._lock:
            return [d for d in self.deliveries if d.acknowledged]

    def all(self):
        with self._lock:
            return list(self.deliveries)

    def wait(self, pred, timeout):
        """Wait until pred(list of deliveries) is true; the last value."""
        deadline = time.monotonic() + timeout
        with self._cond:
            while True:
                v = pred(list(self.deliveries))
                if v or time.monotonic() >= deadline:
                    return v
                self._cond.wait(min(0.1, max(0, deadline - time.monotonic())))

    # ---- the request ---------------------------------------------------
    def _read_body(self, h):
        if "chunked" in (h.headers.get("Transfer-Encoding") or "").lower():
            out = b""
            while True:
                line = h.rfile.readline()
                n = int(line.split(b";")[0].strip() or b"0", 16)
                if n == 0:
                    h.rfile.readline()
                    return out
                out += h.rfile.read(n)
                h.rfile.readline()
        n = int(h.headers.get("Content-Length") or 0)
        return h.rfile.read(n) if n else b""

    def _handle(self, h):
        body = self._read_body(h)
        d = Delivery(h.command, h.path, dict(h.headers.items()), body,
                     self.secret)
        with self._cond:
            answer = self._script.pop(0) if self._script else self._default
            self.deliveries.append(d)
            self._cond.notify_all()
        if isinstance(answer, str) and answer.startswith("hang:"):
            with self._cond:
                d.answer = "hang"
            self._release.wait(float(answer[5:]))
            answer = 200
            if self._release.is_set():
                return              # the server goes down: just drop it
            if _peer_closed(h.connection):
                return              # the client gave up (its timeout)
        if answer == "drop":
            with self._cond:
                d.answer = "drop"
                self._cond.notify_all()
            return
        payload = json.dumps({"status": "ok"} if 200 <= answer < 300 else
                             {"detail": "test receiver says %d" % answer})
        try:
            h.send_response(answer)
            h.send_header("Content-Type", "application/json")
            h.send_header("Content-Length", str(len(payload)))
            h.end_headers()
            h.wfile.write(payload.encode())
            h.wfile.flush()
            sent = answer
        except OSError:
            sent = "gone"           # the client hung up (its timeout)
        with self._cond:
            if d.answer != "hang" or sent != "gone":
                d.answer = sent
            self._cond.notify_all()
