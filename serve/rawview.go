package serve

import (
	"encoding/binary"
	"unsafe"

	"github.com/inferd/inferd/tensor"
)

// hostLittleEndian reports whether the machine stores numbers in the
// protocols' byte order, so raw tensor bytes can be used in place.
var hostLittleEndian = binary.NativeEndian.Uint16([]byte{1, 0}) == 1

// viewRaw returns raw as the storage slice of n elements of dt without
// copying: on a little-endian host, for fixed-size types whose every bit
// pattern is a valid Go value, when raw is aligned for the element type.
// ok is false otherwise, and the caller decodes a copy. The result
// aliases raw, so raw must not be reused while the tensor lives; the
// front ends own their request buffers, which die with the request.
func viewRaw(dt tensor.DType, raw []byte, n int) (data any, ok bool) {
	if !hostLittleEndian || len(raw) != n*dt.Size() {
		return nil, false
	}
	if n == 0 {
		return tensor.MakeSlice(dt, 0), true
	}
	p := unsafe.Pointer(unsafe.SliceData(raw))
	aligned := func(size uintptr) bool { return uintptr(p)%size == 0 }
	switch dt {
	case tensor.Uint8:
		return raw[:n:n], true
	case tensor.Int8:
		return unsafe.Slice((*int8)(p), n), true
	case tensor.Float32:
		if aligned(4) {
			return unsafe.Slice((*float32)(p), n), true
		}
	case tensor.Float64:
		if aligned(8) {
			return unsafe.Slice((*float64)(p), n), true
		}
	case tensor.Int16:
		if aligned(2) {
			return unsafe.Slice((*int16)(p), n), true
		}
	case tensor.Uint16:
		if aligned(2) {
			return unsafe.Slice((*uint16)(p), n), true
		}
	case tensor.Float16:
		if aligned(2) {
			return unsafe.Slice((*tensor.F16)(p), n), true
		}
	case tensor.BFloat16:
		if aligned(2) {
			return unsafe.Slice((*tensor.BF16)(p), n), true
		}
	case tensor.Int32:
		if aligned(4) {
			return unsafe.Slice((*int32)(p), n), true
		}
	case tensor.Uint32:
		if aligned(4) {
			return unsafe.Slice((*uint32)(p), n), true
		}
	case tensor.Int64:
		if aligned(8) {
			return unsafe.Slice((*int64)(p), n), true
		}
	case tensor.Uint64:
		if aligned(8) {
			return unsafe.Slice((*uint64)(p), n), true
		}
	}
	// Bool is copied: a byte other than 0 or 1 is not a valid Go bool.
	return nil, false
}

// rawView returns the little-endian bytes of a fixed-size storage slice
// without copying (on a little-endian host, for the types viewRaw
// handles); ok is false otherwise, and the caller encodes a copy. The
// bytes alias data.
func rawView(data any) (b []byte, ok bool) {
	if !hostLittleEndian {
		return nil, false
	}
	bytesOf := func(p unsafe.Pointer, n, size int) []byte {
		if n == 0 {
			return []byte{}
		}
		return unsafe.Slice((*byte)(p), n*size)
	}
	switch s := data.(type) {
	case []uint8:
		return s, true
	case []int8:
		return bytesOf(unsafe.Pointer(unsafe.SliceData(s)), len(s), 1), true
	case []float32:
		return bytesOf(unsafe.Pointer(unsafe.SliceData(s)), len(s), 4), true
	case []float64:
		return bytesOf(unsafe.Pointer(unsafe.SliceData(s)), len(s), 8), true
	case []int16:
		return bytesOf(unsafe.Pointer(unsafe.SliceData(s)), len(s), 2), true
	case []uint16:
		return bytesOf(unsafe.Pointer(unsafe.SliceData(s)), len(s), 2), true
	case []tensor.F16:
		return bytesOf(unsafe.Pointer(unsafe.SliceData(s)), len(s), 2), true
	case []tensor.BF16:
		return bytesOf(unsafe.Pointer(unsafe.SliceData(s)), len(s), 2), true
	case []int32:
		return bytesOf(unsafe.Pointer(unsafe.SliceData(s)), len(s), 4), true
	case []uint32:
		return bytesOf(unsafe.Pointer(unsafe.SliceData(s)), len(s), 4), true
	case []int64:
		return bytesOf(unsafe.Pointer(unsafe.SliceData(s)), len(s), 8), true
	case []uint64:
		return bytesOf(unsafe.Pointer(unsafe.SliceData(s)), len(s), 8), true
	}
	return nil, false
}
