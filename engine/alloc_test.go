package engine_test

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"testing"

	"github.com/inferd/inferd/engine"
	"github.com/inferd/inferd/onnx"
	"github.com/inferd/inferd/tensor"
)

func loadFixture(t testing.TB, path string, threads int) *engine.Session {
	t.Helper()
	m, err := onnx.Load(path)
	if err != nil {
		t.Fatal(err)
	}
	s, err := engine.Compile(m, engine.Options{Threads: threads})
	if err != nil {
		t.Fatal(err)
	}
	return s
}

func readNpy(t testing.TB, path string) *tensor.Tensor {
	t.Helper()
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	x, err := tensor.ReadNpy(f)
	if err != nil {
		t.Fatal(err)
	}
	return x
}

// allocsPerRun reports the heap allocations of one RunInto after warm-up.
func allocsPerRun(t testing.TB, model, input string) float64 {
	s := loadFixture(t, model, 1)
	defer s.Close()
	in := []*tensor.Tensor{readNpy(t, input)}
	out := make([]*tensor.Tensor, len(s.Outputs()))
	ctx := context.Background()
	for i := 0; i < 3; i++ {
		if err := s.RunInto(ctx, in, out); err != nil {
			t.Fatal(err)
		}
	}
	return testing.AllocsPerRun(20, func() {
		if err := s.RunInto(ctx, in, out); err != nil {
			t.Fatal(err)
		}
	})
}

func TestRunIntoMatchesRun(t *testing.T) {
	s := loadFixture(t, "../conformance/testdata/refkit/lenet/lenet_opset17.onnx", 2)
	defer s.Close()
	x := readNpy(t, "../conformance/testdata/refkit/lenet/b1_input_0.npy")
	want := readNpy(t, "../conformance/testdata/refkit/lenet/b1_output_0.npy")
	out := make([]*tensor.Tensor, 1)
	for i := 0; i < 3; i++ {
		if err := s.RunInto(context.Background(), []*tensor.Tensor{x}, out); err != nil {
			t.Fatal(err)
		}
		g, w := tensor.Data[float32](out[0]), tensor.Data[float32](want)
		for j := range w {
			if d := g[j] - w[j]; d > 1e-4 || d < -1e-4 {
				t.Fatalf("run %d: output[%d] = %v, want %v", i, j, g[j], w[j])
			}
		}
	}
	if s.ArenaBytes() == 0 {
		t.Error("no storage recycled after three runs")
	}
}

func TestAllocsPerRun(t *testing.T) {
	for _, c := range []struct{ name, model, input string }{
		{"mlp", "../conformance/testdata/refkit/mlp/mlp_opset17.onnx", "../conformance/testdata/refkit/mlp/b1_input_0.npy"},
		{"lenet", "../conformance/testdata/refkit/lenet/lenet_opset17.onnx", "../conformance/testdata/refkit/lenet/b1_input_0.npy"},
	} {
		t.Logf("%s: %.0f allocations per run", c.name, allocsPerRun(t, c.model, c.input))
	}
}

// BenchmarkRunInto runs the committed fixtures through RunInto (one
// thread); with -benchmem it shows the allocations left per run.
//
//	go test ./engine -run XXX -bench RunInto -benchmem
func BenchmarkRunInto(b *testing.B) {
	for _, c := range []struct{ name, model, input string }{
		{"mlp", "../conformance/testdata/refkit/mlp/mlp_opset17.onnx", "../conformance/testdata/refkit/mlp/b1_input_0.npy"},
		{"lenet", "../conformance/testdata/refkit/lenet/lenet_opset17.onnx", "../conformance/testdata/refkit/lenet/b1_input_0.npy"},
	} {
		b.Run(c.name, func(b *testing.B) {
			s := loadFixture(b, c.model, 1)
			defer s.Close()
			in := []*tensor.Tensor{readNpy(b, c.input)}
			out := make([]*tensor.Tensor, len(s.Outputs()))
			b.ReportAllocs()
			for b.Loop() {
				if err := s.RunInto(context.Background(), in, out); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}

// TestAllocsPerRunRefkit reports the allocations of one run of every refkit
// model (INFERD_REFKIT_MODELS, see package conformance) after warm-up.
// Models listed in zeroAllocModels must allocate nothing.
func TestAllocsPerRunRefkit(t *testing.T) {
	dir := os.Getenv("INFERD_REFKIT_MODELS")
	if dir == "" {
		t.Skip("INFERD_REFKIT_MODELS not set")
	}
	for _, m := range []string{"mlp", "lenet", "resnet18", "resnet50", "mobilenet_v2", "bert_like", "lstm_text", "mixer_ln_gelu"} {
		s := loadFixture(t, filepath.Join(dir, m, m+"_opset17.onnx"), 1)
		var in []*tensor.Tensor
		for i := range s.Inputs() {
			in = append(in, readNpy(t, filepath.Join(dir, m, fmt.Sprintf("b1_input_%d.npy", i))))
		}
		out := make([]*tensor.Tensor, len(s.Outputs()))
		ctx := context.Background()
		for range 3 {
			if err := s.RunInto(ctx, in, out); err != nil {
				t.Fatal(err)
			}
		}
		n := testing.AllocsPerRun(5, func() {
			if err := s.RunInto(ctx, in, out); err != nil {
				t.Fatal(err)
			}
		})
		s.Close()
		t.Logf("%s: %.0f allocations per run", m, n)
		if zeroAllocModels[m] && n != 0 {
			t.Errorf("%s: %.0f allocations per run, want 0", m, n)
		}
	}
}

// zeroAllocModels are the refkit models whose runs allocate nothing.
var zeroAllocModels = map[string]bool{"mlp": true}
