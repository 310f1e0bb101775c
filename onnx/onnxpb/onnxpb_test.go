package onnxpb_test

import (
	"errors"
	"io/fs"
	"os"
	"testing"

	"google.golang.org/protobuf/proto"

	"github.com/inferd/inferd/onnx/onnxpb"
)

// absModel is a model from the ONNX backend test suite (Debian package
// libonnx-testdata).
const absModel = "/usr/share/libonnx-testdata/data/node/test_abs/model.onnx"

func TestUnmarshalAbsModel(t *testing.T) {
	data, err := os.ReadFile(absModel)
	if errors.Is(err, fs.ErrNotExist) {
		t.Skipf("%s not present (install libonnx-testdata)", absModel)
	}
	if err != nil {
		t.Fatal(err)
	}
	var m onnxpb.ModelProto
	if err := proto.Unmarshal(data, &m); err != nil {
		t.Fatalf("unmarshal %s: %v", absModel, err)
	}
	if m.GetIrVersion() <= 0 {
		t.Errorf("ir_version = %d, want > 0", m.GetIrVersion())
	}
	if len(m.GetOpsetImport()) == 0 {
		t.Error("no opset_import")
	}
	g := m.GetGraph()
	if g == nil {
		t.Fatal("model has no graph")
	}
	nodes := g.GetNode()
	if len(nodes) != 1 {
		t.Fatalf("graph has %d nodes, want 1", len(nodes))
	}
	if op := nodes[0].GetOpType(); op != "Abs" {
		t.Errorf("op_type = %q, want %q", op, "Abs")
	}
	if len(g.GetInput()) != 1 || len(g.GetOutput()) != 1 {
		t.Fatalf("graph has %d inputs and %d outputs, want 1 and 1", len(g.GetInput()), len(g.GetOutput()))
	}
	tt := g.GetInput()[0].GetType().GetTensorType()
	if tt == nil {
		t.Fatal("input is not a tensor")
	}
	if got := onnxpb.TensorProto_DataType(tt.GetElemType()); got != onnxpb.TensorProto_FLOAT {
		t.Errorf("input elem_type = %v, want FLOAT", got)
	}
	if len(tt.GetShape().GetDim()) == 0 {
		t.Error("input has no shape")
	}
}

func TestTensorRoundTrip(t *testing.T) {
	tensors := []*onnxpb.TensorProto{
		{
			Name:     proto.String("int4"),
			Dims:     []int64{2, 3},
			DataType: proto.Int32(int32(onnxpb.TensorProto_INT4)),
			// Six 4-bit values packed two per byte, first in the low nibble.
			RawData: []byte{0x21, 0x87, 0xf0},
			MetadataProps: []*onnxpb.StringStringEntryProto{
				{Key: proto.String("k"), Value: proto.String("v")},
			},
		},
		{
			Name:      proto.String("f8"),
			Dims:      []int64{4},
			DataType:  proto.Int32(int32(onnxpb.TensorProto_FLOAT8E4M3FN)),
			Int32Data: []int32{0x00, 0x38, 0x7e, 0xb8},
		},
	}
	for _, in := range tensors {
		t.Run(in.GetName(), func(t *testing.T) {
			b, err := proto.Marshal(in)
			if err != nil {
				t.Fatal(err)
			}
			var out onnxpb.TensorProto
			if err := proto.Unmarshal(b, &out); err != nil {
				t.Fatal(err)
			}
			if !proto.Equal(in, &out) {
				t.Errorf("round trip mismatch:\n in: %v\nout: %v", in, &out)
			}
			if len(out.ProtoReflect().GetUnknown()) != 0 {
				t.Errorf("unexpected unknown fields after round trip")
			}
		})
	}

	// The enum values are part of the file format and must not drift.
	want := map[onnxpb.TensorProto_DataType]int32{
		onnxpb.TensorProto_BFLOAT16:       16,
		onnxpb.TensorProto_FLOAT8E4M3FN:   17,
		onnxpb.TensorProto_FLOAT8E4M3FNUZ: 18,
		onnxpb.TensorProto_FLOAT8E5M2:     19,
		onnxpb.TensorProto_FLOAT8E5M2FNUZ: 20,
		onnxpb.TensorProto_UINT4:          21,
		onnxpb.TensorProto_INT4:           22,
		onnxpb.TensorProto_FLOAT4E2M1:     23,
	}
	for dt, n := range want {
		if int32(dt) != n {
			t.Errorf("%v = %d, want %d", dt, int32(dt), n)
		}
	}
	if onnxpb.Version_IR_VERSION != 11 {
		t.Errorf("IR_VERSION = %d, want 11", onnxpb.Version_IR_VERSION)
	}
}
