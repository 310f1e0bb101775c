package onnx

import (
	"encoding/binary"
	"fmt"
	"io"
	"math"
	"unsafe"

	"github.com/inferd/inferd/onnx/onnxpb"
	"github.com/inferd/inferd/tensor"
)

// dataReader opens the external data a tensor names.
type dataReader interface {
	readExternal(loc string, offset, length int64, dst []byte) error
	size(loc string) (int64, error)
}

// TensorFromProto decodes a TensorProto held entirely in the message
// (external data is refused: use Load for models with external data).
func TensorFromProto(tp *onnxpb.TensorProto) (*tensor.Tensor, error) {
	return tensorFromProto(tp, nil, 0)
}

func tensorFromProto(tp *onnxpb.TensorProto, ext dataReader, maxBytes int64) (*tensor.Tensor, error) {
	dt := tensor.DType(tp.GetDataType())
	if !dt.Valid() {
		return nil, fmt.Errorf("tensor %q: unknown data type %d", tp.GetName(), tp.GetDataType())
	}
	shape := make([]int, len(tp.GetDims()))
	n := int64(1)
	for i, d := range tp.GetDims() {
		if d < 0 {
			return nil, fmt.Errorf("tensor %q: negative dimension %d", tp.GetName(), d)
		}
		if d > 0 && n > math.MaxInt64/d/16 {
			return nil, fmt.Errorf("tensor %q: shape %v too large", tp.GetName(), tp.GetDims())
		}
		shape[i] = int(d)
		n *= d
	}
	if tp.GetSegment() != nil {
		return nil, fmt.Errorf("tensor %q: segmented tensors are not supported", tp.GetName())
	}
	t := &tensor.Tensor{DType: dt, Shape: shape}
	var err error
	switch {
	case tp.GetDataLocation() == onnxpb.TensorProto_EXTERNAL:
		t.Data, err = readExternalTensor(tp, dt, n, ext, maxBytes)
	case tp.RawData != nil:
		t.Data, err = decodeRaw(dt, tp.GetRawData(), int(n))
	default:
		t.Data, err = decodeTyped(tp, dt, int(n))
	}
	if err != nil {
		return nil, fmt.Errorf("tensor %q (%v%v): %w", tp.GetName(), dt, tensor.ShapeString(shape), err)
	}
	return t, nil
}

// rawBytes is the size in bytes of n elements of dt in raw_data.
func rawBytes(dt tensor.DType, n int64) int64 {
	switch dt {
	case tensor.Int4, tensor.Uint4, tensor.Float4E2M1:
		return (n + 1) / 2
	}
	return n * int64(dt.Size())
}

func decodeRaw(dt tensor.DType, raw []byte, n int) (any, error) {
	switch dt {
	case tensor.String:
		return nil, fmt.Errorf("string tensors cannot use raw_data")
	case tensor.Int4, tensor.Uint4, tensor.Float4E2M1:
		if int64(len(raw)) != rawBytes(dt, int64(n)) {
			return nil, fmt.Errorf("%d bytes of raw data for %d 4-bit elements", len(raw), n)
		}
		return unpack4(dt, func(i int) byte { return raw[i] }, n), nil
	}
	return tensor.DecodeRaw(dt, raw, n, binary.LittleEndian)
}

func unpack4(dt tensor.DType, byteAt func(i int) byte, n int) any {
	nib := func(i int) uint8 {
		b := byteAt(i / 2)
		if i%2 == 1 {
			return b >> 4
		}
		return b & 0x0f
	}
	switch dt {
	case tensor.Int4:
		s := make([]tensor.I4, n)
		for i := range s {
			s[i] = tensor.I4(int8(nib(i)<<4) >> 4)
		}
		return s
	case tensor.Uint4:
		s := make([]tensor.U4, n)
		for i := range s {
			s[i] = tensor.U4(nib(i))
		}
		return s
	default:
		s := make([]tensor.F4E2M1, n)
		for i := range s {
			s[i] = tensor.F4E2M1(nib(i))
		}
		return s
	}
}

func pack4(data any) []byte {
	var nibs []uint8
	switch s := data.(type) {
	case []tensor.I4:
		for _, v := range s {
			nibs = append(nibs, uint8(v)&0x0f)
		}
	case []tensor.U4:
		for _, v := range s {
			nibs = append(nibs, uint8(v)&0x0f)
		}
	case []tensor.F4E2M1:
		for _, v := range s {
			nibs = append(nibs, uint8(v)&0x0f)
		}
	}
	out := make([]byte, (len(nibs)+1)/2)
	for i, v := range nibs {
		out[i/2] |= v << (4 * (i % 2))
	}
	return out
}

func want(got, n int, field string) error {
	if got != n {
		return fmt.Errorf("%s holds %d values, want %d", field, got, n)
	}
	return nil
}

// typedLen returns how many entries of its typed field n elements of dt take.
func typedLen(tp *onnxpb.TensorProto, dt tensor.DType, n int) (got, want int, field string) {
	switch dt {
	case tensor.Float32:
		return len(tp.GetFloatData()), n, "float_data"
	case tensor.Complex64:
		return len(tp.GetFloatData()), 2 * n, "float_data"
	case tensor.Float64:
		return len(tp.GetDoubleData()), n, "double_data"
	case tensor.Complex128:
		return len(tp.GetDoubleData()), 2 * n, "double_data"
	case tensor.Int64:
		return len(tp.GetInt64Data()), n, "int64_data"
	case tensor.Uint64, tensor.Uint32:
		return len(tp.GetUint64Data()), n, "uint64_data"
	case tensor.String:
		return len(tp.GetStringData()), n, "string_data"
	case tensor.Int4, tensor.Uint4, tensor.Float4E2M1:
		return len(tp.GetInt32Data()), (n + 1) / 2, "int32_data"
	}
	return len(tp.GetInt32Data()), n, "int32_data"
}

func decodeTyped(tp *onnxpb.TensorProto, dt tensor.DType, n int) (any, error) {
	// Check the field's length before allocating, so a header that claims
	// a huge shape cannot force a huge allocation.
	if got, want, field := typedLen(tp, dt, n); got != want {
		return nil, fmt.Errorf("%s holds %d values, want %d", field, got, want)
	}
	out := tensor.MakeSlice(dt, n)
	i32 := tp.GetInt32Data()
	switch s := out.(type) {
	case []float32:
		if err := want(len(tp.GetFloatData()), n, "float_data"); err != nil {
			return nil, err
		}
		copy(s, tp.GetFloatData())
	case []float64:
		if err := want(len(tp.GetDoubleData()), n, "double_data"); err != nil {
			return nil, err
		}
		copy(s, tp.GetDoubleData())
	case []int64:
		if err := want(len(tp.GetInt64Data()), n, "int64_data"); err != nil {
			return nil, err
		}
		copy(s, tp.GetInt64Data())
	case []uint64:
		if err := want(len(tp.GetUint64Data()), n, "uint64_data"); err != nil {
			return nil, err
		}
		copy(s, tp.GetUint64Data())
	case []uint32:
		if err := want(len(tp.GetUint64Data()), n, "uint64_data"); err != nil {
			return nil, err
		}
		for i, v := range tp.GetUint64Data() {
			s[i] = uint32(v)
		}
	case []string:
		if err := want(len(tp.GetStringData()), n, "string_data"); err != nil {
			return nil, err
		}
		for i, v := range tp.GetStringData() {
			s[i] = string(v)
		}
	case []complex64:
		f := tp.GetFloatData()
		if err := want(len(f), 2*n, "float_data"); err != nil {
			return nil, err
		}
		for i := range s {
			s[i] = complex(f[2*i], f[2*i+1])
		}
	case []complex128:
		f := tp.GetDoubleData()
		if err := want(len(f), 2*n, "double_data"); err != nil {
			return nil, err
		}
		for i := range s {
			s[i] = complex(f[2*i], f[2*i+1])
		}
	case []tensor.I4, []tensor.U4, []tensor.F4E2M1:
		if err := want(len(i32), (n+1)/2, "int32_data"); err != nil {
			return nil, err
		}
		return unpack4(dt, func(i int) byte { return byte(i32[i]) }, n), nil
	default:
		// The types stored one per int32_data entry.
		if err := want(len(i32), n, "int32_data"); err != nil {
			return nil, err
		}
		switch s := out.(type) {
		case []int32:
			copy(s, i32)
		case []int8:
			fill32(s, i32)
		case []int16:
			fill32(s, i32)
		case []uint8:
			fill32(s, i32)
		case []uint16:
			fill32(s, i32)
		case []tensor.F16:
			fill32(s, i32)
		case []tensor.BF16:
			fill32(s, i32)
		case []tensor.F8E4M3FN:
			fill32(s, i32)
		case []tensor.F8E4M3FNUZ:
			fill32(s, i32)
		case []tensor.F8E5M2:
			fill32(s, i32)
		case []tensor.F8E5M2FNUZ:
			fill32(s, i32)
		case []bool:
			for i, v := range i32 {
				s[i] = v != 0
			}
		default:
			return nil, fmt.Errorf("no typed field for %v", dt)
		}
	}
	return out, nil
}

func fill32[T ~int8 | ~int16 | ~uint8 | ~uint16](dst []T, src []int32) {
	for i, v := range src {
		dst[i] = T(v)
	}
}

func readExternalTensor(tp *onnxpb.TensorProto, dt tensor.DType, n int64, ext dataReader, maxBytes int64) (any, error) {
	if ext == nil {
		return nil, fmt.Errorf("external data is not available here (load the model from a file)")
	}
	var loc string
	offset, length := int64(0), int64(-1)
	for _, kv := range tp.GetExternalData() {
		var err error
		switch kv.GetKey() {
		case "location":
			loc = kv.GetValue()
		case "offset":
			_, err = fmt.Sscan(kv.GetValue(), &offset)
		case "length":
			_, err = fmt.Sscan(kv.GetValue(), &length)
		case "checksum":
		default:
			return nil, fmt.Errorf("unknown external_data key %q", kv.GetKey())
		}
		if err != nil {
			return nil, fmt.Errorf("external_data %s=%q: %v", kv.GetKey(), kv.GetValue(), err)
		}
	}
	if loc == "" {
		return nil, fmt.Errorf("external data has no location")
	}
	if dt == tensor.String {
		return nil, fmt.Errorf("string tensors cannot be stored externally")
	}
	need := rawBytes(dt, n)
	if length >= 0 && length != need {
		return nil, fmt.Errorf("external data length %d, want %d bytes for the shape", length, need)
	}
	if offset < 0 {
		return nil, fmt.Errorf("negative external data offset %d", offset)
	}
	if maxBytes > 0 && need > maxBytes {
		return nil, fmt.Errorf("tensor of %d bytes exceeds the %d-byte limit", need, maxBytes)
	}
	size, err := ext.size(loc)
	if err != nil {
		return nil, err
	}
	if offset+need > size {
		return nil, fmt.Errorf("external data %q: bytes [%d, %d) lie beyond its end (%d bytes)", loc, offset, offset+need, size)
	}
	// Fixed-size types on a little-endian host are read straight into the
	// typed slice, so a large weight is read once and not copied.
	if littleEndian && dt.Size() > 0 && rawBytes(dt, n) == n*int64(dt.Size()) {
		out := tensor.MakeSlice(dt, int(n))
		if err := ext.readExternal(loc, offset, need, bytesOf(out, need)); err != nil {
			return nil, err
		}
		if b, ok := out.([]bool); ok {
			for i := range b {
				b[i] = *(*byte)(unsafe.Pointer(&b[i])) != 0
			}
		}
		return out, nil
	}
	buf := make([]byte, need)
	if err := ext.readExternal(loc, offset, need, buf); err != nil {
		return nil, err
	}
	return decodeRaw(dt, buf, int(n))
}

var littleEndian = func() bool {
	x := uint16(1)
	return *(*byte)(unsafe.Pointer(&x)) == 1
}()

// bytesOf views a fixed-size storage slice as bytes.
func bytesOf(s any, n int64) []byte {
	if n == 0 {
		return nil
	}
	var p unsafe.Pointer
	switch v := s.(type) {
	case []float32:
		p = unsafe.Pointer(&v[0])
	case []float64:
		p = unsafe.Pointer(&v[0])
	case []int8:
		p = unsafe.Pointer(&v[0])
	case []int16:
		p = unsafe.Pointer(&v[0])
	case []int32:
		p = unsafe.Pointer(&v[0])
	case []int64:
		p = unsafe.Pointer(&v[0])
	case []uint8:
		p = unsafe.Pointer(&v[0])
	case []uint16:
		p = unsafe.Pointer(&v[0])
	case []uint32:
		p = unsafe.Pointer(&v[0])
	case []uint64:
		p = unsafe.Pointer(&v[0])
	case []bool:
		p = unsafe.Pointer(&v[0])
	case []tensor.F16:
		p = unsafe.Pointer(&v[0])
	case []tensor.BF16:
		p = unsafe.Pointer(&v[0])
	case []complex64:
		p = unsafe.Pointer(&v[0])
	case []complex128:
		p = unsafe.Pointer(&v[0])
	case []tensor.F8E4M3FN:
		p = unsafe.Pointer(&v[0])
	case []tensor.F8E4M3FNUZ:
		p = unsafe.Pointer(&v[0])
	case []tensor.F8E5M2:
		p = unsafe.Pointer(&v[0])
	case []tensor.F8E5M2FNUZ:
		p = unsafe.Pointer(&v[0])
	default:
		panic(fmt.Sprintf("onnx: bytesOf %T", s))
	}
	return unsafe.Slice((*byte)(p), n)
}

// TensorToProto encodes t as a TensorProto named name, numbers in
// raw_data and strings in string_data.
func TensorToProto(name string, t *tensor.Tensor) (*onnxpb.TensorProto, error) {
	tp := &onnxpb.TensorProto{Name: strPtr(name), DataType: int32Ptr(int32(t.DType))}
	for _, d := range t.Shape {
		tp.Dims = append(tp.Dims, int64(d))
	}
	switch s := t.Data.(type) {
	case []string:
		for _, v := range s {
			tp.StringData = append(tp.StringData, []byte(v))
		}
		return tp, nil
	case []tensor.I4, []tensor.U4, []tensor.F4E2M1:
		tp.RawData = pack4(s)
		return tp, nil
	}
	raw, err := tensor.EncodeRaw(make([]byte, 0, t.Len()*t.DType.Size()), t.Data)
	if err != nil {
		return nil, fmt.Errorf("tensor %q: %w", name, err)
	}
	tp.RawData = raw
	return tp, nil
}

// rawOf returns t's raw little-endian bytes (for external data).
func rawOf(t *tensor.Tensor) ([]byte, error) {
	switch s := t.Data.(type) {
	case []tensor.I4, []tensor.U4, []tensor.F4E2M1:
		return pack4(s), nil
	}
	return tensor.EncodeRaw(make([]byte, 0, t.Len()*t.DType.Size()), t.Data)
}

func strPtr(s string) *string { return &s }
func int32Ptr(v int32) *int32 { return &v }
func int64Ptr(v int64) *int64 { return &v }

var _ = io.EOF
