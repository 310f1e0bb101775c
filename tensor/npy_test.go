package tensor

import (
	"bytes"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"testing"
)

// The files in testdata were written by NumPy's np.save (see each case).
func TestReadNpyNumPyFiles(t *testing.T) {
	cases := []struct {
		file  string
		dtype DType
		shape []int
		data  string
	}{
		{"f32_2x3.npy", Float32, []int{2, 3}, "[0 0.5 1 1.5 2 2.5]"},              // np.arange(6,'<f4').reshape(2,3)*0.5
		{"f64_be.npy", Float64, []int{3}, "[1.5 -2.25 3]"},                        // dtype '>f8'
		{"i64_fortran.npy", Int64, []int{2, 3}, "[0 1 2 3 4 5]"},                  // asfortranarray(arange(6).reshape(2,3))
		{"bool.npy", Bool, []int{3}, "[true false true]"},                         // [True, False, True]
		{"f16.npy", Float16, []int{3}, fmt.Sprint([]F16{0x3c00, 0xb800, 0x7bff})}, // [1, -0.5, 65504] float16
		{"u8_scalar.npy", Uint8, []int{}, "[7]"},                                  // np.array(7, uint8)
		{"str.npy", String, []int{3}, "[ab héllo ]"},                              // ['ab', 'héllo', '']
		{"empty.npy", Float32, []int{0, 4}, "[]"},                                 // zeros((0,4))
	}
	for _, c := range cases {
		t.Run(c.file, func(t *testing.T) {
			f, err := os.Open(filepath.Join("testdata", c.file))
			if err != nil {
				t.Fatal(err)
			}
			defer f.Close()
			got, err := ReadNpy(f)
			if err != nil {
				t.Fatal(err)
			}
			if got.DType != c.dtype || !EqualShapes(got.Shape, c.shape) {
				t.Fatalf("got %v, want %v%v", got, c.dtype, ShapeString(c.shape))
			}
			if s := fmt.Sprint(got.Data); s != c.data {
				t.Errorf("data %s, want %s", s, c.data)
			}
			// Writing and reading back gives the same tensor.
			var buf bytes.Buffer
			if err := WriteNpy(&buf, got); err != nil {
				t.Fatal(err)
			}
			back, err := ReadNpy(&buf)
			if err != nil {
				t.Fatal(err)
			}
			if back.DType != got.DType || !EqualShapes(back.Shape, got.Shape) || fmt.Sprint(back.Data) != fmt.Sprint(got.Data) {
				t.Errorf("round trip: got %v %v, want %v %v", back, back.Data, got, got.Data)
			}
		})
	}
}

func TestReadNpyErrors(t *testing.T) {
	good, _ := os.ReadFile("testdata/f32_2x3.npy")
	cases := map[string][]byte{
		"empty":        nil,
		"bad magic":    []byte("\x93NUMPX\x01\x00\x10\x00{}              "),
		"truncated":    good[:len(good)-3],
		"huge shape":   npyWithHeader("{'descr': '<f4', 'fortran_order': False, 'shape': (100000000000, 100000000000), }"),
		"bad descr":    npyWithHeader("{'descr': '<q9', 'fortran_order': False, 'shape': (1,), }"),
		"not a dict":   npyWithHeader("hello"),
		"neg dim":      npyWithHeader("{'descr': '<f4', 'fortran_order': False, 'shape': (-1,), }"),
		"bad version":  append([]byte("\x93NUMPY\x09\x00"), good[8:]...),
		"missing keys": npyWithHeader("{'descr': '<f4'}"),
	}
	for name, data := range cases {
		_, err := ReadNpy(bytes.NewReader(data))
		if err == nil {
			t.Errorf("%s: no error", name)
		} else if !errors.Is(err, ErrNpy) {
			t.Errorf("%s: %v does not wrap ErrNpy", name, err)
		}
	}
}

func npyWithHeader(h string) []byte {
	b := []byte("\x93NUMPY\x01\x00")
	b = append(b, byte(len(h)), byte(len(h)>>8))
	return append(b, h...)
}

func FuzzReadNpy(f *testing.F) {
	files, _ := filepath.Glob("testdata/*.npy")
	for _, p := range files {
		if b, err := os.ReadFile(p); err == nil {
			f.Add(b)
		}
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		x, err := ReadNpy(bytes.NewReader(data))
		if err != nil {
			return
		}
		if err := x.Validate(); err != nil {
			t.Fatalf("ReadNpy returned an invalid tensor: %v", err)
		}
		var buf bytes.Buffer
		if err := WriteNpy(&buf, x); err != nil {
			return
		}
		y, err := ReadNpy(&buf)
		if err != nil {
			t.Fatalf("re-reading a written .npy failed: %v", err)
		}
		if y.DType != x.DType || !EqualShapes(y.Shape, x.Shape) {
			t.Fatalf("round trip changed %v to %v", x, y)
		}
	})
}
