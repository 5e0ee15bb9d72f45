#!/usr/bin/python3
"""Independent reader of TensorBoard event files, for dmlrun's tests.

Usage: read_events.py FILE   prints the events as JSON on stdout, one object per record:
  {"wall_time": "<hex of the float64 bits>", "step": int, "file_version": str,
   "values": [{"tag": str, "simple_value": "<hex of the float32 bits>"}, ...]}
Float values are given as their bits so that NaN, infinities and -0 compare exactly.

It shares no code with dmlrun (internal/tfevents): the TFRecord framing, CRC32C
(Castagnoli, reflected polynomial 0x82F63B78), its mask and the protobuf wire format are
written out here from their published definitions, because Debian's python3 has no
tensorflow or tensorboard to import. Exits 1 with a message on any framing, CRC or wire
error.
"""
import json
import struct
import sys


def _crc32c_table():
    table = []
    for i in range(256):
        c = i
        for _ in range(8):
            c = (c >> 1) ^ 0x82F63B78 if c & 1 else c >> 1
        table.append(c)
    return table


_TABLE = _crc32c_table()


def crc32c(data):
    c = 0xFFFFFFFF
    for b in data:
        c = _TABLE[(c ^ b) & 0xFF] ^ (c >> 8)
    return c ^ 0xFFFFFFFF


def masked_crc(data):
    c = crc32c(data)
    return (((c >> 15) | (c << 17)) + 0xA282EAD8) & 0xFFFFFFFF


def varint(buf, i):
    shift = result = 0
    while True:
        if i >= len(buf):
            raise ValueError("truncated varint")
        b = buf[i]
        i += 1
        result |= (b & 0x7F) << shift
        if not b & 0x80:
            return result, i
        shift += 7
        if shift >= 64:
            raise ValueError("varint too long")


def fields(buf):
    """Yields (field number, wire type, value) of a message: ints for varints, bytes otherwise."""
    i = 0
    while i < len(buf):
        key, i = varint(buf, i)
        num, typ = key >> 3, key & 7
        if typ == 0:
            v, i = varint(buf, i)
        elif typ == 1:
            v, i = buf[i:i + 8], i + 8
        elif typ == 2:
            n, i = varint(buf, i)
            v, i = buf[i:i + n], i + n
        elif typ == 5:
            v, i = buf[i:i + 4], i + 4
        else:
            raise ValueError("wire type %d of field %d not expected" % (typ, num))
        if i > len(buf):
            raise ValueError("field %d truncated" % num)
        yield num, typ, v


def value(buf):
    out = {"tag": "", "simple_value": None}
    for num, typ, v in fields(buf):
        if num == 1 and typ == 2:
            out["tag"] = v.decode("utf-8")
        elif num == 2 and typ == 5:
            out["simple_value"] = "%08x" % struct.unpack("<I", v)[0]
    return out


def event(buf):
    out = {"wall_time": "%016x" % 0, "step": 0, "file_version": "", "values": []}
    for num, typ, v in fields(buf):
        if num == 1 and typ == 1:
            out["wall_time"] = "%016x" % struct.unpack("<Q", v)[0]
        elif num == 2 and typ == 0:
            out["step"] = v - (1 << 64) if v >= 1 << 63 else v
        elif num == 3 and typ == 2:
            out["file_version"] = v.decode("utf-8")
        elif num == 5 and typ == 2:
            for n2, t2, v2 in fields(v):
                if n2 == 1 and t2 == 2:
                    out["values"].append(value(v2))
    return out


def records(data):
    i = 0
    while i < len(data):
        if len(data) - i < 12:
            raise ValueError("byte %d: %d bytes left, a record header needs 12" % (i, len(data) - i))
        head = data[i:i + 8]
        (n,) = struct.unpack("<Q", head)
        (crc,) = struct.unpack("<I", data[i + 8:i + 12])
        if crc != masked_crc(head):
            raise ValueError("byte %d: length CRC %08x, want %08x" % (i, crc, masked_crc(head)))
        body = data[i + 12:i + 12 + n]
        if len(body) != n or len(data) < i + 16 + n:
            raise ValueError("byte %d: record of %d bytes truncated" % (i, n))
        (crc,) = struct.unpack("<I", data[i + 12 + n:i + 16 + n])
        if crc != masked_crc(body):
            raise ValueError("byte %d: data CRC %08x, want %08x" % (i, crc, masked_crc(body)))
        yield body
        i += 16 + n


def main():
    if len(sys.argv) != 2:
        sys.exit("usage: read_events.py FILE")
    if crc32c(b"123456789") != 0xE3069283:  # the CRC-32C check value
        sys.exit("read_events.py: CRC32C implementation is wrong")
    with open(sys.argv[1], "rb") as f:
        data = f.read()
    try:
        out = [event(r) for r in records(data)]
    except ValueError as e:
        sys.exit("%s: %s" % (sys.argv[1], e))
    json.dump(out, sys.stdout, indent=1)
    sys.stdout.write("\n")


if __name__ == "__main__":
    main()
