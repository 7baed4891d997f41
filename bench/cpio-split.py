#!/usr/bin/env python3
"""Split a decompressed initramfs (concatenated newc archives, each ending with
TRAILER!!!, NUL padding between them allowed, as the kernel reads them) into one file per
archive, so tools that stop at the first trailer (GNU cpio, bsdtar) can read every one.

usage: cpio-split.py OUTDIR < initramfs.cpio      (writes OUTDIR/seg-0000.cpio, ...)
prints the number of archives.
"""
import os
import sys


def main():
    out = sys.argv[1]
    os.makedirs(out, exist_ok=True)
    data = sys.stdin.buffer.read()
    pos, n = 0, 0
    while pos < len(data):
        while pos < len(data) and data[pos] == 0:
            pos += 1
        if pos >= len(data):
            break
        start = pos
        while True:
            head = data[pos:pos + 110]
            if head[:6] not in (b"070701", b"070702"):
                sys.exit(f"cpio-split: bad magic at offset {pos}")
            size = int(head[54:62], 16)
            namesize = int(head[94:102], 16)
            name = data[pos + 110:pos + 110 + namesize - 1]
            pos += (110 + namesize + 3) & ~3
            pos += (size + 3) & ~3
            if name == b"TRAILER!!!":
                break
        with open(os.path.join(out, f"seg-{n:04d}.cpio"), "wb") as f:
            f.write(data[start:pos])
        n += 1
    print(n)


if __name__ == "__main__":
    main()
