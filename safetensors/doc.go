// Package safetensors reads and writes the safetensors tensor file format in pure Go.
//
// A file is an 8-byte little-endian header length N, an N-byte JSON header mapping each
// tensor name to {"dtype", "shape", "data_offsets": [begin, end]} (offsets relative to the
// end of the header) plus an optional "__metadata__" string map, then the raw little-endian
// tensor bytes. Files written here are canonical: tensors are laid out in name order, the
// JSON has sorted keys and no insignificant whitespace, and the header is padded with
// spaces to a multiple of 8 bytes, so equal content gives byte-identical files (which the
// content-addressed store relies on). PyTorch users read them with
// safetensors.torch.load_file.
//
// It is not a tensor library: it moves bytes and shapes and offers conversions between
// byte slices and []float32, []float64, []int64, []int32 and []uint8. The torch binding
// (dmlrun/torch) builds native tensors from what this package reads.
package safetensors
