package engine_test

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"runtime"
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

// TestAllocsPerRun holds the committed fixtures to zero heap allocations
// per run after warm-up (static shapes, RunInto with reused outputs).
func TestAllocsPerRun(t *testing.T) {
	if raceEnabled {
		t.Skip("allocation counts are meaningless under the race detector")
	}
	for _, c := range []struct{ name, model, input string }{
		{"mlp", "../conformance/testdata/refkit/mlp/mlp_opset17.onnx", "../conformance/testdata/refkit/mlp/b1_input_0.npy"},
		{"lenet", "../conformance/testdata/refkit/lenet/lenet_opset17.onnx", "../conformance/testdata/refkit/lenet/b1_input_0.npy"},
	} {
		if n := allocsPerRun(t, c.model, c.input); n != 0 {
			t.Errorf("%s: %.0f allocations per run, want 0", c.name, n)
		}
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

// TestAllocsPerRunRefkit holds every refkit model (INFERD_REFKIT_MODELS,
// see package conformance) to zero heap allocations per run after warm-up,
// at 1 and 2 threads. Under the race detector, where sync.Pool drops items,
// it only reports the counts.
func TestAllocsPerRunRefkit(t *testing.T) {
	dir := os.Getenv("INFERD_REFKIT_MODELS")
	if dir == "" {
		t.Skip("INFERD_REFKIT_MODELS not set")
	}
	for _, threads := range []int{1, 2} {
		for _, m := range []string{"mlp", "lenet", "resnet18", "resnet50", "mobilenet_v2", "bert_like", "lstm_text", "mixer_ln_gelu"} {
			allocsRefkitModel(t, dir, m, threads)
		}
	}
}

func allocsRefkitModel(t *testing.T, dir, m string, threads int) {
	t.Helper()
	s := loadFixture(t, filepath.Join(dir, m, m+"_opset17.onnx"), threads)
	var in []*tensor.Tensor
	for i := range s.Inputs() {
		in = append(in, readNpy(t, filepath.Join(dir, m, fmt.Sprintf("b1_input_%d.npy", i))))
	}
	out := make([]*tensor.Tensor, len(s.Outputs()))
	ctx := context.Background()
	run := func() {
		if err := s.RunInto(ctx, in, out); err != nil {
			t.Fatal(err)
		}
	}
	// Warm up: the first run records the memory plan, the second
	// places the slab, later ones fill the kernels' pools.
	for range 5 {
		run()
	}
	n := testing.AllocsPerRun(50, run)
	s.Close()
	t.Logf("%s, %d threads: %.0f allocations per run", m, threads, n)
	if n != 0 && !raceEnabled {
		t.Errorf("%s, %d threads: %.0f allocations per run, want 0", m, threads, n)
	}
}

// TestChangingBatchReusesStorage runs batches of 7 and 9 in turn, as a
// dynamic batcher does: the arena must keep the larger storage instead of
// allocating every tensor again whenever the size moves, and the results
// must equal a fresh session's.
func TestChangingBatchReusesStorage(t *testing.T) {
	if raceEnabled {
		t.Skip("allocation counts are meaningless under the race detector")
	}
	const model = "../conformance/testdata/refkit/mlp/mlp_opset17.onnx"
	s := loadFixture(t, model, 1)
	defer s.Close()
	batch := func(n int) *tensor.Tensor {
		x := tensor.New(tensor.Float32, n, 784)
		d := tensor.Data[float32](x)
		for i := range d {
			d[i] = float32(i%97) / 97
		}
		return x
	}
	x7, x9 := batch(7), batch(9)
	ctx := context.Background()
	out := make([]*tensor.Tensor, 1)
	for range 3 {
		for _, x := range []*tensor.Tensor{x9, x7} {
			out[0] = nil
			if err := s.RunInto(ctx, []*tensor.Tensor{x}, out); err != nil {
				t.Fatal(err)
			}
		}
	}
	o7, o9 := tensor.New(tensor.Float32, 7, 10), tensor.New(tensor.Float32, 9, 10)
	var before, after runtime.MemStats
	runtime.ReadMemStats(&before)
	const rounds = 20
	for range rounds {
		if err := s.RunInto(ctx, []*tensor.Tensor{x7}, []*tensor.Tensor{o7}); err != nil {
			t.Fatal(err)
		}
		if err := s.RunInto(ctx, []*tensor.Tensor{x9}, []*tensor.Tensor{o9}); err != nil {
			t.Fatal(err)
		}
	}
	runtime.ReadMemStats(&after)
	perRun := (after.TotalAlloc - before.TotalAlloc) / (2 * rounds)
	t.Logf("%d bytes allocated per run", perRun)
	// One batch of activations is 9·784·4 = 28 KB: a run that reallocated
	// its tensors would allocate more than that.
	if perRun > 4096 {
		t.Errorf("%d bytes allocated per run with changing batch sizes, want < 4096", perRun)
	}
	for _, c := range []struct {
		x, got *tensor.Tensor
	}{{x7, o7}, {x9, o9}} {
		fresh := loadFixture(t, model, 1)
		want, err := fresh.Run(ctx, map[string]*tensor.Tensor{"input": c.x})
		fresh.Close()
		if err != nil {
			t.Fatal(err)
		}
		w, g := tensor.Data[float32](want["logits"]), tensor.Data[float32](c.got)
		for i := range w {
			if w[i] != g[i] {
				t.Fatalf("batch %d: logits[%d] = %v, fresh session %v", c.x.Shape[0], i, g[i], w[i])
			}
		}
	}
}
