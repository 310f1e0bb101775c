package kernels

import (
	"fmt"
	"math"

	"github.com/inferd/inferd/tensor"
)

// GridSample (opset 16: 4-D, modes bilinear/nearest/bicubic; opset 20: N-D,
// modes linear/nearest/cubic; both spellings are accepted at any opset)
// with zeros, border and reflection padding, following PyTorch's
// grid_sample as the ONNX reference does.

func init() {
	register("GridSample", newGridSample)
}

func newGridSample(b *Build) (any, error) {
	a := b.Attrs()
	defMode := "linear"
	if b.Opset < 20 {
		defMode = "bilinear"
	}
	mode := a.String("mode", defMode)
	pad := a.String("padding_mode", "zeros")
	align := a.Int("align_corners", 0) != 0
	switch mode {
	case "bilinear":
		mode = "linear"
	case "bicubic":
		mode = "cubic"
	case "linear", "nearest", "cubic":
	default:
		a.Fail(fmt.Errorf("mode %q is not linear, nearest or cubic", mode))
	}
	switch pad {
	case "zeros", "border", "reflection":
	default:
		a.Fail(fmt.Errorf("padding_mode %q is not zeros, border or reflection", pad))
	}
	if err := a.Err(); err != nil {
		return nil, err
	}
	return KernelFunc(func(c *Context, in []*tensor.Tensor) ([]*tensor.Tensor, error) {
		if len(in) < 2 || in[0] == nil || in[1] == nil {
			return nil, fmt.Errorf("GridSample needs inputs X and grid")
		}
		x, grid := in[0], in[1]
		if x.Rank() < 3 {
			return nil, fmt.Errorf("input X has shape %v, want rank ≥ 3", x.Shape)
		}
		r := x.Rank() - 2
		if grid.Rank() != r+2 || grid.Shape[0] != x.Shape[0] || grid.Shape[r+1] != r {
			return nil, fmt.Errorf("grid has shape %v, want [%d, out..., %d] for X %v", grid.Shape, x.Shape[0], r, x.Shape)
		}
		if !x.DType.IsFloat() && !x.DType.IsInt() {
			return nil, fmt.Errorf("GridSample of %v: %w", x.DType, ErrUnsupported)
		}
		xv, err := Float64s(x)
		if err != nil {
			return nil, err
		}
		gv, err := Float64s(grid)
		if err != nil {
			return nil, fmt.Errorf("grid: %w", err)
		}
		N, C := x.Shape[0], x.Shape[1]
		dims := x.Shape[2:]
		outSp := grid.Shape[1 : r+1]
		P, inP := nnProd(outSp), nnProd(dims)
		out := make([]float64, N*C*P)
		gs := &nnGridSampler{dims: dims, strides: tensor.Strides(dims), mode: mode, pad: pad, align: align}
		c.Parallel(N*P, func(lo, hi int) {
			tp := gs.newTaps()
			for np := lo; np < hi; np++ {
				n, p := np/P, np%P
				gs.taps(gv[np*r:(np+1)*r], tp)
				xs := xv[n*C*inP : (n+1)*C*inP]
				for ch := 0; ch < C; ch++ {
					out[(n*C+ch)*P+p] = tp.apply(xs[ch*inP : (ch+1)*inP])
				}
			}
		})
		y := c.Alloc(x.DType, append([]int{N, C}, outSp...)...)
		if x.DType.IsInt() {
			// Integer outputs are cast from the float result (toward zero).
			for i, v := range out {
				out[i] = math.Trunc(v)
			}
		}
		nnStoreRounded(y, out)
		return c.Outs(y), nil
	}), nil
}

type nnGridSampler struct {
	dims, strides []int
	mode, pad     string
	align         bool
}

// nnGridTaps is the sampling of one output point: per spatial dimension,
// the input indices (-1: zero padding) and weights of its taps.
type nnGridTaps struct {
	n    int // taps per dimension
	idx  [][]int
	w    [][]float64
	strd []int
	cnt  []int
}

func (g *nnGridSampler) newTaps() *nnGridTaps {
	n := map[string]int{"nearest": 1, "linear": 2, "cubic": 4}[g.mode]
	t := &nnGridTaps{n: n, strd: g.strides, cnt: make([]int, len(g.dims))}
	for range g.dims {
		t.idx = append(t.idx, make([]int, n))
		t.w = append(t.w, make([]float64, n))
	}
	return t
}

func (g *nnGridSampler) bounds(d int) (lo, hi float64) {
	if g.align {
		return 0, float64(d - 1)
	}
	return -0.5, float64(d) - 0.5
}

// nnReflect folds x into [lo, hi] by repeated reflection at the borders.
func nnReflect(x, lo, hi float64) float64 {
	rng := hi - lo
	if rng <= 0 {
		return lo
	}
	if x < lo {
		dx := lo - x
		n := math.Floor(dx / rng)
		r := dx - n*rng
		if math.Mod(n, 2) == 0 {
			return lo + r
		}
		return hi - r
	}
	if x > hi {
		dx := x - hi
		n := math.Floor(dx / rng)
		r := dx - n*rng
		if math.Mod(n, 2) == 0 {
			return hi - r
		}
		return lo + r
	}
	return x
}

// index resolves an integer tap index along dimension i per padding mode
// (-1 for a zero).
func (g *nnGridSampler) index(i, v int) int {
	d := g.dims[i]
	switch g.pad {
	case "border":
		return min(max(v, 0), d-1)
	case "reflection":
		if v < 0 || v >= d {
			lo, hi := g.bounds(d)
			v = int(nnReflect(float64(v), lo, hi))
			return min(max(v, 0), d-1)
		}
		return v
	}
	if v < 0 || v >= d {
		return -1
	}
	return v
}

// taps fills t for the normalized grid point gp (innermost dimension first).
func (g *nnGridSampler) taps(gp []float64, t *nnGridTaps) {
	r := len(g.dims)
	for i := range r {
		d := g.dims[i]
		nv := gp[r-1-i]
		var x float64
		if g.align {
			x = (nv + 1) / 2 * float64(d-1)
		} else {
			x = ((nv+1)*float64(d) - 1) / 2
		}
		if g.mode == "nearest" {
			x = math.RoundToEven(x)
		}
		if lo, hi := g.bounds(d); x < lo || x > hi {
			switch g.pad {
			case "border":
				x = min(max(x, 0), float64(d-1))
			case "reflection":
				x = nnReflect(x, lo, hi)
			}
		}
		idx, w := t.idx[i], t.w[i]
		switch g.mode {
		case "nearest":
			idx[0], w[0] = g.index(i, int(x)), 1
		case "linear":
			x0 := math.Floor(x)
			f := x - x0
			idx[0], w[0] = g.index(i, int(x0)), 1-f
			idx[1], w[1] = g.index(i, int(x0)+1), f
		case "cubic":
			x0 := math.Floor(x)
			f := x - x0
			const A = -0.75
			k1 := func(s float64) float64 { return ((A+2)*s-(A+3))*s*s + 1 }
			k2 := func(s float64) float64 { return ((A*s-5*A)*s+8*A)*s - 4*A }
			w[0], w[1], w[2], w[3] = k2(f+1), k1(f), k1(1-f), k2(2-f)
			for j := range 4 {
				idx[j] = g.index(i, int(x0)+j-1)
			}
		}
	}
}

// apply returns Σ Π w · x over the tap product (taps at -1 read zero).
func (t *nnGridTaps) apply(x []float64) float64 {
	r := len(t.idx)
	cnt := t.cnt
	clear(cnt)
	sum := 0.0
	for {
		off, w := 0, 1.0
		for i := 0; i < r; i++ {
			j := t.idx[i][cnt[i]]
			if j < 0 {
				w = 0
				break
			}
			off += j * t.strd[i]
			w *= t.w[i][cnt[i]]
		}
		if w != 0 {
			sum += w * x[off]
		}
		i := r - 1
		for ; i >= 0; i-- {
			cnt[i]++
			if cnt[i] < t.n {
				break
			}
			cnt[i] = 0
		}
		if i < 0 {
			return sum
		}
	}
}
