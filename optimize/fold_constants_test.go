package optimize_test

import (
	"testing"

	"github.com/inferd/inferd/optimize"
)

func TestFoldConstants(t *testing.T) {
	t.Run("constant nodes and arithmetic", func(t *testing.T) {
		expectOptimized(t, `
			input x float32[N,4]
			c = Constant() value=float32[4]:1,2,3,4
			d = Constant() value=float32[]:2
			e = Mul(c, d)
			f = Sqrt(e)
			y = Add(x, f)
			output y`, optimize.LevelBasic, "Add")
	})
	t.Run("shape chain over known dims", func(t *testing.T) {
		// Shape -> Gather -> Unsqueeze -> Concat over static dims folds;
		// the Reshape of a dynamic batch keeps reading N from the input.
		expectOptimized(t, `
			input x float32[N,3,4]
			s = Shape(x)
			init i1 int64[] = 1
			init i2 int64[] = 2
			init ax int64[1] = 0
			d1 = Gather(s, i1) axis=0
			d2 = Gather(s, i2) axis=0
			p = Mul(d1, d2)
			u = Unsqueeze(p, ax)
			init neg int64[1] = -1
			shape = Concat(neg, u) axis=0
			y = Reshape(x, shape)
			output y`, optimize.LevelBasic, "Reshape")
	})
	t.Run("dynamic dims stay symbolic", func(t *testing.T) {
		expectOptimized(t, `
			input x float32[N,3]
			s = Shape(x)
			init i0 int64[] = 0
			n = Gather(s, i0) axis=0
			init ax int64[1] = 0
			u = Unsqueeze(n, ax)
			init three int64[1] = 3
			shape = Concat(u, three) axis=0
			z = ConstantOfShape(shape) value=float32[1]:1
			y = Add(x, z)
			output y`, optimize.LevelBasic, "Shape Gather Concat ConstantOfShape Add")
	})
	t.Run("fold limit", func(t *testing.T) {
		// A ConstantOfShape of 64K floats would grow the model: it stays.
		expectOptimized(t, `
			input x float32[256,256]
			init shape int64[2] = 256 256
			z = ConstantOfShape(shape) value=float32[1]:1
			y = Add(x, z)
			output y`, optimize.LevelBasic, "ConstantOfShape Add")
		// A small one folds.
		expectOptimized(t, `
			input x float32[4,4]
			init shape int64[2] = 4 4
			z = ConstantOfShape(shape) value=float32[1]:1
			y = Add(x, z)
			output y`, optimize.LevelBasic, "Add")
	})
	t.Run("transposed weight folds even when large", func(t *testing.T) {
		expectOptimized(t, `
			input x float32[N,256]
			init w float32[256,256] rand
			wt = Transpose(w) perm=[1,0]
			y = MatMul(x, wt)
			output y`, optimize.LevelBasic, "MatMul")
	})
	t.Run("random ops never fold", func(t *testing.T) {
		m := parseGraph(t, `
			input x float32[2,3]
			r = RandomNormal() shape=[2,3] seed=1.0
			y = Add(x, r)
			output y`)
		if _, err := optimize.Run(t.Context(), m, optimize.Options{Level: optimize.LevelBasic, Evaluator: evaluator()}); err != nil {
			t.Fatal(err)
		}
		if got := ops(m.Graph); got != "RandomNormal Add" {
			t.Errorf("ops %q, want RandomNormal Add", got)
		}
	})
	t.Run("quantization stays", func(t *testing.T) {
		expectOptimized(t, `
			input x float32[N,4]
			init q int8[4] = 1 2 3 4
			init s float32[] = 0.5
			d = DequantizeLinear(q, s)
			y = Add(x, d)
			output y`, optimize.LevelBasic, "DequantizeLinear Add")
	})
	t.Run("graph output stays computed", func(t *testing.T) {
		expectOptimized(t, `
			input x float32[2]
			init a float32[2] = 1 2
			c = Neg(a)
			y = Add(x, c)
			output y
			output c`, optimize.LevelBasic, "Neg Add")
	})
	t.Run("without evaluator only shapes and constants fold", func(t *testing.T) {
		m := parseGraph(t, `
			input x float32[N,4]
			c = Constant() value=float32[4]:1,2,3,4
			e = Neg(c)
			s = Shape(x)
			init i int64[] = 1
			d = Gather(s, i) axis=0
			df = Cast(d) to=1
			y = Add(x, e)
			z = Mul(y, df)
			output z`)
		if _, err := optimize.Run(t.Context(), m, optimize.Options{Level: optimize.LevelBasic}); err != nil {
			t.Fatal(err)
		}
		if got := ops(m.Graph); got != "Neg Cast Add Mul" {
			t.Errorf("ops %q, want Neg Cast Add Mul", got)
		}
	})
}
