package tfevents

import (
	"bytes"
	"encoding/binary"
	"encoding/hex"
	"fmt"
	"math"
	"strings"
	"testing"

	"dmlrun/internal/golden"

	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/reflect/protodesc"
	"google.golang.org/protobuf/reflect/protoreflect"
	"google.golang.org/protobuf/types/descriptorpb"
	"google.golang.org/protobuf/types/dynamicpb"
)

// sample is a small file's events: a header at wall time 0, then two steps with a zero, a
// negative value, NaN, an infinity, -0 and a tag outside ASCII.
var sample = []Event{
	{WallTime: 1, Step: 1, Values: []Value{{"loss/total", 13.75}, {"lr/network", 1e-3}, {"steps/skipped", 0}}},
	{WallTime: 2, Step: 2, Values: []Value{{"loss/total", float32(math.NaN())}, {"val/e_recall@1", -0.5},
		{"test/inf", float32(math.Inf(1))}, {"test/neg_zero", float32(math.Copysign(0, -1))}, {"größe", 1}}},
}

// TestMarshalByHand: the bytes of small events, worked out by hand from the protobuf
// encoding rules (tag = number<<3 | wire type; fixed64/fixed32 little-endian; lengths as
// varints), not from this package's code.
func TestMarshalByHand(t *testing.T) {
	for _, c := range []struct {
		name string
		e    Event
		hex  string
	}{
		// field 3 (string): tag 0x1a, length 13, "brain.Event:2"
		{"header", Header(0), "1a0d" + hex.EncodeToString([]byte("brain.Event:2"))},
		// field 1 (double 1.5 = 0x3ff8000000000000): tag 0x09
		{"wall time", Header(1.5), "09000000000000f83f" + "1a0d" + hex.EncodeToString([]byte("brain.Event:2"))},
		// field 2 (varint 3): tag 0x10; field 5 (Summary, 10 bytes): tag 0x2a;
		// Summary.value (Value, 8 bytes): tag 0x0a; Value.tag "a": 0a 01 61;
		// Value.simple_value 1.0f = 0x3f800000: tag 0x15
		{"one value", Event{Step: 3, Values: []Value{{"a", 1}}}, "1003" + "2a0a" + "0a08" + "0a0161" + "150000803f"},
		// simple_value 0 is still written (oneof member)
		{"zero value", Event{Values: []Value{{"b", 0}}}, "2a0a" + "0a08" + "0a0162" + "1500000000"},
		// step -1: ten-byte two's complement varint
		{"negative step", Event{Step: -1}, "10ffffffffffffffffff01"},
	} {
		t.Run(c.name, func(t *testing.T) {
			if got := hex.EncodeToString(c.e.Marshal()); got != c.hex {
				t.Errorf("Marshal = %s, want %s", got, c.hex)
			}
		})
	}
}

// TestRecordFraming checks AppendRecord's layout and the CRC32C it uses against the
// algorithm's published check value.
func TestRecordFraming(t *testing.T) {
	// CRC-32C("123456789") = 0xe3069283; the mask is a rotation plus a constant.
	c := uint32(0xe3069283)
	if got, want := MaskedCRC([]byte("123456789")), ((c>>15)|(c<<17))+0xa282ead8; got != want {
		t.Fatalf("MaskedCRC(123456789) = %#x, want %#x", got, want)
	}
	// Every file TensorFlow writes starts with a 24-byte header event (wall_time and
	// file_version), so with the bytes 18 00 00 00 00 00 00 00 a3 7f 4b 22: the length
	// and its masked CRC as TensorFlow computes them.
	if h := AppendRecord(nil, make([]byte, 24))[:12]; hex.EncodeToString(h) != "1800000000000000a37f4b22" {
		t.Errorf("record header of 24 bytes = % x, TensorFlow writes 18 00 00 00 00 00 00 00 a3 7f 4b 22", h)
	}
	data := []byte("hello")
	r := AppendRecord([]byte("prefix"), data)
	if !bytes.HasPrefix(r, []byte("prefix")) {
		t.Fatal("AppendRecord dropped dst")
	}
	r = r[len("prefix"):]
	if len(r) != 8+4+len(data)+4 || binary.LittleEndian.Uint64(r) != uint64(len(data)) ||
		binary.LittleEndian.Uint32(r[8:]) != MaskedCRC(r[:8]) || !bytes.Equal(r[12:17], data) ||
		binary.LittleEndian.Uint32(r[17:]) != MaskedCRC(data) {
		t.Fatalf("record % x", r)
	}
}

// TestGolden pins the bytes of a small file (as a hex dump, so that a change reads as a
// diff); `go test ./internal/tfevents -update` rewrites it.
func TestGolden(t *testing.T) {
	golden.Compare(t, "testdata/small.tfevents.hex", []byte(hexDump(Encode(0, sample))))
}

func hexDump(b []byte) string {
	var s strings.Builder
	for off := 0; off < len(b); off += 16 {
		row := b[off:min(off+16, len(b))]
		fmt.Fprintf(&s, "%08x  %-47s  |", off, strings.TrimSpace(fmt.Sprintf("% x", row)))
		for _, c := range row {
			if c < 0x20 || c > 0x7e {
				c = '.'
			}
			s.WriteByte(c)
		}
		s.WriteString("|\n")
	}
	return s.String()
}

// sameEvents compares events with floats by their bits (NaN, -0).
func sameEvents(t *testing.T, got, want []Event) {
	t.Helper()
	if len(got) != len(want) {
		t.Fatalf("%d events, want %d: %+v", len(got), len(want), got)
	}
	for i := range want {
		g, w := got[i], want[i]
		if math.Float64bits(g.WallTime) != math.Float64bits(w.WallTime) || g.Step != w.Step || g.FileVersion != w.FileVersion || len(g.Values) != len(w.Values) {
			t.Fatalf("event %d = %+v, want %+v", i, g, w)
		}
		for j := range w.Values {
			if g.Values[j].Tag != w.Values[j].Tag || math.Float32bits(g.Values[j].Simple) != math.Float32bits(w.Values[j].Simple) {
				t.Fatalf("event %d value %d = %+v, want %+v", i, j, g.Values[j], w.Values[j])
			}
		}
	}
}

func TestReadRoundTrip(t *testing.T) {
	got, err := Read(Encode(0, sample))
	if err != nil {
		t.Fatal(err)
	}
	sameEvents(t, got, append([]Event{Header(0)}, sample...))
}

// eventDescriptor builds tensorflow.Event, Summary and Value (with simple_value in a
// oneof, as summary.proto has it) as protobuf descriptors, so that the protobuf library's
// own encoder and decoder can check this package's hand-written wire format.
func eventDescriptor(t *testing.T) protoreflect.MessageDescriptor {
	t.Helper()
	s := proto.String
	field := func(name string, num int32, typ descriptorpb.FieldDescriptorProto_Type, label descriptorpb.FieldDescriptorProto_Label, msg string, oneof *int32) *descriptorpb.FieldDescriptorProto {
		f := &descriptorpb.FieldDescriptorProto{Name: s(name), JsonName: s(name), Number: proto.Int32(num), Type: typ.Enum(), Label: label.Enum(), OneofIndex: oneof}
		if msg != "" {
			f.TypeName = s(msg)
		}
		return f
	}
	opt := descriptorpb.FieldDescriptorProto_LABEL_OPTIONAL
	fd := &descriptorpb.FileDescriptorProto{
		Name: s("event_test.proto"), Package: s("tensorflow"), Syntax: s("proto3"),
		MessageType: []*descriptorpb.DescriptorProto{
			{Name: s("Value"), Field: []*descriptorpb.FieldDescriptorProto{
				field("tag", 1, descriptorpb.FieldDescriptorProto_TYPE_STRING, opt, "", nil),
				field("simple_value", 2, descriptorpb.FieldDescriptorProto_TYPE_FLOAT, opt, "", proto.Int32(0)),
			}, OneofDecl: []*descriptorpb.OneofDescriptorProto{{Name: s("value")}}},
			{Name: s("Summary"), Field: []*descriptorpb.FieldDescriptorProto{
				field("value", 1, descriptorpb.FieldDescriptorProto_TYPE_MESSAGE, descriptorpb.FieldDescriptorProto_LABEL_REPEATED, ".tensorflow.Value", nil),
			}},
			{Name: s("Event"), Field: []*descriptorpb.FieldDescriptorProto{
				field("wall_time", 1, descriptorpb.FieldDescriptorProto_TYPE_DOUBLE, opt, "", nil),
				field("step", 2, descriptorpb.FieldDescriptorProto_TYPE_INT64, opt, "", nil),
				field("file_version", 3, descriptorpb.FieldDescriptorProto_TYPE_STRING, opt, "", proto.Int32(0)),
				field("summary", 5, descriptorpb.FieldDescriptorProto_TYPE_MESSAGE, opt, ".tensorflow.Summary", proto.Int32(0)),
			}, OneofDecl: []*descriptorpb.OneofDescriptorProto{{Name: s("what")}}},
		},
	}
	f, err := protodesc.NewFile(fd, nil)
	if err != nil {
		t.Fatal(err)
	}
	return f.Messages().ByName("Event")
}

// TestAgainstProtobufLibrary: each event's bytes equal what google.golang.org/protobuf's
// deterministic encoder writes for the same message built through reflection, and its
// decoder reads them back to the same fields.
func TestAgainstProtobufLibrary(t *testing.T) {
	md := eventDescriptor(t)
	vmd := md.Fields().ByName("summary").Message().Fields().ByName("value").Message()
	for i, e := range append([]Event{Header(0), Header(1.5), {Step: -7}}, sample...) {
		m := dynamicpb.NewMessage(md)
		if e.WallTime != 0 {
			m.Set(md.Fields().ByName("wall_time"), protoreflect.ValueOfFloat64(e.WallTime))
		}
		if e.Step != 0 {
			m.Set(md.Fields().ByName("step"), protoreflect.ValueOfInt64(e.Step))
		}
		if e.FileVersion != "" {
			m.Set(md.Fields().ByName("file_version"), protoreflect.ValueOfString(e.FileVersion))
		}
		if len(e.Values) > 0 {
			sum := m.Mutable(md.Fields().ByName("summary")).Message()
			list := sum.Mutable(sum.Descriptor().Fields().ByName("value")).List()
			for _, v := range e.Values {
				vm := dynamicpb.NewMessage(vmd)
				vm.Set(vmd.Fields().ByName("tag"), protoreflect.ValueOfString(v.Tag))
				vm.Set(vmd.Fields().ByName("simple_value"), protoreflect.ValueOfFloat32(v.Simple))
				list.Append(protoreflect.ValueOfMessage(vm))
			}
		}
		want, err := proto.MarshalOptions{Deterministic: true}.Marshal(m)
		if err != nil {
			t.Fatal(err)
		}
		if got := e.Marshal(); !bytes.Equal(got, want) {
			t.Errorf("event %d: Marshal = %x, protobuf writes %x", i, got, want)
		}
		back := dynamicpb.NewMessage(md)
		if err := proto.Unmarshal(e.Marshal(), back); err != nil {
			t.Fatalf("event %d: protobuf cannot read it: %v", i, err)
		}
		if !proto.Equal(back, m) {
			t.Errorf("event %d: protobuf reads %v, want %v", i, back, m)
		}
	}
}

func TestReadErrors(t *testing.T) {
	good := Encode(0, sample)
	second := len(AppendEvent(nil, Header(0))) // offset of record 1
	flip := func(i int) []byte {
		b := bytes.Clone(good)
		b[i] ^= 0x40
		return b
	}
	for _, c := range []struct {
		name string
		data []byte
		want string
	}{
		{"truncated header", good[:second+5], "record 1 at byte 31: 5 bytes left, a record header needs 12"},
		{"truncated data", good[:second+20], "record 1 at byte 31: length"},
		{"length flipped", flip(second), "record 1 at byte 31: length CRC"},
		{"data flipped", flip(second + 14), "record 1 at byte 31: data CRC"},
		{"data CRC flipped", flip(second + 12 + int(binary.LittleEndian.Uint64(good[second:])) + 1), "record 1 at byte 31: data CRC"},
		{"not protobuf", AppendRecord(nil, []byte{0xff}), "record 0 at byte 0: event:"},
		{"wrong wire type", AppendRecord(nil, []byte{0x08, 0x01}), "record 0 at byte 0: event: field 1: wire type 0, want 1"},
	} {
		t.Run(c.name, func(t *testing.T) {
			_, err := Read(c.data)
			if err == nil || !strings.Contains(err.Error(), c.want) {
				t.Errorf("Read: %v, want an error with %q", err, c.want)
			}
		})
	}
	// Unknown fields (another writer's session_log, a Value's tensor) are skipped.
	ev := append(Event{Step: 4, Values: []Value{{"x", 2}}}.Marshal(), 0x32, 0x02, 0x08, 0x01) // field 6 (session_log)
	got, err := Read(AppendRecord(nil, ev))
	if err != nil {
		t.Fatal(err)
	}
	sameEvents(t, got, []Event{{Step: 4, Values: []Value{{"x", 2}}}})
}

// FuzzRead: no input makes Read panic, and whatever it accepts re-encodes to the same events.
func FuzzRead(f *testing.F) {
	f.Add(Encode(0, sample))
	f.Add(AppendEvent(nil, Header(0)))
	f.Add([]byte{})
	f.Fuzz(func(t *testing.T, data []byte) {
		evs, err := Read(data)
		if err != nil {
			return
		}
		var b []byte
		for _, e := range evs {
			b = AppendEvent(b, e)
		}
		back, err := Read(b)
		if err != nil {
			t.Fatalf("re-encoded events do not read: %v", err)
		}
		sameEvents(t, back, evs)
	})
}
