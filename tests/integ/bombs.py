"""Builders of archive and compression bombs for test_bombs.py, made at run
time in a second or two (nothing of the kind is kept in the tree).

- nested_zip_bomb(): zips of zips of large zero files (the 42.zip kind):
  each level holds `width` copies of the level below, compressed again
  (deflate output of zeros is itself very repetitive), so a few tens of
  KiB expand to terabytes.
- overlapping_zip_bomb(): one compressed file, and a central directory
  whose `entries` entries all point at it (D. Fifield's "better zip bomb",
  full-overlap form): each entry expands to the whole file.
- deep_zip(): a zip of a zip of ... `depth` levels.
- gzip_zeros(): a valid gzip stream of `pieces` MiB of zeros, produced
  piece by piece (every piece after a full flush compresses to the same
  bytes, so 10 GiB cost a few milliseconds); the CRC of the whole comes
  from crc32_combine, not from reading 10 GiB.

Zips are written by hand (struct) because zipfile would have to compress
every copy again, and cannot write overlapping entries at all.
"""

import io
import struct
import zipfile
import zlib

MIB = 1024 * 1024


def deflate_raw(data, level=9):
    c = zlib.compressobj(level, zlib.DEFLATED, -15)
    return c.compress(data) + c.flush()


def deflate_zeros(n, piece=16 * MIB):
    """Raw deflate of n zero bytes, and their CRC-32, in pieces (bounded memory)."""
    c = zlib.compressobj(9, zlib.DEFLATED, -15)
    out, crc, zeros = [], 0, bytes(min(n, piece))
    left = n
    while left > 0:
        k = min(left, piece)
        out.append(c.compress(zeros[:k]))
        crc = zlib.crc32(zeros[:k], crc)
        left -= k
    out.append(c.flush())
    return b"".join(out), crc


def zip_entries(entries, overlap_at=None):
    """A zip of entries [(name, deflated bytes, crc, size)], method deflate.
    overlap_at=k: one local file (entry k's), and every central directory
    entry pointing at it."""
    local, central = io.BytesIO(), io.BytesIO()
    offsets = []
    for i, (name, data, crc, size) in enumerate(entries):
        if overlap_at is not None and i != overlap_at:
            continue
        offsets.append(local.tell())
        n = name.encode()
        local.write(struct.pack("<IHHHHHIIIHH", 0x04034B50, 20, 0, 8, 0, 0x21, crc, len(data),
                                size, len(n), 0) + n + data)
    for i, (name, data, crc, size) in enumerate(entries):
        n = name.encode()
        off = offsets[0] if overlap_at is not None else offsets[i]
        central.write(struct.pack("<IHHHHHHIIIHHHHHII", 0x02014B50, 20, 20, 0, 8, 0, 0x21, crc,
                                  len(data), size, len(n), 0, 0, 0, 0, 0, off) + n)
    cd = central.getvalue()
    eocd = struct.pack("<IHHHHIIH", 0x06054B50, 0, 0, len(entries), len(entries), len(cd),
                       local.tell(), 0)
    return local.getvalue() + cd + eocd


def nested_zip_bomb(file_size=64 * MIB, width=16, levels=3):
    """levels of zips, width entries each, the innermost `file_size` zero
    bytes: width**levels * file_size bytes in all. Returns (zip, total)."""
    data, crc = deflate_zeros(file_size)
    size, name = file_size, "zeros.bin"
    for level in range(levels):
        z = zip_entries([("%d-%s" % (i, name), data, crc, size) for i in range(width)])
        if level == levels - 1:
            return z, width ** levels * file_size
        data, crc, size, name = deflate_raw(z), zlib.crc32(z), len(z), "level%d.zip" % level
    raise AssertionError("levels must be at least 1")


def overlapping_zip_bomb(file_size=64 * MIB, entries=2000):
    """One deflated file of zeros named by `entries` central directory
    entries. Returns (zip, total bytes the entries claim)."""
    data, crc = deflate_zeros(file_size)
    return zip_entries([("f%05d.bin" % i, data, crc, file_size) for i in range(entries)],
                       overlap_at=0), entries * file_size


def deep_zip(depth, inner=b"the innermost file, clean\n"):
    data = inner
    for i in range(depth):
        buf = io.BytesIO()
        with zipfile.ZipFile(buf, "w", zipfile.ZIP_DEFLATED) as z:
            z.writestr("level%d.zip" % i if i else "file.txt", data)
        data = buf.getvalue()
    return data


# ------------------------------------------------------------------ gzip


def _gf2_times(mat, vec):
    s, i = 0, 0
    while vec:
        if vec & 1:
            s ^= mat[i]
        vec >>= 1
        i += 1
    return s


def _gf2_square(mat):
    return [_gf2_times(mat, mat[n]) for n in range(32)]


def crc32_combine(crc1, crc2, len2):
    """CRC-32 of A+B from crc1 = crc32(A), crc2 = crc32(B) and len(B) (the
    GF(2) matrix method of zlib's crc32_combine)."""
    if len2 == 0:
        return crc1
    odd = [0xEDB88320] + [1 << n for n in range(31)]  # one zero bit
    even = _gf2_square(odd)  # two
    odd = _gf2_square(even)  # four
    while True:
        even = _gf2_square(odd)
        if len2 & 1:
            crc1 = _gf2_times(even, crc1)
        len2 >>= 1
        if not len2:
            break
        odd = _gf2_square(even)
        if len2 & 1:
            crc1 = _gf2_times(odd, crc1)
        len2 >>= 1
        if not len2:
            break
    return crc1 ^ crc2


def crc32_repeat(crc, length, n):
    """CRC-32 of n copies of a block whose CRC-32 is crc."""
    out, base, blen = 0, crc, length
    while n:
        if n & 1:
            out = crc32_combine(out, base, blen)
        base = crc32_combine(base, base, blen)
        blen *= 2
        n >>= 1
    return out


def gzip_zeros(pieces):
    """A gzip stream of pieces MiB of zeros, as a generator of byte strings
    (about 1 KiB per MiB). Returns (generator, total compressed length)."""
    zeros = bytes(MIB)
    c = zlib.compressobj(9, zlib.DEFLATED, 31)
    first = c.compress(zeros) + c.flush(zlib.Z_FULL_FLUSH)
    again = c.compress(zeros) + c.flush(zlib.Z_FULL_FLUSH)
    assert first.endswith(again) and again == c.compress(zeros) + c.flush(zlib.Z_FULL_FLUSH)
    end = c.flush(zlib.Z_FINISH)[:-8]  # the last, empty block; our own trailer follows
    trailer = struct.pack("<II", crc32_repeat(zlib.crc32(zeros), MIB, pieces),
                          (pieces * MIB) & 0xFFFFFFFF)
    total = len(first) + (pieces - 1) * len(again) + len(end) + len(trailer)

    def gen():
        yield first
        for _ in range(pieces - 1):
            yield again
        yield end + trailer
    return gen(), total


def quoted_overlap_zip_bomb(file_size=64 * MIB, entries=200):
    """D. Fifield's overlapping zip bomb: file i's data is a stored deflate
    block that quotes local header i+1, then file i+1's data; the last
    file's data is the kernel (zeros). Every file expands to the kernel
    and more. Returns (zip, total bytes the entries claim)."""
    kernel, kcrc = deflate_zeros(file_size)
    names = ["q%05d.bin" % i for i in range(entries)]
    # From the last file back: each header needs the sizes and CRC of its file.
    headers = [None] * entries
    csize, usize, crc = len(kernel), file_size, kcrc
    sizes = [None] * entries
    for i in range(entries - 1, -1, -1):
        if i < entries - 1:
            q = headers[i + 1]
            csize += 5 + len(q)
            usize += len(q)
            crc = crc32_combine(zlib.crc32(q), crc, sizes[i + 1][1])
        sizes[i] = (csize, usize, crc)
        n = names[i].encode()
        headers[i] = struct.pack("<IHHHHHIIIHH", 0x04034B50, 20, 0, 8, 0, 0x21, crc, csize,
                                 usize, len(n), 0) + n
    body, offsets = io.BytesIO(), []
    for i in range(entries):
        offsets.append(body.tell())
        body.write(headers[i])
        if i < entries - 1:
            q = headers[i + 1]
            # A stored block, not the last: BFINAL 0, BTYPE 00, LEN, NLEN.
            body.write(struct.pack("<BHH", 0, len(q), len(q) ^ 0xFFFF))
            # ... whose content is header i+1, which the next round writes.
    body.write(kernel)
    central = io.BytesIO()
    for i in range(entries):
        n = names[i].encode()
        csize, usize, crc = sizes[i]
        central.write(struct.pack("<IHHHHHHIIIHHHHHII", 0x02014B50, 20, 20, 0, 8, 0, 0x21, crc,
                                  csize, usize, len(n), 0, 0, 0, 0, 0, offsets[i]) + n)
    cd = central.getvalue()
    eocd = struct.pack("<IHHHHIIH", 0x06054B50, 0, 0, entries, entries, len(cd), body.tell(), 0)
    return body.getvalue() + cd + eocd, sum(s[1] for s in sizes)
