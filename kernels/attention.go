package kernels

import (
	"fmt"
	"sync"

	"github.com/inferd/inferd/ir"
	"github.com/inferd/inferd/kernels/gemm"
	"github.com/inferd/inferd/kernels/vec"
	"github.com/inferd/inferd/tensor"
)

// Attention(Q, KT, V, [Mask]) = Softmax(scale * Q·KT + Mask, axis=-1) · V,
// each of Q, KT and V optionally read through a transpose (q_perm,
// kt_perm, v_perm) and Y optionally written through one (y_perm); see
// optimize/FUSED_OPS.md.
//
// The float32 kernel works per (batch, row block of Q): the block's scores
// go into a small scratch matrix that stays in L1/L2, are scaled, masked
// and put through softmax in place, and are multiplied by V straight into
// Y. The [.., Sq, Sk] scores never go through memory as a whole, and the
// transposes are strides. Other types, and layouts whose innermost axes
// are not contiguous, take the general path: explicit transposes and the
// standard kernels in sequence.

// attnPermNames are the layout attributes, in input order (Q, KT, V) and
// then the output's.
var attnPermNames = [4]string{"q_perm", "kt_perm", "v_perm", "y_perm"}

// attnScratchFloats bounds a task's score block: 64 KiB, which stays in L2
// between the two products.
const attnScratchFloats = 16 << 10

func newAttention(b *Build) (any, error) {
	a := b.Attrs()
	k := &attnKernel{scale: a.Float("scale", 1)}
	for i, name := range attnPermNames {
		p := a.Ints(name, nil)
		if p == nil {
			continue
		}
		seen := make([]bool, len(p))
		for _, v := range p {
			if v < 0 || v >= int64(len(p)) || seen[v] {
				return nil, fmt.Errorf("Attention: %s %v is not a permutation", name, p)
			}
			seen[v] = true
		}
		k.perm[i] = make([]int, len(p))
		for j, v := range p {
			k.perm[i][j] = int(v)
		}
	}
	if err := a.Err(); err != nil {
		return nil, err
	}
	var err error
	if k.qk, err = subKernel(b, "MatMul", 13, nil, -1, -1); err != nil {
		return nil, err
	}
	if k.mul, err = subKernel(b, "Mul", 14, nil, -1, -1); err != nil {
		return nil, err
	}
	if k.add, err = subKernel(b, "Add", 14, nil, -1, 3); err != nil {
		return nil, err
	}
	if k.softmax, err = subKernel(b, "Softmax", 13, []*ir.Attribute{{Name: "axis", Type: ir.AttrInt, I: -1}}, -1); err != nil {
		return nil, err
	}
	if k.pv, err = subKernel(b, "MatMul", 13, nil, -1, -1); err != nil {
		return nil, err
	}
	return k, nil
}

// attnKernel is a built Attention node.
type attnKernel struct {
	scale float32
	// perm holds q_perm, kt_perm, v_perm and y_perm; nil where absent.
	perm [4][]int
	// The general path's kernels.
	qk, mul, add, softmax, pv Kernel
}

func (k *attnKernel) Run(c *Context, in []*tensor.Tensor) ([]*tensor.Tensor, error) {
	q, kt, v, m := input(in, 0), input(in, 1), input(in, 2), input(in, 3)
	if q == nil || kt == nil || v == nil {
		return nil, fmt.Errorf("Attention needs Q, KT and V")
	}
	for i, x := range [3]*tensor.Tensor{q, kt, v} {
		if p := k.perm[i]; p != nil && len(p) != x.Rank() {
			return nil, fmt.Errorf("Attention: %s %v does not fit input %d of shape %v", attnPermNames[i], p, i, x.Shape)
		}
	}
	if y, ok, err := k.fast(c, q, kt, v, m); ok || err != nil {
		if err != nil {
			return nil, err
		}
		return c.Outs(y), nil
	}
	return k.general(c, q, kt, v, m)
}

// general computes Attention with the standard kernels in sequence, the
// transposes done explicitly.
func (k *attnKernel) general(c *Context, q, kt, v, m *tensor.Tensor) ([]*tensor.Tensor, error) {
	ops := [3]*tensor.Tensor{q, kt, v}
	for i := range ops {
		if p := k.perm[i]; p != nil {
			t, err := shpPermute(c, ops[i], p)
			if err != nil {
				return nil, err
			}
			ops[i] = t
		}
	}
	s, err := run1(c, k.qk, ops[0], ops[1])
	if err != nil {
		return nil, err
	}
	if k.scale != 1 {
		if d, ok := s.Data.([]float32); ok {
			vec.MulScalar(d, d, k.scale)
		} else {
			f, err := FromFloat64s(s.DType, nil, []float64{float64(k.scale)})
			if err != nil {
				return nil, err
			}
			if s, err = run1(c, k.mul, s, f); err != nil {
				return nil, err
			}
		}
	}
	if m != nil {
		if s, err = run1(c, k.add, s, m); err != nil {
			return nil, err
		}
	}
	if s, err = run1(c, k.softmax, s); err != nil {
		return nil, err
	}
	y, err := run1(c, k.pv, s, ops[2])
	if err != nil {
		return nil, err
	}
	if p := k.perm[3]; p != nil {
		if len(p) != y.Rank() {
			return nil, fmt.Errorf("Attention: y_perm %v does not fit the output's shape %v", p, y.Shape)
		}
		if y, err = shpPermute(c, y, p); err != nil {
			return nil, err
		}
	}
	return c.Outs(y), nil
}

// attnView is an operand seen through its permutation: the logical shape
// and the element strides of each logical axis in the stored data.
type attnView struct {
	shape, stride []int
}

// attnViewOf returns the logical shape and strides of a tensor of the given
// shape read through perm (nil: as stored), from c's Ints.
func attnViewOf(c *Context, shape []int, perm []int) attnView {
	st := c.Strides(shape)
	if perm == nil {
		return attnView{shape: shape, stride: st}
	}
	v := attnView{shape: c.Ints(len(perm)), stride: c.Ints(len(perm))}
	for i, p := range perm {
		v.shape[i], v.stride[i] = shape[p], st[p]
	}
	return v
}

// rows, cols, rs and cs are a view's last two axes and their strides.
func (v attnView) mat() (rows, cols, rs, cs int) {
	r := len(v.shape)
	return v.shape[r-2], v.shape[r-1], v.stride[r-2], v.stride[r-1]
}

// attnMatrix returns the gemm operand for a rows×cols matrix with strides
// rs and cs (without its data), if one of its axes is contiguous.
func attnMatrix(rows, cols, rs, cs int) (gemm.Matrix, bool) {
	if rows <= 1 {
		rs = max(rs, cols)
	}
	if cols <= 1 {
		cs = max(cs, rows)
	}
	switch {
	case cs == 1 && rs >= cols:
		return gemm.Matrix{Stride: rs}, true
	case rs == 1 && cs >= rows:
		return gemm.Matrix{Stride: cs, Trans: true}, true
	}
	return gemm.Matrix{}, false
}

// fast runs float32 attention fused, reporting false (and no error) when
// the operands are not float32 matrices with a contiguous inner axis.
func (k *attnKernel) fast(c *Context, q, kt, v, m *tensor.Tensor) (*tensor.Tensor, bool, error) {
	qd, ok1 := q.Data.([]float32)
	kd, ok2 := kt.Data.([]float32)
	vd, ok3 := v.Data.([]float32)
	var md []float32
	if m != nil {
		var ok bool
		if md, ok = m.Data.([]float32); !ok {
			return nil, false, nil
		}
	}
	if !ok1 || !ok2 || !ok3 || q.Rank() < 2 || kt.Rank() < 2 || v.Rank() < 2 {
		return nil, false, nil
	}
	qv, kv, vv := attnViewOf(c, q.Shape, k.perm[0]), attnViewOf(c, kt.Shape, k.perm[1]), attnViewOf(c, v.Shape, k.perm[2])
	sq, d, qrs, qcs := qv.mat()
	d2, sk, krs, kcs := kv.mat()
	sk2, dv, vrs, vcs := vv.mat()
	if d != d2 {
		return nil, false, fmt.Errorf("Attention: Q %v has %d columns but KT %v has %d rows", qv.shape, d, kv.shape, d2)
	}
	if sk != sk2 {
		return nil, false, fmt.Errorf("Attention: KT %v has %d keys but V %v has %d rows", kv.shape, sk, vv.shape, sk2)
	}
	qm, ok1 := attnMatrix(sq, d, qrs, qcs)
	km, ok2 := attnMatrix(d, sk, krs, kcs)
	vm, ok3 := attnMatrix(sk, dv, vrs, vcs)
	if !ok1 || !ok2 || !ok3 {
		return nil, false, nil
	}

	// The batch shape: Q's, KT's, V's and the mask's leading axes
	// broadcast together.
	nb := max(len(qv.shape), len(kv.shape), len(vv.shape)) - 2
	var mv attnView
	if m != nil {
		mv = attnView{shape: m.Shape, stride: c.Strides(m.Shape)}
		nb = max(nb, len(m.Shape)-2)
	}
	batch := c.Ints(nb)
	for i := range batch {
		batch[i] = 1
	}
	views := [4]attnView{qv, kv, vv, mv}
	nviews := 3
	if m != nil {
		nviews = 4
	}
	for _, w := range views[:nviews] {
		lead := len(w.shape) - 2
		for i := 0; i < lead; i++ {
			bi := nb - lead + i
			n := w.shape[i]
			switch {
			case n == batch[bi] || n == 1:
			case batch[bi] == 1:
				batch[bi] = n
			default:
				return nil, false, fmt.Errorf("Attention: the batch dimensions of Q %v, KT %v, V %v and Mask %v do not broadcast",
					qv.shape, kv.shape, vv.shape, mv.shape)
			}
		}
	}
	// The mask's last two axes broadcast against the scores [Sq, Sk].
	var mrs, mcs int
	if m != nil {
		r := len(mv.shape)
		rows, cols := 1, 1
		if r >= 2 {
			rows, mrs = mv.shape[r-2], mv.stride[r-2]
		}
		if r >= 1 {
			cols, mcs = mv.shape[r-1], mv.stride[r-1]
		}
		if rows != 1 && rows != sq || cols != 1 && cols != sk {
			return nil, false, fmt.Errorf("Attention: Mask %v does not broadcast against the scores [%d, %d]", mv.shape, sq, sk)
		}
		if rows == 1 {
			mrs = 0
		}
		if cols == 1 {
			mcs = 0
		}
	}

	// Y: logical [batch..., Sq, Dv], stored through y_perm.
	ylog := c.Ints(nb + 2)
	copy(ylog, batch)
	ylog[nb], ylog[nb+1] = sq, dv
	yshape := ylog
	yp := k.perm[3]
	if yp != nil {
		if len(yp) != len(ylog) {
			return nil, false, fmt.Errorf("Attention: y_perm %v does not fit the output's shape %v", yp, ylog)
		}
		yshape = c.Ints(len(yp))
		for i, p := range yp {
			yshape[i] = ylog[p]
		}
	}
	yst := c.Strides(yshape)
	ystride := yst
	if yp != nil {
		ystride = c.Ints(len(yp))
		for i, p := range yp {
			ystride[p] = yst[i]
		}
	}
	yrs, ycs := ystride[nb], ystride[nb+1]
	if dv > 1 && ycs != 1 || sq > 1 && yrs < dv {
		return nil, false, nil
	}
	if sk == 0 || d == 0 {
		// Softmax over no keys, or a product over no columns: the
		// standard kernels say what that is.
		return nil, false, nil
	}
	y := c.AllocRaw(tensor.Float32, yshape...)
	yd := y.Data.([]float32)
	if len(yd) == 0 {
		return y, true, nil
	}

	// Offsets of each batch matrix in each operand.
	nbatch := tensor.NumElements(batch)
	off := c.Ints(5 * nbatch)
	idx := c.Ints(nb)
	for bi := 0; bi < nbatch; bi++ {
		for j, w := range views[:nviews] {
			o, lead := 0, len(w.shape)-2
			for i := 0; i < lead; i++ {
				if w.shape[i] != 1 {
					o += idx[nb-lead+i] * w.stride[i]
				}
			}
			off[5*bi+j] = o
		}
		o := 0
		for i := 0; i < nb; i++ {
			o += idx[i] * ystride[i]
		}
		off[5*bi+4] = o
		for i := nb - 1; i >= 0; i-- {
			if idx[i]++; idx[i] < batch[i] {
				break
			}
			idx[i] = 0
		}
	}

	// Row blocks: the scores of a block fit the scratch, and there are
	// enough tasks to share out.
	threads := c.gemmThreads()
	nblk := attnCeil(sq*sk, attnScratchFloats)
	if nbatch*nblk < 2*threads {
		nblk = attnCeil(2*threads, nbatch)
	}
	rows := attnCeil(sq, max(1, nblk))
	if rows > gemm.MR {
		rows = attnCeil(rows, gemm.MR) * gemm.MR
	}
	nblk = attnCeil(sq, rows)

	t := attnTaskPool.Get().(*attnTask)
	*t = attnTask{
		scale: k.scale, sq: sq, sk: sk, d: d, dv: dv, rows: rows, nblk: nblk,
		q: qd, kt: kd, v: vd, m: md, y: yd,
		qm: qm, km: km, vm: vm,
		qrs: qrs, mrs: mrs, mcs: mcs, yrs: yrs,
		off: off,
	}
	c.ParallelTask(nbatch*nblk, t)
	*t = attnTask{}
	attnTaskPool.Put(t)
	return y, true, nil
}

// attnTask computes row blocks of attention: unit u is batch u/nblk, rows
// [(u%nblk)·rows, +rows) of Q.
type attnTask struct {
	scale               float32
	sq, sk, d, dv, rows int
	nblk                int
	q, kt, v, m, y      []float32
	// qm, km and vm are the gemm operands of one batch matrix, without
	// their data.
	qm, km, vm gemm.Matrix
	// qrs is Q's row stride; mrs and mcs the mask's row and column
	// strides (0 along a broadcast axis); yrs Y's row stride.
	qrs, mrs, mcs, yrs int
	// off holds per batch matrix the offsets of Q, KT, V, Mask and Y.
	off []int
}

// attnCeil is ⌈a/b⌉ for a ≥ 0, b > 0.
func attnCeil(a, b int) int { return (a + b - 1) / b }

var attnTaskPool = sync.Pool{New: func() any { return new(attnTask) }}

// attnScratchPool holds the score blocks of tasks.
var attnScratchPool = sync.Pool{New: func() any { return new([]float32) }}

func (t *attnTask) Run(lo, hi int) {
	sp := attnScratchPool.Get().(*[]float32)
	if cap(*sp) < t.rows*t.sk {
		*sp = make([]float32, t.rows*t.sk)
	}
	s := (*sp)[:t.rows*t.sk]
	sk := t.sk
	for u := lo; u < hi; u++ {
		b, q0 := u/t.nblk, (u%t.nblk)*t.rows
		rows := min(t.rows, t.sq-q0)
		off := t.off[5*b : 5*b+5]
		qm, km, vm := t.qm, t.km, t.vm
		qm.Data = t.q[off[0]+q0*t.qrs:]
		km.Data = t.kt[off[1]:]
		vm.Data = t.v[off[2]:]
		// The mask goes in with the product when it is a row shared by
		// every query (a bias per column) or a matrix of rows (a residual).
		var o gemm.Options
		beta := float32(0)
		if t.m != nil && t.mcs == 1 {
			mo := off[3] + q0*t.mrs
			if t.mrs == 0 {
				o.Bias = t.m[mo : mo+sk]
			} else {
				o.Residual, o.ResidualStride, beta = t.m[mo:], t.mrs, 1
			}
		}
		gemm.Gemm(rows, sk, t.d, t.scale, qm, km, beta, s, sk, &o)
		for i := 0; i < rows; i++ {
			row := s[i*sk : i*sk+sk]
			if t.m != nil && t.mcs == 0 {
				vec.AddScalar(row, row, t.m[off[3]+(q0+i)*t.mrs])
			}
			vec.SoftmaxRow(row, row)
		}
		gemm.Gemm(rows, t.dv, sk, 1, gemm.Matrix{Data: s, Stride: sk}, vm, 0, t.y[off[4]+q0*t.yrs:], t.yrs, nil)
	}
	attnScratchPool.Put(sp)
}
