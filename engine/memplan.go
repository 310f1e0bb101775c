package engine

import (
	"errors"
	"slices"

	"github.com/inferd/inferd/kernels"
	"github.com/inferd/inferd/tensor"
)

// The static memory plan. A run state's first run records every buffer the
// kernels allocate through the arena: the step that made it, and the last
// step that reads it (through the value it became, or any view of it).
// Buffers whose lifetimes never overlap then share bytes of one slab, laid
// out greedily by size, and later runs allocate nothing and touch less
// memory. Graph outputs keep storage of their own.
//
// Kernels decide at run time what they allocate and whether an output is a
// view of an input, so later runs check that each step's outputs sit where
// the plan put them; a run that strays (a data-dependent view, say) is
// rerun without the plan, which is then given up.

// errReplan reports a run that left the memory plan.
var errReplan = errors.New("engine: run left the memory plan")

type memBuf struct {
	step, k    int
	lo, hi     uintptr
	bytes      int
	start, end int
	pinned     bool
}

// slabBytes is the room b takes in the slab: its size rounded up to the
// 64-byte alignment every placed buffer starts at.
func (b *memBuf) slabBytes() int { return (b.bytes + 63) &^ 63 }

// memRef locates an output: in buffer buf (-1: storage the arena does not
// own) at byte offset delta.
type memRef struct {
	buf   int
	delta uintptr
}

// memRec is the recording made during a run state's first run.
type memRec struct {
	bufs    []memBuf
	slotBuf []int
	freed   []bool
	outs    [][]memRef
	ok      bool
}

func newMemRec(p *plan) *memRec {
	r := &memRec{slotBuf: make([]int, p.nslots), freed: make([]bool, p.nslots), outs: make([][]memRef, len(p.steps)), ok: true}
	for i := range r.slotBuf {
		r.slotBuf[i] = -1
	}
	return r
}

// find returns the buffer holding address a, or -1.
func (r *memRec) find(a uintptr) int {
	if a == 0 {
		return -1
	}
	for b := len(r.bufs) - 1; b >= 0; b-- {
		if a >= r.bufs[b].lo && a < r.bufs[b].hi {
			return b
		}
	}
	return -1
}

// afterStep records step i's new buffers (when it ran with the arena) and
// where its outputs live.
func (r *memRec) afterStep(i int, st *step, a *kernels.Arena, outs []*tensor.Tensor, allocated bool) {
	if allocated {
		for k := range a.Allocs() {
			if t, n, ok := a.Buffer(i, k); ok {
				lo := kernels.DataPtr(t)
				r.bufs = append(r.bufs, memBuf{step: i, k: k, lo: lo, hi: lo + uintptr(n), bytes: n, start: i, end: i})
			}
		}
	}
	refs := make([]memRef, len(st.out))
	for j, s := range st.out {
		refs[j] = memRef{buf: -1}
		if j >= len(outs) || outs[j] == nil {
			continue
		}
		p := kernels.DataPtr(outs[j])
		b := r.find(p)
		if b >= 0 {
			refs[j] = memRef{buf: b, delta: p - r.bufs[b].lo}
		}
		if s >= 0 {
			r.slotBuf[s] = b
		}
	}
	r.outs[i] = refs
}

// free records that step i is the last reader of slot s.
func (r *memRec) free(i, s int) {
	r.freed[s] = true
	if b := r.slotBuf[s]; b >= 0 {
		r.bufs[b].end = max(r.bufs[b].end, i)
	}
}

// place lays the recorded buffers out and moves them into a's slab; it
// returns false when there is nothing to share.
func (r *memRec) place(a *kernels.Arena, nsteps int) bool {
	if !r.ok {
		return false
	}
	for s, b := range r.slotBuf {
		if b >= 0 && !r.freed[s] {
			r.bufs[b].pinned = true
		}
	}
	order := make([]int, 0, len(r.bufs))
	for b := range r.bufs {
		if !r.bufs[b].pinned {
			order = append(order, b)
		}
	}
	if len(order) < 2 {
		return false
	}
	slices.SortStableFunc(order, func(x, y int) int { return r.bufs[y].bytes - r.bufs[x].bytes })
	off := make([]int, len(r.bufs))
	type span struct{ lo, hi int }
	var placed []int
	size := 0
	for _, b := range order {
		buf := &r.bufs[b]
		need := buf.slabBytes()
		var busy []span
		for _, q := range placed {
			o := &r.bufs[q]
			if o.start <= buf.end && buf.start <= o.end {
				busy = append(busy, span{off[q], off[q] + o.slabBytes()})
			}
		}
		slices.SortFunc(busy, func(x, y span) int { return x.lo - y.lo })
		at := 0
		for _, sp := range busy {
			if at+need <= sp.lo {
				break
			}
			at = max(at, sp.hi)
		}
		off[b] = at
		size = max(size, at+need)
		placed = append(placed, b)
	}
	perStep := make([][]int, nsteps)
	for b, buf := range r.bufs {
		for len(perStep[buf.step]) <= buf.k {
			perStep[buf.step] = append(perStep[buf.step], -1)
		}
		if !buf.pinned {
			perStep[buf.step][buf.k] = off[b]
		}
	}
	a.Place(perStep, size)
	base := a.SlabBase()
	for b := range r.bufs {
		if !r.bufs[b].pinned {
			r.bufs[b].lo = base + uintptr(off[b])
		}
	}
	return true
}

// matches reports whether step i's outputs are where the plan expects them:
// an output in the slab must be exactly at its planned place, and one
// outside it must be planned outside.
func (m *memRec) matches(i int, a *kernels.Arena, outs []*tensor.Tensor) bool {
	refs := m.outs[i]
	for j, t := range outs {
		if t == nil {
			continue
		}
		p := kernels.DataPtr(t)
		inSlab := a.InSlab(p)
		if j >= len(refs) {
			if inSlab {
				return false
			}
			continue
		}
		ref := refs[j]
		planned := ref.buf >= 0 && !m.bufs[ref.buf].pinned
		if inSlab != planned || (planned && p != m.bufs[ref.buf].lo+ref.delta) {
			return false
		}
	}
	return true
}
