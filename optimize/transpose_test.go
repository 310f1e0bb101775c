package optimize_test

import (
	"testing"

	"github.com/inferd/inferd/optimize"
)

func TestTranspose(t *testing.T) {
	b := optimize.LevelBasic
	t.Run("cancel", func(t *testing.T) {
		expectOptimized(t, `
			input x float32[N,3,4]
			a = Transpose(x) perm=[0,2,1]
			y = Transpose(a) perm=[0,2,1]
			output y`, b, "Identity")
	})
	t.Run("cancel inside", func(t *testing.T) {
		expectOptimized(t, `
			input x float32[N,3,4]
			a = Transpose(x) perm=[0,2,1]
			c = Transpose(a) perm=[0,2,1]
			y = Relu(c)
			output y`, b, "Relu")
	})
	t.Run("compose", func(t *testing.T) {
		expectOptimized(t, `
			input x float32[N,3,4]
			a = Transpose(x) perm=[1,0,2]
			y = Transpose(a) perm=[0,2,1]
			output y`, b, "Transpose")
	})
	t.Run("push through elementwise", func(t *testing.T) {
		expectOptimized(t, `
			input x float32[N,3,4]
			init k float32[] = 2
			a = Transpose(x) perm=[0,2,1]
			r = Relu(a)
			m = Mul(r, k)
			y = Transpose(m) perm=[0,2,1]
			output y`, b, "Relu Mul")
	})
	t.Run("elementwise with a non-scalar operand stays", func(t *testing.T) {
		expectOptimized(t, `
			input x float32[N,3,4]
			init k float32[3] rand
			a = Transpose(x) perm=[0,2,1]
			m = Mul(a, k)
			y = Transpose(m) perm=[0,2,1]
			output y`, b, "Transpose Mul Transpose")
	})
}

func TestCollapseReshape(t *testing.T) {
	b := optimize.LevelBasic
	expectOptimized(t, `
		input x float32[N,3,4]
		init ax int64[1] = 1
		init s int64[2] = -1 12
		u = Unsqueeze(x, ax)
		y = Reshape(u, s)
		output y`, b, "Reshape")
	expectOptimized(t, `
		input x float32[N,12]
		init s int64[3] = 0 3 4
		init ax int64[1] = 1
		r = Reshape(x, s)
		u = Unsqueeze(r, ax)
		y = Flatten(u) axis=2
		output y`, b, "Reshape")
	// The inner reshape has another reader: the chain stays.
	expectOptimized(t, `
		input x float32[N,12]
		init s int64[3] = 0 3 4
		init ax int64[1] = 1
		r = Reshape(x, s)
		u = Unsqueeze(r, ax)
		output u
		output r`, b, "Reshape Unsqueeze")
}
