package engine_test

import (
	"context"
	"testing"

	"github.com/inferd/inferd/engine"
	"github.com/inferd/inferd/ir"
	"github.com/inferd/inferd/kernels"
	"github.com/inferd/inferd/optimize"
	"github.com/inferd/inferd/tensor"
)

// memplanModel computes d = Add(TestMaybeView(Add(x, x)), Mul(x, x)):
// 2x + x². TestMaybeView returns a view of its input when the input's
// first element is positive and a fresh copy otherwise — an alias that
// depends on the data, which the memory plan cannot see coming.
func memplanModel() (*ir.Model, *kernels.Registry) {
	r := kernels.NewRegistry()
	for _, op := range []string{"Add", "Mul"} {
		r.Register(kernels.Spec{Op: op, New: kernels.Default.Build})
	}
	r.Register(kernels.Spec{Op: "TestMaybeView", New: func(b *kernels.Build) (any, error) {
		return kernels.KernelFunc(func(c *kernels.Context, in []*tensor.Tensor) ([]*tensor.Tensor, error) {
			x := in[0]
			if tensor.Data[float32](x)[0] > 0 {
				return []*tensor.Tensor{c.View(x, x.Shape)}, nil
			}
			y := c.AllocRaw(tensor.Float32, x.Shape...)
			copy(tensor.Data[float32](y), tensor.Data[float32](x))
			return []*tensor.Tensor{y}, nil
		}), nil
	}})
	vt := ir.TensorType(tensor.Float32, ir.ShapeOf(64))
	g := &ir.Graph{
		Name:    "memplan",
		Inputs:  []*ir.ValueInfo{{Name: "x", Type: vt}},
		Outputs: []*ir.ValueInfo{{Name: "d", Type: vt}},
		Nodes: []*ir.Node{
			{Name: "a", OpType: "Add", Inputs: []string{"x", "x"}, Outputs: []string{"a"}},
			{Name: "b", OpType: "TestMaybeView", Inputs: []string{"a"}, Outputs: []string{"b"}},
			{Name: "c", OpType: "Mul", Inputs: []string{"x", "x"}, Outputs: []string{"c"}},
			{Name: "d", OpType: "Add", Inputs: []string{"b", "c"}, Outputs: []string{"d"}},
		},
	}
	return &ir.Model{IRVersion: 8, Opsets: []ir.OpsetImport{{Domain: "", Version: 17}}, Graph: g}, r
}

func TestMemoryPlanSurvivesDataDependentViews(t *testing.T) {
	m, reg := memplanModel()
	for _, noPlan := range []bool{false, true} {
		s, err := engine.Compile(m, engine.Options{Threads: 1, Registry: reg, NoMemoryPlan: noPlan, Optimize: optimize.LevelNone})
		if err != nil {
			t.Fatal(err)
		}
		// Negative inputs first (TestMaybeView copies, and the plan is
		// made from that run), then positive ones (it returns a view).
		for run, sign := range []float32{-1, -1, 1, 1, -1, 1} {
			x := tensor.New(tensor.Float32, 64)
			xs := tensor.Data[float32](x)
			for i := range xs {
				xs[i] = sign * float32(i+1) / 8
			}
			out, err := s.Run(context.Background(), map[string]*tensor.Tensor{"x": x})
			if err != nil {
				t.Fatal(err)
			}
			d := tensor.Data[float32](out["d"])
			for i, v := range xs {
				if want := 2*v + v*v; d[i] != want {
					t.Fatalf("NoMemoryPlan=%v run %d: d[%d] = %v, want %v", noPlan, run, i, d[i], want)
				}
			}
		}
		s.Close()
	}
}
