package kernels

import (
	"context"
	"testing"

	"github.com/inferd/inferd/internal/parallel"
	"github.com/inferd/inferd/ir"
	"github.com/inferd/inferd/tensor"
)

func redBench(b *testing.B, op string, shape []int, axes ...int64) {
	x := tensor.New(tensor.Float32, shape...)
	for i, v := range x.Data.([]float32) {
		_ = v
		x.Data.([]float32)[i] = float32(i%97) * 0.01
	}
	n := &ir.Node{Name: "n", OpType: op, Inputs: []string{"x", "a"}, Outputs: []string{"y"}}
	k, err := Default.Build(&Build{Node: n, Opset: 18, Const: func(int) *tensor.Tensor { return nil }})
	if err != nil {
		b.Fatal(err)
	}
	ax := tensor.FromSlice(axes, len(axes))
	pool := parallel.New(4)
	defer pool.Close()
	c := &Context{Ctx: context.Background(), Par: pool.For}
	b.SetBytes(int64(x.Len() * 4))
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		if _, err := k.(Kernel).Run(c, []*tensor.Tensor{x, ax}); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkReduceMeanLastAxis(b *testing.B)  { redBench(b, "ReduceMean", []int{4096, 768}, -1) }
func BenchmarkReduceSumFirstAxis(b *testing.B)  { redBench(b, "ReduceSum", []int{4096, 768}, 0) }
func BenchmarkReduceMaxSpatial(b *testing.B)    { redBench(b, "ReduceMax", []int{8, 256, 56, 56}, 2, 3) }
func BenchmarkReduceLogSumExpLast(b *testing.B) { redBench(b, "ReduceLogSumExp", []int{4096, 768}, -1) }
