package ir_test

import (
	"os"
	"path/filepath"
	"testing"

	"github.com/inferd/inferd/ir"
	"github.com/inferd/inferd/onnx"
)

// refkitModels is INFERD_REFKIT_MODELS: the folder where
// ../shared/refkit's make_models.py left real model exports
// (scripts/refkit-check.sh sets it).
func refkitModels() string { return os.Getenv("INFERD_REFKIT_MODELS") }

// TestInferRealModels infers the exported ResNet, MobileNet, BERT, LSTM
// and other refkit models with their declared output types removed: the
// outputs must come out with the declared symbolic batch (and sequence)
// dimensions and the declared sizes.
func TestInferRealModels(t *testing.T) {
	if refkitModels() == "" {
		t.Skip("INFERD_REFKIT_MODELS not set: see scripts/refkit-check.sh")
	}
	paths, _ := filepath.Glob(filepath.Join(refkitModels(), "*", "*_opset*.onnx"))
	if len(paths) == 0 {
		t.Skipf("no refkit models under %s", refkitModels())
	}
	for _, path := range paths {
		t.Run(filepath.Base(path), func(t *testing.T) {
			m, err := onnx.Load(path)
			if err != nil {
				t.Fatal(err)
			}
			if err := ir.Verify(m); err != nil {
				t.Errorf("Verify: %v", err)
			}
			want := map[string]ir.Type{}
			for _, o := range m.Graph.Outputs {
				want[o.Name] = o.Type
			}
			stripTypes(m.Graph)
			info := &ir.InferInfo{Types: map[string]ir.Type{}}
			if err := ir.InferShapes(m, nil, info); err != nil {
				t.Fatal(err)
			}
			for name, w := range want {
				if got := info.Types[name]; got.String() != w.String() {
					t.Errorf("output %q: inferred %v, declared %v", name, got, w)
				}
			}
		})
	}
}
