package tensor

import "reflect"

// SliceLen returns the length of a storage slice, or -1 if v is not one.
func SliceLen(v any) int {
	switch s := v.(type) {
	case []float32:
		return len(s)
	case []float64:
		return len(s)
	case []int8:
		return len(s)
	case []int16:
		return len(s)
	case []int32:
		return len(s)
	case []int64:
		return len(s)
	case []uint8:
		return len(s)
	case []uint16:
		return len(s)
	case []uint32:
		return len(s)
	case []uint64:
		return len(s)
	case []bool:
		return len(s)
	case []string:
		return len(s)
	case []F16:
		return len(s)
	case []BF16:
		return len(s)
	case []complex64:
		return len(s)
	case []complex128:
		return len(s)
	case []F8E4M3FN:
		return len(s)
	case []F8E4M3FNUZ:
		return len(s)
	case []F8E5M2:
		return len(s)
	case []F8E5M2FNUZ:
		return len(s)
	case []U4:
		return len(s)
	case []I4:
		return len(s)
	case []F4E2M1:
		return len(s)
	}
	return -1
}

// DTypeOfSlice returns the DType a storage slice holds, or Undefined.
func DTypeOfSlice(v any) DType {
	switch v.(type) {
	case []float32:
		return Float32
	case []float64:
		return Float64
	case []int8:
		return Int8
	case []int16:
		return Int16
	case []int32:
		return Int32
	case []int64:
		return Int64
	case []uint8:
		return Uint8
	case []uint16:
		return Uint16
	case []uint32:
		return Uint32
	case []uint64:
		return Uint64
	case []bool:
		return Bool
	case []string:
		return String
	case []F16:
		return Float16
	case []BF16:
		return BFloat16
	case []complex64:
		return Complex64
	case []complex128:
		return Complex128
	case []F8E4M3FN:
		return Float8E4M3FN
	case []F8E4M3FNUZ:
		return Float8E4M3FNUZ
	case []F8E5M2:
		return Float8E5M2
	case []F8E5M2FNUZ:
		return Float8E5M2FNUZ
	case []U4:
		return Uint4
	case []I4:
		return Int4
	case []F4E2M1:
		return Float4E2M1
	}
	return Undefined
}

// CopySlice copies src into dst, two storage slices of the same type, and
// returns the number of elements copied.
func CopySlice(dst, src any) int {
	switch d := dst.(type) {
	case []float32:
		return copy(d, src.([]float32))
	case []float64:
		return copy(d, src.([]float64))
	case []int8:
		return copy(d, src.([]int8))
	case []int16:
		return copy(d, src.([]int16))
	case []int32:
		return copy(d, src.([]int32))
	case []int64:
		return copy(d, src.([]int64))
	case []uint8:
		return copy(d, src.([]uint8))
	case []uint16:
		return copy(d, src.([]uint16))
	case []uint32:
		return copy(d, src.([]uint32))
	case []uint64:
		return copy(d, src.([]uint64))
	case []bool:
		return copy(d, src.([]bool))
	case []string:
		return copy(d, src.([]string))
	case []F16:
		return copy(d, src.([]F16))
	case []BF16:
		return copy(d, src.([]BF16))
	case []complex64:
		return copy(d, src.([]complex64))
	case []complex128:
		return copy(d, src.([]complex128))
	case []F8E4M3FN:
		return copy(d, src.([]F8E4M3FN))
	case []F8E4M3FNUZ:
		return copy(d, src.([]F8E4M3FNUZ))
	case []F8E5M2:
		return copy(d, src.([]F8E5M2))
	case []F8E5M2FNUZ:
		return copy(d, src.([]F8E5M2FNUZ))
	case []U4:
		return copy(d, src.([]U4))
	case []I4:
		return copy(d, src.([]I4))
	case []F4E2M1:
		return copy(d, src.([]F4E2M1))
	}
	panic("tensor: CopySlice of unknown storage")
}

// SetElem sets dst[i] = src[j] for two storage slices of the same type.
// It is meant for cold paths (layout conversion, sparse data); kernels use
// typed loops.
func SetElem(dst any, i int, src any, j int) {
	reflect.ValueOf(dst).Index(i).Set(reflect.ValueOf(src).Index(j))
}
