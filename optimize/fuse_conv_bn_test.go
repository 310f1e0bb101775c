package optimize_test

import (
	"testing"

	"github.com/inferd/inferd/optimize"
)

const convBN = `
	input x float32[N,3,8,8]
	init w float32[4,3,3,3] rand
	init b float32[4] rand
	init s float32[4] rand
	init o float32[4] rand
	init m float32[4] rand
	init v float32[4] pos
	c = Conv(x, w, b) pads=[1,1,1,1]
	y = BatchNormalization(c, s, o, m, v) epsilon=0.001
	output y`

func TestFuseConvBN(t *testing.T) {
	expectOptimized(t, convBN, optimize.LevelBasic, "Conv")
	t.Run("no conv bias", func(t *testing.T) {
		expectOptimized(t, `
			input x float32[N,3,8,8]
			init w float32[4,3,3,3] rand
			init s float32[4] rand
			init o float32[4] rand
			init m float32[4] rand
			init v float32[4] pos
			c = Conv(x, w) group=1
			y = BatchNormalization(c, s, o, m, v)
			output y`, optimize.LevelBasic, "Conv")
	})
	t.Run("grouped", func(t *testing.T) {
		expectOptimized(t, `
			input x float32[N,4,8,8]
			init w float32[4,1,3,3] rand
			init s float32[4] rand
			init o float32[4] rand
			init m float32[4] rand
			init v float32[4] pos
			c = Conv(x, w) group=4
			y = BatchNormalization(c, s, o, m, v)
			output y`, optimize.LevelBasic, "Conv")
	})
	t.Run("conv output read twice", func(t *testing.T) {
		expectOptimized(t, `
			input x float32[N,3,8,8]
			init w float32[4,3,3,3] rand
			init s float32[4] rand
			init o float32[4] rand
			init m float32[4] rand
			init v float32[4] pos
			c = Conv(x, w)
			y = BatchNormalization(c, s, o, m, v)
			z = Relu(c)
			output y
			output z`, optimize.LevelBasic, "Conv BatchNormalization Relu")
	})
	t.Run("weight not constant", func(t *testing.T) {
		expectOptimized(t, `
			input x float32[N,3,8,8]
			input w float32[4,3,3,3]
			init s float32[4] rand
			init o float32[4] rand
			init m float32[4] rand
			init v float32[4] pos
			c = Conv(x, w)
			y = BatchNormalization(c, s, o, m, v)
			output y`, optimize.LevelBasic, "Conv BatchNormalization")
	})
	t.Run("statistics not constant", func(t *testing.T) {
		expectOptimized(t, `
			input x float32[N,3,8,8]
			input v float32[4]
			init w float32[4,3,3,3] rand
			init s float32[4] rand
			init o float32[4] rand
			init m float32[4] rand
			c = Conv(x, w)
			y = BatchNormalization(c, s, o, m, v)
			output y`, optimize.LevelBasic, "Conv BatchNormalization")
	})
}

func TestFuseConvMulAdd(t *testing.T) {
	expectOptimized(t, `
		input x float32[N,3,8,8]
		init w float32[4,3,3,3] rand
		init b float32[4] rand
		init k float32[4,1,1] rand
		init a float32[1,4,1,1] rand
		c = Conv(x, w, b)
		m = Mul(c, k)
		y = Add(a, m)
		output y`, optimize.LevelBasic, "Conv")
	t.Run("scalar", func(t *testing.T) {
		expectOptimized(t, `
			input x float32[N,3,8,8]
			init w float32[4,3,3,3] rand
			init k float32[] = 0.5
			c = Conv(x, w)
			y = Mul(c, k)
			output y`, optimize.LevelBasic, "Conv")
	})
	t.Run("per-pixel constant stays", func(t *testing.T) {
		expectOptimized(t, `
			input x float32[N,3,8,8]
			init w float32[4,3,3,3] rand
			init k float32[4,6,6] rand
			c = Conv(x, w)
			y = Mul(c, k)
			output y`, optimize.LevelBasic, "Conv Mul")
	})
	t.Run("broadcast to a higher rank stays", func(t *testing.T) {
		expectOptimized(t, `
			input x float32[N,3,8,8]
			init w float32[4,3,3,3] rand
			init k float32[2,1,1,1,1] rand
			c = Conv(x, w)
			y = Add(c, k)
			output y`, optimize.LevelBasic, "Conv Add")
	})
	t.Run("non-constant operand stays", func(t *testing.T) {
		expectOptimized(t, `
			input x float32[N,3,8,8]
			input k float32[4,1,1]
			init w float32[4,3,3,3] rand
			c = Conv(x, w)
			y = Mul(c, k)
			output y`, optimize.LevelBasic, "Conv Mul")
	})
}

func TestFuseMatMulAdd(t *testing.T) {
	expectOptimized(t, `
		input x float32[N,8]
		init w float32[8,5] rand
		init b float32[5] rand
		m = MatMul(x, w)
		y = Add(b, m)
		output y`, optimize.LevelBasic, "Gemm")
	t.Run("rank 3 stays", func(t *testing.T) {
		expectOptimized(t, `
			input x float32[N,3,8]
			init w float32[8,5] rand
			init b float32[5] rand
			m = MatMul(x, w)
			y = Add(m, b)
			output y`, optimize.LevelBasic, "MatMul Add")
	})
	t.Run("bias that broadcasts the product stays", func(t *testing.T) {
		expectOptimized(t, `
			input x float32[1,8]
			init w float32[8,5] rand
			init b float32[3,5] rand
			m = MatMul(x, w)
			y = Add(m, b)
			output y`, optimize.LevelBasic, "MatMul Add")
	})
}

func TestFuseBNGemm(t *testing.T) {
	for _, src := range []string{`
		input x float32[N,8]
		init w float32[5,8] rand
		init c float32[5] rand
		init s float32[5] rand
		init o float32[5] rand
		init m float32[5] rand
		init v float32[5] pos
		g = Gemm(x, w, c) transB=1 alpha=0.5 beta=2.0
		y = BatchNormalization(g, s, o, m, v)
		output y`, `
		input x float32[N,8]
		init w float32[8,5] rand
		init s float32[5] rand
		init o float32[5] rand
		init m float32[5] rand
		init v float32[5] pos
		g = MatMul(x, w)
		y = BatchNormalization(g, s, o, m, v)
		output y`} {
		expectOptimized(t, src, optimize.LevelBasic, "Gemm")
	}
}
