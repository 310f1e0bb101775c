package kernels

import (
	"reflect"

	"github.com/inferd/inferd/tensor"
)

// Arena recycles the tensors a session's kernels allocate, from one run to
// the next: the k-th Alloc (or View) of step s returns the tensor the k-th
// Alloc of step s made in the previous run, when its type and size still
// fit. A graph with static shapes thus allocates nothing after its first
// run. An Arena belongs to one run at a time (the engine pools them); the
// tensors it hands out are valid until the same step runs again, so the
// engine must Forget any that escape to the caller.
type Arena struct {
	step  int
	k     int
	steps [][]*tensor.Tensor
}

// NewArena returns an arena for a plan of n steps.
func NewArena(n int) *Arena { return &Arena{steps: make([][]*tensor.Tensor, n)} }

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
	}
	return (*list)[k], list, k
}

func (a *Arena) alloc(dt tensor.DType, shape []int, zero bool) *tensor.Tensor {
	t, list, k := a.next()
	n := tensor.NumElements(shape)
	if t != nil && t.DType == dt && tensor.SliceLen(t.Data) == n && dt != tensor.String {
		setShape(t, shape)
		if zero {
			clearSlice(t.Data)
		}
		return t
	}
	t = tensor.New(dt, shape...)
	(*list)[k] = t
	return t
}

func (a *Arena) view(src *tensor.Tensor, shape []int) *tensor.Tensor {
	t, list, k := a.next()
	if t == nil {
		t = &tensor.Tensor{}
		(*list)[k] = t
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
	var n int64
	seen := map[uintptr]bool{}
	for _, list := range a.steps {
		for _, r := range list {
			if r == nil || tensor.SliceLen(r.Data) <= 0 {
				continue
			}
			if p := dataPtr(r.Data); !seen[p] {
				seen[p] = true
				n += int64(tensor.SliceLen(r.Data) * r.DType.Size())
			}
		}
	}
	return n
}

func dataPtr(s any) uintptr { return reflect.ValueOf(s).Pointer() }

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
