#!/usr/bin/env python3
"""Converts Fashion-MNIST (Debian package dataset-fashion-mnist, IDX files) into the
dense CSV the ML jobs read: a header `label,p0,...,p783`, pixels scaled to [0, 1].

    python3 benches/fashion_mnist.py OUT_DIR [SOURCE_DIR]

writes OUT_DIR/fashion-train.csv (60,000 rows) and OUT_DIR/fashion-test.csv (10,000).
"""
import gzip
import os
import struct
import sys

SOURCE = "/usr/share/datasets/fashion-mnist"


def read_idx(path):
    with gzip.open(path, "rb") as f:
        data = f.read()
    magic, count = struct.unpack(">II", data[:8])
    dims = magic & 0xFF
    shape = struct.unpack(">" + "I" * dims, data[4 : 4 + 4 * dims])
    return shape, data[4 + 4 * dims :]


def convert(source, out, kind, name):
    (count, rows, cols), pixels = read_idx(os.path.join(source, f"{kind}-images-idx3-ubyte.gz"))
    (label_count,), labels = read_idx(os.path.join(source, f"{kind}-labels-idx1-ubyte.gz"))
    assert count == label_count, "images and labels disagree"
    size = rows * cols
    scaled = [f"{v / 255:.4g}" if v else "0" for v in range(256)]
    with open(os.path.join(out, name), "w") as f:
        f.write("label," + ",".join(f"p{i}" for i in range(size)) + "\n")
        for i in range(count):
            image = pixels[i * size : (i + 1) * size]
            f.write(str(labels[i]) + "," + ",".join(scaled[v] for v in image) + "\n")
    print(f"wrote {count} rows to {os.path.join(out, name)}")


def main():
    if len(sys.argv) < 2:
        sys.exit(__doc__)
    out = sys.argv[1]
    source = sys.argv[2] if len(sys.argv) > 2 else SOURCE
    os.makedirs(out, exist_ok=True)
    convert(source, out, "train", "fashion-train.csv")
    convert(source, out, "t10k", "fashion-test.csv")


if __name__ == "__main__":
    main()
