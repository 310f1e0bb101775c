package kernels

import (
	"fmt"
	"math"

	"github.com/inferd/inferd/tensor"
)

// Resize (opsets 10 to 19+) and the deprecated Upsample (opsets 1 to 9).
//
// Each resized axis gets a table mapping every output index to input taps
// (index and weight), computed once from the coordinate transformation and
// the interpolation kernel. Nearest mode gathers directly in the input's
// type; linear and cubic modes resize one axis at a time in float64 (the
// interpolation is separable) and convert back at the end.

func init() {
	Default.Register(Spec{Op: "Resize", Since: 10, Until: 10, New: newResize10})
	Default.Register(Spec{Op: "Resize", Since: 11, New: newResize})
	Default.Register(Spec{Op: "Upsample", Until: 9, New: newUpsample})
}

// nnResizeCfg is a Resize node's attributes.
type nnResizeCfg struct {
	mode      string // nearest, linear, cubic
	coord     string // coordinate_transformation_mode
	nearest   string // nearest_mode, or "simple" for Resize-10 and Upsample
	cubicA    float64
	exclude   bool
	extrap    float64
	antialias bool
	axes      []int64
	policy    string
}

func newResize(b *Build) (any, error) {
	a := b.Attrs()
	cfg := &nnResizeCfg{
		mode:      a.String("mode", "nearest"),
		coord:     a.String("coordinate_transformation_mode", "half_pixel"),
		nearest:   a.String("nearest_mode", "round_prefer_floor"),
		cubicA:    float64(a.Float("cubic_coeff_a", -0.75)),
		exclude:   a.Int("exclude_outside", 0) != 0,
		extrap:    float64(a.Float("extrapolation_value", 0)),
		antialias: a.Int("antialias", 0) != 0,
		axes:      a.Ints("axes", nil),
		policy:    a.String("keep_aspect_ratio_policy", "stretch"),
	}
	switch cfg.mode {
	case "nearest", "linear", "cubic":
	default:
		a.Fail(fmt.Errorf("mode %q is not nearest, linear or cubic", cfg.mode))
	}
	switch cfg.coord {
	case "half_pixel", "half_pixel_symmetric", "pytorch_half_pixel", "align_corners", "asymmetric", "tf_crop_and_resize":
	case "tf_half_pixel_for_nn":
		// Opset 11-12 only: (x + 0.5) / scale, no -0.5.
	default:
		a.Fail(fmt.Errorf("coordinate_transformation_mode %q is not supported", cfg.coord))
	}
	switch cfg.nearest {
	case "round_prefer_floor", "round_prefer_ceil", "floor", "ceil":
	default:
		a.Fail(fmt.Errorf("nearest_mode %q is not round_prefer_floor, round_prefer_ceil, floor or ceil", cfg.nearest))
	}
	switch cfg.policy {
	case "stretch", "not_larger", "not_smaller":
	default:
		a.Fail(fmt.Errorf("keep_aspect_ratio_policy %q is not stretch, not_larger or not_smaller", cfg.policy))
	}
	if err := a.Err(); err != nil {
		return nil, err
	}
	return KernelFunc(func(c *Context, in []*tensor.Tensor) ([]*tensor.Tensor, error) {
		if len(in) < 1 || in[0] == nil {
			return nil, fmt.Errorf("Resize needs input X")
		}
		var roi, scales, sizes *tensor.Tensor
		if len(in) > 1 {
			roi = in[1]
		}
		if len(in) > 2 {
			scales = in[2]
		}
		if len(in) > 3 {
			sizes = in[3]
		}
		return nnResize(c, cfg, in[0], roi, scales, sizes)
	}), nil
}

func newResize10(b *Build) (any, error) {
	a := b.Attrs()
	cfg := &nnResizeCfg{mode: a.String("mode", "nearest"), coord: "asymmetric", nearest: "simple", cubicA: -0.75}
	if cfg.mode != "nearest" && cfg.mode != "linear" {
		a.Fail(fmt.Errorf("mode %q is not nearest or linear", cfg.mode))
	}
	if err := a.Err(); err != nil {
		return nil, err
	}
	return KernelFunc(func(c *Context, in []*tensor.Tensor) ([]*tensor.Tensor, error) {
		if len(in) < 2 || in[0] == nil || in[1] == nil {
			return nil, fmt.Errorf("Resize needs inputs X and scales")
		}
		return nnResize(c, cfg, in[0], nil, in[1], nil)
	}), nil
}

func newUpsample(b *Build) (any, error) {
	a := b.Attrs()
	cfg := &nnResizeCfg{mode: a.String("mode", "nearest"), coord: "asymmetric", nearest: "simple", cubicA: -0.75}
	if cfg.mode == "bilinear" {
		cfg.mode = "linear"
	}
	if cfg.mode != "nearest" && cfg.mode != "linear" {
		a.Fail(fmt.Errorf("mode %q is not nearest or linear", cfg.mode))
	}
	var attrScales []float32
	switch {
	case b.Opset >= 9:
	case b.Opset >= 7:
		attrScales = a.Floats("scales", nil)
		if attrScales == nil {
			a.Fail(fmt.Errorf("required attribute %q is missing", "scales"))
		}
	default:
		if !a.Has("height_scale") || !a.Has("width_scale") {
			a.Fail(fmt.Errorf("attributes height_scale and width_scale are required"))
		}
		attrScales = []float32{1, 1, a.Float("height_scale", 1), a.Float("width_scale", 1)}
	}
	if err := a.Err(); err != nil {
		return nil, err
	}
	return KernelFunc(func(c *Context, in []*tensor.Tensor) ([]*tensor.Tensor, error) {
		if len(in) < 1 || in[0] == nil {
			return nil, fmt.Errorf("Upsample needs input X")
		}
		scales := tensor.FromSlice(attrScales, len(attrScales))
		if attrScales == nil {
			if len(in) < 2 || in[1] == nil {
				return nil, fmt.Errorf("Upsample needs input scales")
			}
			scales = in[1]
		}
		return nnResize(c, cfg, in[0], nil, scales, nil)
	}), nil
}

// nnAxisMap maps the output indices of one axis to input taps: output o
// reads idx[o*taps+t] with weight w[o*taps+t] (nearest: one tap, no
// weights). ext[o] marks outputs that take the extrapolation value.
type nnAxisMap struct {
	n, m int
	taps int
	idx  []int
	w    []float64
	ext  []bool
	anyX bool
}

func (am *nnAxisMap) identity() bool {
	if am.n != am.m || am.anyX {
		return false
	}
	for o := 0; o < am.m; o++ {
		if am.w == nil {
			if am.idx[o] != o {
				return false
			}
			continue
		}
		s := 0.0
		for t := 0; t < am.taps; t++ {
			i := o*am.taps + t
			if am.idx[i] == o {
				s += am.w[i]
			} else if am.w[i] != 0 {
				return false
			}
		}
		if math.Abs(s-1) > 1e-12 {
			return false
		}
	}
	return true
}

func nnResize(c *Context, cfg *nnResizeCfg, x, roiT, scalesT, sizesT *tensor.Tensor) ([]*tensor.Tensor, error) {
	r := x.Rank()
	if scalesT != nil && scalesT.Len() == 0 {
		scalesT = nil
	}
	if sizesT != nil && sizesT.Len() == 0 {
		sizesT = nil
	}
	if roiT != nil && roiT.Len() == 0 {
		roiT = nil
	}
	if (scalesT == nil) == (sizesT == nil) {
		return nil, fmt.Errorf("exactly one of scales and sizes must be given")
	}
	axes := make([]int, 0, r)
	if cfg.axes != nil {
		seen := make([]bool, r)
		for _, ax := range cfg.axes {
			a, err := NormAxis(ax, r)
			if err != nil {
				return nil, fmt.Errorf("axes: %w", err)
			}
			if seen[a] {
				return nil, fmt.Errorf("axes %v repeats axis %d", cfg.axes, a)
			}
			seen[a] = true
			axes = append(axes, a)
		}
	} else {
		for i := range r {
			axes = append(axes, i)
		}
	}
	na := len(axes)
	// Per-axis scale, output size, "output width" (the float n*scale the
	// reference uses for align_corners) and roi.
	scale := make([]float64, r)
	outSz := make([]int, r)
	outW := make([]float64, r)
	roiS, roiE := make([]float64, r), make([]float64, r)
	for i := range r {
		scale[i], outSz[i], outW[i], roiE[i] = 1, x.Shape[i], float64(x.Shape[i]), 1
	}
	if roiT != nil {
		rv, err := Float64s(roiT)
		if err != nil {
			return nil, fmt.Errorf("roi: %w", err)
		}
		if len(rv) != 2*na {
			return nil, fmt.Errorf("roi has %d values, want %d", len(rv), 2*na)
		}
		for j, a := range axes {
			roiS[a], roiE[a] = rv[j], rv[na+j]
		}
	}
	if scalesT != nil {
		sv, err := Float64s(scalesT)
		if err != nil {
			return nil, fmt.Errorf("scales: %w", err)
		}
		if len(sv) != na {
			return nil, fmt.Errorf("scales has %d values, want %d", len(sv), na)
		}
		for j, a := range axes {
			if !(sv[j] > 0) || math.IsInf(sv[j], 0) {
				return nil, fmt.Errorf("scales %v has a value that is not positive and finite", sv)
			}
			scale[a] = sv[j]
			outW[a] = sv[j] * float64(x.Shape[a])
			outSz[a] = int(math.Floor(outW[a]))
		}
	} else {
		zv, err := Int64s(sizesT)
		if err != nil {
			return nil, fmt.Errorf("sizes: %w", err)
		}
		if len(zv) != na {
			return nil, fmt.Errorf("sizes has %d values, want %d", len(zv), na)
		}
		for j, a := range axes {
			if zv[j] < 0 {
				return nil, fmt.Errorf("sizes %v has a negative value", zv)
			}
			if x.Shape[a] == 0 && zv[j] != 0 {
				return nil, fmt.Errorf("cannot resize empty axis %d to %d", a, zv[j])
			}
		}
		if cfg.policy == "stretch" {
			for j, a := range axes {
				outSz[a] = int(zv[j])
				if x.Shape[a] > 0 {
					scale[a] = float64(zv[j]) / float64(x.Shape[a])
				}
				outW[a] = float64(zv[j])
			}
		} else {
			s := 0.0
			for j, a := range axes {
				v := float64(zv[j]) / float64(max(x.Shape[a], 1))
				if j == 0 || (cfg.policy == "not_larger" && v < s) || (cfg.policy == "not_smaller" && v > s) {
					s = v
				}
			}
			for _, a := range axes {
				scale[a] = s
				outSz[a] = int(math.Floor(s*float64(x.Shape[a]) + 0.5))
				outW[a] = s * float64(x.Shape[a])
			}
		}
	}
	maps := make([]*nnAxisMap, r)
	for _, a := range axes {
		if outSz[a] > 0 && x.Shape[a] == 0 {
			return nil, fmt.Errorf("cannot resize empty axis %d to %d", a, outSz[a])
		}
		am := nnBuildAxisMap(cfg, x.Shape[a], outSz[a], scale[a], outW[a], roiS[a], roiE[a])
		if !am.identity() {
			maps[a] = am
		}
	}
	y := c.Alloc(x.DType, outSz...)
	if y.Len() == 0 {
		return c.Outs(y), nil
	}
	if cfg.mode == "nearest" {
		if err := nnResizeNearest(c, x, y, maps, cfg.extrap); err != nil {
			return nil, err
		}
		return c.Outs(y), nil
	}
	if !x.DType.IsFloat() && !x.DType.IsInt() {
		return nil, fmt.Errorf("Resize mode %s of %v: %w", cfg.mode, x.DType, ErrUnsupported)
	}
	xv, err := Float64s(x)
	if err != nil {
		return nil, err
	}
	cur, shape := xv, append([]int(nil), x.Shape...)
	for a := range r {
		if maps[a] == nil {
			continue
		}
		cur = nnResizeAxis(c, cur, shape, a, maps[a])
		shape[a] = maps[a].m
	}
	if len(cur) == len(xv) && &cur[0] == &xv[0] {
		cur = append([]float64(nil), xv...)
	}
	nnMarkExtrapolated(cur, outSz, maps, cfg.extrap)
	nnStoreRounded(y, cur)
	return c.Outs(y), nil
}

// nnBuildAxisMap computes the tap table of one axis resized from n to m.
func nnBuildAxisMap(cfg *nnResizeCfg, n, m int, scale, outW, roiS, roiE float64) *nnAxisMap {
	am := &nnAxisMap{n: n, m: m, ext: make([]bool, m)}
	var kern func(t float64) float64
	start, taps, sc := 0, 1, 1.0
	switch cfg.mode {
	case "linear":
		kern = func(t float64) float64 { return max(0, 1-math.Abs(t)) }
		if cfg.antialias && scale < 1 {
			sc = scale
		}
		start = int(math.Floor(-1/sc)) + 1
		taps = 2 - 2*start
	case "cubic":
		A := cfg.cubicA
		kern = func(t float64) float64 {
			t = math.Abs(t)
			switch {
			case t <= 1:
				return ((A+2)*t-(A+3))*t*t + 1
			case t < 2:
				return ((A*t-5*A)*t+8*A)*t - 4*A
			}
			return 0
		}
		if cfg.antialias && scale < 1 {
			sc = scale
		}
		start = int(math.Floor(-2/sc)) + 1
		taps = 2 - 2*start
	}
	am.taps = taps
	am.idx = make([]int, m*taps)
	if kern != nil {
		am.w = make([]float64, m*taps)
	}
	fn := float64(n)
	for o := 0; o < m; o++ {
		fo := float64(o)
		var xo float64
		switch cfg.coord {
		case "half_pixel":
			xo = (fo+0.5)/scale - 0.5
		case "half_pixel_symmetric":
			adj := float64(m) / outW
			xo = fn/2*(1-adj) + (fo+0.5)/scale - 0.5
		case "pytorch_half_pixel":
			if m > 1 {
				xo = (fo+0.5)/scale - 0.5
			}
		case "align_corners":
			if outW != 1 {
				xo = fo * (fn - 1) / (outW - 1)
			}
		case "asymmetric":
			xo = fo / scale
		case "tf_half_pixel_for_nn":
			xo = (fo + 0.5) / scale
		case "tf_crop_and_resize":
			if m > 1 {
				xo = roiS*(fn-1) + fo*(roiE-roiS)*(fn-1)/(float64(m)-1)
			} else {
				xo = 0.5 * (roiS + roiE) * (fn - 1)
			}
			if xo < 0 || xo > fn-1 {
				am.ext[o], am.anyX = true, true
			}
		}
		if kern == nil {
			i := nnNearestIndex(xo, cfg.nearest, scale < 1)
			am.idx[o] = min(max(i, 0), n-1)
			continue
		}
		x0 := math.Floor(xo)
		ratio := xo - x0
		if ratio == 0 {
			ratio, x0 = 1, x0-1
		}
		ix := int(x0)
		ws := am.w[o*taps : (o+1)*taps]
		is := am.idx[o*taps : (o+1)*taps]
		sum := 0.0
		for t := range taps {
			i := start + t
			ws[t] = kern((float64(i) - ratio) * sc)
			is[t] = ix + i
			sum += ws[t]
		}
		if sc != 1 && sum != 0 {
			for t := range ws {
				ws[t] /= sum
			}
		}
		if cfg.exclude {
			sum = 0
			for t := range ws {
				if is[t] < 0 || is[t] >= n {
					ws[t] = 0
				}
				sum += ws[t]
			}
			if sum != 0 {
				for t := range ws {
					ws[t] /= sum
				}
			}
		}
		for t := range is {
			is[t] = min(max(is[t], 0), n-1)
		}
	}
	return am
}

// nnNearestIndex rounds a source coordinate to an input index.
func nnNearestIndex(x float64, mode string, down bool) int {
	f := math.Floor(x)
	if x == f {
		return int(f)
	}
	switch mode {
	case "round_prefer_floor":
		if x-f <= 0.5 {
			return int(f)
		}
		return int(f) + 1
	case "round_prefer_ceil":
		if x-f < 0.5 {
			return int(f)
		}
		return int(f) + 1
	case "floor":
		return int(f)
	case "ceil":
		return int(f) + 1
	}
	// "simple" (Resize-10, Upsample): ceil when downsampling, else floor.
	if down {
		return int(f) + 1
	}
	return int(f)
}

// nnResizeAxis resizes axis a of src (shape) with the tap table am.
func nnResizeAxis(c *Context, src []float64, shape []int, a int, am *nnAxisMap) []float64 {
	outer := nnProd(shape[:a])
	inner := nnProd(shape[a+1:])
	n, m, taps := am.n, am.m, am.taps
	dst := make([]float64, outer*m*inner)
	c.Parallel(outer*m, func(lo, hi int) {
		for row := lo; row < hi; row++ {
			ob, o := row/m, row%m
			d := dst[row*inner : (row+1)*inner]
			base := ob * n * inner
			if inner == 1 {
				s := 0.0
				for t := 0; t < taps; t++ {
					s += am.w[o*taps+t] * src[base+am.idx[o*taps+t]]
				}
				d[0] = s
				continue
			}
			for t := 0; t < taps; t++ {
				wt := am.w[o*taps+t]
				if wt == 0 {
					continue
				}
				sr := src[base+am.idx[o*taps+t]*inner : base+(am.idx[o*taps+t]+1)*inner]
				for j := range d {
					d[j] += wt * sr[j]
				}
			}
		}
	})
	return dst
}

// nnMarkExtrapolated sets outputs where any axis extrapolated to v.
func nnMarkExtrapolated(y []float64, shape []int, maps []*nnAxisMap, v float64) {
	any := false
	for _, am := range maps {
		if am != nil && am.anyX {
			any = true
		}
	}
	if !any {
		return
	}
	str := tensor.Strides(shape)
	for i := range y {
		for a, am := range maps {
			if am != nil && am.anyX && am.ext[i/str[a]%shape[a]] {
				y[i] = v
				break
			}
		}
	}
}

// nnStoreRounded writes float64 values into t's storage: floats are
// rounded to the type, integers rounded half to even and saturated.
func nnStoreRounded(t *tensor.Tensor, v []float64) {
	switch d := t.Data.(type) {
	case []float64:
		copy(d, v)
	case []float32:
		for i, x := range v {
			d[i] = float32(x)
		}
	case []tensor.F16:
		for i, x := range v {
			d[i] = tensor.F16FromFloat32(float32(x))
		}
	case []tensor.BF16:
		for i, x := range v {
			d[i] = tensor.BF16FromFloat32(float32(x))
		}
	case []int8:
		nnStoreInts(d, v)
	case []int16:
		nnStoreInts(d, v)
	case []int32:
		nnStoreInts(d, v)
	case []int64:
		nnStoreInts(d, v)
	case []uint8:
		nnStoreInts(d, v)
	case []uint16:
		nnStoreInts(d, v)
	case []uint32:
		nnStoreInts(d, v)
	case []uint64:
		nnStoreInts(d, v)
	}
}

func nnStoreInts[T int8 | int16 | int32 | int64 | uint8 | uint16 | uint32 | uint64](d []T, v []float64) {
	lo, hi := nnIntRange(tensor.DTypeOf[T]())
	for i, x := range v {
		x = math.RoundToEven(x)
		switch {
		case math.IsNaN(x):
			d[i] = 0
		case x <= lo:
			d[i] = T(lo)
		case x >= hi:
			d[i] = nnMaxOf[T]()
		default:
			d[i] = T(x)
		}
	}
}

// nnMaxOf returns the largest value of an integer type.
func nnMaxOf[T int8 | int16 | int32 | int64 | uint8 | uint16 | uint32 | uint64]() T {
	var z T
	m := ^z
	if m < 0 { // signed: clear the sign bit
		var one T = 1
		bits := tensor.DTypeOf[T]().Size() * 8
		m = ^(one << (bits - 1))
	}
	return m
}

func nnIntRange(dt tensor.DType) (float64, float64) {
	switch dt {
	case tensor.Int8:
		return math.MinInt8, math.MaxInt8
	case tensor.Uint8:
		return 0, math.MaxUint8
	case tensor.Int16:
		return math.MinInt16, math.MaxInt16
	case tensor.Uint16:
		return 0, math.MaxUint16
	case tensor.Int32:
		return math.MinInt32, math.MaxInt32
	case tensor.Uint32:
		return 0, math.MaxUint32
	case tensor.Int64:
		return math.MinInt64, math.MaxInt64
	case tensor.Uint64:
		return 0, math.MaxUint64
	}
	return math.Inf(-1), math.Inf(1)
}

// nnResizeNearest gathers y from x through per-axis index tables (nil:
// identity), writing the extrapolation value where an axis extrapolates.
func nnResizeNearest(c *Context, x, y *tensor.Tensor, maps []*nnAxisMap, extrap float64) error {
	switch xd := x.Data.(type) {
	case []float32:
		nnGather(c, xd, y.Data.([]float32), x.Shape, y.Shape, maps, float32(extrap))
	case []float64:
		nnGather(c, xd, y.Data.([]float64), x.Shape, y.Shape, maps, extrap)
	case []tensor.F16:
		nnGather(c, xd, y.Data.([]tensor.F16), x.Shape, y.Shape, maps, tensor.F16FromFloat32(float32(extrap)))
	case []tensor.BF16:
		nnGather(c, xd, y.Data.([]tensor.BF16), x.Shape, y.Shape, maps, tensor.BF16FromFloat32(float32(extrap)))
	case []int8:
		nnGather(c, xd, y.Data.([]int8), x.Shape, y.Shape, maps, int8(extrap))
	case []int16:
		nnGather(c, xd, y.Data.([]int16), x.Shape, y.Shape, maps, int16(extrap))
	case []int32:
		nnGather(c, xd, y.Data.([]int32), x.Shape, y.Shape, maps, int32(extrap))
	case []int64:
		nnGather(c, xd, y.Data.([]int64), x.Shape, y.Shape, maps, int64(extrap))
	case []uint8:
		nnGather(c, xd, y.Data.([]uint8), x.Shape, y.Shape, maps, uint8(extrap))
	case []uint16:
		nnGather(c, xd, y.Data.([]uint16), x.Shape, y.Shape, maps, uint16(extrap))
	case []uint32:
		nnGather(c, xd, y.Data.([]uint32), x.Shape, y.Shape, maps, uint32(extrap))
	case []uint64:
		nnGather(c, xd, y.Data.([]uint64), x.Shape, y.Shape, maps, uint64(extrap))
	case []bool:
		nnGather(c, xd, y.Data.([]bool), x.Shape, y.Shape, maps, extrap != 0)
	case []string:
		nnGather(c, xd, y.Data.([]string), x.Shape, y.Shape, maps, "")
	case []complex64:
		nnGather(c, xd, y.Data.([]complex64), x.Shape, y.Shape, maps, complex(float32(extrap), 0))
	case []complex128:
		nnGather(c, xd, y.Data.([]complex128), x.Shape, y.Shape, maps, complex(extrap, 0))
	default:
		return fmt.Errorf("Resize of %v: %w", x.DType, ErrUnsupported)
	}
	return nil
}

// nnGather copies y[o] = x[map(o)] with per-axis maps; rows along the last
// axis are produced in parallel.
func nnGather[T any](c *Context, x, y []T, xs, ys []int, maps []*nnAxisMap, extrap T) {
	r := len(xs)
	inStr := tensor.Strides(xs)
	last := r - 1
	if r == 0 {
		y[0] = x[0]
		return
	}
	m := ys[last]
	rows := len(y) / m
	lm := maps[last]
	c.Parallel(rows, func(lo, hi int) {
		o := make([]int, r)
		for row := lo; row < hi; row++ {
			rem := row
			for a := last - 1; a >= 0; a-- {
				o[a] = rem % ys[a]
				rem /= ys[a]
			}
			base, ext := 0, false
			for a := 0; a < last; a++ {
				i := o[a]
				if am := maps[a]; am != nil {
					if am.ext[i] {
						ext = true
						break
					}
					i = am.idx[i]
				}
				base += i * inStr[a]
			}
			d := y[row*m : (row+1)*m]
			if ext {
				for j := range d {
					d[j] = extrap
				}
				continue
			}
			if lm == nil {
				copy(d, x[base:base+m])
				continue
			}
			for j := range d {
				if lm.ext[j] {
					d[j] = extrap
				} else {
					d[j] = x[base+lm.idx[j]]
				}
			}
		}
	})
}
