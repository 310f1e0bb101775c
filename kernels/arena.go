package kernels

import (
	"reflect"
	"unsafe"

	"github.com/inferd/inferd/tensor"
)

// Arena recycles the tensors a session's kernels allocate, from one run to
// the next: the k-th Alloc (or View) of step s returns the tensor the k-th
// Alloc of step s made in the previous run, when its type and size still
// fit. A graph with static shapes thus allocates nothing after its first
// run. An Arena belongs to one run at a time (the engine pools them); the
// tensors it hands out are valid until the same step runs again, so the
// engine must Forget any that escape to the caller.
//
// After a first run the engine may Place the arena's buffers in one slab,
// buffers whose lifetimes do not overlap sharing bytes (the static memory
// plan; see package engine).
type Arena struct {
	step  int
	k     int
	steps [][]*tensor.Tensor
	views [][]bool // the entry shares another tensor's storage
	slab  []byte
	lo    uintptr // the slab's address range
	hi    uintptr
	// NoPlan keeps the arena from being placed again after a plan failed.
	NoPlan bool
}

// NewArena returns an arena for a plan of n steps.
func NewArena(n int) *Arena {
	return &Arena{steps: make([][]*tensor.Tensor, n), views: make([][]bool, n)}
}

// Begin starts step s: its allocations are numbered from 0.
func (a *Arena) Begin(s int) { a.step, a.k = s, 0 }

// next returns the recycled tensor for this allocation, or nil, and
// advances the allocation counter.
func (a *Arena) next() (*tensor.Tensor, *[]*tensor.Tensor, int) {
	list := &a.steps[a.step]
	k := a.k
	a.k++
	for len(*list) <= k {
		*list = append(*list, nil)
		a.views[a.step] = append(a.views[a.step], false)
	}
	return (*list)[k], list, k
}

func (a *Arena) alloc(dt tensor.DType, shape []int, zero bool) *tensor.Tensor {
	t, list, k := a.next()
	n := tensor.NumElements(shape)
	if t != nil && !a.views[a.step][k] && t.DType == dt && dt != tensor.String {
		if l := tensor.SliceLen(t.Data); l != n {
			// Shapes that change from run to run (a batcher's batch
			// size) reuse the largest storage seen instead of allocating
			// anew each time the size moves.
			rv := reflect.ValueOf(t.Data)
			if rv.Cap() < n || l < 0 {
				goto fresh
			}
			t.Data = rv.Slice(0, n).Interface()
		}
		setShape(t, shape)
		if zero {
			clearSlice(t.Data)
		}
		return t
	}
fresh:
	t = tensor.New(dt, shape...)
	(*list)[k] = t
	a.views[a.step][k] = false
	return t
}

func (a *Arena) view(src *tensor.Tensor, shape []int) *tensor.Tensor {
	t, list, k := a.next()
	if t == nil || !a.views[a.step][k] {
		t = &tensor.Tensor{}
		(*list)[k] = t
		a.views[a.step][k] = true
	}
	t.DType, t.Data = src.DType, src.Data
	setShape(t, shape)
	return t
}

func setShape(t *tensor.Tensor, shape []int) {
	if cap(t.Shape) >= len(shape) {
		t.Shape = t.Shape[:len(shape)]
	} else {
		t.Shape = make([]int, len(shape))
	}
	copy(t.Shape, shape)
}

// Forget drops every recycled tensor that shares storage with t, so that a
// tensor handed to the caller is never overwritten by a later run.
func (a *Arena) Forget(t *tensor.Tensor) {
	if t == nil || tensor.SliceLen(t.Data) <= 0 {
		return
	}
	p := dataPtr(t.Data)
	for _, list := range a.steps {
		for k, r := range list {
			if r != nil && tensor.SliceLen(r.Data) > 0 && dataPtr(r.Data) == p {
				list[k] = nil
			}
		}
	}
}

// Bytes returns the storage the arena holds, in bytes.
func (a *Arena) Bytes() int64 {
	n := int64(len(a.slab))
	seen := map[uintptr]bool{}
	for _, list := range a.steps {
		for _, r := range list {
			if r == nil || tensor.SliceLen(r.Data) <= 0 {
				continue
			}
			if p := dataPtr(r.Data); !seen[p] && !a.InSlab(p) {
				seen[p] = true
				n += int64(tensor.SliceLen(r.Data) * r.DType.Size())
			}
		}
	}
	return n
}

func dataPtr(s any) uintptr { return reflect.ValueOf(s).Pointer() }

// DataPtr returns the address of a tensor's first element, or 0 for an
// empty tensor.
func DataPtr(t *tensor.Tensor) uintptr {
	if t == nil || tensor.SliceLen(t.Data) <= 0 {
		return 0
	}
	return dataPtr(t.Data)
}

// Allocs returns how many allocations the current step has made so far.
func (a *Arena) Allocs() int { return a.k }

// Buffer returns the k-th allocation of step s and its size in bytes when
// it owns its storage and may be placed in a slab; ok is false for views,
// empty tensors and types the slab cannot hold.
func (a *Arena) Buffer(s, k int) (t *tensor.Tensor, bytes int, ok bool) {
	if s >= len(a.steps) || k >= len(a.steps[s]) || a.views[s][k] {
		return nil, 0, false
	}
	t = a.steps[s][k]
	if t == nil || tensor.SliceLen(t.Data) <= 0 || !arenaSlabType(t.DType) {
		return nil, 0, false
	}
	return t, tensor.SliceLen(t.Data) * t.DType.Size(), true
}

// Place moves the buffers off[s][k] ≥ 0 names into one slab of size
// bytes at those byte offsets (multiples of 64). The caller guarantees
// that buffers whose ranges overlap are never live at once.
func (a *Arena) Place(off [][]int, size int) {
	raw := make([]byte, size+64)
	base := dataPtr(raw)
	pad := int((64 - base%64) % 64)
	a.slab = raw[pad : pad+size : pad+size]
	if size > 0 {
		a.lo = dataPtr(a.slab)
		a.hi = a.lo + uintptr(size)
	}
	for s, ks := range off {
		for k, o := range ks {
			if o < 0 {
				continue
			}
			t := a.steps[s][k]
			n := tensor.SliceLen(t.Data)
			t.Data = arenaSliceOver(t.DType, a.slab[o:o+n*t.DType.Size()], n)
		}
	}
}

// Unplan gives up the slab: its entries are dropped and allocate storage
// of their own again, and NoPlan is set.
func (a *Arena) Unplan() {
	for s, list := range a.steps {
		for k, t := range list {
			if t != nil && a.InSlab(DataPtr(t)) {
				list[k] = nil
				a.views[s][k] = false
			}
		}
	}
	a.slab, a.lo, a.hi = nil, 0, 0
	a.NoPlan = true
}

// InSlab reports whether address p lies in the slab.
func (a *Arena) InSlab(p uintptr) bool { return p >= a.lo && p < a.hi }

// SlabBase returns the slab's address (0 when none).
func (a *Arena) SlabBase() uintptr { return a.lo }

func arenaSlabType(dt tensor.DType) bool {
	switch dt {
	case tensor.Float32, tensor.Float64, tensor.Int8, tensor.Int16, tensor.Int32, tensor.Int64,
		tensor.Uint8, tensor.Uint16, tensor.Uint32, tensor.Uint64, tensor.Bool, tensor.Float16, tensor.BFloat16:
		return true
	}
	return false
}

// arenaSliceOver returns a typed slice of n elements over b, which holds
// n·dt.Size() bytes aligned for the type.
func arenaSliceOver(dt tensor.DType, b []byte, n int) any {
	p := unsafe.Pointer(unsafe.SliceData(b))
	switch dt {
	case tensor.Float32:
		return unsafe.Slice((*float32)(p), n)
	case tensor.Float64:
		return unsafe.Slice((*float64)(p), n)
	case tensor.Int8:
		return unsafe.Slice((*int8)(p), n)
	case tensor.Int16:
		return unsafe.Slice((*int16)(p), n)
	case tensor.Int32:
		return unsafe.Slice((*int32)(p), n)
	case tensor.Int64:
		return unsafe.Slice((*int64)(p), n)
	case tensor.Uint8:
		return unsafe.Slice((*uint8)(p), n)
	case tensor.Uint16:
		return unsafe.Slice((*uint16)(p), n)
	case tensor.Uint32:
		return unsafe.Slice((*uint32)(p), n)
	case tensor.Uint64:
		return unsafe.Slice((*uint64)(p), n)
	case tensor.Bool:
		return unsafe.Slice((*bool)(p), n)
	case tensor.Float16:
		return unsafe.Slice((*tensor.F16)(p), n)
	case tensor.BFloat16:
		return unsafe.Slice((*tensor.BF16)(p), n)
	}
	panic("arena: no slab slice for " + dt.String())
}

func clearSlice(s any) {
	switch v := s.(type) {
	case []float32:
		clear(v)
	case []float64:
		clear(v)
	case []int64:
		clear(v)
	case []int32:
		clear(v)
	case []uint8:
		clear(v)
	case []int8:
		clear(v)
	case []bool:
		clear(v)
	default:
		rv := reflect.ValueOf(s)
		z := reflect.Zero(rv.Type().Elem())
		for i := 0; i < rv.Len(); i++ {
			rv.Index(i).Set(z)
		}
	}
}
