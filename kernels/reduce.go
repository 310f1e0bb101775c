package kernels

import (
	"fmt"
	"math"

	"github.com/inferd/inferd/tensor"
)

// Reduce* operators. Every op reduces its input over a set of axes given
// either by the "axes" attribute (ReduceSum before opset 13, the others
// before 18) or by the optional second input (from then on). Sums, means
// and norms of float inputs accumulate in float64, of integer inputs in
// 64-bit integers; max and min work in the input type.

func init() {
	ops := []struct {
		name  string
		kind  redKind
		since int64 // opset where axes became an input
	}{
		{"ReduceSum", redSum, 13},
		{"ReduceMean", redMean, 18},
		{"ReduceMax", redMax, 18},
		{"ReduceMin", redMin, 18},
		{"ReduceProd", redProd, 18},
		{"ReduceL1", redL1, 18},
		{"ReduceL2", redL2, 18},
		{"ReduceLogSum", redLogSum, 18},
		{"ReduceLogSumExp", redLogSumExp, 18},
		{"ReduceSumSquare", redSumSquare, 18},
	}
	for _, o := range ops {
		Default.Register(Spec{Op: o.name, Until: o.since - 1, New: redFactory(o.kind, false)})
		Default.Register(Spec{Op: o.name, Since: o.since, New: redFactory(o.kind, true)})
	}
}

type redKind int

const (
	redSum redKind = iota
	redMean
	redMax
	redMin
	redProd
	redL1
	redL2
	redLogSum
	redLogSumExp
	redSumSquare
)

// redStep is what is accumulated per element.
type redStep int

const (
	redStepAdd redStep = iota // acc += x
	redStepAbs                // acc += |x|
	redStepSq                 // acc += x*x
	redStepMul                // acc *= x
	redStepMax                // acc = max(acc, x), NaN wins
	redStepMin                // acc = min(acc, x), NaN wins
	redStepExp                // acc += exp(x - m)
)

type redKernel struct {
	kind      redKind
	keepdims  bool
	noop      bool
	axes      []int64
	axesInput bool
}

func redFactory(kind redKind, axesInput bool) Factory {
	return func(b *Build) (any, error) {
		a := b.Attrs()
		keep := a.Int("keepdims", 1)
		noop := a.Int("noop_with_empty_axes", 0)
		axes := a.Ints("axes", nil)
		if err := a.Err(); err != nil {
			return nil, err
		}
		if keep != 0 && keep != 1 {
			return nil, fmt.Errorf("attribute keepdims is %d, want 0 or 1", keep)
		}
		if noop != 0 && noop != 1 {
			return nil, fmt.Errorf("attribute noop_with_empty_axes is %d, want 0 or 1", noop)
		}
		if len(b.Node.Inputs) > 2 {
			return nil, fmt.Errorf("%d inputs, want at most 2", len(b.Node.Inputs))
		}
		if !axesInput && len(b.Node.Inputs) > 1 && b.Node.Inputs[1] != "" {
			return nil, fmt.Errorf("axes given as an input, but at opset %d this op takes them as an attribute", b.Opset)
		}
		k := &redKernel{kind: kind, keepdims: keep == 1, noop: noop == 1, axes: axes, axesInput: axesInput}
		return KernelFunc(k.run), nil
	}
}

func (k *redKernel) run(c *Context, in []*tensor.Tensor) ([]*tensor.Tensor, error) {
	if len(in) < 1 || in[0] == nil {
		return nil, fmt.Errorf("missing input data")
	}
	x := in[0]
	axes := k.axes
	if k.axesInput && len(in) > 1 && in[1] != nil {
		if in[1].Rank() > 1 {
			return nil, fmt.Errorf("input axes has shape %v, want rank 1", in[1].Shape)
		}
		v, err := Int64s(in[1])
		if err != nil {
			return nil, fmt.Errorf("input axes: %w", err)
		}
		axes = v
	}
	rank := x.Rank()
	if len(axes) == 0 && k.noop {
		return c.Outs(x.Clone()), nil
	}
	// mask[i] is 1 for a reduced axis.
	mask := c.Ints(rank)
	if len(axes) == 0 {
		for i := range mask {
			mask[i] = 1
		}
	} else {
		for _, ax := range axes {
			a, err := NormAxis(ax, rank)
			if err != nil {
				return nil, fmt.Errorf("axes %v: %w", axes, err)
			}
			if mask[a] != 0 {
				return nil, fmt.Errorf("axes %v name axis %d twice", axes, a)
			}
			mask[a] = 1
		}
	}
	outShape := c.Ints(rank)[:0]
	for i, d := range x.Shape {
		switch {
		case mask[i] == 0:
			outShape = append(outShape, d)
		case k.keepdims:
			outShape = append(outShape, 1)
		}
	}
	out := c.Alloc(x.DType, outShape...)
	var p redPlan
	p.make(c, x.Shape, mask)
	if err := redRunTyped(c, k.kind, &p, x, out); err != nil {
		return nil, err
	}
	return c.Outs(out), nil
}

func redRunTyped(c *Context, kind redKind, p *redPlan, x, out *tensor.Tensor) error {
	switch xs := x.Data.(type) {
	case []float32:
		redDispatch(c, kind, p, xs, out.Data.([]float32))
	case []float64:
		redDispatch(c, kind, p, xs, out.Data.([]float64))
	case []int8:
		redDispatch(c, kind, p, xs, out.Data.([]int8))
	case []int16:
		redDispatch(c, kind, p, xs, out.Data.([]int16))
	case []int32:
		redDispatch(c, kind, p, xs, out.Data.([]int32))
	case []int64:
		redDispatch(c, kind, p, xs, out.Data.([]int64))
	case []uint8:
		redDispatch(c, kind, p, xs, out.Data.([]uint8))
	case []uint16:
		redDispatch(c, kind, p, xs, out.Data.([]uint16))
	case []uint32:
		redDispatch(c, kind, p, xs, out.Data.([]uint32))
	case []uint64:
		redDispatch(c, kind, p, xs, out.Data.([]uint64))
	case []tensor.F16:
		xf, _ := Float32s(x)
		yf := make([]float32, p.outN)
		redDispatch(c, kind, p, xf, yf)
		ys := out.Data.([]tensor.F16)
		for i, v := range yf {
			ys[i] = tensor.F16FromFloat32(v)
		}
	case []tensor.BF16:
		xf, _ := Float32s(x)
		yf := make([]float32, p.outN)
		redDispatch(c, kind, p, xf, yf)
		ys := out.Data.([]tensor.BF16)
		for i, v := range yf {
			ys[i] = tensor.BF16FromFloat32(v)
		}
	case []bool:
		// ReduceMax is "any", ReduceMin "all" (False < True).
		if kind != redMax && kind != redMin {
			return fmt.Errorf("input data is %v: %w for this op", x.DType, ErrUnsupported)
		}
		xb := make([]uint8, len(xs))
		for i, v := range xs {
			if v {
				xb[i] = 1
			}
		}
		yb := make([]uint8, p.outN)
		redDispatch(c, kind, p, xb, yb)
		ys := out.Data.([]bool)
		for i, v := range yb {
			ys[i] = v != 0
		}
	default:
		return fmt.Errorf("input data is %v: %w", x.DType, ErrUnsupported)
	}
	return nil
}

// redPlan is an input shape reduced to alternating groups of kept and
// reduced axes (size-1 axes dropped, neighbours of one kind merged).
type redPlan struct {
	sizes  []int
	ostr   []int // output stride of each group (0 for reduced groups)
	red0   bool  // group 0 is reduced; the kinds alternate from there
	n      int   // input elements
	outN   int   // output elements
	count  int   // elements reduced into each output
	groups int
}

// red reports whether group g is reduced.
func (p *redPlan) red(g int) bool { return (g%2 == 0) == p.red0 }

// make plans the reduction of shape over the axes where mask is 1; its
// slices come from c.Ints.
func (p *redPlan) make(c *Context, shape []int, mask []int) {
	*p = redPlan{n: 1, outN: 1, count: 1, sizes: c.Ints(max(len(shape), 1))[:0]}
	for i, d := range shape {
		r := mask[i] != 0
		p.n *= d
		if r {
			p.count *= d
		} else {
			p.outN *= d
		}
		if d == 1 {
			continue
		}
		if g := len(p.sizes); g > 0 && p.red(g-1) == r {
			p.sizes[g-1] *= d
			continue
		}
		if len(p.sizes) == 0 {
			p.red0 = r
		}
		p.sizes = append(p.sizes, d)
	}
	if len(p.sizes) == 0 {
		p.sizes, p.red0 = append(p.sizes, 1), false
	}
	p.groups = len(p.sizes)
	p.ostr = c.Ints(p.groups)
	acc := 1
	for g := p.groups - 1; g >= 0; g-- {
		if !p.red(g) {
			p.ostr[g] = acc
			acc *= p.sizes[g]
		}
	}
}

// redTemp returns n elements of scratch for one reduction, recycled from
// one run to the next through the arena (a buffer that lives only during
// this step); the caller initialises it.
func redTemp[E redNum](c *Context, n int) []E {
	return c.AllocRaw(tensor.DTypeOf[E](), n).Data.([]E)
}

// redSerial reports whether a reduction of n elements runs on the calling
// goroutine: small ones, and all of them on one thread. The parallel path
// makes a closure; the serial one calls the loop directly and allocates
// nothing.
func redSerial(c *Context, n int) bool {
	return n < redMinWork || c == nil || c.Par == nil || c.Threads == 1
}

// redNum is the set of element types the reduction loops run on.
type redNum interface {
	~float32 | ~float64 | ~int8 | ~int16 | ~int32 | ~int64 |
		~uint8 | ~uint16 | ~uint32 | ~uint64
}

// redAcc is the set of accumulator types.
type redAcc interface {
	~float32 | ~float64 | ~int8 | ~int16 | ~int32 | ~int64 |
		~uint8 | ~uint16 | ~uint32 | ~uint64
}

func redDispatch[T redNum](c *Context, kind redKind, p *redPlan, x, y []T) {
	var z T
	switch any(z).(type) {
	case float32, float64:
		redCompute[T, float64](c, kind, p, x, y)
	case int8, int16, int32, int64:
		redCompute[T, int64](c, kind, p, x, y)
	default:
		redCompute[T, uint64](c, kind, p, x, y)
	}
}

// redCompute reduces x into y; A is the accumulator type for sums and
// products (max and min work in T).
func redCompute[T redNum, A redAcc](c *Context, kind redKind, p *redPlan, x, y []T) {
	switch kind {
	case redMax:
		redFill(y, redLowest[T]())
		redAccumulate(c, p, redStepMax, x, y, nil, redLowest[T]())
		return
	case redMin:
		redFill(y, redHighest[T]())
		redAccumulate(c, p, redStepMin, x, y, nil, redHighest[T]())
		return
	case redLogSumExp:
		// Stabilised: m = max, result = m + log(sum(exp(x - m))).
		mx := redTemp[T](c, p.outN)
		redFill(mx, redLowest[T]())
		redAccumulate(c, p, redStepMax, x, mx, nil, redLowest[T]())
		m := redTemp[float64](c, p.outN)
		for i, v := range mx {
			f := float64(v)
			if math.IsInf(f, 0) {
				f = 0
			}
			m[i] = f
		}
		s := redTemp[float64](c, p.outN)
		clear(s)
		redAccumulate(c, p, redStepExp, x, s, m, 0)
		for i := range y {
			y[i] = T(m[i] + math.Log(s[i]))
		}
		return
	}
	step := redStepAdd
	var ident A
	switch kind {
	case redProd:
		step, ident = redStepMul, 1
	case redL1:
		step = redStepAbs
	case redL2, redSumSquare:
		step = redStepSq
	}
	acc := redTemp[A](c, p.outN)
	redFill(acc, ident)
	redAccumulate(c, p, step, x, acc, nil, ident)
	switch kind {
	case redMean:
		if p.count == 0 {
			var nan A
			if redIsFloat[A]() {
				nan = A(math.NaN())
			}
			redFill(y, T(nan))
			return
		}
		n := A(p.count)
		for i, v := range acc {
			y[i] = T(v / n)
		}
	case redL2:
		for i, v := range acc {
			y[i] = T(math.Sqrt(float64(v)))
		}
	case redLogSum:
		for i, v := range acc {
			y[i] = T(math.Log(float64(v)))
		}
	default:
		for i, v := range acc {
			y[i] = T(v)
		}
	}
}

func redFill[T any](s []T, v T) {
	for i := range s {
		s[i] = v
	}
}

func redIsFloat[A redAcc]() bool {
	var z A
	switch any(z).(type) {
	case float32, float64:
		return true
	}
	return false
}

// redLowest returns -Inf for float types and the minimum value otherwise.
func redLowest[T redNum]() T {
	var z T
	var v any
	switch any(z).(type) {
	case float32:
		v = float32(math.Inf(-1))
	case float64:
		v = math.Inf(-1)
	case int8:
		v = int8(math.MinInt8)
	case int16:
		v = int16(math.MinInt16)
	case int32:
		v = int32(math.MinInt32)
	case int64:
		v = int64(math.MinInt64)
	default:
		return 0
	}
	return v.(T)
}

// redHighest returns +Inf for float types and the maximum value otherwise.
func redHighest[T redNum]() T {
	var z T
	var v any
	switch any(z).(type) {
	case float32:
		v = float32(math.Inf(1))
	case float64:
		v = math.Inf(1)
	case int8:
		v = int8(math.MaxInt8)
	case int16:
		v = int16(math.MaxInt16)
	case int32:
		v = int32(math.MaxInt32)
	case int64:
		v = int64(math.MaxInt64)
	case uint8:
		v = uint8(math.MaxUint8)
	case uint16:
		v = uint16(math.MaxUint16)
	case uint32:
		v = uint32(math.MaxUint32)
	case uint64:
		v = uint64(math.MaxUint64)
	}
	return v.(T)
}

// redMinWork is the input size below which reductions run serially.
const redMinWork = 1 << 15

// redAccumulate folds every element of x into acc (pre-filled with the
// step's identity ident) at its output position. m, for redStepExp, holds
// the per-output shift.
func redAccumulate[T redNum, A redAcc](c *Context, p *redPlan, step redStep, x []T, acc []A, m []float64, ident A) {
	if p.n == 0 {
		return
	}
	g := p.groups
	last := p.sizes[g-1]
	serial := redSerial(c, p.n)
	switch {
	case p.red(g-1) && g <= 2:
		// Contiguous trailing reduction: rows of `last` elements, one
		// output each.
		rows := p.outN
		parts := 1
		if rows < 8 && last >= 1<<15 && p.n >= redMinWork {
			parts = min(64, last/(1<<13))
		}
		if parts == 1 {
			if serial {
				redRows(step, x, last, acc, m, 0, rows)
			} else {
				c.Parallel(rows, func(lo, hi int) { redRows(step, x, last, acc, m, lo, hi) })
			}
			return
		}
		// Few long rows: reduce pieces of each row in parallel, then
		// combine the partial results.
		part := redTemp[A](c, rows*parts)
		if serial {
			redRowParts(step, x, last, parts, part, m, ident, 0, rows*parts)
		} else {
			c.Parallel(rows*parts, func(lo, hi int) { redRowParts(step, x, last, parts, part, m, ident, lo, hi) })
		}
		for r := 0; r < rows; r++ {
			for q := 0; q < parts; q++ {
				acc[r] = redCombine(step, acc[r], part[r*parts+q])
			}
		}
		return
	case !p.red(g-1) && g >= 2 && g <= 3 && p.red(g-2):
		// [outer kept] × reduced × kept: add rows of `last` elements into
		// output rows; split over outer index and column blocks.
		red := p.sizes[g-2]
		outer := 1
		if g == 3 {
			outer = p.sizes[0]
		}
		nb := (last + redColBlock - 1) / redColBlock
		if outer*nb < 8 && red >= 64 && p.n >= redMinWork {
			// Few output rows: split the reduced axis instead, each
			// piece into its own partial output, then combine.
			parts := min(16, red/32)
			outN := p.outN
			part := redTemp[A](c, parts*outN)
			redFill(part, ident)
			if serial {
				redColParts(step, x, outer, red, last, parts, part, outN, m, 0, parts*outer)
			} else {
				c.Parallel(parts*outer, func(lo, hi int) { redColParts(step, x, outer, red, last, parts, part, outN, m, lo, hi) })
			}
			for q := 0; q < parts; q++ {
				for i, v := range part[q*outN : (q+1)*outN] {
					acc[i] = redCombine(step, acc[i], v)
				}
			}
			return
		}
		if serial {
			redCols(step, x, red, last, nb, acc, m, 0, outer*nb)
		} else {
			c.Parallel(outer*nb, func(lo, hi int) { redCols(step, x, red, last, nb, acc, m, lo, hi) })
		}
		return
	}
	// General case: walk the outer groups with an odometer.
	idx := c.Ints(g - 1)
	out := 0
	for in := 0; in < p.n; in += last {
		if p.red(g - 1) {
			acc[out] = redChunk(step, x[in:in+last], acc[out], redShift(m, out))
		} else {
			var ms []float64
			if m != nil {
				ms = m[out : out+last]
			}
			redRow(step, x[in:in+last], acc[out:out+last], ms)
		}
		for a := g - 2; a >= 0; a-- {
			idx[a]++
			out += p.ostr[a]
			if idx[a] < p.sizes[a] {
				break
			}
			out -= p.ostr[a] * idx[a]
			idx[a] = 0
		}
	}
}

// redColBlock is how many output columns one task of a reduction over a
// middle axis covers.
const redColBlock = 1024

// redRows reduces rows [lo, hi) of `last` contiguous elements each into
// acc[r].
func redRows[T redNum, A redAcc](step redStep, x []T, last int, acc []A, m []float64, lo, hi int) {
	for r := lo; r < hi; r++ {
		acc[r] = redChunk(step, x[r*last:(r+1)*last], acc[r], redShift(m, r))
	}
}

// redRowParts reduces pieces [lo, hi) of rows cut in `parts` pieces each
// into part[u], starting from ident.
func redRowParts[T redNum, A redAcc](step redStep, x []T, last, parts int, part []A, m []float64, ident A, lo, hi int) {
	for u := lo; u < hi; u++ {
		r, q := u/parts, u%parts
		a, b := q*last/parts, (q+1)*last/parts
		part[u] = redChunk(step, x[r*last+a:r*last+b], ident, redShift(m, r))
	}
}

// redColParts adds tasks [lo, hi) of an outer × red × last reduction cut
// along red in `parts` pieces, piece q into part[q*outN:].
func redColParts[T redNum, A redAcc](step redStep, x []T, outer, red, last, parts int, part []A, outN int, m []float64, lo, hi int) {
	for u := lo; u < hi; u++ {
		q, o := u/outer, u%outer
		dst := part[q*outN+o*last : q*outN+(o+1)*last]
		var ms []float64
		if m != nil {
			ms = m[o*last : (o+1)*last]
		}
		for r := q * red / parts; r < (q+1)*red/parts; r++ {
			off := (o*red + r) * last
			redRow(step, x[off:off+last], dst, ms)
		}
	}
}

// redCols adds tasks [lo, hi) of an outer × red × last reduction, each an
// outer index and a block of redColBlock columns, into acc.
func redCols[T redNum, A redAcc](step redStep, x []T, red, last, nb int, acc []A, m []float64, lo, hi int) {
	for u := lo; u < hi; u++ {
		o, bi := u/nb, u%nb
		c0, c1 := bi*redColBlock, min(last, (bi+1)*redColBlock)
		dst := acc[o*last+c0 : o*last+c1]
		var ms []float64
		if m != nil {
			ms = m[o*last+c0 : o*last+c1]
		}
		base := o * red * last
		for r := 0; r < red; r++ {
			off := base + r*last
			redRow(step, x[off+c0:off+c1], dst, ms)
		}
	}
}

func redShift(m []float64, i int) float64 {
	if m == nil {
		return 0
	}
	return m[i]
}

func redIsNaN[A redAcc](a A) bool { return a != a }

func redCombine[A redAcc](step redStep, a, b A) A {
	switch step {
	case redStepMul:
		return a * b
	case redStepMax:
		if b > a || redIsNaN(b) {
			return b
		}
		return a
	case redStepMin:
		if b < a || redIsNaN(b) {
			return b
		}
		return a
	}
	return a + b
}

// redChunk folds the contiguous run x into acc.
func redChunk[T redNum, A redAcc](step redStep, x []T, acc A, m float64) A {
	switch step {
	case redStepAdd:
		var s0, s1, s2, s3 A
		i := 0
		for ; i+4 <= len(x); i += 4 {
			s0 += A(x[i])
			s1 += A(x[i+1])
			s2 += A(x[i+2])
			s3 += A(x[i+3])
		}
		for ; i < len(x); i++ {
			s0 += A(x[i])
		}
		return acc + (s0 + s1) + (s2 + s3)
	case redStepAbs:
		for _, v := range x {
			a := A(v)
			if a < 0 {
				a = -a
			}
			acc += a
		}
	case redStepSq:
		var s0, s1 A
		i := 0
		for ; i+2 <= len(x); i += 2 {
			a, b := A(x[i]), A(x[i+1])
			s0 += a * a
			s1 += b * b
		}
		for ; i < len(x); i++ {
			a := A(x[i])
			s0 += a * a
		}
		return acc + s0 + s1
	case redStepMul:
		for _, v := range x {
			acc *= A(v)
		}
	case redStepMax:
		for _, v := range x {
			a := A(v)
			if a > acc || redIsNaN(a) {
				acc = a
			}
		}
	case redStepMin:
		for _, v := range x {
			a := A(v)
			if a < acc || redIsNaN(a) {
				acc = a
			}
		}
	case redStepExp:
		for _, v := range x {
			acc += A(math.Exp(float64(v) - m))
		}
	}
	return acc
}

// redRow folds the row x elementwise into acc (same length); m holds the
// per-element shifts for redStepExp.
func redRow[T redNum, A redAcc](step redStep, x []T, acc []A, m []float64) {
	acc = acc[:len(x)]
	switch step {
	case redStepAdd:
		for i, v := range x {
			acc[i] += A(v)
		}
	case redStepAbs:
		for i, v := range x {
			a := A(v)
			if a < 0 {
				a = -a
			}
			acc[i] += a
		}
	case redStepSq:
		for i, v := range x {
			a := A(v)
			acc[i] += a * a
		}
	case redStepMul:
		for i, v := range x {
			acc[i] *= A(v)
		}
	case redStepMax:
		for i, v := range x {
			a := A(v)
			if a > acc[i] || redIsNaN(a) {
				acc[i] = a
			}
		}
	case redStepMin:
		for i, v := range x {
			a := A(v)
			if a < acc[i] || redIsNaN(a) {
				acc[i] = a
			}
		}
	case redStepExp:
		m = m[:len(x)]
		for i, v := range x {
			acc[i] += A(math.Exp(float64(v) - m[i]))
		}
	}
}
