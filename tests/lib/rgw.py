"""rgw.py -- a throwaway one-host Ceph cluster with a RADOS Gateway, for S3 tests.

One monitor, one OSD on memstore (RAM, nothing on disk), pools of size 1,
no mgr, and radosgw (beast) on a free loopback port; cephx with one keyring;
config, keyrings, admin sockets, run dir and logs all in a temp dir. No
systemd: the daemons are children of this process, started in the
foreground, and die with it. Start-up takes about 2 s (start_seconds).

    import rgw
    c = rgw.shared()                # started once per process, reused
    c.endpoint, c.access_key, c.secret_key, c.bucket, c.region, c.port
    c.env()                         # STORAGE_URL, S3_*, AWS_* for it
    c.get_object(bucket, key) -> bytes
    c.object_sha256(bucket, key) -> (hex, size), streamed
    c.head_object(bucket, key) -> dict of lower-case headers (+ "status")
    c.list_keys(bucket, prefix), c.list_multipart_uploads(bucket)
    c.stop_gateway(); c.start_gateway()   # same port, cluster data kept
    c.ops_log()                     # one dict per request RGW served
    c.set_sts(True); c.session_credentials()  # STS temporary credentials
    rgw.Proxy(c.port, ...)          # flip bytes, throttle, inject errors
    rgw.stop_shared()               # kills everything, removes the temp dir

Requests from here are signed by a small SigV4 implementation of its own
(stdlib hmac/hashlib), independent of libcurl's, so that a test compares
two implementations against a real server.

    python3 tests/lib/rgw.py        # a cluster by hand, until Ctrl-C
"""
import ctypes
import datetime
import hashlib
import hmac
import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
import urllib.parse
import uuid
import xml.etree.ElementTree as ET
import http.client

REGION = "us-east-1"
EMPTY_SHA256 = hashlib.sha256(b"").hexdigest()
S3NS = "{http://s3.amazonaws.com/doc/2006-03-01/}"


class RGWError(Exception):
    pass


def free_port():
    """A TCP port nobody listens on now (the kernel's pick)."""
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    port = s.getsockname()[1]
    s.close()
    return port


def quote_key(key):
    """A key as S3 wants it in a path: RFC 3986, every segment encoded."""
    return "/".join(urllib.parse.quote(seg, safe="-_.~")
                    for seg in key.split("/"))


def _die_with_parent():
    """In the child: SIGKILL when the test process dies, however it dies,
    so that no daemon outlives its tests (and keeps its RAM)."""
    try:
        ctypes.CDLL(None, use_errno=True).prctl(1, signal.SIGKILL)  # PR_SET_PDEATHSIG
    except (OSError, AttributeError):
        pass


def _tail(path, n=30):
    try:
        with open(path, "rb") as f:
            lines = f.read().decode("utf-8", "replace").splitlines()
        return "\n".join(lines[-n:])
    except OSError as e:
        return "(no log: %s)" % e


class Cluster:
    def __init__(self, keep=False):
        self.dir = tempfile.mkdtemp(prefix="jp-rgw-")
        self.keep = keep
        self.mon_port = free_port()
        self.port = free_port()
        self.host = "127.0.0.1"
        self.endpoint = "http://127.0.0.1:%d" % self.port
        self.region = REGION
        self.conf = os.path.join(self.dir, "ceph.conf")
        self.procs = {}
        self.access_key = self.secret_key = None
        self.bucket = None
        self.start_seconds = None
        self.sts = False
        self.sts_key = uuid.uuid4().hex[:16]

    # --- start / stop ---------------------------------------------------

    def _write_conf(self):
        d = self.dir
        conf = """[global]
fsid = {fsid}
mon_host = v2:127.0.0.1:{mon_port}
auth_cluster_required = cephx
auth_service_required = cephx
auth_client_required = cephx
keyring = {d}/keyring
osd_pool_default_size = 1
osd_pool_default_min_size = 1
mon_allow_pool_size_one = true
osd_pool_default_pg_num = 8
osd_pool_default_pgp_num = 8
osd_pool_default_pg_autoscale_mode = off
mon_warn_on_pool_no_redundancy = false
mon_warn_on_insecure_global_id_reclaim_allowed = false
osd_objectstore = memstore
memstore_device_bytes = {mem}
osd_crush_chooseleaf_type = 0
paxos_propose_interval = 0.05
run_dir = {d}/run
admin_socket = {d}/run/$name.asok
log_file = {d}/log/$name.log
mon_data = {d}/mon/$name
osd_data = {d}/osd/$name
ms_bind_ipv6 = false
public_addr = 127.0.0.1
mon_data_avail_warn = 1

[client.rgw]
rgw_frontends = beast endpoint=127.0.0.1:{port}
rgw_dns_name = localhost
rgw_enable_ops_log = true
rgw_ops_log_rados = false
rgw_ops_log_file_path = {d}/log/ops.log
rgw_log_http_headers = http_x_amz_content_sha256,http_content_md5,http_x_amz_security_token,http_content_type
rgw_enable_usage_log = false
# memstore keeps objects in RAM: give the space of overwritten and deleted
# objects back within seconds, not hours
rgw_gc_obj_min_wait = 1
rgw_gc_processor_period = 2
rgw_gc_processor_max_time = 2
rgw_thread_pool_size = 64
""".format(fsid=self.fsid, mon_port=self.mon_port, port=self.port, d=d,
           mem=8 << 30)
        if self.sts:
            # STS, for temporary credentials (AWS_SESSION_TOKEN). Off
            # unless asked for: with it on, RGW 16 answers a wrong secret
            # with AccessDenied instead of SignatureDoesNotMatch.
            conf += "rgw_s3_auth_use_sts = true\nrgw_sts_key = %s\n" % \
                self.sts_key
        with open(self.conf, "w") as f:
            f.write(conf)

    def _run(self, *args, timeout=30, input=None):
        p = subprocess.run(list(args), capture_output=True, timeout=timeout,
                           input=input)
        if p.returncode != 0:
            raise RGWError("%s failed (%d): %s" % (
                " ".join(args), p.returncode,
                (p.stderr or p.stdout).decode("utf-8", "replace")[-2000:]))
        return p.stdout.decode()

    def _spawn(self, name, args):
        log = open(os.path.join(self.dir, "log", name + ".out"), "ab")
        self.procs[name] = subprocess.Popen(
            args, stdout=log, stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL, start_new_session=True,
            preexec_fn=_die_with_parent)
        log.close()

    def _wait(self, what, cond, timeout, logname):
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            for name, p in self.procs.items():
                if p.poll() is not None:
                    raise RGWError("%s exited with %d while waiting for %s; "
                                   "log tail:\n%s" % (
                                       name, p.returncode, what,
                                       _tail(os.path.join(self.dir, "log",
                                                          name + ".log"))))
            if cond():
                return
            time.sleep(0.05)
        raise RGWError("timed out after %ds waiting for %s; log tail:\n%s" % (
            timeout, what, _tail(os.path.join(self.dir, "log", logname))))

    def _port_open(self, port):
        s = socket.socket()
        s.settimeout(0.5)
        try:
            s.connect(("127.0.0.1", port))
            return True
        except OSError:
            return False
        finally:
            s.close()

    def start(self):
        t0 = time.monotonic()
        try:
            self._start()
        except BaseException:
            self.stop()
            raise
        self.start_seconds = time.monotonic() - t0
        return self

    def _start(self):
        d = self.dir
        for sub in ("mon/mon.a", "osd/osd.0", "run", "log"):
            os.makedirs(os.path.join(d, sub), exist_ok=True)
        self.fsid = str(uuid.uuid4())
        self._write_conf()
        kr = os.path.join(d, "keyring")
        # One keyring for every daemon: the monitor imports it at mkfs.
        self._run("ceph-authtool", "--create-keyring", kr, "--gen-key",
                  "-n", "mon.", "--cap", "mon", "allow *")
        self._run("ceph-authtool", kr, "--gen-key", "-n", "client.admin",
                  "--cap", "mon", "allow *", "--cap", "osd", "allow *",
                  "--cap", "mgr", "allow *")
        self._run("ceph-authtool", kr, "--gen-key", "-n", "osd.0",
                  "--cap", "mon", "allow profile osd",
                  "--cap", "osd", "allow *", "--cap", "mgr", "allow *")
        self._run("ceph-authtool", kr, "--gen-key", "-n", "client.rgw",
                  "--cap", "mon", "allow rw", "--cap", "osd", "allow rwx",
                  "--cap", "mgr", "allow rw")
        monmap = os.path.join(d, "monmap")
        self._run("monmaptool", "--create", "--add", "a",
                  "127.0.0.1:%d" % self.mon_port, "--fsid", self.fsid,
                  "--enable-all-features", "--set-min-mon-release",
                  "pacific", monmap)
        self._run("ceph-mon", "--conf", self.conf, "-i", "a", "--mkfs",
                  "--monmap", monmap, "--keyring", kr)
        self._spawn("mon.a", ["ceph-mon", "--conf", self.conf, "-i", "a",
                              "-f"])
        self._wait("the monitor", lambda: self._port_open(self.mon_port),
                   20, "mon.a.log")
        osd_uuid = str(uuid.uuid4())
        self._run("ceph", "--conf", self.conf, "osd", "new", osd_uuid, "0",
                  timeout=60)
        self._run("ceph-osd", "--conf", self.conf, "-i", "0", "--mkfs",
                  "--osd-uuid", osd_uuid, timeout=60)
        self._spawn("osd.0", ["ceph-osd", "--conf", self.conf, "-i", "0",
                              "-f"])
        self.start_gateway()
        self._create_user()
        self.bucket = "jp-test"
        self.create_bucket(self.bucket)

    def start_gateway(self):
        """Start radosgw on the port it had (cluster data kept) and wait
        until it answers HTTP."""
        self._spawn("client.rgw", ["radosgw", "--conf", self.conf, "-n",
                                   "client.rgw", "-f"])
        self._wait("the gateway to answer on port %d" % self.port,
                   self._gateway_answers, 60, "client.rgw.log")

    def _gateway_answers(self):
        try:
            c = http.client.HTTPConnection("127.0.0.1", self.port, timeout=2)
            c.request("GET", "/")
            c.getresponse().read()
            c.close()
            return True
        except OSError:
            return False

    def stop_gateway(self):
        """Stop radosgw at once (SIGKILL, like a crash or a network cut)."""
        p = self.procs.pop("client.rgw", None)
        if p is not None:
            p.kill()
            p.wait()
        deadline = time.monotonic() + 10
        while self._port_open(self.port) and time.monotonic() < deadline:
            time.sleep(0.05)

    def _create_user(self):
        out = self._run("radosgw-admin", "--conf", self.conf, "-n",
                        "client.rgw", "user", "create", "--uid", "jp",
                        "--display-name", "jibri-pipeline tests", timeout=60)
        key = json.loads(out)["keys"][0]
        self.access_key = key["access_key"]
        self.secret_key = key["secret_key"]

    def stop(self):
        """Kill every daemon and remove the temp dir."""
        for name in ("client.rgw", "osd.0", "mon.a"):
            p = self.procs.pop(name, None)
            if p is not None:
                p.kill()
                p.wait()
        if not self.keep and self.dir and os.path.isdir(self.dir):
            shutil.rmtree(self.dir, ignore_errors=True)

    def log_tail(self, name="client.rgw.log", n=40):
        return _tail(os.path.join(self.dir, "log", name), n)

    # --- S3 requests, signed here ---------------------------------------

    def request(self, method, bucket, key=None, query=None, body=b"",
                headers=None, access_key=None, secret_key=None, token=None,
                payload_hash=None, service="s3", sink=None, timeout=120):
        """One signed path-style request; returns (status, headers, body)
        with header names in lower case. With sink, the body is handed to
        sink(chunk) as it arrives instead (large objects)."""
        path = "/" + bucket + ("/" + quote_key(key) if key else "")
        if not bucket:
            path = "/"
        q = ""
        if query:
            q = "&".join("%s=%s" % (urllib.parse.quote(k, safe="-_.~"),
                                    urllib.parse.quote(str(v), safe="-_.~"))
                         for k, v in sorted(query.items()))
        hdrs = dict(headers or {})
        hdrs["host"] = "127.0.0.1:%d" % self.port
        payload = payload_hash or hashlib.sha256(body).hexdigest()
        hdrs["x-amz-content-sha256"] = payload
        now = datetime.datetime.now(datetime.timezone.utc)
        amzdate = now.strftime("%Y%m%dT%H%M%SZ")
        hdrs["x-amz-date"] = amzdate
        if token:
            hdrs["x-amz-security-token"] = token
        lower = {k.lower(): str(v).strip() for k, v in hdrs.items()}
        names = sorted(lower)
        canon = "\n".join([
            method, path, q,
            "".join("%s:%s\n" % (n, lower[n]) for n in names),
            ";".join(names), payload])
        scope = "%s/%s/%s/aws4_request" % (amzdate[:8], self.region,
                                           service)
        sts = "\n".join(["AWS4-HMAC-SHA256", amzdate, scope,
                         hashlib.sha256(canon.encode()).hexdigest()])
        k = ("AWS4" + (secret_key or self.secret_key)).encode()
        for part in (amzdate[:8], self.region, service, "aws4_request"):
            k = hmac.new(k, part.encode(), hashlib.sha256).digest()
        sig = hmac.new(k, sts.encode(), hashlib.sha256).hexdigest()
        lower["authorization"] = (
            "AWS4-HMAC-SHA256 Credential=%s/%s, SignedHeaders=%s, "
            "Signature=%s" % (access_key or self.access_key, scope,
                              ";".join(names), sig))
        c = http.client.HTTPConnection("127.0.0.1", self.port,
                                       timeout=timeout)
        try:
            c.request(method, path + ("?" + q if q else ""), body=body,
                      headers=lower)
            r = c.getresponse()
            if sink is not None and r.status == 200:
                while True:
                    chunk = r.read(1 << 20)
                    if not chunk:
                        break
                    sink(chunk)
                data = b""
            else:
                data = r.read()
            return r.status, {k.lower(): v for k, v in r.getheaders()}, data
        finally:
            c.close()

    def _ok(self, what, status, body):
        if status // 100 != 2:
            raise RGWError("%s: HTTP %d: %s" % (what, status,
                                                body[:500].decode("utf-8",
                                                                  "replace")))

    def create_bucket(self, bucket):
        st, _, body = self.request("PUT", bucket)
        if st == 409 and b"BucketAlreadyOwnedByYou" in body:
            return
        self._ok("create bucket " + bucket, st, body)

    def get_object(self, bucket, key):
        st, _, body = self.request("GET", bucket, key)
        self._ok("GET %s/%s" % (bucket, key), st, body)
        return body

    def object_sha256(self, bucket, key):
        """(hex SHA-256, size) of an object, read as it streams."""
        h = hashlib.sha256()
        n = [0]

        def sink(chunk):
            h.update(chunk)
            n[0] += len(chunk)
        st, _, body = self.request("GET", bucket, key, sink=sink)
        self._ok("GET %s/%s" % (bucket, key), st, body)
        return h.hexdigest(), n[0]

    def head_object(self, bucket, key):
        st, h, body = self.request("HEAD", bucket, key)
        h["status"] = st
        return h

    def delete_object(self, bucket, key):
        st, _, body = self.request("DELETE", bucket, key)
        self._ok("DELETE %s/%s" % (bucket, key), st, body)

    def list_multipart_uploads(self, bucket):
        """[(key, upload_id)] of uploads still open in bucket."""
        st, _, body = self.request("GET", bucket, query={"uploads": ""})
        self._ok("ListMultipartUploads " + bucket, st, body)
        root = ET.fromstring(body)
        return [(u.findtext(S3NS + "Key"), u.findtext(S3NS + "UploadId"))
                for u in root.iter(S3NS + "Upload")]

    def abort_all_uploads(self, bucket):
        for key, upload_id in self.list_multipart_uploads(bucket):
            self.request("DELETE", bucket, key, query={"uploadId": upload_id})

    def list_keys(self, bucket, prefix=""):
        st, _, body = self.request("GET", bucket,
                                   query={"list-type": "2",
                                          "prefix": prefix})
        self._ok("ListObjectsV2 " + bucket, st, body)
        root = ET.fromstring(body)
        return [c.findtext(S3NS + "Key") for c in root.iter(S3NS + "Contents")]

    def set_sts(self, on):
        """Turn RGW's STS on or off (rewrites the config and restarts the
        gateway on the same port)."""
        if self.sts == on:
            return
        self.sts = on
        self._write_conf()
        self.stop_gateway()
        self.start_gateway()

    def session_credentials(self, seconds=3600):
        """Temporary credentials from RGW's STS (GetSessionToken):
        (access_key, secret_key, session_token). The server checks the
        token on every request made with them. Needs set_sts(True)."""
        if not getattr(self, "_sts_ready", False):
            self._run("radosgw-admin", "--conf", self.conf, "-n",
                      "client.rgw", "caps", "add", "--uid", "jp",
                      "--caps", "user-policy=*", timeout=60)
            policy = json.dumps({"Version": "2012-10-17", "Statement": [{
                "Effect": "Allow", "Action": ["sts:GetSessionToken"],
                "Resource": "*"}]})
            st, _, body = self._form("iam", {
                "Action": "PutUserPolicy", "PolicyName": "sts",
                "UserName": "jp", "PolicyDocument": policy})
            self._ok("PutUserPolicy", st, body)
            self._sts_ready = True
        st, _, body = self._form("sts", {
            "Action": "GetSessionToken", "Version": "2011-06-15",
            "DurationSeconds": str(seconds)})
        self._ok("GetSessionToken", st, body)
        root = ET.fromstring(body)
        find = lambda tag: next(e.text for e in root.iter()
                                if e.tag.split("}")[-1] == tag)
        return find("AccessKeyId"), find("SecretAccessKey"), \
            find("SessionToken")

    def _form(self, service, fields):
        return self.request(
            "POST", "", body=urllib.parse.urlencode(fields).encode(),
            headers={"content-type": "application/x-www-form-urlencoded"},
            service=service)

    # --- the ops log ----------------------------------------------------

    def ops_log(self):
        """Every request RGW logged so far, oldest first: dicts with
        "operation", "bucket", "object", "uri", "http_status",
        "bytes_received", "http_x_headers", ... RGW writes one JSON object
        per request, comma-separated, and flushes them in batches, so a
        line may still be missing for a request answered a moment ago."""
        path = os.path.join(self.dir, "log", "ops.log")
        try:
            with open(path, "rb") as f:
                raw = f.read().decode("utf-8", "replace")
        except FileNotFoundError:
            return []
        dec = json.JSONDecoder()
        out, i = [], 0
        while True:
            while i < len(raw) and raw[i] in " \t\r\n,[]":
                i += 1
            if i >= len(raw):
                break
            try:
                obj, i = dec.raw_decode(raw, i)
            except ValueError:
                break  # a record being written
            out.append(obj)
        return out

    def env(self, bucket=None, prefix="", **extra):
        """The environment for jibri-pipeline against this gateway."""
        e = {
            "STORAGE_URL": "s3://%s%s" % (bucket or self.bucket,
                                         "/" + prefix if prefix else ""),
            "S3_ENDPOINT": self.endpoint,
            "S3_REGION": self.region,
            "S3_PATH_STYLE": "true",
            "AWS_ACCESS_KEY_ID": self.access_key,
            "AWS_SECRET_ACCESS_KEY": self.secret_key,
        }
        e.update({k: str(v) for k, v in extra.items()})
        return e


class Proxy:
    """An HTTP/1.1 man in the middle on 127.0.0.1 between a client and the
    gateway, for what a test cannot ask a real server to do: it records
    every request head, can flip one byte in the body of chosen requests
    (corrupt = a function (method, target, headers) -> bool, consulted
    for each request; the byte at corrupt_offset is flipped), and can
    limit the upload rate (bytes/s over all connections) so that a test
    can act in the middle of a transfer, and can answer chosen requests
    itself with an S3 error (fail = a function (method, target, headers)
    -> (status, code) or None), as an overloaded server does. Requests
    are forwarded as they come, so "Expect: 100-continue" works
    unchanged.

        p = rgw.Proxy(cluster.port, rate=10 << 20)
        env["S3_ENDPOINT"] = p.endpoint
        ...
        p.close()
    """

    def __init__(self, upstream_port, rate=None, corrupt=None,
                 corrupt_offset=1000, fail=None):
        self.upstream = ("127.0.0.1", upstream_port)
        self.fail = fail            # (method, target, headers) ->
                                    # (status, S3 code) to answer with
        self.failed = []
        self.rate = rate
        self.corrupt = corrupt
        self.corrupt_offset = corrupt_offset
        self.requests = []          # (method, target, {header: value})
        self.corrupted = []         # targets whose body was changed
        self.lock = threading.Lock()
        self.sent = 0
        self.t0 = time.monotonic()
        self.sock = socket.socket()
        self.sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        self.sock.bind(("127.0.0.1", 0))
        self.sock.listen(64)
        self.port = self.sock.getsockname()[1]
        self.endpoint = "http://127.0.0.1:%d" % self.port
        self.closed = False
        self.conns = []
        threading.Thread(target=self._accept, daemon=True).start()

    def close(self):
        self.closed = True
        try:
            self.sock.close()
        except OSError:
            pass
        for c in list(self.conns):
            try:
                c.close()
            except OSError:
                pass

    def _accept(self):
        while not self.closed:
            try:
                client, _ = self.sock.accept()
            except OSError:
                return
            threading.Thread(target=self._serve, args=(client,),
                             daemon=True).start()

    def _throttle(self, n):
        if not self.rate:
            return
        with self.lock:
            self.sent += n
            due = self.t0 + self.sent / self.rate
        delay = due - time.monotonic()
        if delay > 0:
            time.sleep(delay)

    def _answer(self, client, headers, buf, status, code):
        """Refuse a request as S3 does, then close the connection."""
        if "100-continue" not in headers.get("expect", "").lower():
            left = int(headers.get("content-length", "0")) - len(buf)
            while left > 0:
                data = client.recv(min(left, 1 << 20))
                if not data:
                    break
                left -= len(data)
        body = ('<?xml version="1.0" encoding="UTF-8"?><Error><Code>%s'
                '</Code><Message>injected by the test proxy</Message>'
                '</Error>' % code).encode()
        client.sendall(("HTTP/1.1 %d %s\r\nContent-Type: application/xml"
                        "\r\nContent-Length: %d\r\nConnection: close\r\n"
                        "\r\n" % (status, code, len(body))).encode() + body)

    def _serve(self, client):
        try:
            upstream = socket.create_connection(self.upstream, timeout=10)
        except OSError:
            client.close()      # what a client sees of a server that is down
            return
        upstream.settimeout(None)
        self.conns += [client, upstream]

        def back():
            try:
                while True:
                    data = upstream.recv(65536)
                    if not data:
                        break
                    client.sendall(data)
            except OSError:
                pass
            for s in (client, upstream):
                try:
                    s.shutdown(socket.SHUT_RDWR)
                except OSError:
                    pass
        threading.Thread(target=back, daemon=True).start()
        buf = b""
        try:
            while True:
                while b"\r\n\r\n" not in buf:
                    data = client.recv(65536)
                    if not data:
                        return
                    buf += data
                head, buf = buf.split(b"\r\n\r\n", 1)
                lines = head.decode("latin-1").split("\r\n")
                method, target = lines[0].split(" ")[:2]
                headers = {}
                for line in lines[1:]:
                    k, _, v = line.partition(":")
                    headers[k.strip().lower()] = v.strip()
                with self.lock:
                    self.requests.append((method, target, headers))
                answer = self.fail(method, target, headers) \
                    if self.fail is not None else None
                if answer is not None:
                    self._answer(client, headers, buf, *answer)
                    with self.lock:
                        self.failed.append(target)
                    return
                flip = None
                if self.corrupt is not None and \
                        self.corrupt(method, target, headers):
                    flip = self.corrupt_offset
                    with self.lock:
                        self.corrupted.append(target)
                upstream.sendall(head + b"\r\n\r\n")
                left = int(headers.get("content-length", "0"))
                pos = 0
                while left > 0:
                    if not buf:
                        buf = client.recv(min(left, 256 * 1024))
                        if not buf:
                            return
                    chunk, buf = buf[:left], buf[left:]
                    if flip is not None and pos <= flip < pos + len(chunk):
                        b = bytearray(chunk)
                        b[flip - pos] ^= 0x01
                        chunk = bytes(b)
                    self._throttle(len(chunk))
                    upstream.sendall(chunk)
                    pos += len(chunk)
                    left -= len(chunk)
        except OSError:
            pass
        finally:
            for s in (client, upstream):
                try:
                    s.shutdown(socket.SHUT_RDWR)
                except OSError:
                    pass
                s.close()


_shared = None


def shared():
    """The process-wide cluster, started on first use (test modules share
    it through setUpModule; tearDownModule calls stop_shared())."""
    global _shared
    if _shared is None:
        _shared = Cluster(keep=bool(os.environ.get("JP_KEEP_RGW"))).start()
    return _shared


def stop_shared():
    global _shared
    if _shared is not None:
        _shared.stop()
        _shared = None


if __name__ == "__main__":
    # Manual use: start a cluster, print how to reach it, wait for Ctrl-C
    # or SIGTERM (JP_KEEP_RGW=1 keeps the temp dir and its logs).
    signal.signal(signal.SIGTERM, lambda *a: sys.exit(0))
    c = Cluster(keep=bool(os.environ.get("JP_KEEP_RGW"))).start()
    print("started in %.2fs: %s bucket %s key %s secret %s dir %s" % (
        c.start_seconds, c.endpoint, c.bucket, c.access_key, c.secret_key,
        c.dir))
    try:
        while True:
            time.sleep(3600)
    except KeyboardInterrupt:
        pass
    finally:
        c.stop()
