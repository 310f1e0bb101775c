package serve

import (
	"encoding/binary"
	"fmt"

	"github.com/inferd/inferd/tensor"
)

var leOrder = binary.LittleEndian

// decodeBytesElements decodes n BYTES elements in the binary layout of the
// protocols: each a 4-byte little-endian length and then its bytes.
func decodeBytesElements(raw []byte, n int) ([]string, error) {
	out := make([]string, 0, min(n, len(raw)/4))
	for i := 0; i < n; i++ {
		if len(raw) < 4 {
			return nil, fmt.Errorf("BYTES data holds %d elements, want %d", i, n)
		}
		l := leOrder.Uint32(raw)
		raw = raw[4:]
		if uint64(l) > uint64(len(raw)) {
			return nil, fmt.Errorf("BYTES element %d: length %d but %d bytes left", i, l, len(raw))
		}
		out = append(out, string(raw[:l]))
		raw = raw[l:]
	}
	if len(raw) != 0 {
		return nil, fmt.Errorf("BYTES data has %d bytes after its %d elements", len(raw), n)
	}
	return out, nil
}

// encodeBytesElements appends strings in the length-prefixed layout.
func encodeBytesElements(dst []byte, s []string) []byte {
	for _, e := range s {
		dst = leOrder.AppendUint32(dst, uint32(len(e)))
		dst = append(dst, e...)
	}
	return dst
}

// decodeRaw makes a tensor of dt and shape from its binary form. The
// tensor may use raw in place (see viewRaw): the caller must not change
// raw while the tensor is in use.
func decodeRaw(dt tensor.DType, shape []int, raw []byte) (*tensor.Tensor, error) {
	n, err := elementCount(shape)
	if err != nil {
		return nil, err
	}
	if dt == tensor.String {
		data, err := decodeBytesElements(raw, n)
		if err != nil {
			return nil, err
		}
		return &tensor.Tensor{DType: dt, Shape: shape, Data: data}, nil
	}
	if want := n * dt.Size(); len(raw) != want {
		return nil, fmt.Errorf("%d bytes of data, but %s %s takes %d", len(raw), kserveName(dt), tensor.ShapeString(shape), want)
	}
	if data, ok := viewRaw(dt, raw, n); ok {
		return &tensor.Tensor{DType: dt, Shape: shape, Data: data}, nil
	}
	data, err := tensor.DecodeRaw(dt, raw, n, leOrder)
	if err != nil {
		return nil, err
	}
	return &tensor.Tensor{DType: dt, Shape: shape, Data: data}, nil
}

// rawBytes returns t's binary form: its storage itself where rawView
// allows (the bytes alias t), else an encoded copy.
func rawBytes(t *tensor.Tensor) ([]byte, error) {
	if b, ok := rawView(t.Data); ok && len(b) == t.Len()*t.DType.Size() {
		return b, nil
	}
	return encodeRaw(make([]byte, 0, rawSize(t)), t)
}

// encodeRaw appends t's binary form.
func encodeRaw(dst []byte, t *tensor.Tensor) ([]byte, error) {
	if s, ok := t.Data.([]string); ok {
		return encodeBytesElements(dst, s), nil
	}
	return tensor.EncodeRaw(dst, t.Data)
}

// rawSize returns the length of t's binary form.
func rawSize(t *tensor.Tensor) int {
	if s, ok := t.Data.([]string); ok {
		n := 4 * len(s)
		for _, e := range s {
			n += len(e)
		}
		return n
	}
	return t.Len() * t.DType.Size()
}

// maxElements bounds the element count a request shape may declare, so a
// shape cannot make the server allocate more than the body could hold.
const maxElements = 1 << 31

// elementCount returns the product of shape, refusing negative
// dimensions and overflow.
func elementCount(shape []int) (int, error) {
	n := 1
	for _, d := range shape {
		if d < 0 {
			return 0, fmt.Errorf("shape %s has a negative dimension", tensor.ShapeString(shape))
		}
		if d != 0 && n > maxElements/d {
			return 0, fmt.Errorf("shape %s has too many elements", tensor.ShapeString(shape))
		}
		n *= d
	}
	return n, nil
}

// shapeFromInt64 converts a protocol shape.
func shapeFromInt64(s []int64) ([]int, error) {
	out := make([]int, len(s))
	for i, d := range s {
		if d < 0 || d > maxElements {
			return nil, fmt.Errorf("shape %v: dimension %d is %d", s, i, d)
		}
		out[i] = int(d)
	}
	if _, err := elementCount(out); err != nil {
		return nil, err
	}
	return out, nil
}

func shapeToInt64(s []int) []int64 {
	out := make([]int64, len(s))
	for i, d := range s {
		out[i] = int64(d)
	}
	return out
}
