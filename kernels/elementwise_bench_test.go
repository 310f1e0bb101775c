package kernels

import (
	"testing"

	"github.com/inferd/inferd/ir"
	"github.com/inferd/inferd/tensor"
)

func ewBenchKernel(b *testing.B, op string, opset int64, attrs []*ir.Attribute, in ...*tensor.Tensor) {
	n := &ir.Node{OpType: op, Attrs: attrs, Outputs: []string{"y"}}
	for range in {
		n.Inputs = append(n.Inputs, "x")
	}
	k, err := Default.Build(&Build{Node: n, Opset: opset, Const: func(int) *tensor.Tensor { return nil }})
	if err != nil {
		b.Fatal(err)
	}
	c := &Context{}
	b.SetBytes(int64(4 * in[0].Len()))
	b.ResetTimer()
	for range b.N {
		if _, err := k.(Kernel).Run(c, in); err != nil {
			b.Fatal(err)
		}
	}
}

func ewBenchF32(shape ...int) *tensor.Tensor {
	t := tensor.New(tensor.Float32, shape...)
	for i, s := 0, t.Data.([]float32); i < len(s); i++ {
		s[i] = float32(i%2001)/500 - 2
	}
	return t
}

func BenchmarkEwAddSame(b *testing.B) {
	ewBenchKernel(b, "Add", 14, nil, ewBenchF32(1<<20), ewBenchF32(1<<20))
}
func BenchmarkEwAddBiasNCHW(b *testing.B) {
	ewBenchKernel(b, "Add", 14, nil, ewBenchF32(4, 64, 64, 64), ewBenchF32(64, 1, 1))
}
func BenchmarkEwAddBiasLast(b *testing.B) {
	ewBenchKernel(b, "Add", 14, nil, ewBenchF32(1024, 1024), ewBenchF32(1024))
}
func BenchmarkEwMulScalar(b *testing.B) {
	ewBenchKernel(b, "Mul", 14, nil, ewBenchF32(1<<20), ewBenchF32())
}
func BenchmarkEwRelu(b *testing.B)    { ewBenchKernel(b, "Relu", 14, nil, ewBenchF32(1<<20)) }
func BenchmarkEwSigmoid(b *testing.B) { ewBenchKernel(b, "Sigmoid", 13, nil, ewBenchF32(1<<20)) }
func BenchmarkEwTanh(b *testing.B)    { ewBenchKernel(b, "Tanh", 13, nil, ewBenchF32(1<<20)) }
func BenchmarkEwExp(b *testing.B)     { ewBenchKernel(b, "Exp", 13, nil, ewBenchF32(1<<20)) }
func BenchmarkEwErf(b *testing.B)     { ewBenchKernel(b, "Erf", 13, nil, ewBenchF32(1<<20)) }
func BenchmarkEwGelu(b *testing.B)    { ewBenchKernel(b, "Gelu", 20, nil, ewBenchF32(1<<20)) }
func BenchmarkEwPowSquare(b *testing.B) {
	ewBenchKernel(b, "Pow", 15, nil, ewBenchF32(1<<20), tensor.Scalar[float32](2))
}
func BenchmarkEwCastF16(b *testing.B) {
	ewBenchKernel(b, "Cast", 13, []*ir.Attribute{{Name: "to", Type: ir.AttrInt, I: int64(tensor.Float16)}}, ewBenchF32(1<<20))
}
func BenchmarkEwWhere(b *testing.B) {
	c := tensor.New(tensor.Bool, 1<<20)
	ewBenchKernel(b, "Where", 16, nil, c, ewBenchF32(1<<20), ewBenchF32())
}
