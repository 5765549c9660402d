"""test_hostile_media.py -- a crafted MP4 index against the real daemon.

The recording is made by ffmpeg; its audio index is then rewritten here, in
Python, the way the bug report describes: every chunk at the start of the
mdat, each one sample as large as the whole mdat (stco all equal, stsz a
fixed size, stsc (1,1,1)). libavformat still probes the file, and a stream
copy of that index grows as chunks x mdat: a few MB of index over a 100 MB
mdat would be terabytes, and ENOSPC would be retried for ever. The daemon
must take it for bad media: quarantined, kept, reported, never retried.
"""
import os
import struct
import threading
import time

import media
from harness import PipelineCase, sha256_file

CONTAINERS = ("moov", "trak", "mdia", "minf", "stbl")


def parse_boxes(buf, off, end):
    """The boxes in buf[off:end] as [type, offset, size, header size]."""
    out = []
    while off + 8 <= end:
        size, kind = struct.unpack(">I4s", buf[off:off + 8])
        hdr = 8
        if size == 1:
            size = struct.unpack(">Q", buf[off + 8:off + 16])[0]
            hdr = 16
        elif size == 0:
            size = end - off
        if size < hdr or off + size > end:
            raise ValueError("box %r at %d does not fit" % (kind, off))
        out.append((kind.decode("latin-1"), off, size, hdr))
        off += size
    return out


def box_tree(buf, off, size, hdr, kind):
    """[type, children] for the containers on the way to the sample
    tables, [type, payload bytes] for every other box."""
    if kind in CONTAINERS:
        return [kind, [box_tree(buf, o, s, h, k)
                       for k, o, s, h in parse_boxes(buf, off + hdr,
                                                     off + size)]]
    return [kind, buf[off + hdr:off + size]]


def box_bytes(node):
    """A box of the tree back to bytes, its size recomputed."""
    kind, body = node
    if isinstance(body, list):
        body = b"".join(box_bytes(c) for c in body)
    return struct.pack(">I4s", 8 + len(body), kind.encode()) + body


def child(node, kind):
    found = [c for c in node[1] if c[0] == kind]
    if not found:
        raise ValueError("no %s in %s" % (kind, node[0]))
    return found[0]


def craft_repeating_index(src, dst):
    """dst = src with the audio track's index rewritten: as many chunks as
    it has samples, all at the start of the mdat payload, each one sample
    of the mdat payload's size. Returns (chunks, payload offset, payload
    size). The moov is the last box (ffmpeg's layout), so growing or
    shrinking it moves no sample."""
    with open(src, "rb") as f:
        buf = f.read()
    top = parse_boxes(buf, 0, len(buf))
    if top[-1][0] != "moov":
        raise ValueError("moov is not the last box: %s" % [t[0] for t in top])
    mdat = [t for t in top if t[0] == "mdat"][0]
    moov = top[-1]
    tree = box_tree(buf, moov[1], moov[2], moov[3], "moov")
    audio = [t for t in tree[1] if t[0] == "trak" and
             child(child(t, "mdia"), "hdlr")[1][8:12] == b"soun"][0]
    stbl = child(child(child(audio, "mdia"), "minf"), "stbl")
    n = struct.unpack(">I", child(stbl, "stsz")[1][8:12])[0]
    data, size = mdat[1] + mdat[3], mdat[2] - mdat[3]
    for c in stbl[1]:
        if c[0] == "stco":
            c[1] = struct.pack(">II", 0, n) + struct.pack(">I", data) * n
        elif c[0] == "co64":
            c[1] = struct.pack(">II", 0, n) + struct.pack(">Q", data) * n
        elif c[0] == "stsz":
            c[1] = struct.pack(">III", 0, size, n)
        elif c[0] == "stsc":
            c[1] = struct.pack(">IIIII", 0, 1, 1, 1, 1)
    with open(dst, "wb") as f:
        f.write(buf[:moov[1]])
        f.write(box_bytes(tree))
    return n, data, size


class Largest:
    """Polls a directory tree in a thread: the largest file seen in it."""

    def __init__(self, top):
        self.top = top
        self.largest = 0
        self.where = None
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)
        self._thread.start()

    def _run(self):
        while not self._stop.is_set():
            for d, _, files in os.walk(self.top):
                for name in files:
                    p = os.path.join(d, name)
                    try:
                        size = os.lstat(p).st_size
                    except OSError:
                        continue
                    if size > self.largest:
                        self.largest, self.where = size, p
            time.sleep(0.002)

    def stop(self):
        self._stop.set()
        self._thread.join()
        return self.largest


class HostileMedia(PipelineCase):
    """A crafted index is bad media: quarantined, never a disk filler."""

    ENV = {"KEEP_LOCAL": "delete"}  # a quarantined source is kept even so

    def test_repeated_chunks_are_quarantined(self):
        self.start_daemon()
        evil = os.path.join(self.scratch, "evil.mp4")
        n, data, size = craft_repeating_index(self.media_file(seconds=3),
                                              evil)
        self.assertGreater(n, 100)
        # still a valid file to libavformat: what made it dangerous
        info = media.ffprobe_json(evil)
        self.assertEqual(sorted(s["codec_name"] for s in info["streams"]),
                         ["aac", "h264"])
        self.assertAlmostEqual(float(info["format"]["duration"]), 3.0,
                               delta=0.2)
        p = self.cli("probe", evil)
        self.assertEqual(p.returncode, 0, p.stderr)

        work = Largest(os.path.join(self.state, "work"))
        try:
            s = self.jibri(room="hostile-room", source=evil, slow=False)
            j = self.wait_job(s.id, ("quarantined", "done", "failed"),
                              timeout=60)
        finally:
            largest = work.stop()
        self.assertEqual(j["state"], "quarantined", self.describe())
        self.assertTrue(j["quarantined"])
        self.assertEqual(j["attempts"], 0)
        # the reason names the chunks and their offsets
        self.assertIn("corrupt moov: track 1 (audio) chunk 2 at offset %d "
                      "overlaps chunk 1 (offset %d, %d bytes)" %
                      (data, data, size), j["error"])
        self.assertIn(s.path, j["error"])
        # bad media, not a system error: never retried
        self.assertNotIn("will retry", self.daemon_log())
        # kept in place, byte for byte; nothing stored; no work file ever
        # grew past the input
        self.assertEqual(sha256_file(s.path), s.sha256)
        self.assertEqual(self.storage_files(), [])
        self.assertLessEqual(largest, s.size, work.where)
        left = os.path.join(self.state, "work", s.id)
        for d, _, files in os.walk(left):
            for name in files:
                self.assertLessEqual(os.path.getsize(os.path.join(d, name)),
                                     s.size)
        # a failed webhook with the reason
        self.wait_until(lambda: self.receiver.acknowledged(), 10,
                        "the failed webhook")
        acks = self.receiver.acknowledged()
        self.assertEqual(len(acks), 1, self.receiver.all())
        self.assertTrue(acks[0].sig_valid)
        self.assertEqual(acks[0].idempotency_key, s.id)
        b = acks[0].json
        self.assertEqual(b["recording_status"], "failed")
        self.assertEqual(b["room_name"], "hostile-room")
        self.assertEqual(b["recording_file"], s.path)
        self.assertEqual(b["error"], j["error"])
        lines = self.uploads_log()
        self.assertEqual([(l["id"], l["status"]) for l in lines],
                         [(s.id, "quarantined")])
        # still quarantined a while later (> RETRY_MAX_DELAY), untouched
        time.sleep(1.5)
        self.assertEqual(self.job(s.id)["state"], "quarantined")
        self.assertEqual(len(self.receiver.all()), 1)
        self.assertEqual(sha256_file(s.path), s.sha256)

        # and the daemon goes on with a normal recording
        ok = self.jibri(room="after-hostile-room", seconds=2)
        j2 = self.wait_job(ok.id)
        self.assert_session_done(ok, j2)
