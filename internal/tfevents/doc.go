// Package tfevents writes and reads TensorBoard event files: TFRecord files whose records
// are serialised tensorflow.Event protobuf messages. TensorBoard (`tensorboard --logdir`)
// shows the scalars of any file whose name contains "tfevents".
//
// No maintained Go writer exists, so this package writes the format itself, from its two
// published definitions:
//
//   - TFRecord framing (tensorflow/core/lib/io/record_writer.cc): each record is the data's
//     length as a little-endian uint64, the masked CRC32C of those 8 bytes (uint32 LE), the
//     data, and the masked CRC32C of the data. CRC32C is the Castagnoli polynomial
//     (hash/crc32.Castagnoli); mask(c) = ((c >> 15) | (c << 17)) + 0xa282ead8.
//   - The messages (tensorflow/core/util/event.proto, framework/summary.proto), of which
//     only these fields are written: Event{wall_time = 1 double, step = 2 int64,
//     file_version = 3 string, summary = 5 Summary}, Summary{value = 1 repeated Value},
//     Value{tag = 1 string, simple_value = 2 float}. They are encoded by hand with
//     google.golang.org/protobuf's protowire (no generated code, no protoc), in field order,
//     zero-valued scalars of Event left out as proto3 does; simple_value is always written,
//     since it is a member of Value's oneof and a oneof member is present even when 0.
//
// A file starts with an event that carries only file_version "brain.Event:2" (Header);
// TensorBoard reads the rest as scalars per tag and step. Encoding is a pure function of
// the events: the same events give the same bytes, so a writer that takes wall times from
// its data instead of the clock writes reproducible files.
//
// Read decodes a file back (framing and CRCs checked, unknown fields skipped) with
// protowire's consume functions, a code path separate from the encoder's; the tests check
// both against an independent reader in Python (testdata/read_events.py) and a golden file.
//
// What it is not: a general protobuf or TFRecord library (no histograms, images, tensors or
// graphs; Read skips those fields), and it knows nothing of training: stages/train decides
// which scalars an epoch logs, under which tags and steps.
package tfevents
