package optimize_test

import (
	"strings"
	"testing"

	"github.com/inferd/inferd/optimize"
)

// layerNormSrc is LayerNormalization as PyTorch exports it before opset 17.
const layerNormSrc = `
	opset OPSET
	input x float32[N,5,16]
	init two float32[] = 2
	init eps float32[] = 0.00001
	init g float32[16] rand
	init b float32[16] rand
	m = ReduceMean(x) axes=[-1]
	d = Sub(x, m)
	p = Pow(d, two)
	v = ReduceMean(p) axes=[-1]
	e = Add(v, eps)
	s = Sqrt(e)
	n = Div(d, s)
	k = Mul(n, g)
	y = Add(k, b)
	output y`

func withOpset(src, opset string) string { return strings.ReplaceAll(src, "OPSET", opset) }

func TestFuseLayerNorm(t *testing.T) {
	expectOptimized(t, withOpset(layerNormSrc, "17"), optimize.LevelBasic, "LayerNormalization")
	// Before opset 17 basic keeps the decomposition; extended uses inferd's op.
	expectOptimized(t, withOpset(layerNormSrc, "13"), optimize.LevelBasic, "ReduceMean Sub Pow ReduceMean Add Sqrt Div Mul Add")
	expectOptimized(t, withOpset(layerNormSrc, "13"), optimize.LevelExtended, "ai.inferd.LayerNormalization")
	t.Run("without scale and bias", func(t *testing.T) {
		expectOptimized(t, `
			input x float32[N,16]
			init eps float32[] = 0.00001
			m = ReduceMean(x) axes=[1]
			d = Sub(x, m)
			p = Mul(d, d)
			v = ReduceMean(p) axes=[1]
			e = Add(v, eps)
			s = Sqrt(e)
			y = Div(d, s)
			output y`, optimize.LevelBasic, "LayerNormalization")
	})
	t.Run("centred value read elsewhere", func(t *testing.T) {
		expectOptimized(t, `
			input x float32[N,16]
			init eps float32[] = 0.00001
			m = ReduceMean(x) axes=[-1]
			d = Sub(x, m)
			p = Mul(d, d)
			v = ReduceMean(p) axes=[-1]
			e = Add(v, eps)
			s = Sqrt(e)
			y = Div(d, s)
			output y
			output d`, optimize.LevelBasic, "ReduceMean Sub Mul ReduceMean Add Sqrt Div")
	})
	t.Run("different axes", func(t *testing.T) {
		expectOptimized(t, `
			input x float32[N,4,16]
			init eps float32[] = 0.00001
			m = ReduceMean(x) axes=[-1]
			d = Sub(x, m)
			p = Mul(d, d)
			v = ReduceMean(p) axes=[-2]
			e = Add(v, eps)
			s = Sqrt(e)
			y = Div(d, s)
			output y`, optimize.LevelBasic, "ReduceMean Sub Mul ReduceMean Add Sqrt Div")
	})
}

const geluErf = `
	opset OPSET
	input x float32[N,16]
	init r2 float32[] = 1.4142135
	init one float32[] = 1
	init half float32[] = 0.5
	a = Div(x, r2)
	e = Erf(a)
	p = Add(e, one)
	m = Mul(x, p)
	y = Mul(m, half)
	output y`

const geluTanh = `
	opset OPSET
	input x float32[N,16]
	init c1 float32[] = 0.044715
	init c2 float32[] = 0.7978846
	init one float32[] = 1
	init half float32[] = 0.5
	x2 = Mul(x, x)
	x3 = Mul(x, x2)
	a = Mul(c1, x3)
	b = Add(x, a)
	c = Mul(c2, b)
	th = Tanh(c)
	p = Add(one, th)
	h = Mul(half, x)
	y = Mul(h, p)
	output y`

func TestFuseGelu(t *testing.T) {
	for _, src := range []string{geluErf, geluTanh} {
		expectOptimized(t, withOpset(src, "20"), optimize.LevelBasic, "Gelu")
		expectOptimized(t, withOpset(src, "17"), optimize.LevelExtended, "ai.inferd.Gelu")
	}
	t.Run("x*(a*0.5) grouping", func(t *testing.T) {
		expectOptimized(t, `
			input x float32[N,16]
			init r2 float32[] = 0.70710678
			init one float32[] = 1
			init half float32[] = 0.5
			a = Mul(x, r2)
			e = Erf(a)
			p = Add(e, one)
			m = Mul(p, half)
			y = Mul(x, m)
			output y`, optimize.LevelExtended, "ai.inferd.Gelu")
	})
	t.Run("wrong constant", func(t *testing.T) {
		src := strings.Replace(withOpset(geluErf, "20"), "0.5", "0.6", 1)
		expectOptimized(t, src, optimize.LevelBasic, "Div Erf Add Mul Mul")
	})
	t.Run("intermediate read twice", func(t *testing.T) {
		expectOptimized(t, withOpset(geluErf, "20")+"\noutput p", optimize.LevelBasic, "Div Erf Add Mul Mul")
	})
}
