package kernels

import (
	"context"
	"fmt"
	"math/rand"
	"testing"

	"github.com/inferd/inferd/internal/parallel"
	"github.com/inferd/inferd/ir"
	"github.com/inferd/inferd/tensor"
)

// rnnBench times one op (RNN, GRU or LSTM) at opset 14. With constW the
// weights are build-time constants (packed once, as in a model); without,
// they are packed on every run.
//
//	go test ./kernels -run '^$' -bench 'LSTM|GRU|RNN' -count 6 | tee new.txt
//	benchstat old.txt new.txt
func rnnBench(b *testing.B, op, dir string, seq, batch, in, hid, threads int, constW bool) {
	rng := rand.New(rand.NewSource(1))
	mk := func(n int, shape ...int) *tensor.Tensor { return rnnF32(rnnRandSlice(rng, n, 0.3), shape...) }
	D := 1
	if dir == "bidirectional" {
		D = 2
	}
	G := map[string]int{"RNN": 1, "GRU": 3, "LSTM": 4}[op]
	x := mk(seq*batch*in, seq, batch, in)
	w := mk(D*G*hid*in, D, G*hid, in)
	r := mk(D*G*hid*hid, D, G*hid, hid)
	bias := mk(D*2*G*hid, D, 2*G*hid)
	outs := []string{"y", "yh"}
	if op == "LSTM" {
		outs = append(outs, "yc")
	}
	n := &ir.Node{Name: "n", OpType: op, Inputs: []string{"x", "w", "r", "b"}, Outputs: outs,
		Attrs: []*ir.Attribute{redAInt("hidden_size", int64(hid)), redAString("direction", dir)}}
	k, err := Default.Build(&Build{Node: n, Opset: 14, Const: func(i int) *tensor.Tensor {
		if constW && i == 1 {
			return w
		}
		if constW && i == 2 {
			return r
		}
		return nil
	}})
	if err != nil {
		b.Fatal(err)
	}
	pool := parallel.New(threads)
	defer pool.Close()
	c := &Context{Ctx: context.Background(), Par: pool.For, Threads: threads}
	in4 := []*tensor.Tensor{x, w, r, bias}
	b.ReportAllocs()
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		if _, err := k.(Kernel).Run(c, in4); err != nil {
			b.Fatal(err)
		}
	}
	b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N)/1e6, "ms/op")
}

// BenchmarkLSTMText is one of lstm_text's two LSTM nodes (refkit model:
// sequence 64, batch 1, hidden 256, bidirectional; inputs 128 for the first
// layer, 512 for the second).
func BenchmarkLSTMText(b *testing.B) {
	for _, in := range []int{128, 512} {
		for _, threads := range []int{1, 2} {
			b.Run(fmt.Sprintf("in=%d,threads=%d", in, threads), func(b *testing.B) {
				rnnBench(b, "LSTM", "bidirectional", 64, 1, in, 256, threads, true)
			})
		}
	}
}

// BenchmarkRNNCells times GRU and plain RNN at the same shape (first layer),
// and a forward-only LSTM.
func BenchmarkRNNCells(b *testing.B) {
	for _, op := range []string{"GRU", "RNN", "LSTM"} {
		for _, threads := range []int{1, 2} {
			b.Run(fmt.Sprintf("op=%s,threads=%d", op, threads), func(b *testing.B) {
				rnnBench(b, op, "forward", 64, 1, 128, 256, threads, true)
			})
		}
	}
}

func BenchmarkLSTMBatch1(b *testing.B) { rnnBench(b, "LSTM", "forward", 100, 1, 128, 256, 8, false) }
func BenchmarkLSTMBatch32(b *testing.B) {
	rnnBench(b, "LSTM", "forward", 100, 32, 128, 256, 8, false)
}
func BenchmarkLSTMBatch32T1(b *testing.B) {
	rnnBench(b, "LSTM", "forward", 100, 32, 128, 256, 1, false)
}
