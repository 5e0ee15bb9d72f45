package tfevents

import (
	"encoding/binary"
	"fmt"
	"math"

	"google.golang.org/protobuf/encoding/protowire"
)

// Read decodes a whole event file: every record's framing and both CRCs are checked, and
// each record is decoded as an Event. Fields this package does not write (Event's
// summary kinds other than simple_value, session logs, graphs, a Value's tensor or image)
// are skipped, so a Value read from a file of another writer may have only its tag.
// A truncated or corrupt file is an error naming the record and its byte offset.
func Read(data []byte) ([]Event, error) {
	var out []Event
	for off := 0; off < len(data); {
		rec, n, err := readRecord(data[off:])
		if err != nil {
			return out, fmt.Errorf("tfevents: record %d at byte %d: %w", len(out), off, err)
		}
		e, err := unmarshalEvent(rec)
		if err != nil {
			return out, fmt.Errorf("tfevents: record %d at byte %d: event: %w", len(out), off, err)
		}
		out = append(out, e)
		off += n
	}
	return out, nil
}

// readRecord returns the data of the record at the start of b and the record's length.
func readRecord(b []byte) ([]byte, int, error) {
	if len(b) < 12 {
		return nil, 0, fmt.Errorf("%d bytes left, a record header needs 12", len(b))
	}
	n := binary.LittleEndian.Uint64(b)
	if got, want := binary.LittleEndian.Uint32(b[8:]), MaskedCRC(b[:8]); got != want {
		return nil, 0, fmt.Errorf("length CRC %#08x, want %#08x", got, want)
	}
	if len(b) < 16 || n > uint64(len(b)-16) {
		return nil, 0, fmt.Errorf("length %d, but only %d bytes follow the header", n, len(b)-12)
	}
	data := b[12 : 12+n]
	if got, want := binary.LittleEndian.Uint32(b[12+n:]), MaskedCRC(data); got != want {
		return nil, 0, fmt.Errorf("data CRC %#08x, want %#08x", got, want)
	}
	return data, int(16 + n), nil
}

// fields calls fn for each field of the message in b with the bytes after the field's
// tag; fn returns how many of them the field's value takes, or -1 to skip the field (an
// unknown one: protowire measures it by its wire type).
func fields(b []byte, fn func(num protowire.Number, typ protowire.Type, v []byte) (int, error)) error {
	for len(b) > 0 {
		num, typ, n := protowire.ConsumeTag(b)
		if n < 0 {
			return protowire.ParseError(n)
		}
		b = b[n:]
		m, err := fn(num, typ, b)
		if err != nil {
			return fmt.Errorf("field %d: %w", num, err)
		}
		if m < 0 {
			if m = protowire.ConsumeFieldValue(num, typ, b); m < 0 {
				return fmt.Errorf("field %d: %w", num, protowire.ParseError(m))
			}
		}
		b = b[m:]
	}
	return nil
}

// want checks a known field's wire type.
func want(num protowire.Number, typ, w protowire.Type) error {
	if typ != w {
		return fmt.Errorf("wire type %d, want %d", typ, w)
	}
	return nil
}

func unmarshalEvent(b []byte) (Event, error) {
	var e Event
	err := fields(b, func(num protowire.Number, typ protowire.Type, v []byte) (int, error) {
		switch num {
		case eventWallTime:
			if err := want(num, typ, protowire.Fixed64Type); err != nil {
				return 0, err
			}
			x, n := protowire.ConsumeFixed64(v)
			e.WallTime = math.Float64frombits(x)
			return n, protowire.ParseError(n)
		case eventStep:
			if err := want(num, typ, protowire.VarintType); err != nil {
				return 0, err
			}
			x, n := protowire.ConsumeVarint(v)
			e.Step = int64(x)
			return n, protowire.ParseError(n)
		case eventFileVersion:
			if err := want(num, typ, protowire.BytesType); err != nil {
				return 0, err
			}
			s, n := protowire.ConsumeString(v)
			e.FileVersion = s
			return n, protowire.ParseError(n)
		case eventSummary:
			if err := want(num, typ, protowire.BytesType); err != nil {
				return 0, err
			}
			s, n := protowire.ConsumeBytes(v)
			if n < 0 {
				return n, protowire.ParseError(n)
			}
			vals, err := unmarshalSummary(s)
			e.Values = append(e.Values, vals...)
			return n, err
		}
		return -1, nil
	})
	return e, err
}

func unmarshalSummary(b []byte) ([]Value, error) {
	var out []Value
	err := fields(b, func(num protowire.Number, typ protowire.Type, v []byte) (int, error) {
		if num != summaryValue {
			return -1, nil
		}
		if err := want(num, typ, protowire.BytesType); err != nil {
			return 0, err
		}
		s, n := protowire.ConsumeBytes(v)
		if n < 0 {
			return n, protowire.ParseError(n)
		}
		val, err := unmarshalValue(s)
		out = append(out, val)
		return n, err
	})
	return out, err
}

func unmarshalValue(b []byte) (Value, error) {
	var val Value
	err := fields(b, func(num protowire.Number, typ protowire.Type, v []byte) (int, error) {
		switch num {
		case valueTag:
			if err := want(num, typ, protowire.BytesType); err != nil {
				return 0, err
			}
			s, n := protowire.ConsumeString(v)
			val.Tag = s
			return n, protowire.ParseError(n)
		case valueSimple:
			if err := want(num, typ, protowire.Fixed32Type); err != nil {
				return 0, err
			}
			x, n := protowire.ConsumeFixed32(v)
			val.Simple = math.Float32frombits(x)
			return n, protowire.ParseError(n)
		}
		return -1, nil
	})
	return val, err
}
