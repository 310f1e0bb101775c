package optimize_test

import (
	"fmt"
	"slices"
	"strings"
	"testing"

	"github.com/inferd/inferd/ir"
	"github.com/inferd/inferd/optimize"
)

func TestFuseConvActivation(t *testing.T) {
	x := optimize.LevelExtended
	t.Run("residual and relu", func(t *testing.T) {
		expectOptimized(t, `
			input x float32[N,4,8,8]
			init w float32[4,4,3,3] rand
			init b float32[4] rand
			c = Conv(x, w, b) pads=[1,1,1,1]
			a = Add(c, x)
			y = Relu(a)
			output y`, x, "ai.inferd.FusedConv")
	})
	t.Run("clip (relu6)", func(t *testing.T) {
		expectOptimized(t, `
			input x float32[N,4,8,8]
			init w float32[4,4,1,1] rand
			init lo float32[] = 0
			init hi float32[] = 6
			c = Conv(x, w)
			y = Clip(c, lo, hi)
			output y`, x, "ai.inferd.FusedConv")
	})
	for _, act := range []string{"Sigmoid", "HardSwish", "LeakyRelu alpha=0.2", "HardSigmoid", "Tanh"} {
		t.Run(act, func(t *testing.T) {
			op, attrs, _ := cutSpace(act)
			expectOptimized(t, `
				input x float32[N,4,8,8]
				init w float32[4,4,1,1] rand
				c = Conv(x, w)
				y = `+op+`(c) `+attrs+`
				output y`, x, "ai.inferd.FusedConv")
		})
	}
	t.Run("silu", func(t *testing.T) {
		expectOptimized(t, `
			input x float32[N,4,8,8]
			init w float32[4,4,1,1] rand
			c = Conv(x, w)
			s = Sigmoid(c)
			y = Mul(c, s)
			output y`, x, "ai.inferd.FusedConv")
	})
	t.Run("residual that broadcasts stays", func(t *testing.T) {
		expectOptimized(t, `
			input x float32[N,4,8,8]
			input z float32[N,4,1,1]
			init w float32[4,4,1,1] rand
			c = Conv(x, w)
			y = Add(c, z)
			output y`, x, "Conv Add")
	})
	t.Run("activation before the residual", func(t *testing.T) {
		expectOptimized(t, `
			input x float32[N,4,8,8]
			init w float32[4,4,1,1] rand
			c = Conv(x, w)
			r = Relu(c)
			y = Add(r, x)
			output y`, x, "ai.inferd.FusedConv Add")
	})
	t.Run("conv read twice", func(t *testing.T) {
		expectOptimized(t, `
			input x float32[N,4,8,8]
			init w float32[4,4,1,1] rand
			c = Conv(x, w)
			r = Relu(c)
			output r
			output c`, x, "Conv Relu")
	})
	t.Run("basic level leaves it", func(t *testing.T) {
		expectOptimized(t, `
			input x float32[N,4,8,8]
			init w float32[4,4,1,1] rand
			c = Conv(x, w)
			y = Relu(c)
			output y`, optimize.LevelBasic, "Conv Relu")
	})
}

func cutSpace(s string) (string, string, bool) {
	for i := range s {
		if s[i] == ' ' {
			return s[:i], s[i+1:], true
		}
	}
	return s, "", false
}

func TestFuseGemmActivation(t *testing.T) {
	x := optimize.LevelExtended
	expectOptimized(t, `
		input a float32[N,8]
		init w float32[6,8] rand
		init c float32[6] rand
		g = Gemm(a, w, c) transB=1
		y = Relu(g)
		output y`, x, "ai.inferd.FusedGemm")
	expectOptimized(t, `
		input a float32[N,3,8]
		init w float32[8,6] rand
		init c float32[6] rand
		m = MatMul(a, w)
		b = Add(c, m)
		y = Gelu(b)
		output y`, x, "ai.inferd.FusedMatMul")
	// The bias over a dimension other than the last is no bias.
	expectOptimized(t, `
		input a float32[N,3,8]
		init w float32[8,6] rand
		init c float32[3,1] rand
		m = MatMul(a, w)
		y = Add(c, m)
		output y`, x, "MatMul Add")
}

func TestFuseAttention(t *testing.T) {
	x := optimize.LevelExtended
	expectOptimized(t, `
		input q float32[N,4,8]
		input k float32[N,6,8]
		input v float32[N,6,8]
		input mask float32[N,1,6]
		init scale float32[] = 2.828427
		kt = Transpose(k) perm=[0,2,1]
		qs = Div(q, scale)
		s = MatMul(qs, kt)
		sm = Add(s, mask)
		p = Softmax(sm) axis=-1
		y = MatMul(p, v)
		output y`, x, "ai.inferd.Attention")
	t.Run("no mask, scale after the product", func(t *testing.T) {
		expectOptimized(t, `
			input q float32[N,4,8]
			input kt float32[N,8,6]
			input v float32[N,6,8]
			init scale float32[] = 0.35
			s = MatMul(q, kt)
			ss = Mul(s, scale)
			p = Softmax(ss) axis=2
			y = MatMul(p, v)
			output y`, x, "ai.inferd.Attention")
	})
	t.Run("softmax over another axis stays", func(t *testing.T) {
		expectOptimized(t, `
			input q float32[N,4,8]
			input kt float32[N,8,6]
			input v float32[N,4,8]
			s = MatMul(q, kt)
			p = Softmax(s) axis=1
			pt = Transpose(p) perm=[0,2,1]
			y = MatMul(pt, v)
			output y`, x, "MatMul Softmax Transpose MatMul")
	})
	t.Run("scores read twice stay", func(t *testing.T) {
		expectOptimized(t, `
			input q float32[N,4,8]
			input kt float32[N,8,6]
			input v float32[N,6,8]
			s = MatMul(q, kt)
			p = Softmax(s) axis=-1
			y = MatMul(p, v)
			output y
			output s`, x, "MatMul Softmax MatMul")
	})
}

// attentionAttrs returns the attributes of the model's only Attention node
// as name=value strings, sorted.
func attentionAttrs(t *testing.T, m *ir.Model) string {
	t.Helper()
	var out []string
	for _, n := range m.Graph.Nodes {
		if n.OpType != "Attention" {
			continue
		}
		for _, a := range n.Attrs {
			if a.Type == ir.AttrInts {
				out = append(out, fmt.Sprintf("%s=%v", a.Name, a.Ints))
			}
		}
	}
	slices.Sort(out)
	return strings.Join(out, " ")
}

func TestFuseAttentionLayout(t *testing.T) {
	x := optimize.LevelExtended
	t.Run("head split and merge", func(t *testing.T) {
		// BERT's: [B,S,H,D] transposed to [B,H,S,D], K to [B,H,D,S],
		// and the output back to [B,S,H,D] before the merge.
		m := expectOptimized(t, `
			input q float32[N,5,4,16]
			input k float32[N,7,4,16]
			input v float32[N,7,4,16]
			input mask float32[N,1,1,7]
			init scale float32[] = 0.25
			init merged int64[3] = 0 5 64
			qt = Transpose(q) perm=[0,2,1,3]
			kt = Transpose(k) perm=[0,2,3,1]
			vt = Transpose(v) perm=[0,2,1,3]
			s = MatMul(qt, kt)
			ss = Mul(s, scale)
			sm = Add(ss, mask)
			p = Softmax(sm) axis=-1
			y = MatMul(p, vt)
			yt = Transpose(y) perm=[0,2,1,3]
			r = Reshape(yt, merged)
			output r`, x, "ai.inferd.Attention Reshape")
		if got, want := attentionAttrs(t, m), "kt_perm=[0 2 3 1] q_perm=[0 2 1 3] v_perm=[0 2 1 3] y_perm=[0 2 1 3]"; got != want {
			t.Errorf("attributes %s, want %s", got, want)
		}
	})
	t.Run("multi-head attention module", func(t *testing.T) {
		// torch.nn.MultiheadAttention's: [S, B·H, D] transposed to
		// [B·H, S, D], K to [B·H, D, S]; the output is a graph output.
		m := expectOptimized(t, `
			input q float32[6,N,8]
			input k float32[9,N,8]
			input v float32[9,N,8]
			input mask float32[N,1,9]
			init scale float32[] = 0.35
			qt = Transpose(q) perm=[1,0,2]
			kt = Transpose(k) perm=[1,2,0]
			vt = Transpose(v) perm=[1,0,2]
			s = MatMul(qt, kt)
			ss = Mul(s, scale)
			sm = Add(ss, mask)
			p = Softmax(sm) axis=-1
			y = MatMul(p, vt)
			yt = Transpose(y) perm=[1,0,2]
			output yt`, x, "ai.inferd.Attention")
		if got, want := attentionAttrs(t, m), "kt_perm=[1 2 0] q_perm=[1 0 2] v_perm=[1 0 2] y_perm=[1 0 2]"; got != want {
			t.Errorf("attributes %s, want %s", got, want)
		}
	})
	t.Run("transposes that stay", func(t *testing.T) {
		// Q's source axes end up with its innermost axis first, K's
		// transpose is read twice and Y's moves its last axis.
		m := expectOptimized(t, `
			input q float32[N,5,16,4]
			input k float32[N,1,7,16]
			input v float32[N,1,7,16]
			qt = Transpose(q) perm=[0,3,1,2]
			qr = Transpose(k) perm=[0,1,3,2]
			s = MatMul(qt, qr)
			p = Softmax(s) axis=-1
			y = MatMul(p, v)
			yt = Transpose(y) perm=[0,1,3,2]
			output yt
			output qr`, x, "Transpose Transpose ai.inferd.Attention Transpose")
		if got := attentionAttrs(t, m); got != "" {
			t.Errorf("attributes %s, want none", got)
		}
	})
}

func TestFuseSkipLayerNorm(t *testing.T) {
	x := optimize.LevelExtended
	expectOptimized(t, `
		input a float32[N,5,16]
		input b float32[N,5,16]
		init g float32[16] rand
		init be float32[16] rand
		s = Add(a, b)
		y = LayerNormalization(s, g, be) axis=-1 epsilon=0.00001
		output y`, x, "ai.inferd.SkipLayerNormalization")
	t.Run("sum read later", func(t *testing.T) {
		expectOptimized(t, `
			input a float32[N,5,16]
			input b float32[N,5,16]
			init g float32[16] rand
			s = Add(a, b)
			n = LayerNormalization(s, g) axis=-1
			y = Add(n, s)
			output y`, x, "ai.inferd.SkipLayerNormalization Add")
	})
	t.Run("broadcast add stays", func(t *testing.T) {
		expectOptimized(t, `
			input a float32[N,5,16]
			input b float32[16]
			init g float32[16] rand
			s = Add(a, b)
			y = LayerNormalization(s, g) axis=-1
			output y`, x, "Add LayerNormalization")
	})
}

func TestFuseBiasGelu(t *testing.T) {
	expectOptimized(t, `
		opset 20
		input a float32[N,16]
		init c float32[16] rand
		s = Add(a, c)
		y = Gelu(s)
		output y`, optimize.LevelExtended, "ai.inferd.BiasGelu")
}
