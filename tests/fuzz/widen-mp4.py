#!/usr/bin/env python3
"""widen-mp4.py -- an MP4 seed in the forms long recordings take: 64-bit box sizes, co64, version-1 times.

Usage: tests/fuzz/widen-mp4.py IN OUT

IN must have its moov after the mdat (ffmpeg's default), so that a larger
moov moves no sample. In the moov of OUT every container on the way to the
chunk tables has a 64-bit size (size 1, then the size in 64 bits), the
first stco table is a co64 and the others keep 32-bit entries behind a
64-bit size, and mvhd and tkhd are version 1: the paths a
recording of more than 4 GiB or of long duration takes through mp4box.c and
faststart.c, which small generated files never reach.
"""
import struct
import sys

CONTAINERS = {b"moov", b"trak", b"mdia", b"minf", b"stbl"}


def boxes(buf):
    """(type, payload, the whole box) of each box in buf."""
    pos = 0
    while pos + 8 <= len(buf):
        size, kind = struct.unpack(">I4s", buf[pos:pos + 8])
        hdr = 8
        if size == 1:
            size = struct.unpack(">Q", buf[pos + 8:pos + 16])[0]
            hdr = 16
        elif size == 0:
            size = len(buf) - pos
        if size < hdr or pos + size > len(buf):
            raise ValueError("box %r at %d does not fit" % (kind, pos))
        yield kind, buf[pos + hdr:pos + size], buf[pos:pos + size]
        pos += size


def wide(kind, payload):
    return struct.pack(">I4sQ", 1, kind, 16 + len(payload)) + payload


def narrow(kind, payload):
    return struct.pack(">I4s", 8 + len(payload), kind) + payload


def times_v1(kind, p):
    """mvhd/tkhd version 0 -> 1: creation, modification and duration in 64
    bits (tkhd: track id and a reserved word between them)."""
    if p[0] != 0:
        return p
    if kind == b"mvhd":
        c, m, scale, d = struct.unpack(">IIII", p[4:20])
        return b"\1" + p[1:4] + struct.pack(">QQIQ", c, m, scale, d) + p[20:]
    c, m, tid, res, d = struct.unpack(">IIIII", p[4:24])
    return b"\1" + p[1:4] + struct.pack(">QQIIQ", c, m, tid, res, d) + p[24:]


def rewrite(kind, payload, seen):
    """The box, widened; seen counts the chunk tables met so far."""
    if kind in CONTAINERS:
        return wide(kind, b"".join(rewrite(k, p, seen)
                                   for k, p, _ in boxes(payload)))
    if kind == b"stco":
        seen.append(kind)
        if len(seen) > 1:
            return wide(kind, payload)
        n = struct.unpack(">I", payload[4:8])[0]
        offs = struct.unpack(">%dI" % n, payload[8:8 + 4 * n])
        return narrow(b"co64", payload[:8] + struct.pack(">%dQ" % n, *offs))
    if kind in (b"mvhd", b"tkhd"):
        return narrow(kind, times_v1(kind, payload))
    return narrow(kind, payload)


def main():
    src, dst = sys.argv[1:3]
    with open(src, "rb") as f:
        buf = f.read()
    out, seen_mdat = [], False
    for kind, payload, raw in boxes(buf):
        if kind == b"mdat":
            seen_mdat = True
        if kind == b"moov":
            if not seen_mdat:
                sys.exit("%s: the moov is before the mdat" % src)
            out.append(rewrite(kind, payload, []))
        else:
            out.append(raw)     # the samples stay where they are
    with open(dst, "wb") as f:
        f.write(b"".join(out))


if __name__ == "__main__":
    main()
