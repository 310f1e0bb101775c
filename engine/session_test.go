package engine_test

import (
	"context"
	"errors"
	"strings"
	"sync"
	"testing"

	"github.com/inferd/inferd/engine"
	"github.com/inferd/inferd/ir"
	"github.com/inferd/inferd/kernels"
	"github.com/inferd/inferd/onnx"
	"github.com/inferd/inferd/tensor"
)

// addModel is y = (x + w) + x with w a [3] initializer and x declared
// float32[N,3]; its nodes are listed out of order on purpose.
func addModel() *ir.Model {
	return &ir.Model{
		IRVersion: 8,
		Opsets:    []ir.OpsetImport{{Version: 17}},
		Graph: &ir.Graph{
			Name: "add",
			Nodes: []*ir.Node{
				{Name: "second", OpType: "TestAdd", Inputs: []string{"t", "x"}, Outputs: []string{"y"}},
				{Name: "first", OpType: "TestAdd", Inputs: []string{"x", "w"}, Outputs: []string{"t"}},
			},
			Inputs:       []*ir.ValueInfo{{Name: "x", Type: ir.TensorType(tensor.Float32, ir.Shape{{Value: -1, Param: "N"}, {Value: 3}})}},
			Outputs:      []*ir.ValueInfo{{Name: "y", Type: ir.TensorType(tensor.Float32, nil)}},
			Initializers: []*ir.Initializer{{Name: "w", Tensor: tensor.FromSlice([]float32{10, 20, 30}, 3)}},
		},
	}
}

func compileAdd(t *testing.T) *engine.Session {
	t.Helper()
	s, err := engine.Compile(addModel(), engine.Options{Registry: cfRegistry(), Threads: 2})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(s.Close)
	return s
}

func TestRunOutOfOrderNodes(t *testing.T) {
	s := compileAdd(t)
	out, err := s.Run(context.Background(), map[string]*tensor.Tensor{"x": tensor.FromSlice([]float32{1, 2, 3, 4, 5, 6}, 2, 3)})
	if err != nil {
		t.Fatal(err)
	}
	got := tensor.Data[float32](out["y"])
	want := []float32{12, 24, 36, 18, 30, 42}
	for i := range want {
		if got[i] != want[i] {
			t.Fatalf("y = %v, want %v", got, want)
		}
	}
}

func TestRunRejectsBadInputs(t *testing.T) {
	s := compileAdd(t)
	cases := []struct {
		name   string
		inputs map[string]*tensor.Tensor
		want   string
	}{
		{"missing", map[string]*tensor.Tensor{}, `missing input "x"`},
		{"unknown", map[string]*tensor.Tensor{"x": tensor.New(tensor.Float32, 1, 3), "z": tensor.New(tensor.Float32, 1)}, `unknown input "z"`},
		{"dtype", map[string]*tensor.Tensor{"x": tensor.New(tensor.Float64, 1, 3)}, "got element type float64, want float32"},
		{"rank", map[string]*tensor.Tensor{"x": tensor.New(tensor.Float32, 3)}, "rank 1"},
		{"dim", map[string]*tensor.Tensor{"x": tensor.New(tensor.Float32, 2, 4)}, "dimension 1 is 4, want 3"},
		{"storage", map[string]*tensor.Tensor{"x": {DType: tensor.Float32, Shape: []int{1, 3}, Data: []float32{1}}}, "1 elements stored for shape [1,3]"},
	}
	for _, c := range cases {
		_, err := s.Run(context.Background(), c.inputs)
		if err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("%s: err = %v, want it to mention %q", c.name, err, c.want)
		}
	}
}

func TestCompileErrorsNameTheNode(t *testing.T) {
	m := addModel()
	m.Graph.Nodes[0].OpType = "NoSuchOp"
	_, err := engine.Compile(m, engine.Options{Registry: cfRegistry()})
	if err == nil || !errors.Is(err, kernels.ErrUnsupported) || !strings.Contains(err.Error(), `"second" (NoSuchOp)`) {
		t.Errorf("unknown op: err = %v", err)
	}
	m = addModel()
	m.Graph.Nodes[1].Inputs[1] = "nowhere"
	_, err = engine.Compile(m, engine.Options{Registry: cfRegistry()})
	if err == nil || !strings.Contains(err.Error(), `"nowhere"`) {
		t.Errorf("dangling input: err = %v", err)
	}
	m = addModel()
	m.Graph.Outputs[0].Name = "ghost"
	_, err = engine.Compile(m, engine.Options{Registry: cfRegistry()})
	if err == nil || !strings.Contains(err.Error(), `output "ghost"`) {
		t.Errorf("unproduced output: err = %v", err)
	}
}

func TestKernelPanicBecomesError(t *testing.T) {
	r := cfRegistry()
	r.Register(kernels.Spec{Op: "TestPanic", New: func(b *kernels.Build) (any, error) {
		return kernels.KernelFunc(func(c *kernels.Context, in []*tensor.Tensor) ([]*tensor.Tensor, error) {
			var s []float32
			_ = s[5]
			return nil, nil
		}), nil
	}})
	m := addModel()
	m.Graph.Nodes[0].OpType = "TestPanic"
	s, err := engine.Compile(m, engine.Options{Registry: r})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	_, err = s.Run(context.Background(), map[string]*tensor.Tensor{"x": tensor.New(tensor.Float32, 1, 3)})
	if err == nil || !strings.Contains(err.Error(), `"second" (TestPanic)`) || !strings.Contains(err.Error(), "panicked") {
		t.Errorf("err = %v", err)
	}
}

func TestConcurrentRuns(t *testing.T) {
	s := compileAdd(t)
	var wg sync.WaitGroup
	errs := make(chan error, 16)
	for g := 0; g < 16; g++ {
		wg.Add(1)
		go func(g int) {
			defer wg.Done()
			for i := 0; i < 50; i++ {
				v := float32(g*100 + i)
				out, err := s.Run(context.Background(), map[string]*tensor.Tensor{"x": tensor.FromSlice([]float32{v, v, v}, 1, 3)})
				if err != nil {
					errs <- err
					return
				}
				y := tensor.Data[float32](out["y"])
				if y[0] != 2*v+10 || y[2] != 2*v+30 {
					errs <- errors.New("wrong result under concurrency")
					return
				}
			}
		}(g)
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Fatal(err)
	}
}

func TestCancelledContext(t *testing.T) {
	s := compileAdd(t)
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	_, err := s.Run(ctx, map[string]*tensor.Tensor{"x": tensor.New(tensor.Float32, 1, 3)})
	if !errors.Is(err, context.Canceled) {
		t.Errorf("err = %v, want context.Canceled", err)
	}
}

func TestFunctionInlining(t *testing.T) {
	// f(a, b) = TestAdd(TestAdd(a, b), b), called as y = f(x, w).
	m := addModel()
	m.Opsets = append(m.Opsets, ir.OpsetImport{Domain: "local", Version: 1})
	m.Functions = []*ir.Function{{
		Name: "f", Domain: "local", Inputs: []string{"a", "b"}, Outputs: []string{"c"},
		Nodes: []*ir.Node{
			{OpType: "TestAdd", Inputs: []string{"a", "b"}, Outputs: []string{"tmp"}},
			{OpType: "TestAdd", Inputs: []string{"tmp", "b"}, Outputs: []string{"c"}},
		},
	}}
	m.Graph.Nodes = []*ir.Node{{Name: "call", OpType: "f", Domain: "local", Inputs: []string{"x", "w"}, Outputs: []string{"y"}}}
	s, err := engine.Compile(m, engine.Options{Registry: cfRegistry()})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	out, err := s.Run(context.Background(), map[string]*tensor.Tensor{"x": tensor.FromSlice([]float32{1, 2, 3}, 1, 3)})
	if err != nil {
		t.Fatal(err)
	}
	if y := tensor.Data[float32](out["y"]); y[0] != 21 || y[1] != 42 || y[2] != 63 {
		t.Errorf("y = %v, want [21 42 63]", y)
	}
}

func TestInstancesShareTheGraph(t *testing.T) {
	m, err := onnx.Load("../conformance/testdata/refkit/lenet/lenet_opset17.onnx")
	if err != nil {
		t.Fatal(err)
	}
	base, err := engine.Compile(m, engine.Options{Threads: 2})
	if err != nil {
		t.Fatal(err)
	}
	x := readNpy(t, "../conformance/testdata/refkit/lenet/b1_input_0.npy")
	want := readNpy(t, "../conformance/testdata/refkit/lenet/b1_output_0.npy")
	insts := []*engine.Session{base, base.Instance(1), base.Instance(2)}
	var wg sync.WaitGroup
	for i, s := range insts {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for range 20 {
				out, err := s.Run(context.Background(), map[string]*tensor.Tensor{"input": x})
				if err != nil {
					t.Error(err)
					return
				}
				g, w := tensor.Data[float32](out[s.Outputs()[0].Name]), tensor.Data[float32](want)
				for j := range w {
					if d := g[j] - w[j]; d > 1e-4 || d < -1e-4 {
						t.Errorf("instance %d: output[%d] = %v, want %v", i, j, g[j], w[j])
						return
					}
				}
			}
		}()
	}
	wg.Wait()
	if insts[1].Threads() != 1 || insts[2].Threads() != 2 {
		t.Errorf("instance threads %d and %d, want 1 and 2", insts[1].Threads(), insts[2].Threads())
	}
	// Closing one instance leaves the others running.
	insts[1].Close()
	if _, err := insts[2].Run(context.Background(), map[string]*tensor.Tensor{"input": x}); err != nil {
		t.Fatal(err)
	}
	insts[2].Close()
	base.Close()
}
