package kernels

import (
	"fmt"
	"slices"
	"strings"

	"github.com/inferd/inferd/tensor"
)

// Einsum: explicit and implicit outputs, ellipsis broadcasting, repeated
// labels (diagonals) and reductions. Two-operand contractions without
// diagonals run as a batched GEMM; everything else on a general loop.

func init() {
	register("Einsum", newEinsum)
}

// linalgEllipsis marks "..." in a parsed term.
const linalgEllipsis = -1

// linalgLabels is the number of letter labels (a-z, A-Z); ellipsis
// dimensions get labels from linalgLabels up.
const linalgLabels = 52

type linalgEinsumEq struct {
	terms    [][]int // per input: label ids, linalgEllipsis for "..."
	out      []int   // explicit output term, or nil when implicit
	explicit bool
}

func linalgLabelOf(r rune) (int, bool) {
	switch {
	case r >= 'a' && r <= 'z':
		return int(r - 'a'), true
	case r >= 'A' && r <= 'Z':
		return 26 + int(r-'A'), true
	}
	return 0, false
}

// linalgAsciiOrder sorts labels by their characters' ASCII codes.
func linalgAsciiOrder(l int) int {
	if l < 26 {
		return 'a' + l
	}
	if l < linalgLabels {
		return 'A' + l - 26
	}
	return l + 256
}

func linalgParseTerm(s string) ([]int, error) {
	var t []int
	ell := false
	for i := 0; i < len(s); {
		if strings.HasPrefix(s[i:], "...") {
			if ell {
				return nil, fmt.Errorf("term %q has two ellipses", s)
			}
			ell = true
			t = append(t, linalgEllipsis)
			i += 3
			continue
		}
		l, ok := linalgLabelOf(rune(s[i]))
		if !ok {
			return nil, fmt.Errorf("term %q has invalid character %q", s, s[i])
		}
		t = append(t, l)
		i++
	}
	return t, nil
}

func linalgParseEinsum(eq string) (*linalgEinsumEq, error) {
	eq = strings.ReplaceAll(eq, " ", "")
	lhs, rhs, explicit := strings.Cut(eq, "->")
	e := &linalgEinsumEq{explicit: explicit}
	for _, term := range strings.Split(lhs, ",") {
		t, err := linalgParseTerm(term)
		if err != nil {
			return nil, err
		}
		e.terms = append(e.terms, t)
	}
	if explicit {
		t, err := linalgParseTerm(rhs)
		if err != nil {
			return nil, err
		}
		seen := map[int]bool{}
		for _, l := range t {
			if seen[l] {
				return nil, fmt.Errorf("output term %q repeats a label", rhs)
			}
			seen[l] = true
		}
		e.out = t
	}
	return e, nil
}

func newEinsum(b *Build) (any, error) {
	a := b.Attrs()
	if !a.Has("equation") {
		return nil, fmt.Errorf("Einsum: required attribute \"equation\" is missing")
	}
	eq := a.String("equation", "")
	if err := a.Err(); err != nil {
		return nil, err
	}
	e, err := linalgParseEinsum(eq)
	if err != nil {
		return nil, fmt.Errorf("Einsum equation %q: %w", eq, err)
	}
	if len(e.terms) != len(b.Node.Inputs) {
		return nil, fmt.Errorf("Einsum equation %q has %d operands, node has %d inputs", eq, len(e.terms), len(b.Node.Inputs))
	}
	return KernelFunc(func(c *Context, in []*tensor.Tensor) ([]*tensor.Tensor, error) {
		if len(in) != len(e.terms) {
			return nil, fmt.Errorf("Einsum equation %q needs %d inputs, got %d", eq, len(e.terms), len(in))
		}
		for i, t := range in {
			if t == nil {
				return nil, fmt.Errorf("Einsum input %d is missing", i)
			}
			if t.DType != in[0].DType {
				return nil, fmt.Errorf("Einsum inputs have types %v and %v", in[0].DType, t.DType)
			}
		}
		p, err := e.plan(in)
		if err != nil {
			return nil, fmt.Errorf("Einsum equation %q: %w", eq, err)
		}
		y := c.Alloc(in[0].DType, p.outShape...)
		switch y.Data.(type) {
		case []float32:
			linalgEinsumRun[float32](c, p, in, y.Data.([]float32))
		case []float64:
			linalgEinsumRun[float64](c, p, in, y.Data.([]float64))
		case []int8:
			linalgEinsumRun[int8](c, p, in, y.Data.([]int8))
		case []int16:
			linalgEinsumRun[int16](c, p, in, y.Data.([]int16))
		case []int32:
			linalgEinsumRun[int32](c, p, in, y.Data.([]int32))
		case []int64:
			linalgEinsumRun[int64](c, p, in, y.Data.([]int64))
		case []uint8:
			linalgEinsumRun[uint8](c, p, in, y.Data.([]uint8))
		case []uint16:
			linalgEinsumRun[uint16](c, p, in, y.Data.([]uint16))
		case []uint32:
			linalgEinsumRun[uint32](c, p, in, y.Data.([]uint32))
		case []uint64:
			linalgEinsumRun[uint64](c, p, in, y.Data.([]uint64))
		case []tensor.F16, []tensor.BF16:
			f := make([]*tensor.Tensor, len(in))
			for i, t := range in {
				v, _ := Float32s(t)
				f[i] = tensor.FromSlice(v, t.Shape...)
			}
			yf := make([]float32, y.Len())
			linalgEinsumRun[float32](c, p, f, yf)
			linalgStoreF32(y, yf)
		default:
			return nil, fmt.Errorf("Einsum of %v: %w", in[0].DType, ErrUnsupported)
		}
		return c.Outs(y), nil
	}), nil
}

// linalgEinsumPlan is an equation resolved against input shapes.
type linalgEinsumPlan struct {
	terms    [][]int // per input, one label per dimension
	size     map[int]int
	out      []int // output labels
	outShape []int
	red      []int // labels summed over
}

func (e *linalgEinsumEq) plan(in []*tensor.Tensor) (*linalgEinsumPlan, error) {
	p := &linalgEinsumPlan{size: map[int]int{}}
	ell := 0 // ellipsis rank
	for i, t := range e.terms {
		n := len(t)
		if slices.Contains(t, linalgEllipsis) {
			n--
			if in[i].Rank() < n {
				return nil, fmt.Errorf("input %d has rank %d, term needs at least %d", i, in[i].Rank(), n)
			}
			ell = max(ell, in[i].Rank()-n)
		} else if in[i].Rank() != n {
			return nil, fmt.Errorf("input %d has rank %d, term has %d labels", i, in[i].Rank(), n)
		}
	}
	expand := func(t []int, k int) []int {
		var out []int
		for _, l := range t {
			if l != linalgEllipsis {
				out = append(out, l)
				continue
			}
			for j := ell - k; j < ell; j++ {
				out = append(out, linalgLabels+j)
			}
		}
		return out
	}
	count := map[int]int{}
	for i, t := range e.terms {
		k := in[i].Rank() - (len(t) - 1)
		term := expand(t, k)
		p.terms = append(p.terms, term)
		for d, l := range term {
			n := in[i].Shape[d]
			count[l]++
			if s, ok := p.size[l]; !ok || s == 1 {
				p.size[l] = n
			} else if n != s && n != 1 {
				return nil, fmt.Errorf("label %c has sizes %d and %d", rune(linalgAsciiOrder(l)), s, n)
			}
		}
	}
	if e.explicit {
		p.out = expand(e.out, ell)
		for _, l := range p.out {
			if _, ok := p.size[l]; !ok {
				return nil, fmt.Errorf("output label %c is not in any input", rune(linalgAsciiOrder(l)))
			}
		}
	} else {
		for j := 0; j < ell; j++ {
			p.out = append(p.out, linalgLabels+j)
		}
		var once []int
		for l, n := range count {
			if n == 1 && l < linalgLabels {
				once = append(once, l)
			}
		}
		slices.SortFunc(once, func(a, b int) int { return linalgAsciiOrder(a) - linalgAsciiOrder(b) })
		p.out = append(p.out, once...)
	}
	p.outShape = []int{}
	for _, l := range p.out {
		p.outShape = append(p.outShape, p.size[l])
	}
	for l := range p.size {
		if !slices.Contains(p.out, l) {
			p.red = append(p.red, l)
		}
	}
	slices.Sort(p.red)
	return p, nil
}

// strides returns input i's element stride for each label in labels (0
// where the label is absent or broadcast; summed where it repeats).
func (p *linalgEinsumPlan) strides(i int, shape []int, labels []int) []int {
	st := tensor.Strides(shape)
	out := make([]int, len(labels))
	for k, l := range labels {
		for d, m := range p.terms[i] {
			if m == l && shape[d] != 1 {
				out[k] += st[d]
			}
		}
	}
	return out
}

func linalgEinsumRun[T tensor.Numeric](c *Context, p *linalgEinsumPlan, in []*tensor.Tensor, y []T) {
	if len(y) == 0 {
		return
	}
	if len(in) == 2 && linalgEinsumGemm(c, p, in, y) {
		return
	}
	linalgEinsumGeneral(c, p, in, y)
}

// linalgEinsumGeneral evaluates the sum of products directly: for every
// output element it walks the reduced labels.
func linalgEinsumGeneral[T tensor.Numeric](c *Context, p *linalgEinsumPlan, in []*tensor.Tensor, y []T) {
	data := make([][]T, len(in))
	ost := make([][]int, len(in)) // per input, strides over output labels
	rst := make([][]int, len(in)) // and over reduced labels
	for i, t := range in {
		data[i] = t.Data.([]T)
		ost[i] = p.strides(i, t.Shape, p.out)
		rst[i] = p.strides(i, t.Shape, p.red)
	}
	rsz := make([]int, len(p.red))
	nred := 1
	for k, l := range p.red {
		rsz[k] = p.size[l]
		nred *= rsz[k]
	}
	if nred == 0 {
		return // sums over nothing: zeros
	}
	grain := max(1, 1024/max(1, nred))
	c.Parallel(linalgCeil(len(y), grain), func(lo, hi int) {
		off := make([]int, len(in))
		idx := make([]int, len(p.red))
		for o := lo * grain; o < min(len(y), hi*grain); o++ {
			rem := o
			clear(off)
			for k := len(p.out) - 1; k >= 0; k-- {
				n := p.outShape[k]
				d := rem % n
				rem /= n
				for i := range off {
					off[i] += d * ost[i][k]
				}
			}
			clear(idx)
			var acc T
			for r := 0; r < nred; r++ {
				prod := T(1)
				for i, d := range data {
					prod *= d[off[i]]
				}
				acc += prod
				for k := len(idx) - 1; k >= 0; k-- {
					idx[k]++
					for i := range off {
						off[i] += rst[i][k]
					}
					if idx[k] < rsz[k] {
						break
					}
					for i := range off {
						off[i] -= rst[i][k] * idx[k]
					}
					idx[k] = 0
				}
			}
			y[o] = acc
		}
	})
}

// linalgEinsumGemm runs a two-operand contraction as a batched GEMM when
// neither operand has a repeated label and only batch labels broadcast. It
// reports false when it does not apply.
func linalgEinsumGemm[T tensor.Numeric](c *Context, p *linalgEinsumPlan, in []*tensor.Tensor, y []T) bool {
	ta, tb := p.terms[0], p.terms[1]
	for _, t := range [][]int{ta, tb} {
		for i := range t {
			if slices.Contains(t[i+1:], t[i]) {
				return false
			}
		}
	}
	var batch, ms, ns, ks []int
	for _, l := range p.out {
		inA, inB := slices.Contains(ta, l), slices.Contains(tb, l)
		switch {
		case inA && inB:
			batch = append(batch, l)
		case inA:
			ms = append(ms, l)
		case inB:
			ns = append(ns, l)
		}
	}
	for _, l := range ta {
		if !slices.Contains(p.out, l) {
			if !slices.Contains(tb, l) {
				return false // summed over A alone
			}
			ks = append(ks, l)
		}
	}
	for _, l := range tb {
		if !slices.Contains(p.out, l) && !slices.Contains(ta, l) {
			return false
		}
	}
	dim := func(t *tensor.Tensor, term []int, l int) int {
		return t.Shape[slices.Index(term, l)]
	}
	// Only batch labels may broadcast.
	for _, set := range [][]int{ms, ks} {
		for _, l := range set {
			if dim(in[0], ta, l) != p.size[l] {
				return false
			}
		}
	}
	for _, set := range [][]int{ns, ks} {
		for _, l := range set {
			if dim(in[1], tb, l) != p.size[l] {
				return false
			}
		}
	}
	prod := func(ls []int) int {
		n := 1
		for _, l := range ls {
			n *= p.size[l]
		}
		return n
	}
	M, N, K := prod(ms), prod(ns), prod(ks)
	nb := prod(batch)
	g := &linalgGemm[T]{M: M, N: N, K: K, alpha: 1}
	// Operand A as [batch..., M..., K...] or [batch..., K..., M...].
	var aOrder []int
	g.A, aOrder = linalgEinsumArrange[T](in[0], ta, batch, ms, ks)
	aBatchSt := linalgEinsumBatchStrides(in[0], ta, aOrder, batch)
	if slices.Equal(aOrder[len(batch):], append(slices.Clone(ms), ks...)) {
		g.aRS, g.aCS = K, 1
	} else {
		g.aRS, g.aCS = 1, M
	}
	var bOrder []int
	g.B, bOrder = linalgEinsumArrange[T](in[1], tb, batch, ks, ns)
	bBatchSt := linalgEinsumBatchStrides(in[1], tb, bOrder, batch)
	if slices.Equal(bOrder[len(batch):], append(slices.Clone(ks), ns...)) {
		g.bRS, g.bCS = N, 1
	} else {
		g.bRS, g.bCS = 1, K
	}
	// Output as [batch..., M..., N...], permuted into place if needed.
	want := append(append(slices.Clone(batch), ms...), ns...)
	direct := slices.Equal(want, p.out)
	if direct {
		g.C = y
	} else {
		g.C = make([]T, len(y))
	}
	g.ldc = N
	g.aOff, g.bOff, g.cOff = make([]int, nb), make([]int, nb), make([]int, nb)
	idx := make([]int, len(batch))
	for b := 0; b < nb; b++ {
		for k, d := range idx {
			g.aOff[b] += d * aBatchSt[k]
			g.bOff[b] += d * bBatchSt[k]
		}
		g.cOff[b] = b * M * N
		for k := len(idx) - 1; k >= 0; k-- {
			idx[k]++
			if idx[k] < p.size[batch[k]] {
				break
			}
			idx[k] = 0
		}
	}
	linalgRun(c, g)
	if !direct {
		shape := make([]int, len(want))
		for i, l := range want {
			shape[i] = p.size[l]
		}
		perm := make([]int, len(p.out))
		for i, l := range p.out {
			perm[i] = slices.Index(want, l)
		}
		linalgPermute(g.C, shape, perm, y)
	}
	return true
}

// linalgEinsumArrange returns t's data laid out as [batch, m, k] or
// [batch, k, m] (label groups), copying only when t is in neither order,
// and the label order of the result.
func linalgEinsumArrange[T tensor.Numeric](t *tensor.Tensor, term, batch, m, k []int) ([]T, []int) {
	data := t.Data.([]T)
	mk := append(append(slices.Clone(batch), m...), k...)
	km := append(append(slices.Clone(batch), k...), m...)
	if slices.Equal(term, mk) {
		return data, mk
	}
	if slices.Equal(term, km) {
		return data, km
	}
	perm := make([]int, len(mk))
	for i, l := range mk {
		perm[i] = slices.Index(term, l)
	}
	out := make([]T, len(data))
	linalgPermute(data, t.Shape, perm, out)
	return out, mk
}

// linalgEinsumBatchStrides returns the element strides of the batch
// labels in t's data arranged in label order order (0 where t broadcasts).
func linalgEinsumBatchStrides(t *tensor.Tensor, term, order, batch []int) []int {
	shape := make([]int, len(order))
	for i, l := range order {
		shape[i] = t.Shape[slices.Index(term, l)]
	}
	st := tensor.Strides(shape)
	out := make([]int, len(batch))
	for i := range batch {
		if shape[i] != 1 {
			out[i] = st[i]
		}
	}
	return out
}

// linalgPermute writes the transpose of src (shape) to dst: dimension i of
// dst is dimension perm[i] of src.
func linalgPermute[T any](src []T, shape, perm []int, dst []T) {
	r := len(perm)
	if r == 0 {
		copy(dst, src)
		return
	}
	st := tensor.Strides(shape)
	oshape := make([]int, r)
	ost := make([]int, r) // src stride for each dst dimension
	for i, p := range perm {
		oshape[i] = shape[p]
		ost[i] = st[p]
	}
	idx := make([]int, r)
	off := 0
	inner, istride := oshape[r-1], ost[r-1]
	for o := 0; o < len(dst); o += inner {
		row := dst[o : o+inner]
		s := off
		for j := range row {
			row[j] = src[s]
			s += istride
		}
		for k := r - 2; k >= 0; k-- {
			idx[k]++
			off += ost[k]
			if idx[k] < oshape[k] {
				break
			}
			off -= ost[k] * idx[k]
			idx[k] = 0
		}
	}
}
