package tensor

import (
	"fmt"
	"strings"
)

// Tensor is a dense, row-major n-dimensional array. Data is a slice of the
// Go type DType names (float32 for Float32, F16 for Float16, string for
// String, and so on) with exactly NumElements(Shape) elements. A nil or
// empty Shape is a scalar with one element.
//
// Tensors are plain values: whoever holds one may read it; kernels never
// modify their inputs. Views made by Reshape share Data.
type Tensor struct {
	DType DType
	Shape []int
	Data  any
}

// Elem is the set of Go types that back tensor storage.
type Elem interface {
	~float32 | ~float64 | ~int8 | ~int16 | ~int32 | ~int64 |
		~uint8 | ~uint16 | ~uint32 | ~uint64 | ~bool | ~string |
		~complex64 | ~complex128
}

// Numeric is the subset of Elem with arithmetic on the Go type itself.
type Numeric interface {
	~float32 | ~float64 | ~int8 | ~int16 | ~int32 | ~int64 |
		~uint8 | ~uint16 | ~uint32 | ~uint64
}

// NumElements returns the product of shape's dimensions (1 for a scalar).
func NumElements(shape []int) int {
	n := 1
	for _, d := range shape {
		n *= d
	}
	return n
}

// New returns a zero-filled tensor of the given type and shape.
func New(dt DType, shape ...int) *Tensor {
	n := NumElements(shape)
	return &Tensor{DType: dt, Shape: append([]int(nil), shape...), Data: MakeSlice(dt, n)}
}

// MakeSlice returns a zeroed slice of n elements of dt's Go type.
func MakeSlice(dt DType, n int) any {
	switch dt {
	case Float32:
		return make([]float32, n)
	case Float64:
		return make([]float64, n)
	case Int8:
		return make([]int8, n)
	case Int16:
		return make([]int16, n)
	case Int32:
		return make([]int32, n)
	case Int64:
		return make([]int64, n)
	case Uint8:
		return make([]uint8, n)
	case Uint16:
		return make([]uint16, n)
	case Uint32:
		return make([]uint32, n)
	case Uint64:
		return make([]uint64, n)
	case Bool:
		return make([]bool, n)
	case String:
		return make([]string, n)
	case Float16:
		return make([]F16, n)
	case BFloat16:
		return make([]BF16, n)
	case Complex64:
		return make([]complex64, n)
	case Complex128:
		return make([]complex128, n)
	case Float8E4M3FN:
		return make([]F8E4M3FN, n)
	case Float8E4M3FNUZ:
		return make([]F8E4M3FNUZ, n)
	case Float8E5M2:
		return make([]F8E5M2, n)
	case Float8E5M2FNUZ:
		return make([]F8E5M2FNUZ, n)
	case Uint4:
		return make([]U4, n)
	case Int4:
		return make([]I4, n)
	case Float4E2M1:
		return make([]F4E2M1, n)
	}
	panic(fmt.Sprintf("tensor: MakeSlice of invalid dtype %v", dt))
}

// DTypeOf returns the DType whose storage is []T.
func DTypeOf[T Elem]() DType {
	var z T
	switch any(z).(type) {
	case float32:
		return Float32
	case float64:
		return Float64
	case int8:
		return Int8
	case int16:
		return Int16
	case int32:
		return Int32
	case int64:
		return Int64
	case uint8:
		return Uint8
	case uint16:
		return Uint16
	case uint32:
		return Uint32
	case uint64:
		return Uint64
	case bool:
		return Bool
	case string:
		return String
	case complex64:
		return Complex64
	case complex128:
		return Complex128
	case F16:
		return Float16
	case BF16:
		return BFloat16
	case F8E4M3FN:
		return Float8E4M3FN
	case F8E4M3FNUZ:
		return Float8E4M3FNUZ
	case F8E5M2:
		return Float8E5M2
	case F8E5M2FNUZ:
		return Float8E5M2FNUZ
	case U4:
		return Uint4
	case I4:
		return Int4
	case F4E2M1:
		return Float4E2M1
	}
	return Undefined
}

// FromSlice wraps data (not copied) in a tensor of the given shape. It
// panics if the element count does not match: that is a programming error.
func FromSlice[T Elem](data []T, shape ...int) *Tensor {
	if NumElements(shape) != len(data) {
		panic(fmt.Sprintf("tensor: FromSlice: %d elements for shape %v", len(data), shape))
	}
	return &Tensor{DType: DTypeOf[T](), Shape: append([]int(nil), shape...), Data: data}
}

// Scalar returns a rank-0 tensor holding v.
func Scalar[T Elem](v T) *Tensor { return FromSlice([]T{v}) }

// Data returns t's storage as []T. It panics if T is not t's storage type.
func Data[T Elem](t *Tensor) []T { return t.Data.([]T) }

// Len returns the number of elements.
func (t *Tensor) Len() int { return NumElements(t.Shape) }

// Rank returns the number of dimensions.
func (t *Tensor) Rank() int { return len(t.Shape) }

// Reshape returns a view of t with another shape of the same element count.
func (t *Tensor) Reshape(shape ...int) (*Tensor, error) {
	if NumElements(shape) != t.Len() {
		return nil, fmt.Errorf("tensor: cannot reshape %v (%d elements) to %v", t.Shape, t.Len(), shape)
	}
	return &Tensor{DType: t.DType, Shape: append([]int(nil), shape...), Data: t.Data}, nil
}

// Clone returns a deep copy of t.
func (t *Tensor) Clone() *Tensor {
	c := New(t.DType, t.Shape...)
	CopySlice(c.Data, t.Data)
	return c
}

// Validate checks that Data has the Go type and length DType and Shape call for.
func (t *Tensor) Validate() error {
	if t == nil {
		return fmt.Errorf("tensor: nil tensor")
	}
	for _, d := range t.Shape {
		if d < 0 {
			return fmt.Errorf("tensor: negative dimension in shape %v", ShapeString(t.Shape))
		}
	}
	if !t.DType.Valid() {
		return fmt.Errorf("tensor: invalid dtype %v", t.DType)
	}
	n := SliceLen(t.Data)
	if n < 0 || DTypeOfSlice(t.Data) != t.DType {
		return fmt.Errorf("tensor: storage %T does not hold %v", t.Data, t.DType)
	}
	if n != t.Len() {
		return fmt.Errorf("tensor: %d elements stored for shape %v", n, ShapeString(t.Shape))
	}
	return nil
}

// String describes t's type and shape, e.g. "float32[1,3,224,224]".
func (t *Tensor) String() string {
	if t == nil {
		return "<nil>"
	}
	return t.DType.String() + ShapeString(t.Shape)
}

// ShapeString formats a shape as "[1,3,224,224]".
func ShapeString(shape []int) string {
	var b strings.Builder
	b.WriteByte('[')
	for i, d := range shape {
		if i > 0 {
			b.WriteByte(',')
		}
		fmt.Fprint(&b, d)
	}
	b.WriteByte(']')
	return b.String()
}

// EqualShapes reports whether a and b are the same shape.
func EqualShapes(a, b []int) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if a[i] != b[i] {
			return false
		}
	}
	return true
}

// Strides returns the row-major element strides of shape.
func Strides(shape []int) []int {
	s := make([]int, len(shape))
	acc := 1
	for i := len(shape) - 1; i >= 0; i-- {
		s[i] = acc
		acc *= shape[i]
	}
	return s
}
