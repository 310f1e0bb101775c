package serve

import (
	"bytes"
	"testing"

	"github.com/inferd/inferd/tensor"
)

// TestViewRawMatchesDecode checks the in-place views against the copying
// decoder and encoder of package tensor (explicit little-endian byte
// arithmetic), at every alignment.
func TestViewRawMatchesDecode(t *testing.T) {
	for _, d := range dtypes {
		if d.dt == tensor.String {
			continue
		}
		t.Run(d.kserve, func(t *testing.T) {
			const n = 7
			size := d.dt.Size()
			buf := make([]byte, n*size+8)
			for i := range buf {
				buf[i] = byte(i*37 + 11)
				if d.dt == tensor.Bool {
					buf[i] &= 1
				}
			}
			for off := range 8 {
				raw := buf[off : off+n*size]
				want, err := tensor.DecodeRaw(d.dt, raw, n, leOrder)
				if err != nil {
					t.Fatal(err)
				}
				got, err := decodeRaw(d.dt, []int{n}, raw)
				if err != nil {
					t.Fatal(err)
				}
				wantBytes, _ := tensor.EncodeRaw(nil, want)
				gotBytes, _ := tensor.EncodeRaw(nil, got.Data)
				if !bytes.Equal(gotBytes, wantBytes) {
					t.Fatalf("offset %d: decodeRaw gave %v, want %v", off, got.Data, want)
				}
				back, err := rawBytes(got)
				if err != nil {
					t.Fatal(err)
				}
				if !bytes.Equal(back, wantBytes) {
					t.Fatalf("offset %d: rawBytes gave % x, want % x", off, back, wantBytes)
				}
			}
		})
	}
}

// TestViewRawAliases checks that an aligned FP32 input is used in place,
// and that a misaligned one or a bool one is copied.
func TestViewRawAliases(t *testing.T) {
	buf := make([]byte, 17)
	if _, ok := viewRaw(tensor.Float32, buf[:16], 4); !ok && hostLittleEndian {
		t.Error("aligned FP32 data was not viewed in place")
	}
	if _, ok := viewRaw(tensor.Float32, buf[1:17], 4); ok {
		t.Error("misaligned FP32 data was viewed in place")
	}
	if _, ok := viewRaw(tensor.Bool, buf[:4], 4); ok {
		t.Error("BOOL data was viewed in place; a byte other than 0 or 1 is not a Go bool")
	}
	if _, ok := viewRaw(tensor.Float32, buf[:12], 4); ok {
		t.Error("12 bytes were viewed as 4 FP32 elements")
	}
	b, err := decodeRaw(tensor.Bool, []int{3}, []byte{0, 2, 1})
	if err != nil || b.Data.([]bool)[1] != true {
		t.Errorf("BOOL byte 2 decoded as %v (%v), want true", b, err)
	}
}
