package kernels

import (
	"fmt"
	"math"
	"math/rand"
	"testing"

	"github.com/inferd/inferd/ir"
	"github.com/inferd/inferd/tensor"
)

// TestHalfConv checks Conv with a constant float16/bfloat16 filter
// (widened and packed once at Build) against a float64 loop, with the
// error bound of matmul_bf16_test.go (products exact in float32, K+2
// rounded additions).
func TestHalfConv(t *testing.T) {
	r := rand.New(rand.NewSource(5))
	for _, h := range bfTypes {
		for _, c := range []struct{ cin, cout, group, hw int }{{3, 4, 1, 6}, {3, 3, 3, 5}, {4, 6, 2, 7}} {
			name := fmt.Sprintf("%v Conv cin=%d cout=%d group=%d", h.dt, c.cin, c.cout, c.group)
			cg := c.cin / c.group
			x, xv := h.rand(r, 1, c.cin, c.hw, c.hw)
			w, wv := h.rand(r, c.cout, cg, 3, 3)
			b, bv := h.rand(r, c.cout)
			// pads 1, stride 1: the output is hw×hw.
			n := c.hw
			want, e := make([]float64, c.cout*n*n), make([]float64, c.cout*n*n)
			for o := 0; o < c.cout; o++ {
				g := o / (c.cout / c.group)
				for i := 0; i < n; i++ {
					for j := 0; j < n; j++ {
						s, sa := bv[o], math.Abs(bv[o])
						for ci := 0; ci < cg; ci++ {
							for di := 0; di < 3; di++ {
								for dj := 0; dj < 3; dj++ {
									ii, jj := i+di-1, j+dj-1
									if ii < 0 || jj < 0 || ii >= n || jj >= n {
										continue
									}
									v := xv[((g*cg+ci)*n+ii)*n+jj] * wv[((o*cg+ci)*3+di)*3+dj]
									s, sa = s+v, sa+math.Abs(v)
								}
							}
						}
						want[(o*n+i)*n+j], e[(o*n+i)*n+j] = s, float64(cg*9+2)*0x1p-24*1.01*sa
					}
				}
			}
			attrs := []*ir.Attribute{{Name: "pads", Type: ir.AttrInts, Ints: []int64{1, 1, 1, 1}}, {Name: "group", Type: ir.AttrInt, I: int64(c.group)}}
			k := bfBuild(t, "", "Conv", attrs, []*tensor.Tensor{x, w, b})
			if ck, ok := k.(*nnConvKernel); !ok || ck.half == nil {
				t.Fatalf("%s: kernel %T did not prepare the constant filter", name, k)
			}
			for _, ctx := range []*Context{nil, {Par: linalgTestPool.For, Threads: 4}} {
				out, err := k.Run(ctx, []*tensor.Tensor{x, w, b})
				if err != nil {
					t.Fatalf("%s: %v", name, err)
				}
				bfCheck(t, name, h, out[0], []int{1, c.cout, n, n}, want, e, false)
			}
			// FusedConv: + Z, then Relu, in float32 and rounded once. Adding
			// Z is one more rounded float32 addition, and Relu is monotone,
			// so the bound carries over with that addition's term.
			z, zv := h.rand(r, 1, c.cout, n, n)
			fwant, fe := make([]float64, len(want)), make([]float64, len(want))
			for i := range want {
				fwant[i] = want[i] + zv[i]
				fe[i] = e[i] + 0x1p-24*1.01*(math.Abs(want[i])+math.Abs(zv[i])+e[i])
			}
			fattrs := append(append([]*ir.Attribute(nil), attrs...), &ir.Attribute{Name: "activation", Type: ir.AttrString, S: []byte("Relu")})
			fk := bfBuild(t, ir.DomainInferd, "FusedConv", fattrs, []*tensor.Tensor{x, w, b, z})
			if ck, ok := fk.(*nnConvKernel); !ok || ck.half == nil {
				t.Fatalf("%s: FusedConv kernel %T did not prepare the constant filter", name, fk)
			}
			for _, ctx := range []*Context{nil, {Par: linalgTestPool.For, Threads: 4}} {
				out, err := fk.Run(ctx, []*tensor.Tensor{x, w, b, z})
				if err != nil {
					t.Fatalf("%s FusedConv: %v", name, err)
				}
				bfCheck(t, name+" FusedConv+Z+Relu", h, out[0], []int{1, c.cout, n, n}, fwant, fe, true)
			}
			if _, err := fk.Run(nil, []*tensor.Tensor{x, w, b, b}); err == nil {
				t.Errorf("%s FusedConv: a Z of the wrong shape was accepted", name)
			}
			if !raceEnabled {
				if got := linalgAllocs(t, "Conv", attrs, []bool{false, true, true}, false, x, w, b); got != 0 {
					t.Errorf("%s: %v allocations per run", name, got)
				}
			}
		}
	}
}

// TestHalfMaxPool checks float16/bfloat16 MaxPool (3×3, stride 2, pad 1,
// the fast float32 kernel behind it) against a direct loop over the
// widened values: the maximum is one of the inputs, so it must be exact.
func TestHalfMaxPool(t *testing.T) {
	r := rand.New(rand.NewSource(9))
	for _, h := range bfTypes {
		const ch, n = 5, 13
		x, xv := h.rand(r, 1, ch, n, n)
		attrs := []*ir.Attribute{{Name: "kernel_shape", Type: ir.AttrInts, Ints: []int64{3, 3}},
			{Name: "strides", Type: ir.AttrInts, Ints: []int64{2, 2}},
			{Name: "pads", Type: ir.AttrInts, Ints: []int64{1, 1, 1, 1}}}
		k := bfBuild(t, "", "MaxPool", attrs, []*tensor.Tensor{x})
		const m = (n+2-3)/2 + 1
		for _, ctx := range []*Context{nil, {Par: linalgTestPool.For, Threads: 4}} {
			out, err := k.Run(ctx, []*tensor.Tensor{x})
			if err != nil {
				t.Fatalf("%v MaxPool: %v", h.dt, err)
			}
			got, _ := Float64s(out[0])
			if out[0].DType != h.dt || !tensor.EqualShapes(out[0].Shape, []int{1, ch, m, m}) {
				t.Fatalf("%v MaxPool: got %v", h.dt, out[0])
			}
			for c := 0; c < ch; c++ {
				for i := 0; i < m; i++ {
					for j := 0; j < m; j++ {
						want := math.Inf(-1)
						for di := 0; di < 3; di++ {
							for dj := 0; dj < 3; dj++ {
								ii, jj := 2*i+di-1, 2*j+dj-1
								if ii >= 0 && jj >= 0 && ii < n && jj < n {
									want = math.Max(want, xv[(c*n+ii)*n+jj])
								}
							}
						}
						if g := got[(c*m+i)*m+j]; g != want {
							t.Fatalf("%v MaxPool [%d,%d,%d] = %v, want %v", h.dt, c, i, j, g, want)
						}
					}
				}
			}
		}
	}
}
