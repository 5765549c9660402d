"""test_media.py -- `jibri-pipeline probe` and `remux` on real media.

Recordings are made by ffmpeg (tests/lib/media.py, cached); the edge cases
are the committed fixtures/. Checks go through ffprobe and framemd5, not
through our own code.
"""
import json
import os
import shutil
import subprocess
import time
import unittest

import media
from harness import sha256_file as sha256

BUILD = os.environ.get("JP_BUILD", "build")
BIN = os.path.join(BUILD, "jibri-pipeline")
FIX = media.FIXTURES


def run(*args):
    return subprocess.run([BIN] + list(args), capture_output=True, text=True,
                          timeout=300)


def packets(path, *select):
    """framemd5 lines reduced to stream, size and hash (no time stamps)."""
    out = []
    for line in media.framemd5(path, *select):
        f = [x.strip() for x in line.split(",")]
        out.append((f[0], f[4], f[5]))
    return out


class MediaCase(unittest.TestCase):
    def setUp(self):
        self.dir = media.tempdir()

    def tearDown(self):
        shutil.rmtree(self.dir, ignore_errors=True)

    def path(self, name):
        return os.path.join(self.dir, name)

    def recording(self, name="rec.mp4", **kw):
        return media.make_recording(self.path(name), **kw)


class TestMediaLib(MediaCase):
    """The helpers every system test builds on."""

    def test_recording_is_jibri_like(self):
        p = self.recording(seconds=2)
        self.assertEqual(media.box_order(p), ["ftyp", "free", "mdat", "moov"])
        info = media.ffprobe_json(p)
        codecs = sorted(s["codec_name"] for s in info["streams"])
        self.assertEqual(codecs, ["aac", "h264"])
        audio = [s for s in info["streams"] if s["codec_type"] == "audio"][0]
        self.assertEqual(audio["sample_rate"], "44100")
        self.assertAlmostEqual(float(info["format"]["duration"]), 2.0,
                               delta=0.1)

    def test_recording_cache(self):
        a = self.recording("a.mp4", seconds=2)
        t0 = time.monotonic()
        b = self.recording("b.mp4", seconds=2)
        self.assertLess(time.monotonic() - t0, 1.0)
        self.assertEqual(sha256(a), sha256(b))
        c = self.recording("c.mp4", seconds=2, audio=False)
        self.assertEqual([s["codec_type"] for s in
                          media.ffprobe_json(c)["streams"]], ["video"])

    def test_write_slowly(self):
        src = self.recording(seconds=2)
        dst = self.path("slow.mp4")
        t0 = time.monotonic()
        media.write_slowly(src, dst, chunk=16384, delay=0.01)
        n = (os.path.getsize(src) + 16383) // 16384
        self.assertGreaterEqual(time.monotonic() - t0, n * 0.01 * 0.8)
        self.assertEqual(sha256(src), sha256(dst))


class TestProbe(MediaCase):
    def test_probe_recording(self):
        p = self.recording(seconds=3, width=320, height=240, fps=15)
        r = run("probe", p)
        self.assertEqual(r.returncode, 0, r.stderr)
        self.assertIn("\n  ", r.stdout)  # pretty printed
        j = json.loads(r.stdout)
        self.assertIn("mp4", j["format"])
        self.assertAlmostEqual(j["duration"], 3.0, delta=0.1)
        self.assertEqual(j["size"], os.path.getsize(p))
        v, a = j["streams"]
        self.assertEqual((v["type"], v["codec"], v["width"], v["height"]),
                         ("video", "h264", 320, 240))
        self.assertAlmostEqual(v["fps"], 15.0, delta=0.01)
        self.assertNotIn("sample_rate", v)
        self.assertEqual((a["type"], a["codec"], a["profile"],
                          a["sample_rate"], a["channels"]),
                         ("audio", "aac", "LC", 44100, 2))
        self.assertNotIn("width", a)

    def test_probe_fixtures(self):
        cases = {
            "truncated.mp4": "no moov atom: the recording was cut off",
            "empty.mp4": "empty file",
            "notmp4.mp4": "not a media file",
            "cutmdat.mp4": "the file is truncated",
        }
        for name, reason in cases.items():
            f = os.path.join(FIX, name)
            r = run("probe", f)
            self.assertEqual(r.returncode, 1, name)
            self.assertEqual(r.stdout, "", name)
            self.assertTrue(r.stderr.startswith("error: %s: " % f), r.stderr)
            self.assertIn(reason, r.stderr)
        r = run("probe", os.path.join(FIX, "noaudio.mp4"))
        self.assertEqual(r.returncode, 0, r.stderr)
        self.assertEqual([s["type"] for s in json.loads(r.stdout)["streams"]],
                         ["video"])

    def test_probe_missing_file(self):
        r = run("probe", self.path("nope.mp4"))
        self.assertEqual(r.returncode, 1)
        self.assertIn("No such file", r.stderr)
        self.assertIn("try again", r.stderr)

    def test_usage(self):
        self.assertEqual(run("probe").returncode, 2)
        self.assertEqual(run("remux", "only-one").returncode, 2)
        self.assertEqual(run("remux", "a", "b", "--bogus").returncode, 2)


class TestRemux(MediaCase):
    def remux(self, src, out, audio=None):
        args = ["remux", src, out] + (["--audio", audio] if audio else [])
        return run(*args)

    def test_remux_recording(self):
        src = self.recording(seconds=4)
        out, aud = self.path("recording.mp4"), self.path("audio.m4a")
        r = self.remux(src, out, aud)
        self.assertEqual(r.returncode, 0, r.stderr)
        lines = r.stdout.splitlines()
        self.assertEqual(len(lines), 1)
        self.assertIn("(faststart)", lines[0])
        self.assertIn("%s: %d bytes" % (out, os.path.getsize(out)), lines[0])
        self.assertIn("%s: %d bytes (m4a)" % (aud, os.path.getsize(aud)),
                      lines[0])

        order = media.box_order(out)
        self.assertLess(order.index("moov"), order.index("mdat"))
        order = media.box_order(aud)
        self.assertLess(order.index("moov"), order.index("mdat"))

        pin, pout = media.ffprobe_json(src), media.ffprobe_json(out)
        self.assertEqual(pin["format"]["duration"],
                         pout["format"]["duration"])
        for si, so in zip(pin["streams"], pout["streams"]):
            for k in ("codec_name", "nb_frames", "duration", "width",
                      "sample_rate"):
                self.assertEqual(si.get(k), so.get(k), k)
        self.assertEqual(media.framemd5(src), media.framemd5(out))

        pa = media.ffprobe_json(aud)
        self.assertEqual([s["codec_type"] for s in pa["streams"]], ["audio"])
        ain = [s for s in pin["streams"] if s["codec_type"] == "audio"][0]
        self.assertEqual(pa["streams"][0]["duration"], ain["duration"])
        self.assertEqual(media.framemd5(src, "-map", "0:a"),
                         media.framemd5(aud))

    def test_remux_fixtures(self):
        for name, reason in (("truncated.mp4", "no moov atom"),
                             ("empty.mp4", "empty file"),
                             ("notmp4.mp4", "not a media file"),
                             ("cutmdat.mp4", "truncated")):
            out, aud = self.path("o.mp4"), self.path("o.m4a")
            r = self.remux(os.path.join(FIX, name), out, aud)
            self.assertEqual(r.returncode, 1, name)
            self.assertIn(reason, r.stderr)
            self.assertTrue(r.stderr.startswith("error: "), r.stderr)
            self.assertFalse(os.path.exists(out), name)
            self.assertFalse(os.path.exists(aud), name)

    def test_remux_noaudio(self):
        out, aud = self.path("o.mp4"), self.path("o.m4a")
        r = self.remux(os.path.join(FIX, "noaudio.mp4"), out, aud)
        self.assertEqual(r.returncode, 0, r.stderr)
        self.assertIn("no audio stream", r.stdout)
        self.assertFalse(os.path.exists(aud))
        self.assertEqual(media.framemd5(os.path.join(FIX, "noaudio.mp4")),
                         media.framemd5(out))

    def test_remux_matroska(self):
        src = self.recording("rec.mkv", seconds=3, container="matroska")
        out, aud = self.path("o.mp4"), self.path("o.m4a")
        r = self.remux(src, out, aud)
        self.assertEqual(r.returncode, 0, r.stderr)
        self.assertIn("(libavformat)", r.stdout)
        order = media.box_order(out)
        self.assertLess(order.index("moov"), order.index("mdat"))
        for sel in ("0:v", "0:a"):
            self.assertEqual(packets(src, "-map", sel),
                             packets(out, "-map", sel))
        self.assertEqual(packets(src, "-map", "0:a"), packets(aud))

    def test_remux_webm_vp8_refused(self):
        src = self.path("vp8.webm")
        subprocess.run(["ffmpeg", "-nostdin", "-loglevel", "error", "-f",
                        "lavfi", "-i", "testsrc=size=160x120:rate=10:"
                        "duration=1", "-c:v", "libvpx", src], check=True)
        out = self.path("o.mp4")
        r = self.remux(src, out)
        self.assertEqual(r.returncode, 1)
        self.assertIn("vp8", r.stderr)
        self.assertIn("cannot be stored in MP4", r.stderr)
        self.assertFalse(os.path.exists(out))

    def test_odd_names(self):
        name = "room \"A\" 'b' $x ü 会议_2025-01-15-11-15-00.mp4"
        src = self.recording(name, seconds=2)
        out = self.path("out \"q\" 'é'.mp4")
        aud = self.path("aud io ü.m4a")
        r = self.remux(src, out, aud)
        self.assertEqual(r.returncode, 0, r.stderr)
        self.assertEqual(media.framemd5(src), media.framemd5(out))
        r = run("probe", out)
        self.assertEqual(r.returncode, 0, r.stderr)
        self.assertEqual(json.loads(r.stdout)["size"], os.path.getsize(out))
        r = run("probe", os.path.join(self.dir, "nope \"x\".mp4"))
        self.assertIn("nope \"x\".mp4", r.stderr)

    def test_symlink_input_refused(self):
        src = self.recording(seconds=2)
        link = self.path("link.mp4")
        os.symlink(src, link)
        r = self.remux(link, self.path("o.mp4"))
        self.assertEqual(r.returncode, 1)
        self.assertIn("symbolic link", r.stderr)
        self.assertEqual(run("probe", link).returncode, 1)


@unittest.skipUnless(os.geteuid() == 0, "mounting a tmpfs needs root")
class TestRemuxNoSpace(MediaCase):
    """A full disk is an IO error (retry later), not bad media: exit 1, a
    clear message, no partial output, the input untouched."""

    def setUp(self):
        super().setUp()
        self.mnt = self.path("small")
        os.mkdir(self.mnt)
        r = subprocess.run(["mount", "-t", "tmpfs", "-o", "size=2m", "tmpfs",
                            self.mnt], capture_output=True, text=True)
        if r.returncode != 0:
            self.skipTest("cannot mount a tmpfs: " + r.stderr.strip())

    def tearDown(self):
        subprocess.run(["umount", self.mnt], capture_output=True)
        super().tearDown()

    def test_enospc(self):
        # 4 s at 640x360 and 8 Mb/s: ~4 MB, twice the 2 MiB file system
        noisy = dict(seconds=4, width=640, height=360, video_bitrate="8M",
                     vf="noise=alls=40:allf=t+u")
        src = self.recording("big.mp4", **noisy)
        self.assertGreater(os.path.getsize(src), 3 << 20)
        before = sha256(src)
        out = os.path.join(self.mnt, "recording.mp4")
        aud = os.path.join(self.mnt, "audio.m4a")
        r = run("remux", src, out, "--audio", aud)
        self.assertEqual(r.returncode, 1)
        self.assertIn("No space left on device", r.stderr)
        self.assertIn("try again", r.stderr)
        self.assertEqual(os.listdir(self.mnt), [])
        self.assertEqual(sha256(src), before)

        # the libavformat path too
        mkv = self.recording("big.mkv", container="matroska", **noisy)
        r = run("remux", mkv, out, "--audio", aud)
        self.assertEqual(r.returncode, 1)
        self.assertIn("No space left on device", r.stderr)
        self.assertEqual(os.listdir(self.mnt), [])


if __name__ == "__main__":
    unittest.main()
