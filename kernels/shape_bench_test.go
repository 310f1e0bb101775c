package kernels

import (
	"testing"

	"github.com/inferd/inferd/ir"
	"github.com/inferd/inferd/tensor"
)

func shpBench(b *testing.B, op string, attrs []*ir.Attribute, in ...*tensor.Tensor) {
	k, err := shpBuild(op, 13, attrs, len(in), 1)
	if err != nil {
		b.Fatal(err)
	}
	c := &Context{}
	b.ResetTimer()
	for range b.N {
		if _, err := k.(Kernel).Run(c, in); err != nil {
			b.Fatal(err)
		}
	}
}

// Attention-style transposes (BERT-base, sequence 384).
func BenchmarkShpTransposeKT(b *testing.B) {
	shpBench(b, "Transpose", []*ir.Attribute{shpAIs("perm", 0, 1, 3, 2)}, shpIota(1, 12, 384, 64))
}

func BenchmarkShpTransposeHeads(b *testing.B) {
	shpBench(b, "Transpose", []*ir.Attribute{shpAIs("perm", 0, 2, 1, 3)}, shpIota(1, 384, 12, 64))
}

func BenchmarkShpTranspose2D(b *testing.B) {
	shpBench(b, "Transpose", nil, shpIota(1024, 1024))
}

func BenchmarkShpTransposeNCHWToNHWC(b *testing.B) {
	shpBench(b, "Transpose", []*ir.Attribute{shpAIs("perm", 0, 2, 3, 1)}, shpIota(1, 64, 112, 112))
}

func BenchmarkShpGatherEmbedding(b *testing.B) {
	idx := make([]int64, 384)
	for i := range idx {
		idx[i] = int64(i * 71 % 30522)
	}
	shpBench(b, "Gather", nil, shpIota(30522, 768), shpI(shpDims(1, 384), idx...))
}

func BenchmarkShpConcat(b *testing.B) {
	shpBench(b, "Concat", []*ir.Attribute{shpAI("axis", 1)}, shpIota(1, 64, 56, 56), shpIota(1, 64, 56, 56))
}
