package quantize_test

import (
	"context"
	"fmt"
	"os"
	"testing"

	"github.com/inferd/inferd/quantize"
	"github.com/inferd/inferd/tensor"
)

// TestRefkitBF16 converts refkit exports (INFERD_REFKIT_MODELS) to
// bfloat16 and checks that every MatMul/Gemm weight (an initializer B) is
// bfloat16, which is what sends it to the kernels' packed BF16 GEMM
// (kernels/matmul_bf16.go, tested there), and that every output keeps
// cosine ≥ 0.999 against float32 on the reference input.
func TestRefkitBF16(t *testing.T) {
	root := os.Getenv("INFERD_REFKIT_MODELS")
	if root == "" {
		t.Skip("INFERD_REFKIT_MODELS not set")
	}
	for _, model := range []string{"mlp", "bert_like"} {
		for _, keepIO := range []bool{false, true} {
			t.Run(fmt.Sprintf("%s/keepIO=%v", model, keepIO), func(t *testing.T) {
				m, in := loadRefkitExport(t, root, model)
				q, _, err := quantize.Quantize(context.Background(), m, quantize.Options{Mode: quantize.BF16, KeepIOTypes: keepIO, Compiler: compiler})
				if err != nil {
					t.Fatal(err)
				}
				want := run(t, m, in)
				got := run(t, q, in)
				products := 0
				for _, n := range q.Graph.Nodes {
					if (n.OpType != "MatMul" && n.OpType != "Gemm") || len(n.Inputs) < 2 {
						continue
					}
					w := q.Graph.Initializer(n.Inputs[1])
					if w == nil {
						continue // an activation (attention's products)
					}
					products++
					if w.Tensor == nil || w.Tensor.DType != tensor.BFloat16 {
						t.Errorf("%s %q: weight %q is not bfloat16", n.OpType, n.Name, n.Inputs[1])
					}
				}
				if products == 0 {
					t.Errorf("no MatMul or Gemm with a constant weight in the converted model")
				}
				for _, o := range m.Graph.Outputs {
					c := cosine(t, want[o.Name], got[o.Name])
					t.Logf("%s: cosine %.6f", o.Name, c)
					if c < 0.999 {
						t.Errorf("%s: cosine %.6f against float32, want ≥ 0.999", o.Name, c)
					}
				}
			})
		}
	}
}
