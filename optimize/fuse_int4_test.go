package optimize_test

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/inferd/inferd/engine"
	"github.com/inferd/inferd/ir"
	"github.com/inferd/inferd/onnx"
	"github.com/inferd/inferd/optimize"
	"github.com/inferd/inferd/quantize"
	"github.com/inferd/inferd/tensor"
)

// int4Quantized quantizes the float graph src as `inferd quantize --mode
// int4` does.
func int4Quantized(t *testing.T, m *ir.Model, block int, asym bool) *ir.Model {
	t.Helper()
	q, _, err := quantize.Quantize(context.Background(), m, quantize.Options{Mode: quantize.Int4, BlockSize: block, Asymmetric: asym})
	if err != nil {
		t.Fatalf("quantize: %v", err)
	}
	return q
}

// TestFuseInt4 checks that fuse-int4-matmul compiles int4 MatMul and Gemm
// weights, with their bias and activation, into MatMulInt4, and that the
// result computes what the DequantizeLinear → MatMul graph computes (run
// unoptimized with the standard kernels).
func TestFuseInt4(t *testing.T) {
	graphs := []struct{ name, src, want string }{
		{"matmul", `
			input x float32[3,80]
			init w float32[80,20] rand
			y = MatMul(x, w)
			output y`, "ai.inferd.MatMulInt4"},
		{"matmul-3d-bias-gelu", `
			input x float32[2,3,100]
			init w float32[100,40] rand
			init b float32[40] rand
			p = MatMul(x, w)
			s = Add(p, b)
			y = Gelu(s)
			output y`, "ai.inferd.MatMulInt4"},
		{"gemm-transb-relu", `
			input x float32[1,70]
			init w float32[17,70] rand
			init b float32[17] rand
			p = Gemm(x, w, b) transB=1
			y = Relu(p)
			output y`, "ai.inferd.MatMulInt4"},
		{"gemm-bias", `
			input x float32[5,64]
			init w float32[64,33] rand
			init b float32[33] rand
			y = Gemm(x, w, b)
			output y`, "ai.inferd.MatMulInt4"},
		// One DequantizeLinear read by two products: left alone.
		{"shared-weight", `
			input x float32[2,64]
			input z float32[2,64]
			init w float32[64,16] rand
			y = MatMul(x, w)
			u = MatMul(z, w)
			output y
			output u`, "DequantizeLinear MatMul MatMul"},
		// alpha scales the product: not MatMulInt4's form.
		{"gemm-alpha", `
			input x float32[2,64]
			init w float32[64,16] rand
			y = Gemm(x, w) alpha=0.5
			output y`, "DequantizeLinear Gemm"},
	}
	for _, gr := range graphs {
		for _, block := range []int{32, 64, 128} {
			for _, asym := range []bool{false, true} {
				t.Run(fmt.Sprintf("%s/b%d/asym=%v", gr.name, block, asym), func(t *testing.T) {
					q := int4Quantized(t, parseGraph(t, gr.src), block, asym)
					got := optimize.Clone(q)
					if _, err := optimize.Run(context.Background(), got, optimize.Options{Level: optimize.LevelExtended, Evaluator: engine.Evaluator{}, Verify: true}); err != nil {
						t.Fatalf("optimize: %v", err)
					}
					if err := ir.Verify(got); err != nil {
						t.Fatalf("optimized graph is invalid: %v", err)
					}
					if g := ops(got.Graph); g != gr.want {
						t.Errorf("ops after optimizing:\n got: %s\nwant: %s", g, gr.want)
					}
					// Through the file format too: the fused node's inputs
					// stay 4-bit initializers.
					b, err := onnx.Encode(got)
					if err != nil {
						t.Fatal(err)
					}
					back, err := onnx.Decode(b, onnx.Options{})
					if err != nil {
						t.Fatal(err)
					}
					compareOutputs(t, q, back, 1e-5)
				})
			}
		}
	}
}

// TestFuseInt4Refkit quantizes the refkit's mlp and bert_like to int4 (as
// `inferd quantize --mode int4` does) and checks that every product runs
// as MatMulInt4 at the extended level and that the outputs match the
// unfused model's on the reference inputs.
func TestFuseInt4Refkit(t *testing.T) {
	root := os.Getenv("INFERD_REFKIT_MODELS")
	if root == "" {
		t.Skip("INFERD_REFKIT_MODELS not set")
	}
	for _, name := range []string{"mlp", "bert_like"} {
		for _, asym := range []bool{false, true} {
			t.Run(fmt.Sprintf("%s/asym=%v", name, asym), func(t *testing.T) {
				dir := filepath.Join(root, name)
				m, err := onnx.Load(filepath.Join(dir, name+"_opset17.onnx"))
				if err != nil {
					t.Fatal(err)
				}
				q := int4Quantized(t, m, 32, asym)
				dqs := strings.Count(ops(q.Graph), "DequantizeLinear")
				base, err := engine.Compile(q, engine.Options{Threads: 1, Optimize: optimize.LevelNone})
				if err != nil {
					t.Fatal(err)
				}
				defer base.Close()
				s, err := engine.Compile(q, engine.Options{Threads: 1})
				if err != nil {
					t.Fatal(err)
				}
				defer s.Close()
				g := ops(s.Model().Graph)
				if n := strings.Count(g, "ai.inferd.MatMulInt4"); n != dqs || strings.Contains(g, "DequantizeLinear") {
					t.Errorf("%d MatMulInt4 for %d int4 weights; graph: %s", n, dqs, g)
				}
				feeds := map[string]*tensor.Tensor{}
				for i, in := range base.Inputs() {
					feeds[in.Name] = readNpy(t, filepath.Join(dir, fmt.Sprintf("b1_input_%d.npy", i)))
				}
				want, err := base.Run(context.Background(), feeds)
				if err != nil {
					t.Fatal(err)
				}
				got, err := s.Run(context.Background(), feeds)
				if err != nil {
					t.Fatal(err)
				}
				for k, w := range want {
					if e := relL2(got[k], w); e > 1e-5 {
						t.Errorf("output %q: relative L2 %.3g > 1e-5", k, e)
					}
				}
			})
		}
	}
}
