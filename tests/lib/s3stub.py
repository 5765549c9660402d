"""s3stub.py -- a small in-memory S3 server on 127.0.0.1 for what Ceph RGW never does.

The S3 tests run against a real Ceph RGW (tests/lib/rgw.py). A few
behaviours of other S3 servers cannot be had from it: RGW's UploadIds are
short and plain (AWS allows up to 1 KiB, and some servers hand out long
ones full of '+', '/' and '='), and RGW implements ListParts, which some
S3-compatible servers and gateways answer with 405 or 501. This stub speaks
just enough S3 for `jibri-pipeline put` and the daemon's store step, with
those behaviours under the test's control:

    s = S3Stub(upload_id=lambda n: "..." )   # the UploadIds it hands out
    s.env()                     # STORAGE_URL, S3_ENDPOINT, ... for it
    s.list_parts_status = 405   # ListParts refused (None: answered)
    s.hold(2)                   # UploadPart 2 waits until s.release()
    s.wait_held(timeout)        # ... until a part is being held
    s.requests                  # every request: Request(method, path,
                                #   query (raw), headers, status)
    s.objects[key]              # stored bytes; s.uploads: open uploads
    s.close()

It checks what a real server checks that matters here: the path and query
are SigV4-canonically encoded (what was signed is what arrived), every
request has a SigV4 Authorization header (not verified: the RGW tests do
that), x-amz-content-sha256 is the SHA-256 of the body unless it is
UNSIGNED-PAYLOAD, parts are known, in order, with their ETags, and all but
the last at least 5 MiB. An UploadId it does not know is NoSuchUpload, as
on S3: a truncated one is refused, not matched by prefix.
"""
import collections
import hashlib
import http.server
import threading
import urllib.parse
import uuid
import xml.etree.ElementTree as ET
from xml.sax.saxutils import escape

S3NS = "http://s3.amazonaws.com/doc/2006-03-01/"
MIN_PART = 5 << 20
REGION = "us-east-1"

Request = collections.namedtuple("Request",
                                 "method path query headers status")


def canonical(s):
    """s as SigV4 wants it in a query or a path segment."""
    return urllib.parse.quote(s, safe="-_.~")


def parse_query(raw):
    """[(name, value)] of a raw query string, decoded; None when it is not
    in SigV4's canonical encoding (a '+' or '/' left as it is, lower-case
    hex): a server would read another value than was signed."""
    out = []
    for item in raw.split("&") if raw else []:
        name, eq, value = item.partition("=")
        n, v = urllib.parse.unquote(name), urllib.parse.unquote(value)
        if canonical(n) != name or canonical(v) != value:
            return None
        out.append((n, v))
    return out


def multipart_etag(md5s):
    return "%s-%d" % (hashlib.md5(b"".join(md5s)).hexdigest(), len(md5s))


class S3Stub:
    def __init__(self, bucket="quirks", upload_id=None):
        self.bucket = bucket
        self.access_key = "STUBACCESSKEY"
        self.secret_key = "stub-secret-key"
        self.upload_id = upload_id or (lambda n: uuid.uuid4().hex)
        self.list_parts_status = None
        self.abort_status = None
        self.objects = {}          # key -> {"body", "etag", "type"}
        self.uploads = {}          # id -> {"key", "parts": {n: (body, md5)}}
        self.requests = []
        self.lock = threading.Lock()
        self._created = 0
        self._hold = None
        self._held = threading.Event()
        self._release = threading.Event()
        stub = self

        class Handler(_Handler):
            pass
        Handler.stub = stub
        self.server = http.server.ThreadingHTTPServer(("127.0.0.1", 0),
                                                      Handler)
        self.server.daemon_threads = True
        self.port = self.server.server_address[1]
        self.endpoint = "http://127.0.0.1:%d" % self.port
        self.thread = threading.Thread(target=self.server.serve_forever,
                                       daemon=True)
        self.thread.start()

    def env(self, prefix=""):
        return {
            "STORAGE_URL": "s3://%s%s" % (self.bucket,
                                         "/" + prefix if prefix else ""),
            "S3_ENDPOINT": self.endpoint,
            "S3_REGION": REGION,
            "S3_PATH_STYLE": "true",
            "AWS_ACCESS_KEY_ID": self.access_key,
            "AWS_SECRET_ACCESS_KEY": self.secret_key,
        }

    def hold(self, part):
        """Make UploadPart number part wait (unanswered, its body unread)
        until release(): the client is in the middle of the upload."""
        self._release.clear()
        self._held.clear()
        self._hold = part

    def wait_held(self, timeout):
        return self._held.wait(timeout)

    def release(self):
        """Let a held request go (closing its connection unanswered), and
        hold nothing more."""
        self._hold = None
        self._release.set()

    def close(self):
        self.release()
        self.server.shutdown()
        self.server.server_close()

    def calls(self, method, param):
        """The requests with method whose query has parameter param."""
        return [r for r in self.requests if r.method == method and
                any(n == param for n, _ in parse_query(r.query) or [])]

    @staticmethod
    def param(r, name):
        return dict(parse_query(r.query) or []).get(name)


class _Handler(http.server.BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    stub = None

    def log_message(self, fmt, *args):
        pass

    def do_GET(self):
        self.serve()

    do_PUT = do_POST = do_HEAD = do_DELETE = do_GET

    # --- answers -----------------------------------------------------------
    def reply(self, status, body=b"", headers=None, ctype="application/xml"):
        self.status = status
        if isinstance(body, str):
            body = body.encode()
        self.send_response(status)
        for k, v in (headers or {}).items():
            self.send_header(k, v)
        if body or self.command != "HEAD":
            self.send_header("Content-Type", ctype)
        if "Content-Length" not in (headers or {}):
            self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        if self.command != "HEAD":
            self.wfile.write(body)

    def error(self, status, code, message):
        self.reply(status, '<?xml version="1.0" encoding="UTF-8"?><Error>'
                   "<Code>%s</Code><Message>%s</Message></Error>" %
                   (code, escape(message)))

    def xml(self, root, inner):
        self.reply(200, '<?xml version="1.0" encoding="UTF-8"?><%s xmlns='
                   '"%s">%s</%s>' % (root, S3NS, inner, root))

    # --- dispatch ----------------------------------------------------------
    def serve(self):
        st = self.stub
        self.status = None
        path, _, raw = self.path.partition("?")
        rec = Request(self.command, path, raw, dict(
            (k.lower(), v) for k, v in self.headers.items()), None)
        with st.lock:
            st.requests.append(rec)
            idx = len(st.requests) - 1
        try:
            self.route(path, raw)
        finally:
            with st.lock:
                st.requests[idx] = rec._replace(status=self.status)

    def route(self, path, raw):
        st = self.stub
        q = parse_query(raw)
        if q is None:
            return self.error(400, "InvalidArgument", "query not in SigV4 "
                              "canonical encoding: " + raw)
        q = dict(q)
        top = "/" + st.bucket
        if path != top and not path.startswith(top + "/"):
            return self.error(404, "NoSuchBucket", path)
        segs = path[len(top) + 1:].split("/") if path != top else []
        if any(canonical(urllib.parse.unquote(s)) != s for s in segs):
            return self.error(400, "InvalidURI", "path not in SigV4 "
                              "canonical encoding: " + path)
        key = urllib.parse.unquote(path[len(top) + 1:])
        auth = self.headers.get("Authorization", "")
        signed = auth.partition("SignedHeaders=")[2].split(",")[0]
        if not auth.startswith("AWS4-HMAC-SHA256 Credential=%s/" %
                               st.access_key) or \
                "x-amz-content-sha256" not in signed.split(";"):
            return self.error(403, "AccessDenied", "no SigV4 signature "
                              "over x-amz-content-sha256: " + auth)
        if self.headers.get("Transfer-Encoding"):
            return self.error(501, "NotImplemented", "Transfer-Encoding")
        n = int(self.headers.get("Content-Length") or 0)
        if self.command == "PUT" and "partNumber" in q and \
                st._hold is not None and q["partNumber"] == str(st._hold):
            st._held.set()
            st._release.wait(300)
            self.close_connection = True
            return
        body = self.rfile.read(n) if n else b""
        sha = self.headers.get("x-amz-content-sha256")
        if sha is None:
            return self.error(400, "InvalidRequest", "missing "
                              "x-amz-content-sha256")
        if sha != "UNSIGNED-PAYLOAD" and sha != hashlib.sha256(
                body).hexdigest():
            return self.error(400, "XAmzContentSHA256Mismatch", "the body "
                              "is not the one hashed")
        with st.lock:
            return self.op(key, q, body)

    def op(self, key, q, body):
        st, m = self.stub, self.command
        if key == "":
            if m == "GET" and q.get("list-type") == "2":
                return self.list_objects(q)
            return self.error(400, "InvalidRequest", "bucket operation")
        if "uploadId" in q:
            u = st.uploads.get(q["uploadId"])
            if m == "GET" and st.list_parts_status is not None:
                s = st.list_parts_status
                return self.error(s, {405: "MethodNotAllowed",
                                      501: "NotImplemented"}.get(
                    s, "NotImplemented"), "ListParts is not supported")
            if m == "DELETE" and st.abort_status is not None:
                return self.error(st.abort_status, "NotImplemented",
                                  "AbortMultipartUpload is not supported")
            if u is None or u["key"] != key:
                return self.error(404, "NoSuchUpload", "no upload %r" %
                                  q["uploadId"])
            if m == "PUT" and "partNumber" in q:
                return self.upload_part(u, q, body)
            if m == "POST":
                return self.complete(q["uploadId"], u, body)
            if m == "GET":
                return self.list_parts(q, u)
            if m == "DELETE":
                del st.uploads[q["uploadId"]]
                return self.reply(204)
        elif m == "POST" and "uploads" in q:
            st._created += 1
            uid = st.upload_id(st._created)
            st.uploads[uid] = {"key": key, "parts": {},
                               "type": self.headers.get("Content-Type")}
            return self.xml("InitiateMultipartUploadResult",
                            "<Bucket>%s</Bucket><Key>%s</Key><UploadId>%s"
                            "</UploadId>" % (st.bucket, escape(key),
                                             escape(uid)))
        elif m == "PUT" and not q:
            md5 = hashlib.md5(body)
            st.objects[key] = {"body": body, "etag": md5.hexdigest(),
                               "type": self.headers.get("Content-Type")}
            return self.reply(200, headers={"ETag": '"%s"' %
                                            md5.hexdigest()})
        elif m in ("GET", "HEAD") and not q:
            o = st.objects.get(key)
            if o is None:
                return self.error(404, "NoSuchKey", key)
            h = {"ETag": '"%s"' % o["etag"]}
            if m == "HEAD":
                h["Content-Length"] = str(len(o["body"]))
            return self.reply(200, o["body"] if m == "GET" else b"", h,
                              o["type"] or "binary/octet-stream")
        elif m == "DELETE" and not q:
            st.objects.pop(key, None)
            return self.reply(204)
        return self.error(400, "InvalidRequest", "%s %s?%s" % (
            m, key, self.path.partition("?")[2]))

    def upload_part(self, u, q, body):
        try:
            n = int(q["partNumber"])
        except ValueError:
            n = 0
        if not 1 <= n <= 10000:
            return self.error(400, "InvalidArgument", "partNumber")
        md5 = hashlib.md5(body)
        u["parts"][n] = (body, md5.digest())
        return self.reply(200, headers={"ETag": '"%s"' % md5.hexdigest()})

    def complete(self, uid, u, body):
        try:
            root = ET.fromstring(body)
        except ET.ParseError as e:
            return self.error(400, "MalformedXML", str(e))
        listed = []
        for p in root.iter("{%s}Part" % S3NS):
            listed.append((int(p.findtext("{%s}PartNumber" % S3NS)),
                           p.findtext("{%s}ETag" % S3NS).strip('"')))
        if not listed:
            return self.error(400, "MalformedXML", "no parts")
        if [n for n, _ in listed] != sorted({n for n, _ in listed}):
            return self.error(400, "InvalidPartOrder", repr(listed))
        data, md5s = [], []
        for i, (n, etag) in enumerate(listed):
            got = u["parts"].get(n)
            if got is None or got[1].hex() != etag:
                return self.error(400, "InvalidPart", "part %d" % n)
            if i + 1 < len(listed) and len(got[0]) < MIN_PART:
                return self.error(400, "EntityTooSmall", "part %d" % n)
            data.append(got[0])
            md5s.append(got[1])
        etag = multipart_etag(md5s)
        self.stub.objects[u["key"]] = {"body": b"".join(data), "etag": etag,
                                       "type": u["type"]}
        del self.stub.uploads[uid]
        return self.xml("CompleteMultipartUploadResult",
                        "<Bucket>%s</Bucket><Key>%s</Key><ETag>&quot;%s"
                        "&quot;</ETag>" % (self.stub.bucket,
                                           escape(u["key"]), etag))

    def list_parts(self, q, u):
        marker = int(q.get("part-number-marker") or 0)
        most = int(q.get("max-parts") or 1000)
        nums = sorted(n for n in u["parts"] if n > marker)
        page, more = nums[:most], len(nums) > most
        inner = "<IsTruncated>%s</IsTruncated>" % ("true" if more else
                                                   "false")
        if more:
            inner += "<NextPartNumberMarker>%d</NextPartNumberMarker>" % \
                page[-1]
        for n in page:
            b, md5 = u["parts"][n]
            inner += ("<Part><PartNumber>%d</PartNumber><ETag>&quot;%s"
                      "&quot;</ETag><Size>%d</Size></Part>" %
                      (n, md5.hex(), len(b)))
        return self.xml("ListPartsResult", inner)

    def list_objects(self, q):
        prefix = q.get("prefix", "")
        most = int(q.get("max-keys") or 1000)
        keys = sorted(k for k in self.stub.objects if k.startswith(prefix))
        inner = "<Name>%s</Name><Prefix>%s</Prefix><KeyCount>%d</KeyCount>" \
            "<MaxKeys>%d</MaxKeys><IsTruncated>%s</IsTruncated>" % (
                self.stub.bucket, escape(prefix), min(len(keys), most),
                most, "true" if len(keys) > most else "false")
        for k in keys[:most]:
            inner += "<Contents><Key>%s</Key><Size>%d</Size></Contents>" % (
                escape(k), len(self.stub.objects[k]["body"]))
        return self.xml("ListBucketResult", inner)
