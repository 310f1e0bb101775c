package kernels

import (
	"context"
	"math/rand"
	"testing"

	"github.com/inferd/inferd/internal/parallel"
	"github.com/inferd/inferd/ir"
	"github.com/inferd/inferd/tensor"
)

func rnnBenchLSTM(b *testing.B, seq, batch, in, hid, threads int) {
	rng := rand.New(rand.NewSource(1))
	mk := func(n int, shape ...int) *tensor.Tensor { return rnnF32(rnnRandSlice(rng, n, 0.3), shape...) }
	x := mk(seq*batch*in, seq, batch, in)
	w := mk(4*hid*in, 1, 4*hid, in)
	r := mk(4*hid*hid, 1, 4*hid, hid)
	bias := mk(8*hid, 1, 8*hid)
	n := &ir.Node{Name: "n", OpType: "LSTM", Inputs: []string{"x", "w", "r", "b"}, Outputs: []string{"y", "yh", "yc"},
		Attrs: []*ir.Attribute{redAInt("hidden_size", int64(hid))}}
	k, err := Default.Build(&Build{Node: n, Opset: 14, Const: func(int) *tensor.Tensor { return nil }})
	if err != nil {
		b.Fatal(err)
	}
	pool := parallel.New(threads)
	defer pool.Close()
	c := &Context{Ctx: context.Background(), Par: pool.For}
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		if _, err := k.(Kernel).Run(c, []*tensor.Tensor{x, w, r, bias}); err != nil {
			b.Fatal(err)
		}
	}
	b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N)/1e6, "ms/op")
}

func BenchmarkLSTMBatch1(b *testing.B)    { rnnBenchLSTM(b, 100, 1, 128, 256, 8) }
func BenchmarkLSTMBatch32(b *testing.B)   { rnnBenchLSTM(b, 100, 32, 128, 256, 8) }
func BenchmarkLSTMBatch32T1(b *testing.B) { rnnBenchLSTM(b, 100, 32, 128, 256, 1) }
