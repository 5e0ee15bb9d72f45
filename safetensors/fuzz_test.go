package safetensors

import (
	"testing"
)

// FuzzDecode: any byte string either decodes into tensors whose data lie inside the input
// and match their dtype and shape, or is rejected with an error; it never panics.
func FuzzDecode(f *testing.F) {
	good, _ := Encode([]Tensor{{Name: "a", DType: "F32", Shape: []int64{2}, Data: make([]byte, 8)},
		{Name: "b", DType: "U8", Shape: []int64{1, 3}, Data: []byte{1, 2, 3}}}, map[string]string{"k": "v"})
	f.Add(good)
	f.Add(good[:len(good)-1])
	f.Add([]byte{})
	f.Add([]byte("\x10\x00\x00\x00\x00\x00\x00\x00{}              "))
	f.Fuzz(func(t *testing.T, b []byte) {
		ts, _, err := Decode(b)
		if err != nil {
			return
		}
		for name, tt := range ts {
			n, err := numel(tt.Shape)
			if err != nil || int64(len(tt.Data)) != n*int64(DTypeSize(tt.DType)) {
				t.Fatalf("tensor %q: %d bytes for %s %v", name, len(tt.Data), tt.DType, tt.Shape)
			}
		}
	})
}
