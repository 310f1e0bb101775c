package kernels

import (
	"fmt"
	"math"
	"math/rand"
	"testing"
	"time"

	"github.com/inferd/inferd/internal/parallel"
	"github.com/inferd/inferd/ir"
	"github.com/inferd/inferd/kernels/winograd"
	"github.com/inferd/inferd/tensor"
)

// winoDirect64 is a float64 direct convolution (3×3, stride 1) with pads
// pt, pl and output oh×ow, plus bias: the reference for the Conv kernels.
func winoDirect64(x, w, bias []float32, n, c, h, wd, m, oh, ow, pt, pl int) []float64 {
	y := make([]float64, n*m*oh*ow)
	for b := 0; b < n; b++ {
		for k := 0; k < m; k++ {
			for oy := 0; oy < oh; oy++ {
				for ox := 0; ox < ow; ox++ {
					s := float64(bias[k])
					for ci := 0; ci < c; ci++ {
						for i := 0; i < 3; i++ {
							for j := 0; j < 3; j++ {
								iy, ix := oy+i-pt, ox+j-pl
								if iy >= 0 && iy < h && ix >= 0 && ix < wd {
									s += float64(x[((b*c+ci)*h+iy)*wd+ix]) * float64(w[((k*c+ci)*3+i)*3+j])
								}
							}
						}
					}
					y[((b*m+k)*oh+oy)*ow+ox] = s
				}
			}
		}
	}
	return y
}

// TestConvWinograd runs Conv with a constant 3×3 filter, which takes the
// Winograd path where it applies, against a float64 direct convolution.
func TestConvWinograd(t *testing.T) {
	rng := rand.New(rand.NewSource(21))
	rnd := func(shape ...int) *tensor.Tensor {
		v := make([]float32, nnProd(shape))
		for i := range v {
			v[i] = float32(rng.Float64()*2 - 1)
		}
		return tensor.FromSlice(v, shape...)
	}
	for _, cs := range []struct {
		n, c, h, w, m int
		pads          [4]int64 // top, left, bottom, right
		autoPad       string
		wino          bool
	}{
		{1, 16, 9, 9, 8, [4]int64{1, 1, 1, 1}, "", true},
		{3, 5, 12, 7, 19, [4]int64{0, 1, 1, 0}, "", true},
		{1, 17, 16, 15, 5, [4]int64{}, "SAME_UPPER", true},
		{1, 33, 12, 11, 4, [4]int64{}, "", true},
		{1, 8, 7, 7, 8, [4]int64{1, 1, 1, 1}, "", false},   // 7×7 output: the GEMM
		{1, 3, 20, 20, 8, [4]int64{1, 1, 1, 1}, "", false}, // 3 channels: the GEMM
	} {
		x, w, b := rnd(cs.n, cs.c, cs.h, cs.w), rnd(cs.m, cs.c, 3, 3), rnd(cs.m)
		attrs := []*ir.Attribute{}
		pt, pl := int(cs.pads[0]), int(cs.pads[1])
		oh, ow := cs.h+int(cs.pads[0]+cs.pads[2])-2, cs.w+int(cs.pads[1]+cs.pads[3])-2
		if cs.autoPad != "" {
			attrs = append(attrs, &ir.Attribute{Name: "auto_pad", Type: ir.AttrString, S: []byte(cs.autoPad)})
			pt, pl, oh, ow = 1, 1, cs.h, cs.w
		} else {
			attrs = append(attrs, nnAttrInts("pads", cs.pads[0], cs.pads[1], cs.pads[2], cs.pads[3]))
		}
		k, err := nnBuildConst(t, "Conv", 11, 3, 1, []*tensor.Tensor{nil, w, b}, attrs...)
		if err != nil {
			t.Fatal(err)
		}
		want := winoDirect64(x.Data.([]float32), w.Data.([]float32), b.Data.([]float32), cs.n, cs.c, cs.h, cs.w, cs.m, oh, ow, pt, pl)
		for _, ctx := range []*Context{{}, nnParContext()} {
			got, err := k.Run(ctx, []*tensor.Tensor{x, w, b})
			if err != nil {
				t.Fatal(err)
			}
			nnCheck(t, got[0], []int{cs.n, cs.m, oh, ow}, want, 1e-5)
		}
		p, err := k.(*nnConvKernel).setup(x.Shape, w.Shape)
		if err != nil {
			t.Fatal(err)
		}
		if p.wino != (cs.wino && winograd.Accelerated()) {
			t.Errorf("%+v: wino = %v", cs, p.wino)
		}
	}
}

// BenchmarkWinograd times ResNet's 3×3 stride-1 convolutions (FusedConv
// with bias and Relu, constant filter) through Winograd and through the
// GEMM path, in the same run; bestms is the fastest run. The cold runs
// cycle through 12 convolutions with filters of their own, as a model
// does, so that the filter is read from memory rather than the caches.
func BenchmarkWinograd(b *testing.B) {
	for _, cold := range []bool{false, true} {
		winoBench(b, cold)
	}
}

func winoBench(b *testing.B, cold bool) {
	copies, suffix := 1, ""
	if cold {
		copies, suffix = 12, "-cold"
	}
	for _, sh := range []struct {
		name string
		c, h int
	}{{"l1_3x3", 64, 56}, {"l2_3x3", 128, 28}, {"l3_3x3", 256, 14}, {"l4_3x3", 512, 7}} {
		for _, threads := range []int{1, 2} {
			for _, wino := range []bool{true, false} {
				name := "gemm"
				if wino {
					name = "wino"
				}
				b.Run(fmt.Sprintf("%s/t%d/%s%s", sh.name, threads, name, suffix), func(b *testing.B) {
					x := tensor.New(tensor.Float32, 1, sh.c, sh.h, sh.h)
					w := tensor.New(tensor.Float32, sh.c, sh.c, 3, 3)
					bias := tensor.New(tensor.Float32, sh.c)
					for i, v := 0, x.Data.([]float32); i < len(v); i++ {
						v[i] = float32(i%13) * 0.1
					}
					for i, v := 0, w.Data.([]float32); i < len(v); i++ {
						v[i] = float32(i%7) * 0.01
					}
					attrs := []*ir.Attribute{nnAttrInts("pads", 1, 1, 1, 1),
						{Name: "activation", Type: ir.AttrString, S: []byte("Relu")}}
					n := &ir.Node{Name: "f", OpType: "FusedConv", Domain: ir.DomainInferd, Attrs: attrs,
						Inputs: []string{"x", "w", "b"}, Outputs: []string{"y"}}
					pool := parallel.New(threads)
					defer pool.Close()
					ctx := &Context{Par: pool.For, Threads: threads, Arena: NewArena(1)}
					var ks []Kernel
					var ins [][]*tensor.Tensor
					prev := winoEnabled
					winoEnabled = wino
					for c := range copies {
						wc := w.Clone()
						wc.Data.([]float32)[c] += 1
						k, err := Default.Build(&Build{Node: n, Opset: 1, InputTypes: []ir.Type{ir.TensorType(tensor.Float32, nil)},
							Const: func(i int) *tensor.Tensor { return []*tensor.Tensor{nil, wc, bias}[i] }})
						if err != nil {
							b.Fatal(err)
						}
						in := []*tensor.Tensor{x, wc, bias}
						ctx.Arena.Begin(0)
						if _, err := k.(Kernel).Run(ctx, in); err != nil { // the params (and wino) are fixed here
							b.Fatal(err)
						}
						ks, ins = append(ks, k.(Kernel)), append(ins, in)
					}
					winoEnabled = prev
					b.ResetTimer()
					best := time.Duration(math.MaxInt64)
					for i := 0; i < b.N; i++ {
						t0 := time.Now()
						ctx.Arena.Begin(0)
						if _, err := ks[i%copies].Run(ctx, ins[i%copies]); err != nil {
							b.Fatal(err)
						}
						best = min(best, time.Since(t0))
					}
					b.ReportMetric(float64(best.Microseconds())/1e3, "bestms")
				})
			}
		}
	}
}
