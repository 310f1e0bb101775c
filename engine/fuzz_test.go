package engine_test

import (
	"context"
	"os"
	"path/filepath"
	"testing"

	"github.com/inferd/inferd/engine"
	"github.com/inferd/inferd/ir"
	"github.com/inferd/inferd/onnx"
	"github.com/inferd/inferd/tensor"
)

// FuzzCompileRun feeds arbitrary bytes through the whole path a user's
// model takes: decode, compile, run on zero inputs of the declared shapes.
// Any outcome but a panic is acceptable.
func FuzzCompileRun(f *testing.F) {
	for _, name := range []string{"test_add_bcast", "test_conv_with_strides_padding", "test_gather_0", "test_slice", "test_reshape_negative_dim", "test_loop11", "test_if", "test_maxpool_2d_pads", "test_topk"} {
		if b, err := os.ReadFile(filepath.Join("/usr/share/libonnx-testdata/data/node", name, "model.onnx")); err == nil {
			f.Add(b)
		}
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		m, err := onnx.Decode(data, onnx.Options{MaxTensorBytes: 1 << 20})
		if err != nil {
			return
		}
		s, err := engine.Compile(m, engine.Options{Threads: 1})
		if err != nil {
			return
		}
		defer s.Close()
		in := map[string]*tensor.Tensor{}
		for _, vi := range s.Inputs() {
			if vi.Type.Kind != ir.TensorKind || !vi.Type.DType.Valid() || vi.Type.DType == tensor.String {
				return
			}
			shape, ok := vi.Type.Shape.Static()
			if !ok || tensor.NumElements(shape) > 1<<16 {
				return
			}
			in[vi.Name] = tensor.New(vi.Type.DType, shape...)
		}
		s.Run(context.Background(), in)
	})
}
