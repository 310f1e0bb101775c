package kernels

import (
	"testing"

	"github.com/inferd/inferd/ir"
	"github.com/inferd/inferd/tensor"
)

// Benchmarks of the ops whose float32 paths run package vec, on one
// thread, with an Arena so that, as in a session, outputs are recycled
// rather than allocated: they time the kernel, not the allocator. Compare
// with the general paths by running them at the commit before those paths
// moved to vec:
//
//	go test ./kernels -run '^$' -bench 'Vec' -count 5

func vecBenchKernel(b *testing.B, op string, opset int64, attrs []*ir.Attribute, in ...*tensor.Tensor) {
	n := &ir.Node{OpType: op, Attrs: attrs, Outputs: []string{"y"}}
	for range in {
		n.Inputs = append(n.Inputs, "x")
	}
	k, err := Default.Build(&Build{Node: n, Opset: opset, Const: func(int) *tensor.Tensor { return nil }})
	if err != nil {
		b.Fatal(err)
	}
	c := &Context{Arena: NewArena(1)}
	b.SetBytes(int64(4 * in[0].Len()))
	b.ReportAllocs()
	for b.Loop() {
		c.Arena.Begin(0)
		if _, err := k.(Kernel).Run(c, in); err != nil {
			b.Fatal(err)
		}
	}
	b.ReportMetric(float64(in[0].Len())*float64(b.N)/b.Elapsed().Seconds()/1e9, "Gelem/s")
}

const vecBenchN = 1 << 16 // 256 KiB a tensor: in L2

func BenchmarkVecExp(b *testing.B)     { vecBenchKernel(b, "Exp", 13, nil, ewBenchF32(vecBenchN)) }
func BenchmarkVecTanh(b *testing.B)    { vecBenchKernel(b, "Tanh", 13, nil, ewBenchF32(vecBenchN)) }
func BenchmarkVecSigmoid(b *testing.B) { vecBenchKernel(b, "Sigmoid", 13, nil, ewBenchF32(vecBenchN)) }
func BenchmarkVecErf(b *testing.B)     { vecBenchKernel(b, "Erf", 13, nil, ewBenchF32(vecBenchN)) }
func BenchmarkVecGelu(b *testing.B)    { vecBenchKernel(b, "Gelu", 20, nil, ewBenchF32(vecBenchN)) }
func BenchmarkVecGeluTanh(b *testing.B) {
	vecBenchKernel(b, "Gelu", 20, []*ir.Attribute{{Name: "approximate", Type: ir.AttrString, S: []byte("tanh")}}, ewBenchF32(vecBenchN))
}
func BenchmarkVecRelu(b *testing.B) { vecBenchKernel(b, "Relu", 14, nil, ewBenchF32(vecBenchN)) }
func BenchmarkVecClip(b *testing.B) {
	vecBenchKernel(b, "Clip", 13, nil, ewBenchF32(vecBenchN), tensor.Scalar[float32](-1), tensor.Scalar[float32](1))
}
func BenchmarkVecAddSame(b *testing.B) {
	vecBenchKernel(b, "Add", 14, nil, ewBenchF32(vecBenchN), ewBenchF32(vecBenchN))
}
func BenchmarkVecAddLastAxis(b *testing.B) {
	vecBenchKernel(b, "Add", 14, nil, ewBenchF32(vecBenchN/768, 768), ewBenchF32(768))
}
func BenchmarkVecMulPerChannel(b *testing.B) {
	vecBenchKernel(b, "Mul", 14, nil, ewBenchF32(64, 32, 32), ewBenchF32(64, 1, 1))
}
func BenchmarkVecMulScalar(b *testing.B) {
	vecBenchKernel(b, "Mul", 14, nil, ewBenchF32(vecBenchN), tensor.Scalar[float32](3))
}
func BenchmarkVecDivSame(b *testing.B) {
	vecBenchKernel(b, "Div", 14, nil, ewBenchF32(vecBenchN), ewBenchF32(vecBenchN))
}

// Rows of a BERT-base layer at sequence 128: attention scores (12 heads,
// 128 rows of 128 each) and hidden states (128 rows of 768).
func BenchmarkVecSoftmaxLastAxis(b *testing.B) {
	vecBenchKernel(b, "Softmax", 13, nil, ewBenchF32(12, 128, 128))
}
func BenchmarkVecLogSoftmaxLastAxis(b *testing.B) {
	vecBenchKernel(b, "LogSoftmax", 13, nil, ewBenchF32(128, 768))
}
func BenchmarkVecLayerNormalization(b *testing.B) {
	vecBenchKernel(b, "LayerNormalization", 17, nil, ewBenchF32(128, 768), ewBenchF32(768), ewBenchF32(768))
}
