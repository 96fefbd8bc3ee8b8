"""Draws the PNG app icons in client/static (a white grid on red), with no dependencies."""
import struct, zlib, pathlib

def png(size):
    red, white = (0xB9, 0x1C, 0x1C), (0xFF, 0xFF, 0xFF)
    lo, hi, w = size * 14 // 64, size * 50 // 64, max(2, size // 16)
    mid = size // 2
    rows = []
    for y in range(size):
        row = bytearray([0])
        for x in range(size):
            inside = lo <= x < hi and lo <= y < hi
            line = inside and (abs(x - lo) < w // 2 + 1 or abs(x - hi + 1) < w // 2 + 1
                               or abs(y - lo) < w // 2 + 1 or abs(y - hi + 1) < w // 2 + 1
                               or abs(x - mid) < w // 2 or abs(y - mid) < w // 2)
            row += bytes(white if line else red)
        rows.append(bytes(row))
    def chunk(kind, data):
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))
    ihdr = struct.pack(">IIBBBBB", size, size, 8, 2, 0, 0, 0)
    return b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", ihdr) + chunk(b"IDAT", zlib.compress(b"".join(rows), 9)) + chunk(b"IEND", b"")

out = pathlib.Path(__file__).resolve().parent.parent / "client" / "static"
for s in (192, 512):
    (out / f"icon-{s}.png").write_bytes(png(s))
