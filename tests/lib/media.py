"""media.py -- Jibri-like test recordings and MP4 inspection for the tests.

Standard library only; the media itself comes from the ffmpeg/ffprobe CLI.

  make_recording(path, seconds=4, ...)  an MP4 like Jibri's ffmpeg writes
                                        (H.264 + AAC 44.1 kHz, moov at the end)
  write_slowly(src, dst, ...)           copy a file in chunks with pauses,
                                        like a recording that is still growing
  ffprobe_json(path)                    ffprobe -show_format -show_streams
  box_order(path)                       top-level MP4 box types, in order
  framemd5(path, *select)               per-packet MD5 lines of a stream copy
"""
import fcntl
import hashlib
import json
import os
import shutil
import struct
import subprocess
import tempfile
import time

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(os.path.dirname(HERE))
CACHE = os.path.join(ROOT, "tests", ".cache")
FIXTURES = os.path.join(ROOT, "fixtures")


def _run(cmd, **kw):
    p = subprocess.run(cmd, capture_output=True, **kw)
    if p.returncode != 0:
        raise RuntimeError("%s failed (%d): %s" % (
            cmd[0], p.returncode, p.stderr.decode(errors="replace")[-2000:]))
    return p


def recording_args(seconds=4, width=320, height=240, audio=True, fps=15,
                   video_bitrate=None, audio_codec="aac", vf=None):
    """The ffmpeg input/encoding arguments of make_recording (no output)."""
    args = ["-f", "lavfi", "-i",
            "testsrc=size=%dx%d:rate=%d:duration=%s" % (width, height, fps,
                                                        seconds)]
    if audio:
        args += ["-f", "lavfi", "-i",
                 "sine=frequency=440:sample_rate=44100:duration=%s" % seconds]
    args += ["-map", "0:v"] + (["-map", "1:a"] if audio else [])
    # x11grab + libx264 as Jibri runs it, only faster: what matters here is
    # the container layout, not the picture.
    args += ["-c:v", "libx264", "-preset", "ultrafast", "-pix_fmt", "yuv420p"]
    if vf:
        args += ["-vf", vf]
    if video_bitrate:
        args += ["-b:v", video_bitrate]
    if audio:
        if audio_codec == "aac":
            args += ["-c:a", "aac", "-b:a", "128k", "-ar", "44100", "-ac", "2"]
        else:
            args += ["-c:a", audio_codec]
    return args


def make_recording(path, seconds=4, width=320, height=240, audio=True, fps=15,
                   video_bitrate=None, container="mp4", audio_codec="aac",
                   vf=None):
    """Write a Jibri-like recording to path: H.264 (testsrc) + AAC 44.1 kHz
    (sine), plain MP4 with the moov after the mdat (ffmpeg's default).

    The result is cached under tests/.cache keyed by the parameters, so a
    second call only copies. container="matroska" gives the same streams in
    Matroska (for the libavformat fallback); audio_codec="pcm_s16le" or
    "libopus" gives audio that M4A cannot hold. vf: a video filter, e.g.
    "noise=alls=40:allf=t+u" for pictures that cost the bit rate asked for
    (testsrc alone compresses to almost nothing). Returns path."""
    key = json.dumps([seconds, width, height, audio, fps, video_bitrate,
                      container, audio_codec, vf])
    digest = hashlib.sha256(key.encode()).hexdigest()[:16]
    ext = {"mp4": "mp4", "matroska": "mkv", "webm": "webm"}[container]
    os.makedirs(CACHE, exist_ok=True)
    cached = os.path.join(CACHE, "rec-%s.%s" % (digest, ext))
    if not os.path.exists(cached):
        # one generator at a time: test processes may run side by side
        with open(os.path.join(CACHE, ".lock"), "w") as lock:
            fcntl.flock(lock, fcntl.LOCK_EX)
            if not os.path.exists(cached):
                tmp = cached + ".tmp"
                _run(["ffmpeg", "-nostdin", "-loglevel", "error", "-y"] +
                     recording_args(seconds, width, height, audio, fps,
                                    video_bitrate, audio_codec, vf) +
                     ["-f", container, tmp])
                os.rename(tmp, cached)
    shutil.copyfile(cached, path)
    return path


def write_slowly(src, dst, chunk=64 * 1024, delay=0.05):
    """Copy src to dst in chunks of `chunk` bytes with `delay` seconds between
    them, flushing each: a file that grows the way Jibri's ffmpeg writes it."""
    with open(src, "rb") as fin, open(dst, "wb") as fout:
        while True:
            buf = fin.read(chunk)
            if not buf:
                break
            fout.write(buf)
            fout.flush()
            time.sleep(delay)


def ffprobe_json(path):
    """ffprobe -show_format -show_streams of path, parsed."""
    p = _run(["ffprobe", "-v", "error", "-show_format", "-show_streams",
              "-of", "json", path])
    return json.loads(p.stdout)


def framemd5(path, *select):
    """The packets of a stream copy of path (framemd5 lines without the
    header comments): equal lists mean equal timestamps, sizes and bytes.
    select: extra ffmpeg output options, e.g. "-map", "0:a"."""
    sel = list(select) or ["-map", "0"]
    p = _run(["ffmpeg", "-nostdin", "-loglevel", "error", "-i", path] + sel +
             ["-c", "copy", "-f", "framemd5", "-"])
    return [l for l in p.stdout.decode().splitlines() if not l.startswith("#")]


def boxes(path):
    """Top-level MP4 boxes as (type, offset, size); size 0 means "to the end
    of the file" and is resolved. Stops at the first box that does not fit."""
    out = []
    end = os.path.getsize(path)
    with open(path, "rb") as f:
        off = 0
        while off + 8 <= end:
            f.seek(off)
            hdr = f.read(16)
            size, kind = struct.unpack(">I4s", hdr[:8])
            if size == 1:
                if len(hdr) < 16:
                    break
                size = struct.unpack(">Q", hdr[8:16])[0]
            elif size == 0:
                size = end - off
            if size < 8:
                break
            out.append((kind.decode("latin-1"), off, size))
            off += size
    return out


def box_order(path):
    """Top-level MP4 box types in file order, e.g. ["ftyp", "moov", "mdat"]."""
    return [b[0] for b in boxes(path)]


def tempdir(prefix="jp-media-"):
    """A temporary directory on the same file system as the test cache (so
    kernel copies behave as in production); the caller removes it."""
    os.makedirs(CACHE, exist_ok=True)
    return tempfile.mkdtemp(prefix=prefix, dir=CACHE)
