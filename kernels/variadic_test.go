package kernels

import (
	"testing"

	"github.com/inferd/inferd/tensor"
)

func TestEwVariadic(t *testing.T) {
	a := ewT([]float32{1, 2, 3, 4, 5, 6}, 2, 3)
	b := ewT([]float32{10, 20, 30}, 3)
	c := tensor.Scalar[float32](100)
	ewExpect(t, "sum3", ewRun(t, "Sum", 13, nil, a, b, c), ewT([]float32{111, 122, 133, 114, 125, 136}, 2, 3))
	ewExpect(t, "sum3 scalar first", ewRun(t, "Sum", 13, nil, c, b, a), ewT([]float32{111, 122, 133, 114, 125, 136}, 2, 3))
	ewExpect(t, "sum1", ewRun(t, "Sum", 13, nil, a), a)
	ewExpect(t, "mean2", ewRun(t, "Mean", 13, nil, ewF32(1, 2), ewF32(3, 5)), ewF32(2, 3.5))
	ewExpect(t, "mean3", ewRun(t, "Mean", 13, nil, ewF64(1, 2), ewF64(3, 5), ewF64(2, 2)), ewF64(2, 3))
	ewExpect(t, "max", ewRun(t, "Max", 13, nil, ewF32(1, ewNaN, 3, -1), ewF32(2, 2, ewNaN, -2)), ewF32(2, ewNaN, ewNaN, -1))
	ewExpect(t, "min", ewRun(t, "Min", 13, nil, ewF32(1, ewNaN, 3, -1), ewF32(2, 2, ewNaN, -2)), ewF32(1, ewNaN, ewNaN, -2))
	ewExpect(t, "max f64 bcast", ewRun(t, "Max", 13, nil, ewT([]float64{1, 5, 3, 0}, 2, 2), ewF64(2)), ewT([]float64{2, 5, 3, 2}, 2, 2))
	ewExpect(t, "min int16", ewRun(t, "Min", 13, nil, ewT([]int16{3, -4}, 2), ewT([]int16{-1, 5}, 2)), ewT([]int16{-1, -4}, 2))
	ewExpect(t, "max uint16", ewRun(t, "Max", 13, nil, ewT([]uint16{3, 40000}, 2), ewT([]uint16{7, 5}, 2), ewT([]uint16{1}, 1)),
		ewT([]uint16{7, 40000}, 2))
	ewExpect(t, "max one", ewRun(t, "Max", 13, nil, ewT([]int8{-3}, 1)), ewT([]int8{-3}, 1))
	// Three inputs broadcasting to a shape none of them has.
	got := ewRun(t, "Sum", 13, nil, ewT([]int64{1, 2}, 2, 1), ewT([]int64{10, 20, 30}, 1, 3), ewT([]int64{100, 200, 300}, 3))
	ewExpect(t, "sum bcast", got, ewT([]int64{111, 221, 331, 112, 222, 332}, 2, 3))
	got = ewRun(t, "Max", 13, nil, ewT([]int32{1, 9}, 2, 1), ewT([]int32{5, 0, 7}, 1, 3), ewT([]int32{2}, 1))
	ewExpect(t, "max bcast", got, ewT([]int32{5, 2, 7, 9, 9, 9}, 2, 3))
	ewExpect(t, "mean int", ewRun(t, "Mean", 13, nil, ewT([]int32{1, 2}, 2), ewT([]int32{2, 2}, 2)), ewT([]int32{1, 2}, 2))
	h := func(v ...float32) *tensor.Tensor {
		s := make([]tensor.F16, len(v))
		for i, f := range v {
			s[i] = tensor.F16FromFloat32(f)
		}
		return ewT(s, len(v))
	}
	ewExpect(t, "min f16", ewRun(t, "Min", 13, nil, h(1, -2), h(0.5, 3), h(4, 4)), h(0.5, -2))
	ewExpect(t, "sum f16", ewRun(t, "Sum", 13, nil, h(1, -2), h(0.5, 3)), h(1.5, 1))
	if _, err := ewTry("Sum", 13, nil, ewF32(1), ewT([]float64{1}, 1)); err == nil {
		t.Error("Sum of float32 and float64: no error")
	}
	if _, err := ewTry("Sum", 13, nil, ewF32(1, 2), ewF32(1, 2, 3)); err == nil {
		t.Error("Sum of [2] and [3]: no error")
	}
	if _, err := ewTry("Max", 13, nil); err == nil {
		t.Error("Max of nothing: no error")
	}
}
