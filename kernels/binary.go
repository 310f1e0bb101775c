package kernels

import (
	"cmp"
	"errors"
	"fmt"
	"math"
	"sync"
	"sync/atomic"

	"github.com/inferd/inferd/kernels/vec"
	"github.com/inferd/inferd/tensor"
)

// Elementwise binary ops: arithmetic, comparison, logical and bitwise ops
// with NumPy broadcasting, Pow, Mod, BitShift and Where.
//
// Every op runs through ewBinaryInto: same-shape and scalar operands take
// one flat loop; other broadcasts go through an ewPlan, which merges
// dimensions and walks the output in rows along which each input is either
// contiguous or constant, so the inner loops stay flat and tight.

func init() {
	register("Add", newAdd)
	register("Sub", newSub)
	register("Mul", newMul)
	register("Div", newDiv)
	register("Pow", newPow)
	register("Mod", newMod)
	register("BitShift", newBitShift)
	register("And", newAnd)
	register("Or", newOr)
	register("Xor", newXor)
	register("BitwiseAnd", newBitwiseAnd)
	register("BitwiseOr", newBitwiseOr)
	register("BitwiseXor", newBitwiseXor)
	register("Equal", newEqual)
	register("Greater", newGreater)
	register("GreaterOrEqual", newGreaterOrEqual)
	register("Less", newLess)
	register("LessOrEqual", newLessOrEqual)
	register("Where", newWhere)
}

// Row modes: both operands vary along the row, the second is constant, or
// the first is constant.
const (
	ewVV = iota
	ewVS
	ewSV
)

// Work sizes (elements) below which a loop runs on the calling thread.
const (
	ewGrainCheap = 1 << 15 // add, compare, copy
	ewGrainHeavy = 1 << 12 // exp, tanh, pow, ...
)

var errEwDivZero = errors.New("integer division by zero")

// ewPar runs fn over [0, n) on the session's threads when n is at least grain.
func ewPar(c *Context, n, grain int, fn func(lo, hi int)) {
	if n <= 0 {
		return
	}
	if n < grain || c == nil {
		fn(0, n)
		return
	}
	c.Parallel(n, fn)
}

// ewPlan walks a broadcast output in rows. Output dimensions of size 1 are
// dropped and adjacent dimensions merged where every input is contiguous
// (or broadcast) across both; the last merged dimension is the row, along
// which input k advances by inc[k] (0 or 1). A plan of up to ewPlanDims
// merged dimensions and ewPlanIns inputs lives in its own buffers, so one
// on the stack costs no allocation.
type ewPlan struct {
	inner int              // row length
	dims  []int            // outer (row-indexing) dimensions
	st    [ewPlanIns][]int // st[k][d]: input k's stride over outer dimension d
	inc   []int            // input k's stride within a row
}

// ewPlanBuf holds a plan's slices. It is kept outside the plan: a struct
// that points into itself would always be moved to the heap.
type ewPlanBuf struct {
	dims [ewPlanDims]int
	st   [ewPlanIns][ewPlanDims]int
	inc  [ewPlanIns]int
}

const (
	ewPlanDims = 8
	ewPlanIns  = 4
)

func ewNewPlan(out []int, ins ...[]int) *ewPlan {
	p := ewMakePlan(new(ewPlanBuf), out, ins...)
	return &p
}

// ewMakePlan returns the plan that walks out for inputs of the given
// shapes, its slices in buf.
func ewMakePlan(buf *ewPlanBuf, out []int, ins ...[]int) (plan ewPlan) {
	k := len(ins)
	if k > ewPlanIns {
		panic("kernels: broadcast plan over too many inputs")
	}
	plan.inc = buf.inc[:k]
	for i := range k {
		plan.st[i] = buf.st[i][:0]
	}
	plan.dims = buf.dims[:0]
	// full returns input i's stride over output dimension d.
	full := func(i, d int) int {
		in := ins[i]
		j := d - (len(out) - len(in))
		if j < 0 || in[j] == 1 {
			return 0
		}
		acc := 1
		for _, n := range in[j+1:] {
			acc *= n
		}
		return acc
	}
	for d, size := range out {
		if size == 1 {
			continue
		}
		if last := len(plan.dims) - 1; last >= 0 {
			merge := true
			for i := range k {
				if plan.st[i][last] != full(i, d)*size {
					merge = false
					break
				}
			}
			if merge {
				plan.dims[last] *= size
				for i := range k {
					plan.st[i][last] = full(i, d)
				}
				continue
			}
		}
		plan.dims = append(plan.dims, size)
		for i := range k {
			plan.st[i] = append(plan.st[i], full(i, d))
		}
	}
	if len(plan.dims) == 0 {
		plan.inner = 1
		for i := range plan.inc {
			plan.inc[i] = 1
		}
		return plan
	}
	last := len(plan.dims) - 1
	plan.inner = plan.dims[last]
	for i := range k {
		plan.inc[i] = plan.st[i][last]
		plan.st[i] = plan.st[i][:last]
	}
	plan.dims = plan.dims[:last]
	return plan
}

// chunk calls fn for the row pieces covering output elements [lo, hi):
// fn(o, off, cnt) handles outputs [o, o+cnt), where input k starts at
// off[k] and advances by inc[k]. The offsets travel as an array, by value:
// a slice handed to a func value would be moved to the heap.
func (p *ewPlan) chunk(lo, hi int, fn func(o int, off [ewPlanIns]int, cnt int)) {
	k := len(p.inc)
	if k > ewPlanIns {
		panic("kernels: broadcast plan over too many inputs")
	}
	var off [ewPlanIns]int
	var idxBuf [ewPlanDims]int
	idx := idxBuf[:0]
	if len(p.dims) <= len(idxBuf) {
		idx = idxBuf[:len(p.dims)]
	} else {
		idx = make([]int, len(p.dims))
	}
	col := lo % p.inner
	r := lo / p.inner
	for d := len(p.dims) - 1; d >= 0; d-- {
		idx[d] = r % p.dims[d]
		r /= p.dims[d]
	}
	for i := range k {
		o := col * p.inc[i]
		for d := range p.dims {
			o += idx[d] * p.st[i][d]
		}
		off[i] = o
	}
	for o := lo; o < hi; {
		cnt := min(p.inner-col, hi-o)
		fn(o, off, cnt)
		o += cnt
		if o >= hi {
			return
		}
		for i := range k {
			off[i] -= col * p.inc[i]
		}
		col = 0
		for d := len(p.dims) - 1; d >= 0; d-- {
			idx[d]++
			for i := range k {
				off[i] += p.st[i][d]
			}
			if idx[d] < p.dims[d] {
				break
			}
			for i := range k {
				off[i] -= p.st[i][d] * p.dims[d]
			}
			idx[d] = 0
		}
	}
}

// ewBinary allocates the broadcast output of dtype odt and fills it with
// row applied to x and y (storage types A and B, output type U).
func ewBinary[A, B, U any](c *Context, x, y *tensor.Tensor, odt tensor.DType, grain int, row func(o []U, a []A, b []B, mode int)) (*tensor.Tensor, error) {
	shape, err := ewBroadcast2(c, x.Shape, y.Shape)
	if err != nil {
		return nil, err
	}
	out := c.Alloc(odt, shape...)
	ewBinaryInto(c, out, x, y, grain, row)
	return out, nil
}

// ewBroadcast2 is BroadcastShapes for two shapes, with the result in the
// run's scratch.
func ewBroadcast2(c *Context, a, b []int) ([]int, error) {
	out := c.Ints(max(len(a), len(b)))
	for i := range out {
		out[i] = 1
	}
	for _, s := range [2][]int{a, b} {
		if i, d := broadcastInto(out, s); i >= 0 {
			return nil, fmt.Errorf("shapes %v and %v cannot broadcast: dimension %d is %d and %d", a, b, i, out[i], d)
		}
	}
	return out, nil
}

// ewBinaryInto writes row(x, y) into out, whose shape is the broadcast of
// x's and y's. out may be x itself (an accumulator of the final shape).
func ewBinaryInto[A, B, U any](c *Context, out, x, y *tensor.Tensor, grain int, row func(o []U, a []A, b []B, mode int)) {
	a, b, o := x.Data.([]A), y.Data.([]B), out.Data.([]U)
	n := len(o)
	if n == 0 {
		return
	}
	flat := -1
	switch {
	case len(a) == n && len(b) == n:
		flat = ewVV
	case len(b) == 1 && len(a) == n:
		flat = ewVS
	case len(a) == 1 && len(b) == n:
		flat = ewSV
	}
	if n < grain || c == nil {
		if flat >= 0 {
			row(o, a, b, flat)
			return
		}
		var buf ewPlanBuf
		p := ewMakePlan(&buf, out.Shape, x.Shape, y.Shape)
		ewBinaryRows(&p, 0, n, o, a, b, row)
		return
	}
	t := ewTaskPool.Get().(*ewTask)
	t.out, t.x, t.y, t.row, t.run, t.flat = out.Data, x.Data, y.Data, row, ewRunner[A, B, U]{}, flat
	if flat < 0 {
		t.plan = ewMakePlan(&t.buf, out.Shape, x.Shape, y.Shape)
	}
	c.ParallelTask(n, t)
	t.out, t.x, t.y, t.row, t.run = nil, nil, nil, nil, nil
	ewTaskPool.Put(t)
}

// ewTask is a binary op shared across threads. It is pooled and holds the
// operands as the tensors' own interface values, so a parallel op
// allocates nothing; run is the instantiation that unpacks them.
type ewTask struct {
	out, x, y any
	row       any // func(o []U, a []A, b []B, mode int)
	flat      int // the row mode over flat ranges, or -1: walk plan
	plan      ewPlan
	buf       ewPlanBuf
	run       interface{ run(t *ewTask, lo, hi int) }
}

var ewTaskPool = sync.Pool{New: func() any { return new(ewTask) }}

func (t *ewTask) Run(lo, hi int) { t.run.run(t, lo, hi) }

// ewRunner unpacks an ewTask's operands. It has no fields, so making an
// interface of it allocates nothing (a generic function value would).
type ewRunner[A, B, U any] struct{}

func (ewRunner[A, B, U]) run(t *ewTask, lo, hi int) {
	o, a, b := t.out.([]U), t.x.([]A), t.y.([]B)
	row := t.row.(func(o []U, a []A, b []B, mode int))
	switch t.flat {
	case ewVV:
		row(o[lo:hi], a[lo:hi], b[lo:hi], ewVV)
	case ewVS:
		row(o[lo:hi], a[lo:hi], b, ewVS)
	case ewSV:
		row(o[lo:hi], a, b[lo:hi], ewSV)
	default:
		ewBinaryRows(&t.plan, lo, hi, o, a, b, row)
	}
}

// ewBinaryRows applies row to outputs [lo, hi) of a broadcast plan.
func ewBinaryRows[A, B, U any](p *ewPlan, lo, hi int, o []U, a []A, b []B, row func(o []U, a []A, b []B, mode int)) {
	mode := ewVV
	if p.inc[1] == 0 {
		mode = ewVS
	} else if p.inc[0] == 0 {
		mode = ewSV
	}
	p.chunk(lo, hi, func(oo int, off [ewPlanIns]int, cnt int) {
		as, bs := a[off[0]:], b[off[1]:]
		if mode != ewSV {
			as = as[:cnt]
		}
		if mode != ewVS {
			bs = bs[:cnt]
		}
		row(o[oo:oo+cnt], as, bs, mode)
	})
}

// ewRowOf turns an element function into a row function. It costs a call
// per element, so hot float32 paths use the dedicated rows below.
func ewRowOf[A, B, U any](f func(A, B) U) func(o []U, a []A, b []B, mode int) {
	return func(o []U, a []A, b []B, mode int) {
		switch mode {
		case ewVV:
			a, b = a[:len(o)], b[:len(o)]
			for i := range o {
				o[i] = f(a[i], b[i])
			}
		case ewVS:
			y := b[0]
			a = a[:len(o)]
			for i := range o {
				o[i] = f(a[i], y)
			}
		default:
			x := a[0]
			b = b[:len(o)]
			for i := range o {
				o[i] = f(x, b[i])
			}
		}
	}
}

// Dedicated arithmetic rows: the operators compile to direct instructions
// for each element type.

func ewAddRow[T tensor.Numeric](o, a, b []T, mode int) {
	switch mode {
	case ewVV:
		a, b = a[:len(o)], b[:len(o)]
		for i := range o {
			o[i] = a[i] + b[i]
		}
	case ewVS:
		y := b[0]
		a = a[:len(o)]
		for i := range o {
			o[i] = a[i] + y
		}
	default:
		x := a[0]
		b = b[:len(o)]
		for i := range o {
			o[i] = x + b[i]
		}
	}
}

func ewSubRow[T tensor.Numeric](o, a, b []T, mode int) {
	switch mode {
	case ewVV:
		a, b = a[:len(o)], b[:len(o)]
		for i := range o {
			o[i] = a[i] - b[i]
		}
	case ewVS:
		y := b[0]
		a = a[:len(o)]
		for i := range o {
			o[i] = a[i] - y
		}
	default:
		x := a[0]
		b = b[:len(o)]
		for i := range o {
			o[i] = x - b[i]
		}
	}
}

func ewMulRow[T tensor.Numeric](o, a, b []T, mode int) {
	switch mode {
	case ewVV:
		a, b = a[:len(o)], b[:len(o)]
		for i := range o {
			o[i] = a[i] * b[i]
		}
	case ewVS:
		y := b[0]
		a = a[:len(o)]
		for i := range o {
			o[i] = a[i] * y
		}
	default:
		x := a[0]
		b = b[:len(o)]
		for i := range o {
			o[i] = x * b[i]
		}
	}
}

// ewDivRow divides; integer callers check for zero divisors first.
func ewDivRow[T tensor.Numeric](o, a, b []T, mode int) {
	switch mode {
	case ewVV:
		a, b = a[:len(o)], b[:len(o)]
		for i := range o {
			o[i] = a[i] / b[i]
		}
	case ewVS:
		y := b[0]
		a = a[:len(o)]
		for i := range o {
			o[i] = a[i] / y
		}
	default:
		x := a[0]
		b = b[:len(o)]
		for i := range o {
			o[i] = x / b[i]
		}
	}
}

// ewMaxRow and ewMinRow propagate NaN, like numpy's maximum and minimum.
func ewMaxRow[T tensor.Numeric](o, a, b []T, mode int) {
	f := func(x, y T) T {
		if x != x || x > y {
			return x
		}
		if y != y {
			return y
		}
		return y
	}
	ewRowOf(f)(o, a, b, mode)
}

func ewMinRow[T tensor.Numeric](o, a, b []T, mode int) {
	f := func(x, y T) T {
		if x != x || x < y {
			return x
		}
		return y
	}
	ewRowOf(f)(o, a, b, mode)
}

// ewMaxRowF32 and ewMinRowF32 are the float32 forms without a call per element.
func ewMaxRowF32(o, a, b []float32, mode int) {
	switch mode {
	case ewVV:
		a, b = a[:len(o)], b[:len(o)]
		for i := range o {
			x, y := a[i], b[i]
			if x != x || x > y {
				o[i] = x
			} else {
				o[i] = y
			}
		}
	case ewVS:
		y := b[0]
		a = a[:len(o)]
		for i, x := range a {
			if x != x || x > y {
				o[i] = x
			} else {
				o[i] = y
			}
		}
	default:
		ewMaxRowF32(o, b, a, ewVS)
	}
}

func ewMinRowF32(o, a, b []float32, mode int) {
	switch mode {
	case ewVV:
		a, b = a[:len(o)], b[:len(o)]
		for i := range o {
			x, y := a[i], b[i]
			if x != x || x < y {
				o[i] = x
			} else {
				o[i] = y
			}
		}
	case ewVS:
		y := b[0]
		a = a[:len(o)]
		for i, x := range a {
			if x != x || x < y {
				o[i] = x
			} else {
				o[i] = y
			}
		}
	default:
		ewMinRowF32(o, b, a, ewVS)
	}
}

// Arithmetic op codes shared by the binary and variadic kernels.
const (
	ewOpAdd = iota
	ewOpSub
	ewOpMul
	ewOpDiv
	ewOpMax
	ewOpMin
)

var ewOpNames = [...]string{"Add", "Sub", "Mul", "Div", "Max", "Min"}

// Float32 arithmetic rows run vec's vectorized loops; the other modes
// (scalar on either side) map onto vec's scalar forms.

func ewAddRowF32(o, a, b []float32, mode int) {
	switch mode {
	case ewVV:
		vec.Add(o, a, b)
	case ewVS:
		vec.AddScalar(o, a, b[0])
	default:
		vec.AddScalar(o, b[:len(o)], a[0])
	}
}

func ewSubRowF32(o, a, b []float32, mode int) {
	switch mode {
	case ewVV:
		vec.Sub(o, a, b)
	case ewVS:
		vec.SubScalar(o, a, b[0])
	default:
		vec.ScalarSub(o, a[0], b[:len(o)])
	}
}

func ewMulRowF32(o, a, b []float32, mode int) {
	switch mode {
	case ewVV:
		vec.Mul(o, a, b)
	case ewVS:
		vec.MulScalar(o, a, b[0])
	default:
		vec.MulScalar(o, b[:len(o)], a[0])
	}
}

func ewDivRowF32(o, a, b []float32, mode int) {
	switch mode {
	case ewVV:
		vec.Div(o, a, b)
	case ewVS:
		vec.DivScalar(o, a, b[0])
	default:
		vec.ScalarDiv(o, a[0], b[:len(o)])
	}
}

// ewArithRow returns the row function of op for element type T.
func ewArithRow[T tensor.Numeric](op int) func(o, a, b []T, mode int) {
	// The types with a table made at init take their row from it: a
	// generic function's value holds its dictionary, so taking one
	// allocates. int64 is the type of shape arithmetic.
	switch any(T(0)).(type) {
	case int64:
		return any(ewArithRowsI64[op]).(func(o, a, b []T, mode int))
	case int32:
		return any(ewArithRowsI32[op]).(func(o, a, b []T, mode int))
	case float64:
		return any(ewArithRowsF64[op]).(func(o, a, b []T, mode int))
	}
	return ewArithRowOf[T](op)
}

var (
	ewArithRowsI64 = ewArithRows[int64]()
	ewArithRowsI32 = ewArithRows[int32]()
	ewArithRowsF64 = ewArithRows[float64]()
)

// ewArithRows returns the row of each arithmetic op for T.
func ewArithRows[T tensor.Numeric]() [len(ewOpNames)]func(o, a, b []T, mode int) {
	var rows [len(ewOpNames)]func(o, a, b []T, mode int)
	for op := range rows {
		rows[op] = ewArithRowOf[T](op)
	}
	return rows
}

// ewArithRowOf returns the row of arithmetic op for T.
func ewArithRowOf[T tensor.Numeric](op int) func(o, a, b []T, mode int) {
	if _, ok := any(T(0)).(float32); ok && op <= ewOpDiv {
		return any([...]func(o, a, b []float32, mode int){
			ewOpAdd: ewAddRowF32, ewOpSub: ewSubRowF32, ewOpMul: ewMulRowF32, ewOpDiv: ewDivRowF32,
		}[op]).(func(o, a, b []T, mode int))
	}
	switch op {
	case ewOpAdd:
		return ewAddRow[T]
	case ewOpSub:
		return ewSubRow[T]
	case ewOpMul:
		return ewMulRow[T]
	case ewOpDiv:
		return ewDivRow[T]
	case ewOpMax:
		if _, ok := any(T(0)).(float32); ok {
			return any(ewMaxRowF32).(func(o, a, b []T, mode int))
		}
		return ewMaxRow[T]
	default:
		if _, ok := any(T(0)).(float32); ok {
			return any(ewMinRowF32).(func(o, a, b []T, mode int))
		}
		return ewMinRow[T]
	}
}

func ewIsInteger[T tensor.Numeric]() bool {
	switch any(T(0)).(type) {
	case float32, float64:
		return false
	}
	return true
}

func ewHasZero[T tensor.Numeric](s []T) bool {
	for _, v := range s {
		if v == 0 {
			return true
		}
	}
	return false
}

// ewArithInto computes out = op(x, y) with broadcasting, for tensors of one
// native numeric type; out may be x.
func ewArithInto[T tensor.Numeric](c *Context, op int, out, x, y *tensor.Tensor) error {
	if op == ewOpDiv && ewIsInteger[T]() {
		if len(out.Data.([]T)) > 0 && ewHasZero(y.Data.([]T)) {
			return errEwDivZero
		}
	}
	ewBinaryInto(c, out, x, y, ewGrainCheap, ewArithRow[T](op))
	return nil
}

// ewWiden returns a float32 copy of a float16 or bfloat16 tensor; other
// tensors come back unchanged.
func ewWiden(t *tensor.Tensor) *tensor.Tensor {
	switch s := t.Data.(type) {
	case []tensor.F16:
		d := make([]float32, len(s))
		for i, v := range s {
			d[i] = v.Float32()
		}
		return &tensor.Tensor{DType: tensor.Float32, Shape: t.Shape, Data: d}
	case []tensor.BF16:
		d := make([]float32, len(s))
		for i, v := range s {
			d[i] = v.Float32()
		}
		return &tensor.Tensor{DType: tensor.Float32, Shape: t.Shape, Data: d}
	}
	return t
}

// ewNarrow rounds a float32 tensor to dt (float16 or bfloat16); for any
// other dt it returns t.
func ewNarrow(c *Context, t *tensor.Tensor, dt tensor.DType) *tensor.Tensor {
	s, ok := t.Data.([]float32)
	if !ok {
		return t
	}
	switch dt {
	case tensor.Float16:
		out := c.Alloc(dt, t.Shape...)
		d := out.Data.([]tensor.F16)
		for i, v := range s {
			d[i] = tensor.F16FromFloat32(v)
		}
		return out
	case tensor.BFloat16:
		out := c.Alloc(dt, t.Shape...)
		d := out.Data.([]tensor.BF16)
		for i, v := range s {
			d[i] = tensor.BF16FromFloat32(v)
		}
		return out
	}
	return t
}

func ewIsHalf(dt tensor.DType) bool { return dt == tensor.Float16 || dt == tensor.BFloat16 }

// ewSameType checks that two operands share an element type.
func ewSameType(x, y *tensor.Tensor) error {
	if x.DType != y.DType {
		return fmt.Errorf("inputs have different types %v and %v", x.DType, y.DType)
	}
	return nil
}

// ewArith computes op(x, y) for two tensors of one numeric type.
func ewArith(c *Context, op int, x, y *tensor.Tensor) (*tensor.Tensor, error) {
	if err := ewSameType(x, y); err != nil {
		return nil, err
	}
	if ewIsHalf(x.DType) {
		r, err := ewArith(c, op, ewWiden(x), ewWiden(y))
		if err != nil {
			return nil, err
		}
		return ewNarrow(c, r, x.DType), nil
	}
	shape, err := ewBroadcast2(c, x.Shape, y.Shape)
	if err != nil {
		return nil, err
	}
	out := c.AllocRaw(x.DType, shape...) // ewBinaryInto writes every element
	return out, ewArithIntoAny(c, op, out, x, y)
}

// ewArithIntoAny dispatches ewArithInto on the element type.
func ewArithIntoAny(c *Context, op int, out, x, y *tensor.Tensor) error {
	switch x.Data.(type) {
	case []float32:
		return ewArithInto[float32](c, op, out, x, y)
	case []float64:
		return ewArithInto[float64](c, op, out, x, y)
	case []int8:
		return ewArithInto[int8](c, op, out, x, y)
	case []int16:
		return ewArithInto[int16](c, op, out, x, y)
	case []int32:
		return ewArithInto[int32](c, op, out, x, y)
	case []int64:
		return ewArithInto[int64](c, op, out, x, y)
	case []uint8:
		return ewArithInto[uint8](c, op, out, x, y)
	case []uint16:
		return ewArithInto[uint16](c, op, out, x, y)
	case []uint32:
		return ewArithInto[uint32](c, op, out, x, y)
	case []uint64:
		return ewArithInto[uint64](c, op, out, x, y)
	}
	return fmt.Errorf("%s of %v tensors: %w", ewOpNames[op], x.DType, ErrUnsupported)
}

// ewLegacyBroadcast handles the `broadcast` and `axis` attributes of the
// binary ops before opset 7: with broadcast=1, B's shape lines up with A's
// starting at axis (default: B's trailing dimensions). It returns a
// function that reshapes B accordingly, or nil when no change is needed.
func ewLegacyBroadcast(b *Build) (func(x, y *tensor.Tensor) (*tensor.Tensor, error), error) {
	if b.Opset >= 7 {
		return nil, nil
	}
	a := b.Attrs()
	bc := a.Int("broadcast", 0)
	hasAxis := a.Has("axis")
	axis := a.Int("axis", 0)
	if err := a.Err(); err != nil {
		return nil, err
	}
	if bc == 0 {
		return nil, nil
	}
	return func(x, y *tensor.Tensor) (*tensor.Tensor, error) {
		ax := len(x.Shape) - len(y.Shape)
		if hasAxis {
			ax = int(axis)
			if ax < 0 {
				ax += len(x.Shape)
			}
		}
		if ax < 0 || ax+len(y.Shape) > len(x.Shape) {
			return nil, fmt.Errorf("B of shape %v cannot broadcast to A of shape %v at axis %d", y.Shape, x.Shape, axis)
		}
		shape := make([]int, len(x.Shape))
		for i := range shape {
			shape[i] = 1
		}
		copy(shape[ax:], y.Shape)
		return y.Reshape(shape...)
	}, nil
}

// ewBinaryKernel wraps a two-input computation with input checks and the
// legacy broadcast attributes.
func ewBinaryKernel(b *Build, f func(c *Context, x, y *tensor.Tensor) (*tensor.Tensor, error)) (any, error) {
	legacy, err := ewLegacyBroadcast(b)
	if err != nil {
		return nil, err
	}
	return KernelFunc(func(c *Context, in []*tensor.Tensor) ([]*tensor.Tensor, error) {
		if len(in) != 2 || in[0] == nil || in[1] == nil {
			return nil, fmt.Errorf("want 2 inputs, got %d", len(in))
		}
		x, y := in[0], in[1]
		if legacy != nil {
			var err error
			if y, err = legacy(x, y); err != nil {
				return nil, err
			}
		}
		out, err := f(c, x, y)
		if err != nil {
			return nil, err
		}
		return c.Outs(out), nil
	}), nil
}

func ewArithFactory(op int) Factory {
	return func(b *Build) (any, error) {
		return ewBinaryKernel(b, func(c *Context, x, y *tensor.Tensor) (*tensor.Tensor, error) {
			return ewArith(c, op, x, y)
		})
	}
}

var (
	newAdd = ewArithFactory(ewOpAdd)
	newSub = ewArithFactory(ewOpSub)
	newMul = ewArithFactory(ewOpMul)
	newDiv = ewArithFactory(ewOpDiv)
)

// ---- Comparison ----

const (
	ewCmpEq = iota
	ewCmpGt
	ewCmpGe
	ewCmpLt
	ewCmpLe
)

func ewCmpRow[T cmp.Ordered](op int) func(o []bool, a, b []T, mode int) {
	// As ewArithRow: the common types take their row from a table.
	var z T
	switch any(z).(type) {
	case int64:
		return any(ewCmpRowsI64[op]).(func(o []bool, a, b []T, mode int))
	case float32:
		return any(ewCmpRowsF32[op]).(func(o []bool, a, b []T, mode int))
	}
	return ewCmpRowOf[T](op)
}

var (
	ewCmpRowsI64 = ewCmpRows[int64]()
	ewCmpRowsF32 = ewCmpRows[float32]()
)

// ewCmpRows returns the row of each comparison for T.
func ewCmpRows[T cmp.Ordered]() [ewCmpLe + 1]func(o []bool, a, b []T, mode int) {
	var rows [ewCmpLe + 1]func(o []bool, a, b []T, mode int)
	for op := range rows {
		rows[op] = ewCmpRowOf[T](op)
	}
	return rows
}

// ewCmpRowOf returns the row of comparison op for T.
func ewCmpRowOf[T cmp.Ordered](op int) func(o []bool, a, b []T, mode int) {
	switch op {
	case ewCmpEq:
		return ewRowOf(func(x, y T) bool { return x == y })
	case ewCmpGt:
		return ewRowOf(func(x, y T) bool { return x > y })
	case ewCmpGe:
		return ewRowOf(func(x, y T) bool { return x >= y })
	case ewCmpLt:
		return ewRowOf(func(x, y T) bool { return x < y })
	}
	return ewRowOf(func(x, y T) bool { return x <= y })
}

func ewCompareT[T cmp.Ordered](c *Context, op int, x, y *tensor.Tensor) (*tensor.Tensor, error) {
	return ewBinary(c, x, y, tensor.Bool, ewGrainCheap, ewCmpRow[T](op))
}

func ewCompare(c *Context, op int, x, y *tensor.Tensor) (*tensor.Tensor, error) {
	if err := ewSameType(x, y); err != nil {
		return nil, err
	}
	if ewIsHalf(x.DType) {
		x, y = ewWiden(x), ewWiden(y)
	}
	switch x.Data.(type) {
	case []float32:
		return ewCompareT[float32](c, op, x, y)
	case []float64:
		return ewCompareT[float64](c, op, x, y)
	case []int8:
		return ewCompareT[int8](c, op, x, y)
	case []int16:
		return ewCompareT[int16](c, op, x, y)
	case []int32:
		return ewCompareT[int32](c, op, x, y)
	case []int64:
		return ewCompareT[int64](c, op, x, y)
	case []uint8:
		return ewCompareT[uint8](c, op, x, y)
	case []uint16:
		return ewCompareT[uint16](c, op, x, y)
	case []uint32:
		return ewCompareT[uint32](c, op, x, y)
	case []uint64:
		return ewCompareT[uint64](c, op, x, y)
	case []string:
		if op == ewCmpEq {
			return ewCompareT[string](c, op, x, y)
		}
	case []bool:
		if op == ewCmpEq {
			return ewBinary(c, x, y, tensor.Bool, ewGrainCheap, ewRowOf(func(a, b bool) bool { return a == b }))
		}
	}
	return nil, fmt.Errorf("comparing %v tensors: %w", x.DType, ErrUnsupported)
}

func ewCompareFactory(op int) Factory {
	return func(b *Build) (any, error) {
		return ewBinaryKernel(b, func(c *Context, x, y *tensor.Tensor) (*tensor.Tensor, error) {
			return ewCompare(c, op, x, y)
		})
	}
}

var (
	newEqual          = ewCompareFactory(ewCmpEq)
	newGreater        = ewCompareFactory(ewCmpGt)
	newGreaterOrEqual = ewCompareFactory(ewCmpGe)
	newLess           = ewCompareFactory(ewCmpLt)
	newLessOrEqual    = ewCompareFactory(ewCmpLe)
)

// ---- Logical and bitwise ----

func ewLogicalFactory(name string, f func(x, y bool) bool) Factory {
	row := ewRowOf(f)
	return func(b *Build) (any, error) {
		return ewBinaryKernel(b, func(c *Context, x, y *tensor.Tensor) (*tensor.Tensor, error) {
			if x.DType != tensor.Bool || y.DType != tensor.Bool {
				return nil, fmt.Errorf("%s wants bool inputs, got %v and %v", name, x.DType, y.DType)
			}
			return ewBinary(c, x, y, tensor.Bool, ewGrainCheap, row)
		})
	}
}

var (
	newAnd = ewLogicalFactory("And", func(x, y bool) bool { return x && y })
	newOr  = ewLogicalFactory("Or", func(x, y bool) bool { return x || y })
	newXor = ewLogicalFactory("Xor", func(x, y bool) bool { return x != y })
)

type ewInt interface {
	~int8 | ~int16 | ~int32 | ~int64 | ~uint8 | ~uint16 | ~uint32 | ~uint64
}

const (
	ewBitAnd = iota
	ewBitOr
	ewBitXor
)

func ewBitwiseT[T ewInt](c *Context, op int, x, y *tensor.Tensor) (*tensor.Tensor, error) {
	var row func(o, a, b []T, mode int)
	switch op {
	case ewBitAnd:
		row = ewRowOf(func(a, b T) T { return a & b })
	case ewBitOr:
		row = ewRowOf(func(a, b T) T { return a | b })
	default:
		row = ewRowOf(func(a, b T) T { return a ^ b })
	}
	return ewBinary(c, x, y, x.DType, ewGrainCheap, row)
}

func ewBitwiseFactory(op int) Factory {
	return func(b *Build) (any, error) {
		return ewBinaryKernel(b, func(c *Context, x, y *tensor.Tensor) (*tensor.Tensor, error) {
			if err := ewSameType(x, y); err != nil {
				return nil, err
			}
			switch x.Data.(type) {
			case []int8:
				return ewBitwiseT[int8](c, op, x, y)
			case []int16:
				return ewBitwiseT[int16](c, op, x, y)
			case []int32:
				return ewBitwiseT[int32](c, op, x, y)
			case []int64:
				return ewBitwiseT[int64](c, op, x, y)
			case []uint8:
				return ewBitwiseT[uint8](c, op, x, y)
			case []uint16:
				return ewBitwiseT[uint16](c, op, x, y)
			case []uint32:
				return ewBitwiseT[uint32](c, op, x, y)
			case []uint64:
				return ewBitwiseT[uint64](c, op, x, y)
			}
			return nil, fmt.Errorf("bitwise op on %v tensors: %w", x.DType, ErrUnsupported)
		})
	}
}

var (
	newBitwiseAnd = ewBitwiseFactory(ewBitAnd)
	newBitwiseOr  = ewBitwiseFactory(ewBitOr)
	newBitwiseXor = ewBitwiseFactory(ewBitXor)
)

// ---- BitShift ----

type ewUint interface {
	~uint8 | ~uint16 | ~uint32 | ~uint64
}

func ewShiftT[T ewUint](c *Context, left bool, x, y *tensor.Tensor) (*tensor.Tensor, error) {
	// Go defines shifts by at least the width as 0, which is what a
	// shift-out of every bit means.
	if left {
		return ewBinary(c, x, y, x.DType, ewGrainCheap, ewRowOf(func(a, b T) T { return a << b }))
	}
	return ewBinary(c, x, y, x.DType, ewGrainCheap, ewRowOf(func(a, b T) T { return a >> b }))
}

func newBitShift(b *Build) (any, error) {
	a := b.Attrs()
	dir := a.String("direction", "")
	if err := a.Err(); err != nil {
		return nil, err
	}
	var left bool
	switch dir {
	case "LEFT":
		left = true
	case "RIGHT":
	default:
		return nil, fmt.Errorf("attribute direction is %q, want \"LEFT\" or \"RIGHT\"", dir)
	}
	return ewBinaryKernel(b, func(c *Context, x, y *tensor.Tensor) (*tensor.Tensor, error) {
		if err := ewSameType(x, y); err != nil {
			return nil, err
		}
		switch x.Data.(type) {
		case []uint8:
			return ewShiftT[uint8](c, left, x, y)
		case []uint16:
			return ewShiftT[uint16](c, left, x, y)
		case []uint32:
			return ewShiftT[uint32](c, left, x, y)
		case []uint64:
			return ewShiftT[uint64](c, left, x, y)
		}
		return nil, fmt.Errorf("BitShift of %v tensors: %w", x.DType, ErrUnsupported)
	})
}

// ---- Mod ----

// ewIntMod returns x mod y with the sign of y (Python's rule) or, for
// fmod, with the sign of x (C's). y must not be 0.
func ewIntMod[T ewInt](fmod bool) func(x, y T) T {
	if fmod {
		return func(x, y T) T { return x % y }
	}
	return func(x, y T) T {
		r := x % y
		if r != 0 && (r < 0) != (y < 0) {
			r += y
		}
		return r
	}
}

func ewFloatMod(fmod bool) func(x, y float64) float64 {
	if fmod {
		return math.Mod
	}
	return func(x, y float64) float64 {
		r := math.Mod(x, y)
		if r != 0 && (r < 0) != (y < 0) {
			r += y
		} else if r == 0 {
			r = math.Copysign(0, y)
		}
		return r
	}
}

func ewModInt[T ewInt](c *Context, fmod bool, x, y *tensor.Tensor) (*tensor.Tensor, error) {
	if x.Len() > 0 && ewHasZero(y.Data.([]T)) {
		return nil, errEwDivZero
	}
	return ewBinary(c, x, y, x.DType, ewGrainCheap, ewRowOf(ewIntMod[T](fmod)))
}

func ewMod(c *Context, fmod bool, x, y *tensor.Tensor) (*tensor.Tensor, error) {
	if err := ewSameType(x, y); err != nil {
		return nil, err
	}
	if ewIsHalf(x.DType) {
		r, err := ewMod(c, fmod, ewWiden(x), ewWiden(y))
		if err != nil {
			return nil, err
		}
		return ewNarrow(c, r, x.DType), nil
	}
	f := ewFloatMod(fmod)
	switch x.Data.(type) {
	case []float32:
		return ewBinary(c, x, y, x.DType, ewGrainHeavy, ewRowOf(func(a, b float32) float32 { return float32(f(float64(a), float64(b))) }))
	case []float64:
		return ewBinary(c, x, y, x.DType, ewGrainHeavy, ewRowOf(f))
	case []int8:
		return ewModInt[int8](c, fmod, x, y)
	case []int16:
		return ewModInt[int16](c, fmod, x, y)
	case []int32:
		return ewModInt[int32](c, fmod, x, y)
	case []int64:
		return ewModInt[int64](c, fmod, x, y)
	case []uint8:
		return ewModInt[uint8](c, fmod, x, y)
	case []uint16:
		return ewModInt[uint16](c, fmod, x, y)
	case []uint32:
		return ewModInt[uint32](c, fmod, x, y)
	case []uint64:
		return ewModInt[uint64](c, fmod, x, y)
	}
	return nil, fmt.Errorf("Mod of %v tensors: %w", x.DType, ErrUnsupported)
}

func newMod(b *Build) (any, error) {
	a := b.Attrs()
	fm := a.Int("fmod", 0)
	if err := a.Err(); err != nil {
		return nil, err
	}
	if fm != 0 && fm != 1 {
		return nil, fmt.Errorf("attribute fmod is %d, want 0 or 1", fm)
	}
	return ewBinaryKernel(b, func(c *Context, x, y *tensor.Tensor) (*tensor.Tensor, error) {
		return ewMod(c, fm == 1, x, y)
	})
}

// ---- Pow ----

// ewIPow raises x to the integer power e ≥ 0 by squaring, wrapping on
// overflow like the other integer ops.
func ewIPow[T ewInt](x T, e int64) T {
	r := T(1)
	for e > 0 {
		if e&1 != 0 {
			r *= x
		}
		x *= x
		e >>= 1
	}
	return r
}

// ewPowF32Row is Pow for float32 bases with float64 exponents, with fast
// paths for the constant exponents models use (x², √x, ...).
func ewPowF32Row(o, a []float32, b []float64, mode int) {
	if mode == ewVS {
		switch e := b[0]; e {
		case 1:
			copy(o, a)
			return
		case 2:
			a = a[:len(o)]
			for i, x := range a {
				o[i] = x * x
			}
			return
		case 3:
			a = a[:len(o)]
			for i, x := range a {
				o[i] = x * x * x
			}
			return
		case 0.5:
			a = a[:len(o)]
			for i, x := range a {
				o[i] = float32(math.Sqrt(float64(x)))
			}
			return
		case -1:
			a = a[:len(o)]
			for i, x := range a {
				o[i] = 1 / x
			}
			return
		}
	}
	ewRowOf(func(x float32, y float64) float32 { return float32(math.Pow(float64(x), y)) })(o, a, b, mode)
}

// ewIntPow computes integer x^y: exact for y ≥ 0; for y < 0 the result is
// 1/x^-y truncated toward zero, an error for x = 0.
func ewIntPow[T ewInt](x T, y int64) (T, bool) {
	if y >= 0 {
		return ewIPow(x, y), true
	}
	switch {
	case x == 0:
		return 0, false
	case x == 1:
		return 1, true
	case x+1 == 0: // -1 for signed types
		if y&1 == 0 {
			return 1, true
		}
		return x, true
	}
	return 0, true
}

func ewPowInt[T int32 | int64](c *Context, x, y *tensor.Tensor) (*tensor.Tensor, error) {
	if y.DType.IsFloat() {
		ys, err := Float64s(ewWiden(y))
		if err != nil {
			return nil, err
		}
		yt := &tensor.Tensor{DType: tensor.Float64, Shape: y.Shape, Data: ys}
		return ewBinary(c, x, yt, x.DType, ewGrainHeavy, ewRowOf(func(a T, b float64) T { return T(math.Pow(float64(a), b)) }))
	}
	var ys []int64
	if s, ok := y.Data.([]uint64); ok { // avoid wrapping huge exponents negative
		ys = make([]int64, len(s))
		for i, v := range s {
			ys[i] = int64(min(v, math.MaxInt64))
		}
	} else {
		var err error
		if ys, err = Int64s(y); err != nil {
			return nil, fmt.Errorf("exponent: %w", err)
		}
	}
	yt := &tensor.Tensor{DType: tensor.Int64, Shape: y.Shape, Data: ys}
	var bad atomic.Bool
	out, err := ewBinary(c, x, yt, x.DType, ewGrainHeavy, ewRowOf(func(a T, b int64) T {
		r, ok := ewIntPow(a, b)
		if !ok {
			bad.Store(true)
		}
		return r
	}))
	if err != nil {
		return nil, err
	}
	if bad.Load() {
		return nil, errors.New("integer zero raised to a negative power")
	}
	return out, nil
}

func ewPow(c *Context, x, y *tensor.Tensor) (*tensor.Tensor, error) {
	if !y.DType.IsFloat() && !y.DType.IsInt() {
		return nil, fmt.Errorf("exponent of type %v: %w", y.DType, ErrUnsupported)
	}
	switch x.DType {
	case tensor.Int32:
		return ewPowInt[int32](c, x, y)
	case tensor.Int64:
		return ewPowInt[int64](c, x, y)
	case tensor.Float16, tensor.BFloat16:
		r, err := ewPow(c, ewWiden(x), y)
		if err != nil {
			return nil, err
		}
		return ewNarrow(c, r, x.DType), nil
	case tensor.Float32:
		if y.DType == tensor.Float32 && y.Len() != 1 {
			return ewBinary(c, x, y, x.DType, ewGrainHeavy, ewRowOf(func(a, b float32) float32 {
				return float32(math.Pow(float64(a), float64(b)))
			}))
		}
	case tensor.Float64:
	default:
		// Integer bases other than int32/int64 are outside the spec but
		// cost nothing to support through float64.
		if !x.DType.IsInt() {
			return nil, fmt.Errorf("Pow of %v base: %w", x.DType, ErrUnsupported)
		}
		xs, err := Float64s(x)
		if err != nil {
			return nil, err
		}
		r, err := ewPow(c, &tensor.Tensor{DType: tensor.Float64, Shape: x.Shape, Data: xs}, y)
		if err != nil {
			return nil, err
		}
		return FromFloat64s(x.DType, r.Shape, r.Data.([]float64))
	}
	ys, err := Float64s(ewWiden(y))
	if err != nil {
		return nil, err
	}
	yt := &tensor.Tensor{DType: tensor.Float64, Shape: y.Shape, Data: ys}
	if x.DType == tensor.Float32 {
		return ewBinary(c, x, yt, x.DType, ewGrainHeavy, ewPowF32Row)
	}
	return ewBinary(c, x, yt, x.DType, ewGrainHeavy, ewRowOf(math.Pow))
}

func newPow(b *Build) (any, error) { return ewBinaryKernel(b, ewPow) }

// ---- Where ----

func ewWhereT[T any](c *Context, cond, x, y *tensor.Tensor) (*tensor.Tensor, error) {
	shape, err := ewBroadcast2(c, cond.Shape, x.Shape)
	if err == nil {
		shape, err = ewBroadcast2(c, shape, y.Shape)
	}
	if err != nil {
		return nil, err
	}
	out := c.Alloc(x.DType, shape...)
	o := out.Data.([]T)
	cs, xs, ys := cond.Data.([]bool), x.Data.([]T), y.Data.([]T)
	n := len(o)
	serial := n < ewGrainCheap || c == nil
	if len(cs) == n && len(xs) == n && len(ys) == n {
		if serial {
			ewWhereFlat(o, cs, xs, ys, 0, n)
			return out, nil
		}
		c.Parallel(n, func(lo, hi int) { ewWhereFlat(o, cs, xs, ys, lo, hi) })
		return out, nil
	}
	if serial {
		var buf ewPlanBuf
		p := ewMakePlan(&buf, shape, cond.Shape, x.Shape, y.Shape)
		ewWhereRows(&p, o, cs, xs, ys, 0, n)
		return out, nil
	}
	p := ewNewPlan(shape, cond.Shape, x.Shape, y.Shape)
	c.Parallel(n, func(lo, hi int) { ewWhereRows(p, o, cs, xs, ys, lo, hi) })
	return out, nil
}

func ewWhereFlat[T any](o []T, cs []bool, xs, ys []T, lo, hi int) {
	for i := lo; i < hi; i++ {
		if cs[i] {
			o[i] = xs[i]
		} else {
			o[i] = ys[i]
		}
	}
}

func ewWhereRows[T any](p *ewPlan, o []T, cs []bool, xs, ys []T, lo, hi int) {
	ic, ix, iy := p.inc[0], p.inc[1], p.inc[2]
	p.chunk(lo, hi, func(oo int, off [ewPlanIns]int, cnt int) {
		oc, ox, oy := off[0], off[1], off[2]
		for i := range cnt {
			if cs[oc+i*ic] {
				o[oo+i] = xs[ox+i*ix]
			} else {
				o[oo+i] = ys[oy+i*iy]
			}
		}
	})
}

func newWhere(b *Build) (any, error) {
	return KernelFunc(func(c *Context, in []*tensor.Tensor) ([]*tensor.Tensor, error) {
		if len(in) != 3 || in[0] == nil || in[1] == nil || in[2] == nil {
			return nil, fmt.Errorf("want 3 inputs, got %d", len(in))
		}
		cond, x, y := in[0], in[1], in[2]
		if cond.DType != tensor.Bool {
			return nil, fmt.Errorf("condition is %v, want bool", cond.DType)
		}
		if err := ewSameType(x, y); err != nil {
			return nil, err
		}
		var out *tensor.Tensor
		var err error
		switch x.Data.(type) {
		case []float32:
			out, err = ewWhereT[float32](c, cond, x, y)
		case []float64:
			out, err = ewWhereT[float64](c, cond, x, y)
		case []int8:
			out, err = ewWhereT[int8](c, cond, x, y)
		case []int16:
			out, err = ewWhereT[int16](c, cond, x, y)
		case []int32:
			out, err = ewWhereT[int32](c, cond, x, y)
		case []int64:
			out, err = ewWhereT[int64](c, cond, x, y)
		case []uint8:
			out, err = ewWhereT[uint8](c, cond, x, y)
		case []uint16:
			out, err = ewWhereT[uint16](c, cond, x, y)
		case []uint32:
			out, err = ewWhereT[uint32](c, cond, x, y)
		case []uint64:
			out, err = ewWhereT[uint64](c, cond, x, y)
		case []bool:
			out, err = ewWhereT[bool](c, cond, x, y)
		case []string:
			out, err = ewWhereT[string](c, cond, x, y)
		case []tensor.F16:
			out, err = ewWhereT[tensor.F16](c, cond, x, y)
		case []tensor.BF16:
			out, err = ewWhereT[tensor.BF16](c, cond, x, y)
		case []complex64:
			out, err = ewWhereT[complex64](c, cond, x, y)
		case []complex128:
			out, err = ewWhereT[complex128](c, cond, x, y)
		case []tensor.F8E4M3FN:
			out, err = ewWhereT[tensor.F8E4M3FN](c, cond, x, y)
		case []tensor.F8E4M3FNUZ:
			out, err = ewWhereT[tensor.F8E4M3FNUZ](c, cond, x, y)
		case []tensor.F8E5M2:
			out, err = ewWhereT[tensor.F8E5M2](c, cond, x, y)
		case []tensor.F8E5M2FNUZ:
			out, err = ewWhereT[tensor.F8E5M2FNUZ](c, cond, x, y)
		case []tensor.U4:
			out, err = ewWhereT[tensor.U4](c, cond, x, y)
		case []tensor.I4:
			out, err = ewWhereT[tensor.I4](c, cond, x, y)
		case []tensor.F4E2M1:
			out, err = ewWhereT[tensor.F4E2M1](c, cond, x, y)
		default:
			return nil, fmt.Errorf("Where of %v tensors: %w", x.DType, ErrUnsupported)
		}
		if err != nil {
			return nil, err
		}
		return c.Outs(out), nil
	}), nil
}
