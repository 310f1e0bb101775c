package kernels

import (
	"fmt"
	"math"

	"github.com/inferd/inferd/kernels/vec"
	"github.com/inferd/inferd/tensor"
)

// Normalizations: BatchNormalization, InstanceNormalization,
// LayerNormalization, GroupNormalization, LpNormalization, LRN and
// MeanVarianceNormalization. Data is processed as float32 (float16 and
// bfloat16 are widened) or float64; means and variances are accumulated in
// float64.

func init() {
	register("BatchNormalization", newBatchNormalization)
	register("InstanceNormalization", newInstanceNormalization)
	register("LayerNormalization", newLayerNormalization)
	register("GroupNormalization", newGroupNormalization)
	register("LpNormalization", newLpNormalization)
	register("LRN", newLRN)
	register("MeanVarianceNormalization", newMeanVarianceNormalization)
}

// linalgFloatMap runs f32 or f64 over x's data into a new tensor of x's
// type and shape; float16 and bfloat16 go through float32.
func linalgFloatMap(c *Context, op string, x *tensor.Tensor, f32 func(x, y []float32), f64 func(x, y []float64)) (*tensor.Tensor, error) {
	y := c.AllocRaw(x.DType, x.Shape...) // f32 and f64 write every element
	switch xv := x.Data.(type) {
	case []float32:
		f32(xv, y.Data.([]float32))
	case []float64:
		f64(xv, y.Data.([]float64))
	case []tensor.F16, []tensor.BF16:
		xf, _ := Float32s(x)
		yf := make([]float32, len(xf))
		f32(xf, yf)
		linalgStoreF32(y, yf)
	default:
		return nil, fmt.Errorf("%s of %v: %w", op, x.DType, ErrUnsupported)
	}
	return y, nil
}

// linalgParam reads a float parameter tensor (scale, bias, mean, ...) as
// float64 values.
func linalgParam(op, name string, t *tensor.Tensor) ([]float64, error) {
	if t == nil {
		return nil, fmt.Errorf("%s needs input %s", op, name)
	}
	if !t.DType.IsFloat() {
		return nil, fmt.Errorf("%s input %s is %v, want a float type", op, name, t.DType)
	}
	v, err := Float64s(t)
	if err != nil {
		return nil, fmt.Errorf("%s input %s: %w", op, name, err)
	}
	return v, nil
}

// linalgMeanVar returns the mean and population variance of x, with a
// two-pass float64 variance.
func linalgMeanVar[T float32 | float64](x []T) (mean, variance float64) {
	if len(x) == 0 {
		return 0, 0
	}
	s := 0.0
	for _, v := range x {
		s += float64(v)
	}
	mean = s / float64(len(x))
	q := 0.0
	for _, v := range x {
		d := float64(v) - mean
		q += d * d
	}
	return mean, q / float64(len(x))
}

// ---- BatchNormalization ----

func newBatchNormalization(b *Build) (any, error) {
	a := b.Attrs()
	eps := float64(a.Float("epsilon", 1e-5))
	momentum := float64(a.Float("momentum", 0.9))
	training := false
	if b.Opset >= 14 {
		training = a.Int("training_mode", 0) != 0
	}
	if err := a.Err(); err != nil {
		return nil, err
	}
	extra := false
	for _, o := range b.Node.Outputs[min(1, len(b.Node.Outputs)):] {
		if o != "" {
			extra = true
		}
	}
	if extra && !training {
		if b.Opset >= 14 {
			return nil, fmt.Errorf("BatchNormalization has running mean/var outputs but training_mode is 0")
		}
		return nil, fmt.Errorf("BatchNormalization-%d training outputs (mean, var, saved_mean, saved_var): %w", b.Opset, ErrUnsupported)
	}
	perElem := b.Opset < 9 // spatial=0 allowed: parameters per (C, D1, ..., Dn)
	return KernelFunc(func(c *Context, in []*tensor.Tensor) ([]*tensor.Tensor, error) {
		if len(in) < 5 || in[0] == nil {
			return nil, fmt.Errorf("BatchNormalization needs inputs X, scale, B, mean, var")
		}
		x := in[0]
		var scale, bias, mean, vr []float64
		var err error
		for i, p := range []*[]float64{&scale, &bias, &mean, &vr} {
			if *p, err = linalgParam("BatchNormalization", []string{"scale", "B", "mean", "var"}[i], in[1+i]); err != nil {
				return nil, err
			}
		}
		n, ch, sp := 1, 1, 1
		switch {
		case x.Rank() == 0:
			return nil, fmt.Errorf("BatchNormalization input X is a scalar")
		case x.Rank() == 1:
			sp = x.Shape[0]
		default:
			n, ch, sp = x.Shape[0], x.Shape[1], tensor.NumElements(x.Shape[2:])
		}
		groups, inner := ch, sp // parameters index [groups] per run of inner
		for _, p := range [][]float64{scale, bias, mean, vr} {
			switch {
			case len(p) == ch:
			case perElem && !training && len(p) == ch*sp:
				groups, inner = ch*sp, 1
			default:
				return nil, fmt.Errorf("BatchNormalization parameters have %d elements for input %v, want %d", len(p), x, ch)
			}
		}
		for _, p := range [][]float64{scale, bias, mean, vr} {
			if len(p) != groups {
				return nil, fmt.Errorf("BatchNormalization parameters have mixed sizes for input %v", x)
			}
		}
		var runMean, runVar []float64
		if training {
			bm, bv := linalgBatchStats(x, n, ch, sp)
			runMean, runVar = make([]float64, ch), make([]float64, ch)
			for i := range bm {
				runMean[i] = mean[i]*momentum + bm[i]*(1-momentum)
				runVar[i] = vr[i]*momentum + bv[i]*(1-momentum)
			}
			mean, vr = bm, bv
		}
		mul, add := make([]float64, groups), make([]float64, groups)
		for i := range mul {
			mul[i] = scale[i] / math.Sqrt(vr[i]+eps)
			add[i] = bias[i] - mean[i]*mul[i]
		}
		y, err := linalgFloatMap(c, "BatchNormalization", x,
			func(x, y []float32) { linalgAffine(c, x, y, n, groups, inner, mul, add) },
			func(x, y []float64) { linalgAffine(c, x, y, n, groups, inner, mul, add) })
		if err != nil {
			return nil, err
		}
		if !training {
			return c.Outs(y), nil
		}
		mt := in[3].DType
		rm, err := FromFloat64s(mt, []int{ch}, runMean)
		if err != nil {
			return nil, err
		}
		rv, err := FromFloat64s(in[4].DType, []int{ch}, runVar)
		if err != nil {
			return nil, err
		}
		return c.Outs(y, rm, rv), nil
	}), nil
}

// linalgBatchStats returns per-channel mean and population variance of x
// seen as [n, ch, sp].
func linalgBatchStats(x *tensor.Tensor, n, ch, sp int) (mean, variance []float64) {
	xv, _ := Float64s(x)
	mean, variance = make([]float64, ch), make([]float64, ch)
	cnt := float64(n * sp)
	for c := 0; c < ch; c++ {
		s := 0.0
		for b := 0; b < n; b++ {
			for _, v := range xv[(b*ch+c)*sp : (b*ch+c+1)*sp] {
				s += v
			}
		}
		m := s / cnt
		q := 0.0
		for b := 0; b < n; b++ {
			for _, v := range xv[(b*ch+c)*sp : (b*ch+c+1)*sp] {
				q += (v - m) * (v - m)
			}
		}
		mean[c], variance[c] = m, q/cnt
	}
	return mean, variance
}

// linalgAffine computes y = x·mul[g] + add[g] for x seen as
// [n, groups, inner].
func linalgAffine[T float32 | float64](c *Context, x, y []T, n, groups, inner int, mul, add []float64) {
	c.Parallel(n*groups, func(lo, hi int) {
		for t := lo; t < hi; t++ {
			g := t % groups
			m, a := T(mul[g]), T(add[g])
			xs, ys := x[t*inner:(t+1)*inner], y[t*inner:(t+1)*inner]
			ys = ys[:len(xs)]
			for i, v := range xs {
				ys[i] = v*m + a
			}
		}
	})
}

// ---- InstanceNormalization and GroupNormalization ----

func newInstanceNormalization(b *Build) (any, error) {
	a := b.Attrs()
	eps := float64(a.Float("epsilon", 1e-5))
	if err := a.Err(); err != nil {
		return nil, err
	}
	return KernelFunc(func(c *Context, in []*tensor.Tensor) ([]*tensor.Tensor, error) {
		if len(in) < 3 || in[0] == nil {
			return nil, fmt.Errorf("InstanceNormalization needs inputs input, scale, B")
		}
		x := in[0]
		if x.Rank() < 2 {
			return nil, fmt.Errorf("InstanceNormalization input %v has rank < 2", x)
		}
		ch := x.Shape[1]
		return linalgGroupNorm(c, "InstanceNormalization", x, in[1], in[2], ch, eps)
	}), nil
}

func newGroupNormalization(b *Build) (any, error) {
	a := b.Attrs()
	eps := float64(a.Float("epsilon", 1e-5))
	groups := a.RequireInt("num_groups")
	if err := a.Err(); err != nil {
		return nil, err
	}
	if groups <= 0 {
		return nil, fmt.Errorf("GroupNormalization num_groups is %d, want > 0", groups)
	}
	return KernelFunc(func(c *Context, in []*tensor.Tensor) ([]*tensor.Tensor, error) {
		if len(in) < 3 || in[0] == nil {
			return nil, fmt.Errorf("GroupNormalization needs inputs X, scale, bias")
		}
		return linalgGroupNorm(c, "GroupNormalization", in[0], in[1], in[2], int(groups), eps)
	}), nil
}

// linalgGroupNorm normalizes x [N, C, D...] over each group of C/groups
// channels and the spatial dimensions, then applies scale and bias given
// per channel (length C) or per group (length groups, GroupNormalization-18).
func linalgGroupNorm(c *Context, op string, x, st, bt *tensor.Tensor, groups int, eps float64) ([]*tensor.Tensor, error) {
	if x.Rank() < 2 {
		return nil, fmt.Errorf("%s input %v has rank < 2", op, x)
	}
	n, ch, sp := x.Shape[0], x.Shape[1], tensor.NumElements(x.Shape[2:])
	if ch%groups != 0 {
		return nil, fmt.Errorf("%s: %d channels do not split into %d groups", op, ch, groups)
	}
	scale, err := linalgParam(op, "scale", st)
	if err != nil {
		return nil, err
	}
	bias, err := linalgParam(op, "bias", bt)
	if err != nil {
		return nil, err
	}
	cpg := ch / groups
	if len(scale) != len(bias) || (len(scale) != ch && len(scale) != groups) {
		return nil, fmt.Errorf("%s scale and bias have %d and %d elements, want %d", op, len(scale), len(bias), ch)
	}
	if len(scale) != ch { // per group: repeat for each channel
		s2, b2 := make([]float64, ch), make([]float64, ch)
		for i := range s2 {
			s2[i], b2[i] = scale[i/cpg], bias[i/cpg]
		}
		scale, bias = s2, b2
	}
	y, err := linalgFloatMap(c, op, x,
		func(x, y []float32) { linalgGroupNormRun(c, x, y, n*groups, cpg, sp, eps, scale, bias) },
		func(x, y []float64) { linalgGroupNormRun(c, x, y, n*groups, cpg, sp, eps, scale, bias) })
	if err != nil {
		return nil, err
	}
	return c.Outs(y), nil
}

// linalgGroupNormRun normalizes each of the units blocks of cpg·sp
// values; channel c of a block uses scale[c] and bias[c] (c taken modulo
// the channel count).
func linalgGroupNormRun[T float32 | float64](c *Context, x, y []T, units, cpg, sp int, eps float64, scale, bias []float64) {
	size := cpg * sp
	ch := len(scale)
	c.Parallel(units, func(lo, hi int) {
		for u := lo; u < hi; u++ {
			xs := x[u*size : (u+1)*size]
			mean, variance := linalgMeanVar(xs)
			inv := 1 / math.Sqrt(variance+eps)
			for k := 0; k < cpg; k++ {
				ci := (u*cpg + k) % ch
				m := scale[ci] * inv
				a := bias[ci] - mean*m
				xr := xs[k*sp : (k+1)*sp]
				yr := y[u*size+k*sp : u*size+(k+1)*sp]
				yr = yr[:len(xr)]
				for i, v := range xr {
					yr[i] = T(float64(v)*m + a)
				}
			}
		}
	})
}

// ---- LayerNormalization ----

func newLayerNormalization(b *Build) (any, error) {
	a := b.Attrs()
	axis := a.Int("axis", -1)
	eps := float64(a.Float("epsilon", 1e-5))
	stash := tensor.DType(a.Int("stash_type", 1))
	if err := a.Err(); err != nil {
		return nil, err
	}
	// Mean and InvStdDev have the stash type, unless the model declares them.
	statType := [2]tensor.DType{stash, stash}
	for i := range statType {
		if 1+i < len(b.OutputTypes) && b.OutputTypes[1+i].DType.IsFloat() {
			statType[i] = b.OutputTypes[1+i].DType
		}
		switch statType[i] {
		case tensor.Float32, tensor.Float64, tensor.Float16, tensor.BFloat16:
		default:
			return nil, fmt.Errorf("LayerNormalization stash_type %v: %w", statType[i], ErrUnsupported)
		}
	}
	general := KernelFunc(func(c *Context, in []*tensor.Tensor) ([]*tensor.Tensor, error) {
		if len(in) < 2 || in[0] == nil || in[1] == nil {
			return nil, fmt.Errorf("LayerNormalization needs inputs X and Scale")
		}
		x := in[0]
		r := x.Rank()
		ax, err := NormAxis(axis, r)
		if err != nil {
			return nil, fmt.Errorf("LayerNormalization: %w", err)
		}
		rows, cols := tensor.NumElements(x.Shape[:ax]), tensor.NumElements(x.Shape[ax:])
		scale, err := linalgLNParam(in[1], x.Shape, ax)
		if err != nil {
			return nil, fmt.Errorf("LayerNormalization Scale: %w", err)
		}
		var bias []float64
		if len(in) > 2 && in[2] != nil {
			if bias, err = linalgLNParam(in[2], x.Shape, ax); err != nil {
				return nil, fmt.Errorf("LayerNormalization B: %w", err)
			}
		}
		means, invs := make([]float64, rows), make([]float64, rows)
		y, err := linalgFloatMap(c, "LayerNormalization", x,
			func(x, y []float32) {
				if cols > 0 && len(scale) == cols && (bias == nil || len(bias) == cols) {
					linalgLayerNormRowsF32(c, x, y, rows, cols, eps, scale, bias, means, invs)
					return
				}
				linalgLayerNormRun(c, x, y, rows, cols, eps, scale, bias, means, invs)
			},
			func(x, y []float64) { linalgLayerNormRun(c, x, y, rows, cols, eps, scale, bias, means, invs) })
		if err != nil {
			return nil, err
		}
		statShape := append([]int{}, x.Shape[:ax]...)
		for i := ax; i < r; i++ {
			statShape = append(statShape, 1)
		}
		mt, err := FromFloat64s(statType[0], statShape, means)
		if err != nil {
			return nil, err
		}
		it, err := FromFloat64s(statType[1], statShape, invs)
		if err != nil {
			return nil, err
		}
		return c.Outs(y, mt, it), nil
	})
	if k := lnFastBuild(b, int(axis), float32(eps), 1, false, general); k != nil {
		return k, nil
	}
	return general, nil
}

// linalgLNParam returns Scale or B broadcast to xs[ax:] (cols values) or,
// when it also varies along the leading dimensions, to all of xs.
func linalgLNParam(t *tensor.Tensor, xs []int, ax int) ([]float64, error) {
	v, err := linalgParam("LayerNormalization", "", t)
	if err != nil {
		return nil, err
	}
	s := t.Shape
	for len(s) > len(xs)-ax && s[0] == 1 {
		s = s[1:]
	}
	target := xs[ax:]
	if len(s) > len(target) {
		target = xs
	}
	if len(s) > len(target) {
		return nil, fmt.Errorf("shape %v does not broadcast to %v", t.Shape, xs)
	}
	off := len(target) - len(s)
	for i, d := range s {
		if d != 1 && d != target[off+i] {
			return nil, fmt.Errorf("shape %v does not broadcast to %v", t.Shape, xs)
		}
	}
	if tensor.EqualShapes(s, target) {
		return v, nil
	}
	n := tensor.NumElements(target)
	out := make([]float64, n)
	it := NewIndexer(target, s)
	for i := range out {
		out[i] = v[it.Off[0]]
		it.Next()
	}
	return out, nil
}

// linalgLayerNormRowsF32 is linalgLayerNormRun for float32 rows whose
// scale and bias (may be nil) have cols values: vec's vectorized rows.
func linalgLayerNormRowsF32(c *Context, x, y []float32, rows, cols int, eps float64, scale, bias, means, invs []float64) {
	sc := make([]float32, cols)
	for i, v := range scale {
		sc[i] = float32(v)
	}
	var bs []float32
	if bias != nil {
		bs = make([]float32, cols)
		for i, v := range bias {
			bs[i] = float32(v)
		}
	}
	grain := max(1, 4096/max(cols, 1))
	c.Parallel(linalgCeil(rows, grain), func(lo, hi int) {
		for r := lo * grain; r < min(rows, hi*grain); r++ {
			means[r], invs[r] = vec.LayerNormRow(y[r*cols:(r+1)*cols], x[r*cols:(r+1)*cols], sc, bs, float32(eps))
		}
	})
}

// linalgLayerNormRun normalizes each row of x [rows, cols]; scale and bias
// have cols values or rows·cols values (bias may be nil).
func linalgLayerNormRun[T float32 | float64](c *Context, x, y []T, rows, cols int, eps float64, scale, bias, means, invs []float64) {
	grain := max(1, 4096/max(cols, 1))
	c.Parallel(linalgCeil(rows, grain), func(lo, hi int) {
		for r := lo * grain; r < min(rows, hi*grain); r++ {
			xs := x[r*cols : (r+1)*cols]
			ys := y[r*cols : (r+1)*cols]
			mean, variance := linalgMeanVar(xs)
			inv := 1 / math.Sqrt(variance+eps)
			means[r], invs[r] = mean, inv
			sc, bs := scale, bias
			if len(sc) > cols {
				sc = sc[r*cols : (r+1)*cols]
			}
			if len(bs) > cols {
				bs = bs[r*cols : (r+1)*cols]
			}
			sc = sc[:len(xs)]
			if bs == nil {
				for i, v := range xs {
					ys[i] = T((float64(v) - mean) * inv * sc[i])
				}
				continue
			}
			bs = bs[:len(xs)]
			for i, v := range xs {
				ys[i] = T((float64(v)-mean)*inv*sc[i] + bs[i])
			}
		}
	})
}

// ---- LpNormalization ----

func newLpNormalization(b *Build) (any, error) {
	a := b.Attrs()
	axis := a.Int("axis", -1)
	p := a.Int("p", 2)
	if err := a.Err(); err != nil {
		return nil, err
	}
	if p != 1 && p != 2 {
		return nil, fmt.Errorf("LpNormalization p is %d, want 1 or 2", p)
	}
	return KernelFunc(func(c *Context, in []*tensor.Tensor) ([]*tensor.Tensor, error) {
		if len(in) < 1 || in[0] == nil {
			return nil, fmt.Errorf("LpNormalization needs an input")
		}
		x := in[0]
		ax, err := NormAxis(axis, x.Rank())
		if err != nil {
			return nil, fmt.Errorf("LpNormalization: %w", err)
		}
		outer, n, inner := tensor.NumElements(x.Shape[:ax]), x.Shape[ax], tensor.NumElements(x.Shape[ax+1:])
		y, err := linalgFloatMap(c, "LpNormalization", x,
			func(x, y []float32) { linalgLpNorm(c, x, y, outer, n, inner, p) },
			func(x, y []float64) { linalgLpNorm(c, x, y, outer, n, inner, p) })
		if err != nil {
			return nil, err
		}
		return c.Outs(y), nil
	}), nil
}

func linalgLpNorm[T float32 | float64](c *Context, x, y []T, outer, n, inner int, p int64) {
	c.Parallel(outer*inner, func(lo, hi int) {
		for t := lo; t < hi; t++ {
			base := (t/inner)*n*inner + t%inner
			s := 0.0
			for j := 0; j < n; j++ {
				v := float64(x[base+j*inner])
				if p == 1 {
					s += math.Abs(v)
				} else {
					s += v * v
				}
			}
			if p == 2 {
				s = math.Sqrt(s)
			}
			for j := 0; j < n; j++ {
				if s == 0 {
					y[base+j*inner] = 0
				} else {
					y[base+j*inner] = T(float64(x[base+j*inner]) / s)
				}
			}
		}
	})
}

// ---- LRN ----

func newLRN(b *Build) (any, error) {
	a := b.Attrs()
	alpha := float64(a.Float("alpha", 1e-4))
	beta := float64(a.Float("beta", 0.75))
	bias := float64(a.Float("bias", 1))
	size := a.RequireInt("size")
	if err := a.Err(); err != nil {
		return nil, err
	}
	if size <= 0 {
		return nil, fmt.Errorf("LRN size is %d, want > 0", size)
	}
	lo, hi := int((size-1)/2), int(size-1-(size-1)/2) // floor and ceil of (size-1)/2
	return KernelFunc(func(c *Context, in []*tensor.Tensor) ([]*tensor.Tensor, error) {
		if len(in) < 1 || in[0] == nil {
			return nil, fmt.Errorf("LRN needs an input")
		}
		x := in[0]
		if x.Rank() < 2 {
			return nil, fmt.Errorf("LRN input %v has rank < 2", x)
		}
		n, ch, sp := x.Shape[0], x.Shape[1], tensor.NumElements(x.Shape[2:])
		k := alpha / float64(size)
		y, err := linalgFloatMap(c, "LRN", x,
			func(x, y []float32) { linalgLRN(c, x, y, n, ch, sp, lo, hi, k, beta, bias) },
			func(x, y []float64) { linalgLRN(c, x, y, n, ch, sp, lo, hi, k, beta, bias) })
		if err != nil {
			return nil, err
		}
		return c.Outs(y), nil
	}), nil
}

func linalgLRN[T float32 | float64](c *Context, x, y []T, n, ch, sp, lo, hi int, k, beta, bias float64) {
	c.Parallel(n*ch, func(l, h int) {
		sum := make([]float64, sp)
		for t := l; t < h; t++ {
			b, cc := t/ch, t%ch
			clear(sum)
			for j := max(0, cc-lo); j <= min(ch-1, cc+hi); j++ {
				xs := x[(b*ch+j)*sp : (b*ch+j+1)*sp]
				for i, v := range xs {
					sum[i] += float64(v) * float64(v)
				}
			}
			xs, ys := x[t*sp:(t+1)*sp], y[t*sp:(t+1)*sp]
			for i, v := range xs {
				ys[i] = T(float64(v) / math.Pow(bias+k*sum[i], beta))
			}
		}
	})
}

// ---- MeanVarianceNormalization ----

func newMeanVarianceNormalization(b *Build) (any, error) {
	a := b.Attrs()
	axes := a.Ints("axes", []int64{0, 2, 3})
	if err := a.Err(); err != nil {
		return nil, err
	}
	return KernelFunc(func(c *Context, in []*tensor.Tensor) ([]*tensor.Tensor, error) {
		if len(in) < 1 || in[0] == nil {
			return nil, fmt.Errorf("MeanVarianceNormalization needs an input")
		}
		x := in[0]
		r := x.Rank()
		red := make([]bool, r)
		for _, ax := range axes {
			i, err := NormAxis(ax, r)
			if err != nil {
				return nil, fmt.Errorf("MeanVarianceNormalization: %w", err)
			}
			red[i] = true
		}
		// Each element's group: its index over the kept dimensions.
		keptShape := make([]int, r)
		for i, d := range x.Shape {
			keptShape[i] = d
			if red[i] {
				keptShape[i] = 1
			}
		}
		groups := tensor.NumElements(keptShape)
		it := NewIndexer(x.Shape, keptShape)
		grp := make([]int, x.Len())
		for i := range grp {
			grp[i] = it.Off[0]
			it.Next()
		}
		y, err := linalgFloatMap(c, "MeanVarianceNormalization", x,
			func(x, y []float32) { linalgMVN(x, y, grp, groups) },
			func(x, y []float64) { linalgMVN(x, y, grp, groups) })
		if err != nil {
			return nil, err
		}
		return c.Outs(y), nil
	}), nil
}

func linalgMVN[T float32 | float64](x, y []T, grp []int, groups int) {
	sum, cnt, sq := make([]float64, groups), make([]float64, groups), make([]float64, groups)
	for i, v := range x {
		sum[grp[i]] += float64(v)
		cnt[grp[i]]++
	}
	for g := range sum {
		if cnt[g] > 0 {
			sum[g] /= cnt[g]
		}
	}
	for i, v := range x {
		d := float64(v) - sum[grp[i]]
		sq[grp[i]] += d * d
	}
	for g := range sq {
		if cnt[g] > 0 {
			sq[g] = math.Sqrt(sq[g]/cnt[g]) + 1e-9
		}
	}
	for i, v := range x {
		g := grp[i]
		y[i] = T((float64(v) - sum[g]) / sq[g])
	}
}
