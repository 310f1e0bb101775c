package kernels

import (
	"fmt"

	"github.com/inferd/inferd/tensor"
)

// BroadcastShapes returns the multidirectional (NumPy) broadcast of shapes.
func BroadcastShapes(shapes ...[]int) ([]int, error) {
	rank := 0
	for _, s := range shapes {
		rank = max(rank, len(s))
	}
	out := make([]int, rank)
	for i := range out {
		out[i] = 1
	}
	for _, s := range shapes {
		if i, d := broadcastInto(out, s); i >= 0 {
			return nil, fmt.Errorf("shapes %v cannot broadcast: dimension %d is %d and %d", shapes, i, out[i], d)
		}
	}
	return out, nil
}

// broadcastInto broadcasts out (its dimensions 1 where still unset) with s,
// which has at most len(out) dimensions, in place. On a mismatch it
// returns the dimension of out and s's size there; otherwise -1.
func broadcastInto(out, s []int) (int, int) {
	off := len(out) - len(s)
	for i, d := range s {
		switch {
		case out[off+i] == d || d == 1:
		case out[off+i] == 1:
			out[off+i] = d
		default:
			return off + i, d
		}
	}
	return -1, 0
}

// BroadcastStrides returns the element strides with which a tensor of
// shape in is read when broadcast to out: 0 on broadcast dimensions.
func BroadcastStrides(in, out []int) []int {
	st := make([]int, len(out))
	off := len(out) - len(in)
	acc := 1
	for i := len(in) - 1; i >= 0; i-- {
		if in[i] != 1 {
			st[off+i] = acc
		}
		acc *= in[i]
	}
	return st
}

// Indexer walks a broadcast output in row-major order and yields the
// offsets of each input. It is the general slow path; kernels try
// same-shape and scalar fast paths first.
type Indexer struct {
	shape   []int
	strides [][]int
	idx     []int
	Off     []int
}

// NewIndexer returns an Indexer over out for inputs of the given shapes.
func NewIndexer(out []int, ins ...[]int) *Indexer {
	it := &Indexer{shape: out, idx: make([]int, len(out)), Off: make([]int, len(ins))}
	for _, s := range ins {
		it.strides = append(it.strides, BroadcastStrides(s, out))
	}
	return it
}

// Next advances to the next output element, updating Off.
func (it *Indexer) Next() {
	for a := len(it.shape) - 1; a >= 0; a-- {
		it.idx[a]++
		for k, st := range it.strides {
			it.Off[k] += st[a]
		}
		if it.idx[a] < it.shape[a] {
			return
		}
		for k, st := range it.strides {
			it.Off[k] -= st[a] * it.idx[a]
		}
		it.idx[a] = 0
	}
}

// Binary applies f elementwise over a and b with broadcasting, writing out
// (whose length is the broadcast element count).
func Binary[T, U any](a []T, sa []int, b []T, sb []int, out []U, so []int, f func(x, y T) U) {
	switch {
	case len(a) == len(out) && len(b) == len(out):
		for i := range out {
			out[i] = f(a[i], b[i])
		}
	case len(b) == 1 && len(a) == len(out):
		y := b[0]
		for i := range out {
			out[i] = f(a[i], y)
		}
	case len(a) == 1 && len(b) == len(out):
		x := a[0]
		for i := range out {
			out[i] = f(x, b[i])
		}
	default:
		it := NewIndexer(so, sa, sb)
		for i := range out {
			out[i] = f(a[it.Off[0]], b[it.Off[1]])
			it.Next()
		}
	}
}

// NormAxis maps a possibly negative axis into [0, rank).
func NormAxis(axis int64, rank int) (int, error) {
	a := int(axis)
	if a < 0 {
		a += rank
	}
	if a < 0 || a >= rank {
		return 0, fmt.Errorf("axis %d out of range for rank %d", axis, rank)
	}
	return a, nil
}

// Int64s reads an integer tensor (any integer type) as int64 values; used
// for shape, axes and index inputs.
func Int64s(t *tensor.Tensor) ([]int64, error) {
	if t == nil {
		return nil, nil
	}
	switch s := t.Data.(type) {
	case []int64:
		return s, nil
	case []int32:
		return widen(s), nil
	case []int16:
		return widen(s), nil
	case []int8:
		return widen(s), nil
	case []uint8:
		return widen(s), nil
	case []uint16:
		return widen(s), nil
	case []uint32:
		return widen(s), nil
	case []uint64:
		return widen(s), nil
	}
	return nil, fmt.Errorf("want an integer tensor, got %v", t)
}

func widen[T int8 | int16 | int32 | uint8 | uint16 | uint32 | uint64](s []T) []int64 {
	out := make([]int64, len(s))
	for i, v := range s {
		out[i] = int64(v)
	}
	return out
}

// Float32s returns the values of a float tensor (float32, float64,
// float16 or bfloat16) as float32s; float32 storage is returned as is and
// must not be modified.
func Float32s(t *tensor.Tensor) ([]float32, error) {
	switch s := t.Data.(type) {
	case []float32:
		return s, nil
	case []float64:
		out := make([]float32, len(s))
		for i, v := range s {
			out[i] = float32(v)
		}
		return out, nil
	case []tensor.F16:
		out := make([]float32, len(s))
		for i, v := range s {
			out[i] = v.Float32()
		}
		return out, nil
	case []tensor.BF16:
		out := make([]float32, len(s))
		for i, v := range s {
			out[i] = v.Float32()
		}
		return out, nil
	}
	return nil, fmt.Errorf("want a float tensor, got %v", t)
}

// Float64s returns the values of any numeric tensor as float64s.
func Float64s(t *tensor.Tensor) ([]float64, error) {
	switch s := t.Data.(type) {
	case []float64:
		return s, nil
	case []float32:
		return toF64(s), nil
	case []tensor.F16:
		out := make([]float64, len(s))
		for i, v := range s {
			out[i] = float64(v.Float32())
		}
		return out, nil
	case []tensor.BF16:
		out := make([]float64, len(s))
		for i, v := range s {
			out[i] = float64(v.Float32())
		}
		return out, nil
	case []int8:
		return toF64(s), nil
	case []int16:
		return toF64(s), nil
	case []int32:
		return toF64(s), nil
	case []int64:
		return toF64(s), nil
	case []uint8:
		return toF64(s), nil
	case []uint16:
		return toF64(s), nil
	case []uint32:
		return toF64(s), nil
	case []uint64:
		return toF64(s), nil
	case []bool:
		out := make([]float64, len(s))
		for i, v := range s {
			if v {
				out[i] = 1
			}
		}
		return out, nil
	case []tensor.F8E4M3FN:
		return widenF32(s), nil
	case []tensor.F8E4M3FNUZ:
		return widenF32(s), nil
	case []tensor.F8E5M2:
		return widenF32(s), nil
	case []tensor.F8E5M2FNUZ:
		return widenF32(s), nil
	case []tensor.F4E2M1:
		return widenF32(s), nil
	case []tensor.I4:
		return widenF32(s), nil
	case []tensor.U4:
		return widenF32(s), nil
	}
	return nil, fmt.Errorf("want a numeric tensor, got %v", t)
}

func toF64[T tensor.Numeric](s []T) []float64 {
	out := make([]float64, len(s))
	for i, v := range s {
		out[i] = float64(v)
	}
	return out
}

// FromFloat64s makes a tensor of type dt (a float or integer type) from
// float64 values, rounding floats to the narrower type and truncating
// toward zero for integers.
func FromFloat64s(dt tensor.DType, shape []int, v []float64) (*tensor.Tensor, error) {
	t := &tensor.Tensor{DType: dt, Shape: append([]int(nil), shape...)}
	switch dt {
	case tensor.Float64:
		t.Data = v
	case tensor.Float32:
		t.Data = fromF64[float32](v)
	case tensor.Float16:
		s := make([]tensor.F16, len(v))
		for i, x := range v {
			s[i] = tensor.F16FromFloat32(float32(x))
		}
		t.Data = s
	case tensor.BFloat16:
		s := make([]tensor.BF16, len(v))
		for i, x := range v {
			s[i] = tensor.BF16FromFloat32(float32(x))
		}
		t.Data = s
	case tensor.Int8:
		t.Data = fromF64[int8](v)
	case tensor.Int16:
		t.Data = fromF64[int16](v)
	case tensor.Int32:
		t.Data = fromF64[int32](v)
	case tensor.Int64:
		t.Data = fromF64[int64](v)
	case tensor.Uint8:
		t.Data = fromF64[uint8](v)
	case tensor.Uint16:
		t.Data = fromF64[uint16](v)
	case tensor.Uint32:
		t.Data = fromF64[uint32](v)
	case tensor.Uint64:
		t.Data = fromF64[uint64](v)
	case tensor.Bool:
		s := make([]bool, len(v))
		for i, x := range v {
			s[i] = x != 0
		}
		t.Data = s
	default:
		return nil, fmt.Errorf("cannot make a %v tensor from float64 values: %w", dt, ErrUnsupported)
	}
	return t, nil
}

func fromF64[T tensor.Numeric](v []float64) []T {
	out := make([]T, len(v))
	for i, x := range v {
		out[i] = T(x)
	}
	return out
}

func widenF32[T interface{ Float32() float32 }](s []T) []float64 {
	out := make([]float64, len(s))
	for i, v := range s {
		out[i] = float64(v.Float32())
	}
	return out
}
