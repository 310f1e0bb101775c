package kernels

import (
	"math"
	"testing"

	"github.com/inferd/inferd/ir"
	"github.com/inferd/inferd/tensor"
)

func ewCastTo(t *testing.T, x *tensor.Tensor, to tensor.DType, opset int64, extra ...*ir.Attribute) *tensor.Tensor {
	t.Helper()
	return ewRun(t, "Cast", opset, append([]*ir.Attribute{ewAttrI("to", int64(to))}, extra...), x)
}

func TestEwCastNumeric(t *testing.T) {
	ewExpect(t, "f32→i32", ewCastTo(t, ewF32(-1.7, 1.7, 2.5, -0.5), tensor.Int32, 13), ewT([]int32{-1, 1, 2, 0}, 4))
	ewExpect(t, "i16→i8 wraps", ewCastTo(t, ewT([]int16{200, -129, 5}, 3), tensor.Int8, 13), ewT([]int8{-56, 127, 5}, 3))
	ewExpect(t, "i32→u8 wraps", ewCastTo(t, ewT([]int32{-1, 256}, 2), tensor.Uint8, 13), ewT([]uint8{255, 0}, 2))
	ewExpect(t, "u64→i64", ewCastTo(t, ewT([]uint64{math.MaxUint64}, 1), tensor.Int64, 13), ewT([]int64{-1}, 1))
	ewExpect(t, "i64→f64", ewCastTo(t, ewT([]int64{-3, 1 << 40}, 2), tensor.Float64, 13), ewF64(-3, 1<<40))
	ewExpect(t, "f64→f32", ewCastTo(t, ewF64(0.1, 1e300), tensor.Float32, 13), ewF32(0.1, ewInf))
	ewExpect(t, "f32→bool", ewCastTo(t, ewF32(0, math.Copysign(0, -1), 0.5, ewNaN), tensor.Bool, 13), ewT([]bool{false, false, true, true}, 4))
	ewExpect(t, "i8→bool", ewCastTo(t, ewT([]int8{0, -3}, 2), tensor.Bool, 13), ewT([]bool{false, true}, 2))
	ewExpect(t, "u64→bool", ewCastTo(t, ewT([]uint64{0, 1 << 63}, 2), tensor.Bool, 13), ewT([]bool{false, true}, 2))
	ewExpect(t, "bool→f32", ewCastTo(t, ewT([]bool{true, false}, 2), tensor.Float32, 13), ewF32(1, 0))
	ewExpect(t, "bool→i64", ewCastTo(t, ewT([]bool{true, false}, 2), tensor.Int64, 13), ewT([]int64{1, 0}, 2))
	// Same type: a copy, not the input itself.
	x := ewF32(1, 2)
	y := ewCastTo(t, x, tensor.Float32, 13)
	ewExpect(t, "f32→f32", y, ewF32(1, 2))
	if &y.Data.([]float32)[0] == &x.Data.([]float32)[0] {
		t.Error("Cast to the same type returned the input's storage")
	}
	// Large input runs in parallel chunks.
	n := 40000
	big, want := make([]float32, n), make([]int64, n)
	for i := range big {
		big[i] = float32(i) + 0.75
		want[i] = int64(i)
	}
	ewExpect(t, "big", ewCastTo(t, ewT(big, n), tensor.Int64, 13), ewT(want, n))
}

func TestEwCastHalf(t *testing.T) {
	ewExpect(t, "f32→f16", ewCastTo(t, ewF32(1, 65504, 65520, 1e-8, -2), tensor.Float16, 13),
		ewT([]tensor.F16{0x3c00, 0x7bff, 0x7c00, 0, 0xc000}, 5))
	// Rounds once from float64 (through float32 it would tie to 1.0).
	ewExpect(t, "f64→f16", ewCastTo(t, ewF64(1+math.Ldexp(1, -11)+math.Ldexp(1, -40)), tensor.Float16, 13), ewT([]tensor.F16{0x3c01}, 1))
	ewExpect(t, "f16→f64", ewCastTo(t, ewT([]tensor.F16{0x3555}, 1), tensor.Float64, 13), ewF64(0.333251953125))
	ewExpect(t, "f16→i32", ewCastTo(t, ewT([]tensor.F16{0xc100}, 1), tensor.Int32, 13), ewT([]int32{-2}, 1)) // -2.5
	ewExpect(t, "i64→f16", ewCastTo(t, ewT([]int64{3}, 1), tensor.Float16, 13), ewT([]tensor.F16{0x4200}, 1))
	ewExpect(t, "f32→bf16", ewCastTo(t, ewF32(1, 1.00390625, 1.01171875), tensor.BFloat16, 13), ewT([]tensor.BF16{0x3f80, 0x3f80, 0x3f82}, 3))
	ewExpect(t, "bf16→f32", ewCastTo(t, ewT([]tensor.BF16{0x3fc0, 0xff80}, 2), tensor.Float32, 13), ewF32(1.5, -ewInf))
	ewExpect(t, "f16→bf16", ewCastTo(t, ewT([]tensor.F16{0x3e00}, 1), tensor.BFloat16, 13), ewT([]tensor.BF16{0x3fc0}, 1))
	ewExpect(t, "bool→f16", ewCastTo(t, ewT([]bool{true}, 1), tensor.Float16, 13), ewT([]tensor.F16{0x3c00}, 1))
}

func TestEwCastFloat8(t *testing.T) {
	x := ewF32(1e6, -1e6, ewInf, 0.4789254, -1e-7, 448)
	ewExpect(t, "e4m3fn sat", ewCastTo(t, x, tensor.Float8E4M3FN, 19), ewT([]tensor.F8E4M3FN{0x7e, 0xfe, 0x7e, 0x2f, 0x80, 0x7e}, 6))
	ewExpect(t, "e4m3fn nosat", ewCastTo(t, x, tensor.Float8E4M3FN, 19, ewAttrI("saturate", 0)),
		ewT([]tensor.F8E4M3FN{0x7f, 0xff, 0x7f, 0x2f, 0x80, 0x7e}, 6))
	ewExpect(t, "e5m2 nosat", ewCastTo(t, x, tensor.Float8E5M2, 19, ewAttrI("saturate", 0)),
		ewT([]tensor.F8E5M2{0x7c, 0xfc, 0x7c, 0x38, 0x80, 0x5f}, 6))
	ewExpect(t, "e4m3fnuz", ewCastTo(t, x, tensor.Float8E4M3FNUZ, 19), ewT([]tensor.F8E4M3FNUZ{0x7f, 0xff, 0x7f, 0x37, 0, 0x7f}, 6))
	ewExpect(t, "e5m2fnuz", ewCastTo(t, x, tensor.Float8E5M2FNUZ, 21), ewT([]tensor.F8E5M2FNUZ{0x7f, 0xff, 0x7f, 0x3c, 0, 0x63}, 6))
	ewExpect(t, "e4m3fnuz nosat", ewCastTo(t, ewF32(ewInf, -1e6), tensor.Float8E4M3FNUZ, 21, ewAttrI("saturate", 0)), ewT([]tensor.F8E4M3FNUZ{0x80, 0x80}, 2))
	ewExpect(t, "e4m3fn→f32", ewCastTo(t, ewT([]tensor.F8E4M3FN{0x38, 0x7e, 0xb8}, 3), tensor.Float32, 19), ewF32(1, 448, -1))
	ewExpect(t, "e5m2→f16", ewCastTo(t, ewT([]tensor.F8E5M2{0x7c, 0x3c}, 2), tensor.Float16, 19), ewT([]tensor.F16{0x7c00, 0x3c00}, 2))
	ewExpect(t, "f16→e5m2", ewCastTo(t, ewT([]tensor.F16{0x3c00, 0xfc00}, 2), tensor.Float8E5M2, 19), ewT([]tensor.F8E5M2{0x3c, 0xfb}, 2))
	ewExpect(t, "e4m3fn→e5m2", ewCastTo(t, ewT([]tensor.F8E4M3FN{0x38}, 1), tensor.Float8E5M2, 19), ewT([]tensor.F8E5M2{0x3c}, 1))
	ewExpect(t, "i32→e4m3fn", ewCastTo(t, ewT([]int32{3, 1000}, 2), tensor.Float8E4M3FN, 19), ewT([]tensor.F8E4M3FN{0x44, 0x7e}, 2))
}

func TestEwCastInt4Float4(t *testing.T) {
	ewExpect(t, "f32→i4", ewCastTo(t, ewF32(-9, -8, 7, 8, 2.5, 3.5, -0.4), tensor.Int4, 21), ewT([]tensor.I4{-8, -8, 7, 7, 2, 4, 0}, 7))
	ewExpect(t, "f32→u4", ewCastTo(t, ewF32(-1, 15, 16, 0.5, 1.5), tensor.Uint4, 21), ewT([]tensor.U4{0, 15, 15, 0, 2}, 5))
	ewExpect(t, "i8→i4", ewCastTo(t, ewT([]int8{-100, 100, 3}, 3), tensor.Int4, 21), ewT([]tensor.I4{-8, 7, 3}, 3))
	ewExpect(t, "u64→u4", ewCastTo(t, ewT([]uint64{1 << 63, 9}, 2), tensor.Uint4, 21), ewT([]tensor.U4{15, 9}, 2))
	// From opset 24 the low 4 bits are kept, as ml_dtypes does.
	ewExpect(t, "f32→i4 24", ewCastTo(t, ewF32(-9, -8, 7, 8, 15, 2.7, -2.7), tensor.Int4, 24), ewT([]tensor.I4{7, -8, 7, -8, -1, 2, -2}, 7))
	ewExpect(t, "f32→u4 24", ewCastTo(t, ewF32(-9, 0, 15, 16, 17.9), tensor.Uint4, 24), ewT([]tensor.U4{7, 0, 15, 0, 1}, 5))
	ewExpect(t, "i32→i4 24", ewCastTo(t, ewT([]int32{200, -3}, 2), tensor.Int4, 24), ewT([]tensor.I4{-8, -3}, 2))
	ewExpect(t, "u4→u8", ewCastTo(t, ewT([]tensor.U4{15, 3}, 2), tensor.Uint8, 21), ewT([]uint8{15, 3}, 2))
	ewExpect(t, "i4→i8", ewCastTo(t, ewT([]tensor.I4{-8, 7}, 2), tensor.Int8, 21), ewT([]int8{-8, 7}, 2))
	ewExpect(t, "i4→f32", ewCastTo(t, ewT([]tensor.I4{-3}, 1), tensor.Float32, 21), ewF32(-3))
	ewExpect(t, "i4→u4", ewCastTo(t, ewT([]tensor.I4{-3, 5}, 2), tensor.Uint4, 21), ewT([]tensor.U4{0, 5}, 2))
	ewExpect(t, "f32→f4", ewCastTo(t, ewF32(0.48, 9, -3.5, ewNaN), tensor.Float4E2M1, 23), ewT([]tensor.F4E2M1{1, 7, 0xe, 7}, 4))
	ewExpect(t, "f4→f32", ewCastTo(t, ewT([]tensor.F4E2M1{7, 0xf, 3}, 3), tensor.Float32, 23), ewF32(6, -6, 1.5))
	ewExpect(t, "f4→f16", ewCastTo(t, ewT([]tensor.F4E2M1{2}, 1), tensor.Float16, 23), ewT([]tensor.F16{0x3c00}, 1))
}

func TestEwCastToString(t *testing.T) {
	// float32(0.0001) is just below 1e-4, so NumPy prints it in scientific form.
	f := ewF32(0.5, 1, 100, 1e-5, 1e16, 0.1, -2.5, 123456.79, 1.5e-7, ewNaN, ewInf, -ewInf, 0, math.MaxFloat32,
		math.Copysign(0, -1), 0.0001, 1234567, 9.999999e15)
	ewExpect(t, "f32", ewCastTo(t, f, tensor.String, 13), ewT([]string{"0.5", "1.0", "100.0", "1e-05", "1e+16", "0.1", "-2.5",
		"123456.79", "1.5e-07", "nan", "inf", "-inf", "0.0", "3.4028235e+38", "-0.0", "1e-04", "1234567.0", "9999999000000000.0"}, 18))
	ewExpect(t, "f64", ewCastTo(t, ewF64(0.1, 1e100, 1.0/3, 2), tensor.String, 13),
		ewT([]string{"0.1", "1e+100", "0.3333333333333333", "2.0"}, 4))
	ewExpect(t, "i32", ewCastTo(t, ewT([]int32{-5, 7}, 2), tensor.String, 13), ewT([]string{"-5", "7"}, 2))
	ewExpect(t, "u64", ewCastTo(t, ewT([]uint64{math.MaxUint64}, 1), tensor.String, 13), ewT([]string{"18446744073709551615"}, 1))
	ewExpect(t, "bool", ewCastTo(t, ewT([]bool{true, false}, 2), tensor.String, 13), ewT([]string{"True", "False"}, 2))
	ewExpect(t, "f16", ewCastTo(t, ewT([]tensor.F16{0x2e66, 0x3555, 0x7bff}, 3), tensor.String, 13), ewT([]string{"0.1", "0.3333", "65500.0"}, 3))
	ewExpect(t, "e4m3fn", ewCastTo(t, ewT([]tensor.F8E4M3FN{0x2f}, 1), tensor.String, 19), ewT([]string{"0.47"}, 1))
	ewExpect(t, "i4", ewCastTo(t, ewT([]tensor.I4{-8}, 1), tensor.String, 21), ewT([]string{"-8"}, 1))
}

func TestEwCastFromString(t *testing.T) {
	s := ewT([]string{"1.5", " 2 ", "1e-5", "INF", "+INF", "-inf", "NaN", "-0.25", "1E8", "0.47892547"}, 10)
	ewExpect(t, "→f32", ewCastTo(t, s, tensor.Float32, 13), ewF32(1.5, 2, 1e-5, ewInf, ewInf, -ewInf, ewNaN, -0.25, 1e8, 0.47892547))
	ewExpect(t, "→f64", ewCastTo(t, s, tensor.Float64, 13), ewF64(1.5, 2, 1e-5, ewInf, ewInf, -ewInf, ewNaN, -0.25, 1e8, 0.47892547))
	ewExpect(t, "→i32", ewCastTo(t, ewT([]string{"100.5", "-7", "42"}, 3), tensor.Int32, 13), ewT([]int32{100, -7, 42}, 3))
	ewExpect(t, "→i64 big", ewCastTo(t, ewT([]string{"9223372036854775807"}, 1), tensor.Int64, 13), ewT([]int64{math.MaxInt64}, 1))
	ewExpect(t, "→u8", ewCastTo(t, ewT([]string{"255", "-1", "3.9"}, 3), tensor.Uint8, 13), ewT([]uint8{255, 255, 3}, 3))
	ewExpect(t, "→u64", ewCastTo(t, ewT([]string{"18446744073709551615"}, 1), tensor.Uint64, 13), ewT([]uint64{math.MaxUint64}, 1))
	ewExpect(t, "→bool", ewCastTo(t, ewT([]string{"true", "0", "False", "2.5"}, 4), tensor.Bool, 13), ewT([]bool{true, false, false, true}, 4))
	ewExpect(t, "→f16", ewCastTo(t, ewT([]string{"0.1"}, 1), tensor.Float16, 13), ewT([]tensor.F16{0x2e66}, 1))
	ewExpect(t, "→e4m3fn", ewCastTo(t, ewT([]string{"1e6"}, 1), tensor.Float8E4M3FN, 19), ewT([]tensor.F8E4M3FN{0x7e}, 1))
	ewExpect(t, "→i4", ewCastTo(t, ewT([]string{"-20", "5"}, 2), tensor.Int4, 21), ewT([]tensor.I4{-8, 5}, 2))
	if _, err := ewTry("Cast", 13, []*ir.Attribute{ewAttrI("to", int64(tensor.Float32))}, ewT([]string{"hello"}, 1)); err == nil {
		t.Error("parsing \"hello\": no error")
	}
	// Round trip: every float32 printed and parsed back is the same value.
	vals := []float32{0.1, 1.0 / 3, 1e-45, 3.4028235e38, 16777217, 1e-4, 9.999999e-5}
	str := ewCastTo(t, ewT(vals, len(vals)), tensor.String, 13)
	ewExpect(t, "round trip", ewCastTo(t, str, tensor.Float32, 13), ewT(vals, len(vals)))
}

func TestEwCastAttrs(t *testing.T) {
	if _, err := ewTry("Cast", 13, nil, ewF32(1)); err == nil {
		t.Error("Cast without to: no error")
	}
	for _, to := range []int64{0, 14, 99} {
		if _, err := ewTry("Cast", 13, []*ir.Attribute{ewAttrI("to", to)}, ewF32(1)); err == nil {
			t.Errorf("Cast to %d: no error", to)
		}
	}
	// Cast-1 names the type as a string.
	got := ewRun(t, "Cast", 1, []*ir.Attribute{ewAttrS("to", "INT32")}, ewF32(2.5))
	ewExpect(t, "cast-1", got, ewT([]int32{2}, 1))
}

func TestEwCastLike(t *testing.T) {
	got := ewRun(t, "CastLike", 15, nil, ewF32(1.9, -1.9), ewT([]int64{0}, 1))
	ewExpect(t, "→i64", got, ewT([]int64{1, -1}, 2))
	got = ewRun(t, "CastLike", 15, nil, ewT([]string{"0.5"}, 1), ewT([]float64{}, 0))
	ewExpect(t, "string→f64", got, ewF64(0.5))
	got = ewRun(t, "CastLike", 19, []*ir.Attribute{ewAttrI("saturate", 0)}, ewF32(1e6), ewT([]tensor.F8E5M2{0}, 1))
	ewExpect(t, "nosat", got, ewT([]tensor.F8E5M2{0x7c}, 1))
}
