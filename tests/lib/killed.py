"""killed.py -- Jibri recordings whose ffmpeg was killed, and their ground truth.

Standard library only; the media comes from the ffmpeg/ffprobe CLI, run
with Jibri's own arguments (jibri_args) on deterministic lavfi sources.

What a kill leaves. Jibri's ffmpeg writes a plain MP4: ftyp (32 bytes),
free (8), then an mdat whose size field stays 0 until the trailer patches
it, so the samples start at offset 48; the moov comes last. ffmpeg's file
writes go out in blocks of 256 KiB, so after `kill -9` the file is
48 + k * 262144 bytes, no moov, the mdat size 0, its last sample cut.

Ground truth. The sources (testsrc2, sine), x264 and the AAC encoder are
deterministic and the muxer interleaves by time stamp, not by arrival, so
the same command without -re, stopped later, writes the same bytes up to
the kill point (only the last second before its own end differs: the
encoders' flush). Its index (ffprobe) therefore names every sample of the
killed file: offset, size, time stamps, payload hash. `cut` makes a
killed file from a ground truth without running ffmpeg again; `kill9`
makes one the real way.

  jibri_args(**settings)        Jibri's ffmpeg arguments (no output file)
  recording(seconds, **s)       an intact recording (cached in tests/.cache)
  kill9(dst, after, **s)        ffmpeg -re ... killed with SIGKILL after N s
  cut(src, dst, end)            src's first `end` bytes, mdat size 0
  block_end(k)                  48 + k * 262144
  packets(path)                 ffprobe's packets (Packet), time stamps in
                                seconds as Fractions, payload sha256
  complete(pkts, end)           the packets wholly inside the first end bytes
  decode_errors(path)           what `ffmpeg -v error -i path -f null -` says
  slices_per_frame(path, n)     slices in each of the first n video frames
"""
import collections
import fcntl
import fractions
import hashlib
import json
import os
import signal
import struct
import subprocess
import time

import media

BLOCK = 262144          # ffmpeg's write size: a kill leaves whole blocks
DATA = 48               # ftyp 32 + free 8 + mdat header 8
MDAT_SIZE_AT = 40       # offset of the mdat's 32-bit size field

DEFAULTS = dict(size="640x360", mono=False, pre2025=False,
                preset="ultrafast", crf=25, fps=30, audio="aac")

class Packet(collections.namedtuple(
        "Packet", "kind pts dts size pos flags hash")):
    __slots__ = ()

    @property
    def end(self):
        return self.pos + self.size

    @property
    def key(self):
        return "K" in self.flags


# lavfi's sine is mono: two of them merged, as PulseAudio gives Jibri
STEREO = ("sine=frequency=440:sample_rate=48000[l];"
          "sine=frequency=660:sample_rate=48000[r];[l][r]amerge=inputs=2")


def settings(**kw):
    unknown = set(kw) - set(DEFAULTS)
    if unknown:
        raise TypeError("unknown settings %s" % sorted(unknown))
    s = dict(DEFAULTS)
    s.update(kw)
    return s


def jibri_args(**kw):
    """Jibri's ffmpeg arguments (inputs and encoding, no output), with
    testsrc2 and sine in place of x11grab and pulse.

    size, fps, crf, preset: Jibri's settings (JIBRI_RESOLUTION, ...).
    The sound is stereo (440 Hz left, 660 Hz right: Jibri's PulseAudio
    source has two channels); mono: -ac 1. pre2025: Jibri before 2025, which also
    passed -g 60 -tune zerolatency; zerolatency makes x264 use sliced
    threads, one slice per thread, and -threads 4 pins that at 4 slices
    per frame (a 4-core host) whatever this machine has. audio: "aac", or
    another encoder for a recording salvage cannot take (e.g. libmp3lame).
    """
    s = settings(**kw)
    args = ["-f", "lavfi", "-i",
            "testsrc2=size=%s:rate=%d,setsar=0" % (s["size"], s["fps"]),
            "-f", "lavfi", "-i", STEREO]
    if s["mono"]:
        args += ["-ac", "1"]
    if s["audio"] == "aac":
        args += ["-acodec", "aac", "-strict", "-2"]
    else:
        args += ["-acodec", s["audio"]]
    args += ["-ar", "44100", "-b:a", "128k", "-af", "aresample=async=1",
             "-c:v", "libx264", "-pix_fmt", "yuv420p", "-r", str(s["fps"])]
    if s["pre2025"]:
        args += ["-g", "60", "-tune", "zerolatency", "-threads", "4"]
    args += ["-crf", str(s["crf"]), "-preset", s["preset"],
             "-profile:v", "main", "-level", "3.1", "-timestamp", "now",
             "-f", "mp4"]
    return args


def _ffmpeg_version():
    p = subprocess.run(["ffmpeg", "-version"], capture_output=True, text=True)
    return p.stdout.splitlines()[0] if p.stdout else "?"


def recording(seconds, **kw):
    """An intact recording of `seconds` seconds made with jibri_args, as
    fast as ffmpeg can (no -re: the bytes are the same). Cached under
    tests/.cache/killed/ (keyed by the settings, the ffmpeg version and
    this machine's core count, on which x264's threads depend); the path
    of the cached file, which callers must not modify."""
    s = settings(**kw)
    key = json.dumps([seconds, jibri_args(**s), _ffmpeg_version(),
                      os.cpu_count()])
    digest = hashlib.sha256(key.encode()).hexdigest()[:16]
    d = os.path.join(media.CACHE, "killed")
    os.makedirs(d, exist_ok=True)
    path = os.path.join(d, "rec-%s.mp4" % digest)
    if os.path.exists(path):
        return path
    with open(os.path.join(d, ".lock"), "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        if not os.path.exists(path):
            tmp = path + ".tmp"
            media._run(["ffmpeg", "-nostdin", "-y", "-v", "error"] +
                       jibri_args(**s) + ["-t", str(seconds), tmp])
            check_layout(tmp)
            os.rename(tmp, path)
    return path


def check_layout(path):
    """Raise unless path starts as Jibri's ffmpeg starts a file: ftyp of
    32 bytes, free of 8, the mdat header at 40 (samples from 48)."""
    with open(path, "rb") as f:
        head = f.read(DATA)
    if len(head) < DATA:
        raise ValueError("%s: %d bytes, shorter than the header" % (
            path, len(head)))
    boxes = (struct.unpack(">I4s", head[0:8]), struct.unpack(">I4s",
             head[32:40]), struct.unpack(">I4s", head[40:48]))
    if (boxes[0] != (32, b"ftyp") or boxes[1] != (8, b"free") or
            boxes[2][1] != b"mdat"):
        raise ValueError("%s: not ftyp(32) free(8) mdat: %r" % (path, boxes))


def block_end(k):
    """The size of a file killed after its k-th 256 KiB write."""
    return DATA + k * BLOCK


def cut(src, dst, end, garbage=None, zeros_from=None):
    """dst = the first `end` bytes of src with the mdat size set to 0:
    what a kill leaves when src is the ground truth. garbage=(offset,
    bytes) overwrites bytes there; zeros_from=offset zeroes everything
    from there to end (the tail a power cut leaves: the size grew, the
    pages were never written). Returns dst."""
    check_layout(src)
    if end > os.path.getsize(src):
        raise ValueError("%s has fewer than %d bytes" % (src, end))
    with open(src, "rb") as f, open(dst, "wb") as out:
        left = end
        while left:
            buf = f.read(min(left, 1 << 20))
            out.write(buf)
            left -= len(buf)
        out.seek(MDAT_SIZE_AT)
        out.write(b"\0\0\0\0")
        if garbage is not None:
            off, data = garbage
            out.seek(off)
            out.write(data)
        if zeros_from is not None:
            out.seek(zeros_from)
            out.write(b"\0" * (end - zeros_from))
    return dst


def kill9(dst, after, **kw):
    """Record like Jibri into dst, paced with -re, and SIGKILL ffmpeg
    after `after` seconds; returns dst (ftyp, free, mdat of size 0)."""
    p = subprocess.Popen(["ffmpeg", "-nostdin", "-y", "-v", "error", "-re"] +
                         jibri_args(**kw) + [dst], stdin=subprocess.DEVNULL,
                         stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    try:
        time.sleep(after)
        if p.poll() is not None:
            raise RuntimeError("ffmpeg exited before the kill (%d): %s" % (
                p.returncode, p.stderr.read().decode(errors="replace")))
        p.send_signal(signal.SIGKILL)
        p.wait(30)
    finally:
        if p.poll() is None:
            p.kill()
            p.wait()
        p.stderr.close()
    return dst


def packets(path):
    """Every packet of path in file order, as Packets: kind "video" or
    "audio", pts/dts in seconds (Fractions: exact whatever the time base),
    size, pos (offset in path), flags (ffprobe's: K key, D discard, as an
    edit list marks the AAC priming), hash ("SHA256:..." of the payload)."""
    p = media._run(["ffprobe", "-v", "error", "-show_packets",
                    "-show_data_hash", "sha256", "-show_entries",
                    "packet=stream_index,pts,dts,size,pos,flags,data_hash:"
                    "stream=index,codec_type,time_base", "-of", "json", path])
    doc = json.loads(p.stdout)
    streams = {s["index"]: (s["codec_type"], fractions.Fraction(
        s["time_base"])) for s in doc["streams"]}
    out = []
    for x in doc.get("packets", []):
        kind, tb = streams[x["stream_index"]]

        def t(v):
            return None if v in (None, "N/A") else int(v) * tb
        out.append(Packet(kind, t(x.get("pts")), t(x.get("dts")),
                          int(x["size"]), int(x.get("pos", -1)),
                          x["flags"], x["data_hash"]))
    return out


def complete(pkts, end):
    """The packets wholly inside the first `end` bytes."""
    return [p for p in pkts if p.end <= end]


def of_kind(pkts, kind):
    return [p for p in pkts if p.kind == kind]


def decode_errors(path):
    """What a full decode of path says at -v error ("" when clean)."""
    p = subprocess.run(["ffmpeg", "-nostdin", "-v", "error", "-i", path,
                        "-f", "null", "-"], capture_output=True, text=True)
    out = p.stderr.strip()
    if p.returncode != 0 and not out:
        out = "ffmpeg exited with %d" % p.returncode
    return out


def slices_per_frame(path, frames=3):
    """The number of slices in each of the first `frames` video frames
    (from the NAL units' first_mb_in_slice == 0)."""
    p = subprocess.run(["ffmpeg", "-nostdin", "-v", "debug", "-i", path,
                        "-map", "0:v", "-c", "copy", "-frames:v",
                        str(frames), "-bsf:v", "trace_headers", "-f", "null",
                        "-"], capture_output=True, text=True)
    counts = []
    for line in p.stderr.splitlines():
        if "trace_headers" not in line or "first_mb_in_slice" not in line:
            continue
        if line.rstrip().endswith("= 0"):
            counts.append(0)
        if counts:
            counts[-1] += 1
    return counts[:frames]
