package kernels

import (
	"fmt"
	"math"
	"sync"

	"github.com/inferd/inferd/ir"
	"github.com/inferd/inferd/kernels/im2col"
	"github.com/inferd/inferd/tensor"
)

// Pooling: MaxPool (with Indices), AveragePool, LpPool, their Global
// forms, MaxUnpool and MaxRoiPool. Windowed pools support 1 to 3 spatial
// dimensions, which are handled as 3-D with leading extents of 1.

func init() {
	register("MaxPool", newMaxPool)
	register("AveragePool", newAveragePool)
	register("LpPool", newLpPool)
	register("GlobalAveragePool", newGlobalPool("avg"))
	register("GlobalMaxPool", newGlobalPool("max"))
	register("GlobalLpPool", newGlobalPool("lp"))
	register("MaxUnpool", newMaxUnpool)
	register("MaxRoiPool", newMaxRoiPool)
}

// nnPoolTab describes one spatial dimension of a pooling window: for
// output index o the window's taps j read input coordinate base[o]+j*d, and
// taps in [lo[o], hi[o]) fall inside the input. padCnt[o] counts the taps
// inside the input or the explicit padding (for count_include_pad).
type nnPoolTab struct {
	base, lo, hi, padCnt []int
	d                    int
}

// nnPool3 is a pooling geometry in canonical 3-D form.
type nnPool3 struct {
	in, out   [3]int
	tab       [3]nnPoolTab
	inP, outP int
}

func nnPoolGeom(g *nnGeom) (*nnPool3, error) {
	nd := g.nd()
	if nd < 1 || nd > 3 {
		return nil, fmt.Errorf("pooling over %d spatial dimensions: %w", nd, ErrUnsupported)
	}
	p := &nnPool3{}
	for i := range 3 {
		j := i - (3 - nd)
		if j < 0 {
			p.in[i], p.out[i] = 1, 1
			p.tab[i] = nnPoolTab{base: []int{0}, lo: []int{0}, hi: []int{1}, padCnt: []int{1}, d: 1}
			continue
		}
		p.in[i], p.out[i] = g.in[j], g.out[j]
		t := nnPoolTab{d: g.d[j]}
		for o := 0; o < g.out[j]; o++ {
			b := o*g.s[j] - g.pb[j]
			lo, hi := nnValidRange(g.k[j], g.in[j], g.d[j], b)
			plo, phi := nnValidRange(g.k[j], g.in[j]+g.pe[j]+g.pb[j], g.d[j], b+g.pb[j])
			t.base = append(t.base, b)
			t.lo = append(t.lo, lo)
			t.hi = append(t.hi, hi)
			t.padCnt = append(t.padCnt, phi-plo)
		}
		p.tab[i] = t
	}
	p.inP = p.in[0] * p.in[1] * p.in[2]
	p.outP = p.out[0] * p.out[1] * p.out[2]
	return p, nil
}

// nnPoolAttrs reads the window attributes of a windowed pool; kernel_shape
// is required.
func nnPoolAttrs(a *ir.AttrReader) nnWindow {
	w := nnReadWindow(a, true)
	if w.kernel == nil {
		a.Fail(fmt.Errorf("required attribute %q is missing", "kernel_shape"))
	}
	for _, v := range w.pads {
		if v < 0 {
			a.Fail(fmt.Errorf("pads %v has a negative value", w.pads))
		}
	}
	return w
}

// nnPoolSetup checks X against the window and returns the geometry.
// nnPoolCache keeps a pooling kernel's geometry for the last input shape
// it saw.
type nnPoolCache struct {
	nnShapeCache[nnPoolGeometry]
}

type nnPoolGeometry struct {
	g *nnGeom
	p *nnPool3
}

// setup is nnPoolSetup through the cache. The geometry it returns is
// shared between runs and must not be modified.
func (pc *nnPoolCache) setup(w *nnWindow, xs []int) (*nnGeom, *nnPool3, error) {
	r, err := pc.get(xs, nil, func() (nnPoolGeometry, error) {
		g, p, err := nnPoolSetup(w, xs)
		return nnPoolGeometry{g, p}, err
	})
	return r.g, r.p, err
}

func nnPoolSetup(w *nnWindow, xs []int) (*nnGeom, *nnPool3, error) {
	if len(xs) < 3 {
		return nil, nil, fmt.Errorf("input X has shape %v, want rank ≥ 3 (N, C, spatial...)", xs)
	}
	if len(w.kernel) != len(xs)-2 {
		return nil, nil, fmt.Errorf("kernel_shape %v does not match input X shape %v", w.kernel, xs)
	}
	var g *nnGeom
	var err error
	if w.autoPad == "VALID" && w.ceil {
		// VALID with ceil_mode: ceil((in - ek + 1) / s) windows, the last
		// possibly overhanging the input's end.
		nd := len(xs) - 2
		var s, d, pb, pe []int
		s, d, pb, pe, err = w.resolve(nd, w.kernel)
		if err != nil {
			return nil, nil, err
		}
		g = &nnGeom{in: xs[2:], k: w.kernel, s: s, d: d, pb: pb, pe: pe, out: make([]int, nd)}
		for i := range nd {
			span := xs[2+i] - ((w.kernel[i]-1)*d[i] + 1) + 1
			if span <= 0 {
				return nil, nil, fmt.Errorf("kernel extent is larger than input extent %d in spatial dimension %d", xs[2+i], i)
			}
			g.out[i] = (span + s[i] - 1) / s[i]
		}
	} else if g, err = w.geom(xs[2:], w.kernel); err != nil {
		return nil, nil, err
	}
	p3, err := nnPoolGeom(g)
	return g, p3, err
}

func newMaxPool(b *Build) (any, error) {
	a := b.Attrs()
	w := nnPoolAttrs(a)
	order := a.Int("storage_order", 0)
	if order != 0 && order != 1 {
		a.Fail(fmt.Errorf("storage_order %d is not 0 or 1", order))
	}
	if err := a.Err(); err != nil {
		return nil, err
	}
	wantIdx := len(b.Node.Outputs) > 1 && b.Node.Outputs[1] != ""
	cache := new(nnPoolCache)
	return KernelFunc(func(c *Context, in []*tensor.Tensor) ([]*tensor.Tensor, error) {
		if len(in) < 1 || in[0] == nil {
			return nil, fmt.Errorf("MaxPool needs input X")
		}
		x := in[0]
		g, p, err := cache.setup(&w, x.Shape)
		if err != nil {
			return nil, err
		}
		outShape := nnPoolOutShape(c, x.Shape, g)
		y := c.Alloc(x.DType, outShape...)
		var idx []int64
		var it *tensor.Tensor
		if wantIdx {
			it = c.Alloc(tensor.Int64, outShape...)
			idx = it.Data.([]int64)
		}
		planes := x.Shape[0] * x.Shape[1]
		switch xd := x.Data.(type) {
		case []float32:
			if idx == nil && nnMaxPool2DFast(g) {
				nnMaxPool2DF32(c, g, p, planes, xd, y.Data.([]float32))
				break
			}
			nnMaxPool(c, p, planes, xd, y.Data.([]float32), idx, order == 1, float32(math.Inf(-1)))
		case []float64:
			nnMaxPool(c, p, planes, xd, y.Data.([]float64), idx, order == 1, math.Inf(-1))
		case []int8:
			nnMaxPool(c, p, planes, xd, y.Data.([]int8), idx, order == 1, math.MinInt8)
		case []uint8:
			nnMaxPool(c, p, planes, xd, y.Data.([]uint8), idx, order == 1, 0)
		case []int16:
			nnMaxPool(c, p, planes, xd, y.Data.([]int16), idx, order == 1, math.MinInt16)
		case []int32:
			nnMaxPool(c, p, planes, xd, y.Data.([]int32), idx, order == 1, math.MinInt32)
		case []int64:
			nnMaxPool(c, p, planes, xd, y.Data.([]int64), idx, order == 1, math.MinInt64)
		case []tensor.F16, []tensor.BF16:
			// Widening is exact and the maximum of exact values is one of
			// them, so the float32 kernels give the half-precision result.
			nx, ny := x.Len(), y.Len()
			buf := linalgHalfGet(nx + ny)
			xf, yf := (*buf)[:nx], (*buf)[nx:nx+ny]
			linalgWiden(xf, x)
			if idx == nil && nnMaxPool2DFast(g) {
				nnMaxPool2DF32(c, g, p, planes, xf, yf)
			} else {
				nnMaxPool(c, p, planes, xf, yf, idx, order == 1, float32(math.Inf(-1)))
			}
			nnStoreF32(y, yf)
			linalgHalfPool.Put(buf)
		default:
			return nil, fmt.Errorf("MaxPool of %v: %w", x.DType, ErrUnsupported)
		}
		if it == nil {
			return c.Outs(y), nil
		}
		return c.Outs(y, it), nil
	}), nil
}

// nnMaxPool takes the maximum over each window, recording the flat input
// index of the first maximum in idx (when non-nil); colMajor numbers the
// spatial positions column-major. Windows entirely in padding give lowest.
func nnMaxPool[T tensor.Numeric](c *Context, p *nnPool3, planes int, x, y []T, idx []int64, colMajor bool, lowest T) {
	D, H, W := p.in[0], p.in[1], p.in[2]
	t0, t1, t2 := &p.tab[0], &p.tab[1], &p.tab[2]
	c.Parallel(planes, func(lo, hi int) {
		for pl := lo; pl < hi; pl++ {
			xs := x[pl*p.inP : (pl+1)*p.inP]
			ys := y[pl*p.outP : (pl+1)*p.outP]
			o := 0
			for od := 0; od < p.out[0]; od++ {
				for oh := 0; oh < p.out[1]; oh++ {
					for ow := 0; ow < p.out[2]; ow++ {
						best, bi := lowest, -1
						for jd := t0.lo[od]; jd < t0.hi[od]; jd++ {
							id := t0.base[od] + jd*t0.d
							for jh := t1.lo[oh]; jh < t1.hi[oh]; jh++ {
								ih := t1.base[oh] + jh*t1.d
								row := (id*H + ih) * W
								for jw := t2.lo[ow]; jw < t2.hi[ow]; jw++ {
									i := row + t2.base[ow] + jw*t2.d
									if v := xs[i]; bi < 0 || v > best {
										best, bi = v, i
									}
								}
							}
						}
						ys[o] = best
						if idx != nil {
							if bi >= 0 && colMajor {
								d, h, w := bi/(H*W), bi/W%H, bi%W
								bi = d + D*(h+H*w)
							}
							if bi >= 0 {
								bi += pl * p.inP
							}
							idx[pl*p.outP+o] = int64(bi)
						}
						o++
					}
				}
			}
		}
	})
}

// nnMaxPool2DF32 is nnMaxPool for float32 planes in two dimensions
// without dilation or indices, column stride 1 or 2, in whole-plane
// passes of im2col.MaxRows: the maximum over the window's rows into a
// plane of OH×W, then (with column stride 2 split into its even and odd
// columns, so that every tap reads consecutive floats) over its columns.
// NaNs propagate.
func nnMaxPool2DF32(c *Context, g *nnGeom, p *nnPool3, planes int, x, y []float32) {
	j := nnMaxPoolJobPool.Get().(*nnMaxPoolJob)
	j.g, j.p, j.x, j.y = g, p, x, y
	c.Parallel(planes, j.run)
	j.g, j.p, j.x, j.y = nil, nil, nil, nil
	nnMaxPoolJobPool.Put(j)
}

// nnMaxPool2DFast reports whether nnMaxPool2DF32 takes the geometry.
func nnMaxPool2DFast(g *nnGeom) bool {
	return g.nd() == 2 && g.d[0] == 1 && g.d[1] == 1 && (g.s[1] == 1 || g.s[1] == 2)
}

type nnMaxPoolJob struct {
	g    *nnGeom
	p    *nnPool3
	x, y []float32
	run  func(lo, hi int)
}

var nnMaxPoolJobPool = sync.Pool{New: func() any {
	j := new(nnMaxPoolJob)
	j.run = j.planes
	return j
}}

// planes pools planes [lo, hi); it may run concurrently with itself, so
// its scratch comes from a pool. Each output row (column) starts as a copy
// of the first tap inside the input and takes the maximum with the others,
// each pass over a run of rows (columns) that share the tap.
func (j *nnMaxPoolJob) planes(lo, hi int) {
	g, p := j.g, j.p
	H, W := g.in[0], g.in[1]
	OH, OW := g.out[0], g.out[1]
	sh, sw := g.s[0], g.s[1]
	th, tw := &p.tab[1], &p.tab[2]
	// Even and odd columns for stride 2; for stride 1 the row maxima.
	we, wo := W, 0
	if sw == 2 {
		we, wo = (W+1)/2, W/2
	}
	sc := nnRowScratch.get(OH*W + OH*we + OH*wo)
	v := sc.buf[:OH*W]
	ev, od := sc.buf[OH*W:OH*W+OH*we], sc.buf[OH*W+OH*we:]
	lowest := float32(math.Inf(-1))
	for pl := lo; pl < hi; pl++ {
		xs := j.x[pl*H*W : (pl+1)*H*W]
		ys := j.y[pl*OH*OW : (pl+1)*OH*OW]
		// Rows: v[oh] = max over taps jh of input row sh·oh - pt + jh.
		for a := 0; a < OH; {
			f := th.lo[a]
			b := a + 1
			for b < OH && th.lo[b] == f && (th.hi[b] > f) == (th.hi[a] > f) {
				b++
			}
			if th.hi[a] > f {
				im2col.CopyRows(v[a*W:], W, xs[(th.base[a]+f)*W:], sh*W, b-a, W)
			} else {
				for i := range v[a*W : b*W] {
					v[a*W+i] = lowest
				}
			}
			a = b
		}
		for jh := 1; jh < g.k[0]; jh++ {
			for a := 0; a < OH; a++ {
				if th.lo[a] >= jh || th.hi[a] <= jh {
					continue
				}
				b := a + 1
				for b < OH && th.lo[b] < jh && th.hi[b] > jh {
					b++
				}
				im2col.MaxRows(v[a*W:], W, xs[(th.base[a]+jh)*W:], sh*W, b-a, W)
				a = b
			}
		}
		if sw == 2 {
			if W%2 == 0 {
				im2col.Gather2(ev, v)
				im2col.Gather2(od, v[1:])
			} else {
				for r := 0; r < OH; r++ {
					im2col.Gather2(ev[r*we:(r+1)*we], v[r*W:])
					im2col.Gather2(od[r*wo:(r+1)*wo], v[r*W+1:])
				}
			}
		}
		// Columns: y[·][ow] = max over taps jw of column sw·ow - pl + jw
		// of v, which for stride 2 is column ow + ⌊(jw - pl)/2⌋ of the
		// even or odd plane.
		src := func(jw int) ([]float32, int, int) {
			off := jw - g.pb[1]
			if sw == 1 {
				return v, W, off
			}
			if off&1 != 0 {
				return od, wo, off >> 1
			}
			return ev, we, off >> 1
		}
		for a := 0; a < OW; {
			f := tw.lo[a]
			b := a + 1
			for b < OW && tw.lo[b] == f && (tw.hi[b] > f) == (tw.hi[a] > f) {
				b++
			}
			if tw.hi[a] > f {
				s, lds, d := src(f)
				im2col.CopyRows(ys[a:], OW, s[a+d:], lds, OH, b-a)
			} else {
				for r := 0; r < OH; r++ {
					for i := a; i < b; i++ {
						ys[r*OW+i] = lowest
					}
				}
			}
			a = b
		}
		for jw := 1; jw < g.k[1]; jw++ {
			for a := 0; a < OW; a++ {
				if tw.lo[a] >= jw || tw.hi[a] <= jw {
					continue
				}
				b := a + 1
				for b < OW && tw.lo[b] < jw && tw.hi[b] > jw {
					b++
				}
				s, lds, d := src(jw)
				im2col.MaxRows(ys[a:], OW, s[a+d:], lds, OH, b-a)
				a = b
			}
		}
	}
	nnRowScratch.put(sc)
}

func newAveragePool(b *Build) (any, error) {
	a := b.Attrs()
	w := nnPoolAttrs(a)
	incl := a.Int("count_include_pad", 0) != 0
	if err := a.Err(); err != nil {
		return nil, err
	}
	return nnFloatPool("AveragePool", &w, func(sum float64, n int) float64 { return sum / float64(n) },
		func(v float64) float64 { return v }, incl), nil
}

// nnLpP reads LpPool's p, an int from opset 2 and a float before.
func nnLpP(a *ir.AttrReader, n *ir.Node) float64 {
	if at := n.Attr("p"); at != nil && at.Type == ir.AttrFloat {
		return float64(at.F)
	}
	p := a.Int("p", 2)
	if p <= 0 {
		a.Fail(fmt.Errorf("p %d is not positive", p))
	}
	return float64(p)
}

func nnLpFuncs(p float64) (acc func(float64) float64, fin func(float64, int) float64) {
	switch p {
	case 1:
		return math.Abs, func(s float64, _ int) float64 { return s }
	case 2:
		return func(v float64) float64 { return v * v }, func(s float64, _ int) float64 { return math.Sqrt(s) }
	}
	return func(v float64) float64 { return math.Pow(math.Abs(v), p) },
		func(s float64, _ int) float64 { return math.Pow(s, 1/p) }
}

func newLpPool(b *Build) (any, error) {
	a := b.Attrs()
	w := nnPoolAttrs(a)
	p := nnLpP(a, b.Node)
	if err := a.Err(); err != nil {
		return nil, err
	}
	acc, fin := nnLpFuncs(p)
	return nnFloatPool("LpPool", &w, fin, acc, false), nil
}

// nnFloatPool builds a float pooling kernel: each output is
// fin(Σ acc(x), count) over the window's valid taps, where count is the
// number of valid taps, or with inclPad the taps inside input or padding.
func nnFloatPool(op string, w *nnWindow, fin func(float64, int) float64, acc func(float64) float64, inclPad bool) Kernel {
	cache := new(nnPoolCache)
	return KernelFunc(func(c *Context, in []*tensor.Tensor) ([]*tensor.Tensor, error) {
		if len(in) < 1 || in[0] == nil {
			return nil, fmt.Errorf("%s needs input X", op)
		}
		x := in[0]
		g, p, err := cache.setup(w, x.Shape)
		if err != nil {
			return nil, err
		}
		y := c.Alloc(x.DType, nnPoolOutShape(c, x.Shape, g)...)
		planes := x.Shape[0] * x.Shape[1]
		switch xd := x.Data.(type) {
		case []float32:
			nnSumPool(c, p, planes, xd, y.Data.([]float32), acc, fin, inclPad)
		case []float64:
			nnSumPool(c, p, planes, xd, y.Data.([]float64), acc, fin, inclPad)
		case []tensor.F16, []tensor.BF16:
			xf, _ := Float32s(x)
			yf := make([]float32, y.Len())
			nnSumPool(c, p, planes, xf, yf, acc, fin, inclPad)
			nnStoreF32(y, yf)
		default:
			return nil, fmt.Errorf("%s of %v: %w", op, x.DType, ErrUnsupported)
		}
		return c.Outs(y), nil
	})
}

func nnSumPool[T nnFloat](c *Context, p *nnPool3, planes int, x, y []T, acc func(float64) float64, fin func(float64, int) float64, inclPad bool) {
	H, W := p.in[1], p.in[2]
	t0, t1, t2 := &p.tab[0], &p.tab[1], &p.tab[2]
	ident := acc(2) == 2 && acc(-3) == -3
	c.Parallel(planes, func(lo, hi int) {
		for pl := lo; pl < hi; pl++ {
			xs := x[pl*p.inP : (pl+1)*p.inP]
			ys := y[pl*p.outP : (pl+1)*p.outP]
			o := 0
			for od := 0; od < p.out[0]; od++ {
				for oh := 0; oh < p.out[1]; oh++ {
					for ow := 0; ow < p.out[2]; ow++ {
						sum := 0.0
						for jd := t0.lo[od]; jd < t0.hi[od]; jd++ {
							id := t0.base[od] + jd*t0.d
							for jh := t1.lo[oh]; jh < t1.hi[oh]; jh++ {
								ih := t1.base[oh] + jh*t1.d
								row := (id*H+ih)*W + t2.base[ow]
								if ident {
									for jw := t2.lo[ow]; jw < t2.hi[ow]; jw++ {
										sum += float64(xs[row+jw*t2.d])
									}
								} else {
									for jw := t2.lo[ow]; jw < t2.hi[ow]; jw++ {
										sum += acc(float64(xs[row+jw*t2.d]))
									}
								}
							}
						}
						var n int
						if inclPad {
							n = t0.padCnt[od] * t1.padCnt[oh] * t2.padCnt[ow]
						} else {
							n = (t0.hi[od] - t0.lo[od]) * (t1.hi[oh] - t1.lo[oh]) * (t2.hi[ow] - t2.lo[ow])
						}
						if n == 0 {
							ys[o] = 0
						} else {
							ys[o] = T(fin(sum, n))
						}
						o++
					}
				}
			}
		}
	})
}

func newGlobalPool(kind string) Factory {
	return func(b *Build) (any, error) {
		a := b.Attrs()
		var acc func(float64) float64
		var fin func(float64, int) float64
		switch kind {
		case "avg":
			acc = func(v float64) float64 { return v }
			fin = func(s float64, n int) float64 { return s / float64(n) }
		case "lp":
			acc, fin = nnLpFuncs(nnLpP(a, b.Node))
		}
		if err := a.Err(); err != nil {
			return nil, err
		}
		return KernelFunc(func(c *Context, in []*tensor.Tensor) ([]*tensor.Tensor, error) {
			if len(in) < 1 || in[0] == nil {
				return nil, fmt.Errorf("global pooling needs input X")
			}
			x := in[0]
			if x.Rank() < 3 {
				return nil, fmt.Errorf("input X has shape %v, want rank ≥ 3 (N, C, spatial...)", x.Shape)
			}
			outShape := c.Ints(x.Rank())
			outShape[0], outShape[1] = x.Shape[0], x.Shape[1]
			for i := 2; i < len(outShape); i++ {
				outShape[i] = 1
			}
			y := c.Alloc(x.DType, outShape...)
			planes := x.Shape[0] * x.Shape[1]
			size := nnProd(x.Shape[2:])
			if kind == "max" {
				switch xd := x.Data.(type) {
				case []float32:
					nnGlobalMax(c, planes, size, xd, y.Data.([]float32))
				case []float64:
					nnGlobalMax(c, planes, size, xd, y.Data.([]float64))
				case []tensor.F16, []tensor.BF16:
					xf, _ := Float32s(x)
					yf := make([]float32, planes)
					nnGlobalMax(c, planes, size, xf, yf)
					nnStoreF32(y, yf)
				default:
					return nil, fmt.Errorf("GlobalMaxPool of %v: %w", x.DType, ErrUnsupported)
				}
				return c.Outs(y), nil
			}
			switch xd := x.Data.(type) {
			case []float32:
				nnGlobalSum(c, planes, size, xd, y.Data.([]float32), acc, fin)
			case []float64:
				nnGlobalSum(c, planes, size, xd, y.Data.([]float64), acc, fin)
			case []tensor.F16, []tensor.BF16:
				xf, _ := Float32s(x)
				yf := make([]float32, planes)
				nnGlobalSum(c, planes, size, xf, yf, acc, fin)
				nnStoreF32(y, yf)
			default:
				return nil, fmt.Errorf("global pooling of %v: %w", x.DType, ErrUnsupported)
			}
			return c.Outs(y), nil
		}), nil
	}
}

func nnGlobalMax[T nnFloat](c *Context, planes, size int, x, y []T) {
	c.Parallel(planes, func(lo, hi int) {
		for p := lo; p < hi; p++ {
			s := x[p*size : (p+1)*size]
			if len(s) == 0 {
				y[p] = T(math.Inf(-1))
				continue
			}
			m := s[0]
			for _, v := range s[1:] {
				if v > m {
					m = v
				}
			}
			y[p] = m
		}
	})
}

func nnGlobalSum[T nnFloat](c *Context, planes, size int, x, y []T, acc func(float64) float64, fin func(float64, int) float64) {
	ident := acc(2) == 2 && acc(-3) == -3
	if planes*size < nnGlobalParMin {
		nnGlobalSumRange(x, y, size, 0, planes, ident, acc, fin)
		return
	}
	t, _ := nnGlobalSumTasks.Get().(*nnGlobalSumTask[T])
	if t == nil {
		t = new(nnGlobalSumTask[T])
	}
	*t = nnGlobalSumTask[T]{x: x, y: y, size: size, ident: ident, acc: acc, fin: fin}
	c.ParallelTask(planes, t)
	*t = nnGlobalSumTask[T]{}
	nnGlobalSumTasks.Put(t)
}

// nnGlobalSumTask is one parallel global sum, a reusable task so that the
// split allocates nothing per run.
type nnGlobalSumTask[T nnFloat] struct {
	x, y  []T
	size  int
	ident bool
	acc   func(float64) float64
	fin   func(float64, int) float64
}

func (t *nnGlobalSumTask[T]) Run(lo, hi int) {
	nnGlobalSumRange(t.x, t.y, t.size, lo, hi, t.ident, t.acc, t.fin)
}

// nnGlobalSumTasks holds idle *nnGlobalSumTask values of either float type.
var nnGlobalSumTasks sync.Pool

// nnGlobalParMin is the input size from which global pooling is split
// across threads (below it, the hand-off costs more than the sum).
const nnGlobalParMin = 1 << 15

func nnGlobalSumRange[T nnFloat](x, y []T, size, lo, hi int, ident bool, acc func(float64) float64, fin func(float64, int) float64) {
	for p := lo; p < hi; p++ {
		s := x[p*size : (p+1)*size]
		sum := 0.0
		if ident {
			for _, v := range s {
				sum += float64(v)
			}
		} else {
			for _, v := range s {
				sum += acc(float64(v))
			}
		}
		if size == 0 {
			y[p] = 0
			continue
		}
		y[p] = T(fin(sum, size))
	}
}

// MaxUnpool scatters X into a zero tensor at the flat positions I. As in
// the ONNX reference, indices address the inferred output shape
// ((in-1)*stride + kernel - pads); an output_shape input then crops or
// zero-extends that result.
func newMaxUnpool(b *Build) (any, error) {
	a := b.Attrs()
	w := nnPoolAttrs(a)
	if err := a.Err(); err != nil {
		return nil, err
	}
	return KernelFunc(func(c *Context, in []*tensor.Tensor) ([]*tensor.Tensor, error) {
		if len(in) < 2 || in[0] == nil || in[1] == nil {
			return nil, fmt.Errorf("MaxUnpool needs inputs X and I")
		}
		x, ind := in[0], in[1]
		if x.Rank() < 3 || len(w.kernel) != x.Rank()-2 {
			return nil, fmt.Errorf("input X has shape %v, want rank %d (N, C and kernel_shape %v)", x.Shape, len(w.kernel)+2, w.kernel)
		}
		if !tensor.EqualShapes(ind.Shape, x.Shape) {
			return nil, fmt.Errorf("indices I have shape %v, want X's shape %v", ind.Shape, x.Shape)
		}
		nd := x.Rank() - 2
		s, _, pb, pe, err := w.resolve(nd, w.kernel)
		if err != nil {
			return nil, err
		}
		inferred := []int{x.Shape[0], x.Shape[1]}
		for i := range nd {
			v := (x.Shape[2+i]-1)*s[i] + w.kernel[i] - pb[i] - pe[i]
			if v < 0 {
				return nil, fmt.Errorf("output spatial dimension %d would be %d", i, v)
			}
			inferred = append(inferred, v)
		}
		outShape := inferred
		if len(in) > 2 && in[2] != nil {
			os, err := Int64s(in[2])
			if err != nil {
				return nil, fmt.Errorf("output_shape: %w", err)
			}
			if len(os) != x.Rank() {
				return nil, fmt.Errorf("output_shape %v does not have rank %d", os, x.Rank())
			}
			outShape = make([]int, len(os))
			for i, v := range os {
				if v < 0 {
					return nil, fmt.Errorf("output_shape %v has a negative dimension", os)
				}
				outShape[i] = int(v)
			}
		}
		idx, err := Int64s(ind)
		if err != nil {
			return nil, fmt.Errorf("indices I: %w", err)
		}
		y := c.Alloc(x.DType, outShape...)
		total := nnProd(inferred)
		same := tensor.EqualShapes(outShape, inferred)
		inStr, outStr := tensor.Strides(inferred), tensor.Strides(outShape)
		for j, v := range idx {
			if v < 0 || v >= int64(total) {
				return nil, fmt.Errorf("index %d at position %d is outside the output of %d elements", v, j, total)
			}
			dst := int(v)
			if !same {
				rem, off, ok := dst, 0, true
				for a := range inferred {
					q := rem / inStr[a]
					rem %= inStr[a]
					if q >= outShape[a] {
						ok = false
						break
					}
					off += q * outStr[a]
				}
				if !ok {
					continue
				}
				dst = off
			}
			nnCopyElem(y.Data, dst, x.Data, j)
		}
		return c.Outs(y), nil
	}), nil
}

// nnCopyElem sets dst[i] = src[j] for storage slices of the same type.
func nnCopyElem(dst any, i int, src any, j int) {
	switch d := dst.(type) {
	case []float32:
		d[i] = src.([]float32)[j]
	case []float64:
		d[i] = src.([]float64)[j]
	case []tensor.F16:
		d[i] = src.([]tensor.F16)[j]
	case []tensor.BF16:
		d[i] = src.([]tensor.BF16)[j]
	case []int8:
		d[i] = src.([]int8)[j]
	case []int16:
		d[i] = src.([]int16)[j]
	case []int32:
		d[i] = src.([]int32)[j]
	case []int64:
		d[i] = src.([]int64)[j]
	case []uint8:
		d[i] = src.([]uint8)[j]
	case []uint16:
		d[i] = src.([]uint16)[j]
	case []uint32:
		d[i] = src.([]uint32)[j]
	case []uint64:
		d[i] = src.([]uint64)[j]
	case []bool:
		d[i] = src.([]bool)[j]
	case []string:
		d[i] = src.([]string)[j]
	}
}

// MaxRoiPool: Caffe/Fast R-CNN RoI max pooling. Each RoI [batch, x1, y1,
// x2, y2] is scaled and rounded to pixels, split into pooled_shape bins, and
// each bin takes the max of its pixels (0 for an empty bin).
func newMaxRoiPool(b *Build) (any, error) {
	a := b.Attrs()
	pooled := nnInts(a.Ints("pooled_shape", nil))
	scale := float64(a.Float("spatial_scale", 1))
	if len(pooled) != 2 || pooled[0] <= 0 || pooled[1] <= 0 {
		a.Fail(fmt.Errorf("pooled_shape %v, want two positive values", pooled))
	}
	if err := a.Err(); err != nil {
		return nil, err
	}
	return KernelFunc(func(c *Context, in []*tensor.Tensor) ([]*tensor.Tensor, error) {
		if len(in) < 2 || in[0] == nil || in[1] == nil {
			return nil, fmt.Errorf("MaxRoiPool needs inputs X and rois")
		}
		x, rois := in[0], in[1]
		if x.Rank() != 4 {
			return nil, fmt.Errorf("input X has shape %v, want rank 4", x.Shape)
		}
		if rois.Rank() != 2 || rois.Shape[1] != 5 {
			return nil, fmt.Errorf("rois has shape %v, want [num_rois, 5]", rois.Shape)
		}
		xf, err := Float64s(x)
		if err != nil || !x.DType.IsFloat() {
			return nil, fmt.Errorf("MaxRoiPool of %v: %w", x.DType, ErrUnsupported)
		}
		rv, err := Float64s(rois)
		if err != nil {
			return nil, err
		}
		N, C, H, W := x.Shape[0], x.Shape[1], x.Shape[2], x.Shape[3]
		R, PH, PW := rois.Shape[0], pooled[0], pooled[1]
		out := make([]float64, R*C*PH*PW)
		for r := 0; r < R; r++ {
			roi := rv[r*5 : r*5+5]
			bi := int(roi[0])
			if bi < 0 || bi >= N {
				return nil, fmt.Errorf("roi %d has batch index %v, want [0, %d)", r, roi[0], N)
			}
			sw, sh := int(math.Round(roi[1]*scale)), int(math.Round(roi[2]*scale))
			ew, eh := int(math.Round(roi[3]*scale)), int(math.Round(roi[4]*scale))
			rh, rw := max(eh-sh+1, 1), max(ew-sw+1, 1)
			bh, bw := float64(rh)/float64(PH), float64(rw)/float64(PW)
			for ch := 0; ch < C; ch++ {
				plane := xf[(bi*C+ch)*H*W : (bi*C+ch+1)*H*W]
				for ph := 0; ph < PH; ph++ {
					h0 := min(max(int(math.Floor(float64(ph)*bh))+sh, 0), H)
					h1 := min(max(int(math.Ceil(float64(ph+1)*bh))+sh, 0), H)
					for pw := 0; pw < PW; pw++ {
						w0 := min(max(int(math.Floor(float64(pw)*bw))+sw, 0), W)
						w1 := min(max(int(math.Ceil(float64(pw+1)*bw))+sw, 0), W)
						m, any := 0.0, false
						for h := h0; h < h1; h++ {
							for w := w0; w < w1; w++ {
								if v := plane[h*W+w]; !any || v > m {
									m, any = v, true
								}
							}
						}
						out[((r*C+ch)*PH+ph)*PW+pw] = m
					}
				}
			}
		}
		y, err := FromFloat64s(x.DType, []int{R, C, PH, PW}, out)
		if err != nil {
			return nil, err
		}
		return c.Outs(y), nil
	}), nil
}

// nnPoolOutShape is [N, C, out...] in the run's scratch.
func nnPoolOutShape(c *Context, xs []int, g *nnGeom) []int {
	s := c.Ints(2 + len(g.out))
	s[0], s[1] = xs[0], xs[1]
	copy(s[2:], g.out)
	return s
}
