package quantize_test

import (
	"context"
	"fmt"
	"math"
	"math/rand/v2"
	"os"
	"path/filepath"
	"testing"

	"github.com/inferd/inferd/engine"
	"github.com/inferd/inferd/ir"
	"github.com/inferd/inferd/kernels"
	"github.com/inferd/inferd/onnx"
	"github.com/inferd/inferd/quantize"
	"github.com/inferd/inferd/tensor"
)

// compiler is the engine, as inferd's command line wires it.
var compiler = quantize.CompilerFunc(func(m *ir.Model) (quantize.Runner, error) {
	return engine.Compile(m, engine.Options{Threads: 1})
})

// run compiles m and runs it on one sample.
func run(t *testing.T, m *ir.Model, in quantize.Sample) map[string]*tensor.Tensor {
	t.Helper()
	s, err := engine.Compile(m, engine.Options{Threads: 1})
	if err != nil {
		t.Fatalf("compile: %v", err)
	}
	defer s.Close()
	// A model converted to 16-bit inputs gets its inputs converted.
	feeds := quantize.Sample{}
	for _, vi := range s.Inputs() {
		x := in[vi.Name]
		if vi.Type.DType != x.DType {
			v, err := kernels.Float64s(x)
			if err != nil {
				t.Fatal(err)
			}
			if x, err = kernels.FromFloat64s(vi.Type.DType, x.Shape, v); err != nil {
				t.Fatal(err)
			}
		}
		feeds[vi.Name] = x
	}
	out, err := s.Run(context.Background(), feeds)
	if err != nil {
		t.Fatalf("run: %v", err)
	}
	return out
}

func float64s(t *testing.T, x *tensor.Tensor) []float64 {
	t.Helper()
	v, err := kernels.Float64s(x)
	if err != nil {
		t.Fatal(err)
	}
	return v
}

// cosine returns the cosine similarity of two tensors' values.
func cosine(t *testing.T, a, b *tensor.Tensor) float64 {
	t.Helper()
	av, bv := float64s(t, a), float64s(t, b)
	if len(av) != len(bv) {
		t.Fatalf("cosine of %v and %v", a, b)
	}
	var dot, aa, bb float64
	for i := range av {
		dot += av[i] * bv[i]
		aa += av[i] * av[i]
		bb += bv[i] * bv[i]
	}
	return dot / math.Sqrt(aa*bb)
}

// loadRefkit loads a committed refkit fixture and its input.
func loadRefkit(t *testing.T, name, file string) (*ir.Model, quantize.Sample) {
	t.Helper()
	dir := filepath.Join("..", "conformance", "testdata", "refkit", name)
	m, err := onnx.Load(filepath.Join(dir, file))
	if err != nil {
		t.Fatal(err)
	}
	x, err := readNpy(filepath.Join(dir, "b1_input_0.npy"))
	if err != nil {
		t.Fatal(err)
	}
	return m, quantize.Sample{m.Graph.Inputs[0].Name: x}
}

// jitter returns n samples: x itself and copies with Gaussian noise of
// the given relative size, so calibration sees a spread of inputs.
func jitter(x quantize.Sample, n int, rel float64) []quantize.Sample {
	rng := rand.New(rand.NewPCG(7, 11))
	out := []quantize.Sample{x}
	for i := 1; i < n; i++ {
		s := quantize.Sample{}
		for k, t := range x {
			v := t.Data.([]float32)
			var rms float64
			for _, f := range v {
				rms += float64(f) * float64(f)
			}
			rms = math.Sqrt(rms / float64(len(v)))
			c := make([]float32, len(v))
			for j, f := range v {
				c[j] = f + float32(rng.NormFloat64()*rel*rms)
			}
			s[k] = tensor.FromSlice(c, t.Shape...)
		}
		out = append(out, s)
	}
	return out
}

func readNpy(path string) (*tensor.Tensor, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	return tensor.ReadNpy(f)
}

// encode serializes a model, to compare results byte for byte.
func encode(t *testing.T, m *ir.Model) []byte {
	t.Helper()
	b, err := onnx.Encode(m)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func countOps(m *ir.Model) map[string]int {
	c := map[string]int{}
	for _, n := range m.Graph.Nodes {
		c[n.OpType]++
	}
	return c
}

// loadRefkitExport loads a refkit export under root (INFERD_REFKIT_MODELS; skipping the test when it is not
// there) and its batch-1 reference inputs, keyed by graph input name.
func loadRefkitExport(t *testing.T, root, model string) (*ir.Model, quantize.Sample) {
	t.Helper()
	dir := filepath.Join(root, model)
	m, err := onnx.Load(filepath.Join(dir, model+"_opset17.onnx"))
	if err != nil {
		t.Skip(err)
	}
	in := quantize.Sample{}
	i := 0
	for _, vi := range m.Graph.Inputs {
		if m.Graph.Initializer(vi.Name) != nil {
			continue
		}
		x, err := readNpy(filepath.Join(dir, fmt.Sprintf("b1_input_%d.npy", i)))
		if err != nil {
			t.Fatal(err)
		}
		in[vi.Name] = x
		i++
	}
	return m, in
}
