package onnx

import (
	"bytes"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"testing/fstest"

	"google.golang.org/protobuf/proto"

	"github.com/inferd/inferd/ir"
	"github.com/inferd/inferd/onnx/onnxpb"
	"github.com/inferd/inferd/tensor"
)

const nodeData = "/usr/share/libonnx-testdata/data/node"

// smallModel builds y = Add(x, w) with w an initializer.
func smallModel(w *tensor.Tensor) *ir.Model {
	return &ir.Model{
		IRVersion: 8,
		Opsets:    []ir.OpsetImport{{Version: 17}},
		Graph: &ir.Graph{
			Name:         "g",
			Nodes:        []*ir.Node{{Name: "add", OpType: "Add", Inputs: []string{"x", "w"}, Outputs: []string{"y"}}},
			Inputs:       []*ir.ValueInfo{{Name: "x", Type: ir.TensorType(w.DType, ir.Shape{{Param: "N", Value: -1}, {Value: int64(w.Shape[0])}})}},
			Outputs:      []*ir.ValueInfo{{Name: "y", Type: ir.TensorType(w.DType, nil)}},
			Initializers: []*ir.Initializer{{Name: "w", Tensor: w}},
		},
	}
}

func TestRoundTripModels(t *testing.T) {
	dirs, _ := filepath.Glob(filepath.Join(nodeData, "test_*"))
	if len(dirs) == 0 {
		t.Skip("libonnx-testdata not installed")
	}
	for _, d := range dirs {
		path := filepath.Join(d, "model.onnx")
		m, err := Load(path)
		if err != nil {
			t.Errorf("%s: %v", path, err)
			continue
		}
		b1, err := Encode(m)
		if err != nil {
			t.Errorf("%s: encode: %v", path, err)
			continue
		}
		m2, err := Decode(b1, Options{})
		if err != nil {
			t.Errorf("%s: decode of re-encoded model: %v", path, err)
			continue
		}
		b2, err := Encode(m2)
		if err != nil {
			t.Fatal(err)
		}
		if !bytes.Equal(b1, b2) {
			t.Errorf("%s: load → save → load → save is not stable", path)
		}
		// The semantic content must survive: same node ops, same inputs.
		var orig onnxpb.ModelProto
		raw, _ := os.ReadFile(path)
		if err := proto.Unmarshal(raw, &orig); err != nil {
			t.Fatal(err)
		}
		if len(orig.GetGraph().GetNode()) != len(m2.Graph.Nodes) {
			t.Errorf("%s: %d nodes after round trip, want %d", path, len(m2.Graph.Nodes), len(orig.GetGraph().GetNode()))
		}
	}
}

func TestTensorTypes(t *testing.T) {
	cases := []*tensor.Tensor{
		tensor.FromSlice([]float32{1, -2.5, 3}, 3),
		tensor.FromSlice([]float64{1, 2}, 2, 1),
		tensor.FromSlice([]int8{-128, 127}, 2),
		tensor.FromSlice([]uint16{0, 65535}, 2),
		tensor.FromSlice([]int64{-1 << 62}, 1),
		tensor.FromSlice([]bool{true, false, true}, 3),
		tensor.FromSlice([]string{"a", "", "héllo"}, 3),
		tensor.FromSlice([]tensor.F16{0x3c00, 0xc000}, 2),
		tensor.FromSlice([]tensor.BF16{0x3f80}, 1),
		tensor.FromSlice([]tensor.I4{-8, 7, 1}, 3),
		tensor.FromSlice([]tensor.U4{15, 0, 3, 4}, 2, 2),
		tensor.FromSlice([]complex64{1 + 2i}, 1),
		tensor.Scalar[float32](7),
	}
	for _, want := range cases {
		data, err := EncodeTensor("t", want)
		if err != nil {
			t.Fatalf("%v: %v", want, err)
		}
		got, err := DecodeTensor(data)
		if err != nil {
			t.Fatalf("%v: %v", want, err)
		}
		if got.DType != want.DType || !tensor.EqualShapes(got.Shape, want.Shape) {
			t.Fatalf("got %v, want %v", got, want)
		}
		if a, b := valueString(got.Data), valueString(want.Data); a != b {
			t.Errorf("%v: got %s, want %s", want, a, b)
		}
	}
}

func TestTypedFields(t *testing.T) {
	// int32_data carries int8/uint16/float16/bool; uint64_data carries uint32.
	cases := []struct {
		tp   *onnxpb.TensorProto
		want string
	}{
		{&onnxpb.TensorProto{DataType: int32Ptr(3), Dims: []int64{2}, Int32Data: []int32{-3, 5}}, "[-3 5]"},
		{&onnxpb.TensorProto{DataType: int32Ptr(9), Dims: []int64{2}, Int32Data: []int32{1, 0}}, "[true false]"},
		{&onnxpb.TensorProto{DataType: int32Ptr(12), Dims: []int64{1}, Uint64Data: []uint64{4000000000}}, "[4000000000]"},
		{&onnxpb.TensorProto{DataType: int32Ptr(22), Dims: []int64{3}, Int32Data: []int32{0x7f, 0x08}}, "[-1 7 -8]"},
	}
	for _, c := range cases {
		got, err := TensorFromProto(c.tp)
		if err != nil {
			t.Fatal(err)
		}
		if s := valueString(got.Data); s != c.want {
			t.Errorf("type %d: got %s, want %s", c.tp.GetDataType(), s, c.want)
		}
	}
	bad := &onnxpb.TensorProto{DataType: int32Ptr(1), Dims: []int64{3}, FloatData: []float32{1}}
	if _, err := TensorFromProto(bad); err == nil || !strings.Contains(err.Error(), "float_data holds 1 values, want 3") {
		t.Errorf("short float_data: err = %v", err)
	}
	if _, err := TensorFromProto(&onnxpb.TensorProto{DataType: int32Ptr(99)}); err == nil {
		t.Error("unknown data type accepted")
	}
}

func TestExternalData(t *testing.T) {
	dir := t.TempDir()
	w := tensor.FromSlice([]float32{1, 2, 3, 4, 5, 6}, 6)
	path := filepath.Join(dir, "m.onnx")
	if err := Save(path, smallModel(w), SaveOptions{ExternalDataThreshold: 1}); err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(path + ".data"); err != nil {
		t.Fatalf("no external data file: %v", err)
	}
	m, err := Load(path)
	if err != nil {
		t.Fatal(err)
	}
	got := m.Graph.Initializers[0].Tensor
	if valueString(got.Data) != "[1 2 3 4 5 6]" {
		t.Fatalf("external initializer = %v", got.Data)
	}

	// The same model read through an fs.FS.
	raw, _ := os.ReadFile(path)
	data, _ := os.ReadFile(path + ".data")
	fsys := fstest.MapFS{"m.onnx.data": {Data: data}}
	if _, err := Decode(raw, Options{FS: fsys}); err != nil {
		t.Fatalf("via fs.FS: %v", err)
	}
}

func TestExternalDataRefusesEscapes(t *testing.T) {
	for _, loc := range []string{"../secret", "/etc/passwd", "a/../../b"} {
		mp := &onnxpb.ModelProto{IrVersion: int64Ptr(8), Graph: &onnxpb.GraphProto{
			Initializer: []*onnxpb.TensorProto{{
				Name: strPtr("w"), DataType: int32Ptr(1), Dims: []int64{1},
				DataLocation: onnxpb.TensorProto_EXTERNAL.Enum(),
				ExternalData: []*onnxpb.StringStringEntryProto{{Key: strPtr("location"), Value: strPtr(loc)}},
			}}}}
		data, _ := proto.Marshal(mp)
		_, err := Decode(data, Options{Dir: t.TempDir()})
		if err == nil {
			t.Errorf("location %q accepted", loc)
		}
	}
}

func TestExternalDataBounds(t *testing.T) {
	dir := t.TempDir()
	os.WriteFile(filepath.Join(dir, "w.bin"), make([]byte, 8), 0o644)
	mp := &onnxpb.ModelProto{IrVersion: int64Ptr(8), Graph: &onnxpb.GraphProto{
		Initializer: []*onnxpb.TensorProto{{
			Name: strPtr("w"), DataType: int32Ptr(1), Dims: []int64{4},
			DataLocation: onnxpb.TensorProto_EXTERNAL.Enum(),
			ExternalData: []*onnxpb.StringStringEntryProto{{Key: strPtr("location"), Value: strPtr("w.bin")}},
		}}}}
	data, _ := proto.Marshal(mp)
	_, err := Decode(data, Options{Dir: dir})
	if err == nil || !strings.Contains(err.Error(), "beyond its end") {
		t.Errorf("16 bytes from an 8-byte file: err = %v", err)
	}
}

func TestMalformed(t *testing.T) {
	for _, data := range [][]byte{{0xff, 0xff, 0xff}, []byte("not a model"), {}} {
		_, err := Decode(data, Options{})
		if err == nil {
			t.Errorf("Decode(%q) succeeded", data)
			continue
		}
		if len(data) > 0 && !errors.Is(err, ErrMalformed) {
			t.Errorf("Decode(%q): %v does not wrap ErrMalformed", data, err)
		}
	}
}

func FuzzDecode(f *testing.F) {
	for _, name := range []string{"test_abs", "test_if", "test_loop11", "test_conv_with_strides_padding", "test_cast_FLOAT_to_STRING"} {
		if b, err := os.ReadFile(filepath.Join(nodeData, name, "model.onnx")); err == nil {
			f.Add(b)
		}
	}
	seeds, _ := filepath.Glob("testdata/fuzz-seed-*.onnx")
	for _, s := range seeds {
		if b, err := os.ReadFile(s); err == nil {
			f.Add(b)
		}
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		m, err := Decode(data, Options{Dir: t.TempDir(), MaxTensorBytes: 1 << 24})
		if err != nil {
			return
		}
		b1, err := Encode(m)
		if err != nil {
			return // e.g. a tensor type that cannot be written back
		}
		m2, err := Decode(b1, Options{})
		if err != nil {
			t.Fatalf("re-decoding an encoded model failed: %v", err)
		}
		b2, err := Encode(m2)
		if err != nil {
			t.Fatal(err)
		}
		if !bytes.Equal(b1, b2) {
			t.Fatal("encoding is not stable across a round trip")
		}
	})
}
