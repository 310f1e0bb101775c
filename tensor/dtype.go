package tensor

import "fmt"

// DType is an element type. Its values are ONNX's TensorProto.DataType
// numbers, so they convert to and from the protobuf enum unchanged.
type DType int32

// The element types inferd knows. Undefined (0) marks an unknown type.
const (
	Undefined      DType = 0
	Float32        DType = 1
	Uint8          DType = 2
	Int8           DType = 3
	Uint16         DType = 4
	Int16          DType = 5
	Int32          DType = 6
	Int64          DType = 7
	String         DType = 8
	Bool           DType = 9
	Float16        DType = 10
	Float64        DType = 11
	Uint32         DType = 12
	Uint64         DType = 13
	Complex64      DType = 14
	Complex128     DType = 15
	BFloat16       DType = 16
	Float8E4M3FN   DType = 17
	Float8E4M3FNUZ DType = 18
	Float8E5M2     DType = 19
	Float8E5M2FNUZ DType = 20
	Uint4          DType = 21
	Int4           DType = 22
	Float4E2M1     DType = 23
)

var dtypeNames = map[DType]string{
	Undefined: "undefined", Float32: "float32", Uint8: "uint8", Int8: "int8",
	Uint16: "uint16", Int16: "int16", Int32: "int32", Int64: "int64",
	String: "string", Bool: "bool", Float16: "float16", Float64: "float64",
	Uint32: "uint32", Uint64: "uint64", Complex64: "complex64",
	Complex128: "complex128", BFloat16: "bfloat16",
	Float8E4M3FN: "float8e4m3fn", Float8E4M3FNUZ: "float8e4m3fnuz",
	Float8E5M2: "float8e5m2", Float8E5M2FNUZ: "float8e5m2fnuz",
	Uint4: "uint4", Int4: "int4", Float4E2M1: "float4e2m1",
}

// String returns the lower-case name of the type, e.g. "float32".
func (d DType) String() string {
	if s, ok := dtypeNames[d]; ok {
		return s
	}
	return fmt.Sprintf("dtype(%d)", int32(d))
}

// ParseDType returns the DType with the given name as printed by String.
func ParseDType(name string) (DType, error) {
	for d, s := range dtypeNames {
		if s == name && d != Undefined {
			return d, nil
		}
	}
	return Undefined, fmt.Errorf("tensor: unknown dtype %q", name)
}

// Size returns the bytes one element takes in memory (strings: 0; the
// 4-bit types take one byte each in memory, unpacked).
func (d DType) Size() int {
	switch d {
	case Float32, Int32, Uint32:
		return 4
	case Float64, Int64, Uint64, Complex64:
		return 8
	case Complex128:
		return 16
	case Uint8, Int8, Bool, Float8E4M3FN, Float8E4M3FNUZ, Float8E5M2, Float8E5M2FNUZ, Uint4, Int4, Float4E2M1:
		return 1
	case Uint16, Int16, Float16, BFloat16:
		return 2
	}
	return 0
}

// Valid reports whether d is a type inferd can hold in a Tensor.
func (d DType) Valid() bool { _, ok := dtypeNames[d]; return ok && d != Undefined }

// IsFloat reports whether d is a real floating-point type.
func (d DType) IsFloat() bool {
	switch d {
	case Float32, Float64, Float16, BFloat16, Float8E4M3FN, Float8E4M3FNUZ, Float8E5M2, Float8E5M2FNUZ, Float4E2M1:
		return true
	}
	return false
}

// IsInt reports whether d is a signed or unsigned integer type.
func (d DType) IsInt() bool {
	switch d {
	case Uint8, Int8, Uint16, Int16, Int32, Int64, Uint32, Uint64, Uint4, Int4:
		return true
	}
	return false
}

// IsSigned reports whether d can hold negative values.
func (d DType) IsSigned() bool {
	switch d {
	case Uint8, Uint16, Uint32, Uint64, Uint4, Bool, String:
		return false
	}
	return true
}

// Float8 and 4-bit element types, one value per Go value. Their bit
// layouts are ONNX's; conversions live in float8.go.
type (
	F8E4M3FN   uint8
	F8E4M3FNUZ uint8
	F8E5M2     uint8
	F8E5M2FNUZ uint8
	U4         uint8
	I4         int8
	F4E2M1     uint8
)
