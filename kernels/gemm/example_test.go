package gemm_test

import (
	"fmt"

	"github.com/inferd/inferd/kernels/gemm"
)

// A MatMul with a constant weight: pack W once when the model is compiled,
// then multiply each batch of activations against it, with the bias and
// Relu fused.
func ExampleGemmPackedB() {
	// W is 3×2 (k×n), X is 2×3 (m×k).
	w := gemm.PackB(3, 2, gemm.Matrix{Data: []float32{1, 2, 3, 4, 5, 6}, Stride: 2})
	x := []float32{1, 0, -1, 0, 1, 0}
	y := make([]float32, 2*2)
	gemm.GemmPackedB(2, 1, gemm.Matrix{Data: x, Stride: 3}, w, 0, y, 2,
		&gemm.Options{Epilogue: gemm.Epilogue{Bias: []float32{0.5, -10}, Act: gemm.ActRelu}})
	fmt.Println(y)
	// Output: [0 0 3.5 0]
}

// An NCHW convolution as Y[Cout][HW] = W[Cout][Cin·kh·kw] · im2col(X): the
// filter is packed once as A, and the bias is per output channel, that is
// per row of C.
func ExampleGemmPackedA() {
	// Two output channels, a 1×1 filter over three input channels, four
	// pixels.
	filter := gemm.PackA(2, 3, gemm.Matrix{Data: []float32{1, 1, 1, 1, -1, 0}, Stride: 3})
	x := []float32{ // 3 channels × 4 pixels
		1, 2, 3, 4,
		0, 1, 0, 1,
		1, 1, 1, 1,
	}
	y := make([]float32, 2*4)
	gemm.GemmPackedA(4, 1, filter, gemm.Matrix{Data: x, Stride: 4}, 0, y, 4,
		&gemm.Options{Epilogue: gemm.Epilogue{Bias: []float32{0, 100}, BiasPerRow: true}})
	fmt.Println(y)
	// Output: [2 4 4 6 101 101 103 103]
}
