package tfevents

import (
	"encoding/binary"
	"hash/crc32"
	"math"

	"google.golang.org/protobuf/encoding/protowire"
)

// FileVersion is the file_version of a file's first event; TensorBoard reads files whose
// first event says "brain.Event:2" as the current format.
const FileVersion = "brain.Event:2"

// Field numbers of the messages this package writes (event.proto, summary.proto).
const (
	eventWallTime    protowire.Number = 1
	eventStep        protowire.Number = 2
	eventFileVersion protowire.Number = 3
	eventSummary     protowire.Number = 5
	summaryValue     protowire.Number = 1
	valueTag         protowire.Number = 1
	valueSimple      protowire.Number = 2
)

// Value is one scalar of a summary: TensorBoard plots it under Tag against the event's
// step. Tags with a slash are grouped by what comes before it ("loss/total" under "loss").
type Value struct {
	Tag    string
	Simple float32
}

// Event is one record of an event file: either the header (FileVersion set, no values)
// or a summary of scalars at Step. WallTime is seconds since the Unix epoch; TensorBoard
// shows it on its relative and wall-time axes only.
type Event struct {
	WallTime    float64
	Step        int64
	FileVersion string
	Values      []Value
}

// Header is the event a file starts with.
func Header(wallTime float64) Event { return Event{WallTime: wallTime, FileVersion: FileVersion} }

// Marshal encodes e as a tensorflow.Event message: fields in number order, wall_time,
// step and file_version left out when zero (proto3), the summary when e has no values.
func (e Event) Marshal() []byte {
	var b []byte
	if e.WallTime != 0 || math.Signbit(e.WallTime) {
		b = protowire.AppendTag(b, eventWallTime, protowire.Fixed64Type)
		b = protowire.AppendFixed64(b, math.Float64bits(e.WallTime))
	}
	if e.Step != 0 {
		b = protowire.AppendTag(b, eventStep, protowire.VarintType)
		b = protowire.AppendVarint(b, uint64(e.Step)) // int64: two's complement, as protobuf does
	}
	if e.FileVersion != "" {
		b = protowire.AppendTag(b, eventFileVersion, protowire.BytesType)
		b = protowire.AppendString(b, e.FileVersion)
	}
	if len(e.Values) > 0 {
		var s []byte
		for _, v := range e.Values {
			s = protowire.AppendTag(s, summaryValue, protowire.BytesType)
			s = protowire.AppendBytes(s, marshalValue(v))
		}
		b = protowire.AppendTag(b, eventSummary, protowire.BytesType)
		b = protowire.AppendBytes(b, s)
	}
	return b
}

func marshalValue(v Value) []byte {
	var b []byte
	if v.Tag != "" {
		b = protowire.AppendTag(b, valueTag, protowire.BytesType)
		b = protowire.AppendString(b, v.Tag)
	}
	// Always written: simple_value is a oneof member, which is present even when 0; a
	// Value without it would be a value of no kind, which TensorBoard drops.
	b = protowire.AppendTag(b, valueSimple, protowire.Fixed32Type)
	return protowire.AppendFixed32(b, math.Float32bits(v.Simple))
}

// AppendRecord appends data framed as one TFRecord to dst: length (uint64 LE), masked
// CRC32C of the length bytes, data, masked CRC32C of data (both uint32 LE).
func AppendRecord(dst, data []byte) []byte {
	var n [8]byte
	binary.LittleEndian.PutUint64(n[:], uint64(len(data)))
	dst = append(dst, n[:]...)
	dst = binary.LittleEndian.AppendUint32(dst, MaskedCRC(n[:]))
	dst = append(dst, data...)
	return binary.LittleEndian.AppendUint32(dst, MaskedCRC(data))
}

// AppendEvent appends e, marshalled and framed, to dst.
func AppendEvent(dst []byte, e Event) []byte { return AppendRecord(dst, e.Marshal()) }

// Encode returns a whole event file: Header(headerWallTime), then events in order.
func Encode(headerWallTime float64, events []Event) []byte {
	b := AppendEvent(nil, Header(headerWallTime))
	for _, e := range events {
		b = AppendEvent(b, e)
	}
	return b
}

var castagnoli = crc32.MakeTable(crc32.Castagnoli)

// MaskedCRC is TFRecord's checksum of b: the CRC32C rotated right by 15 bits plus a
// constant. The mask exists because a CRC of data that holds CRCs is weak
// (tensorflow/core/lib/hash/crc32c.h); readers unmask before comparing.
func MaskedCRC(b []byte) uint32 {
	c := crc32.Checksum(b, castagnoli)
	return ((c >> 15) | (c << 17)) + 0xa282ead8
}
