package optimize_test

import (
	"testing"

	"github.com/inferd/inferd/optimize"
)

func TestInferShapes(t *testing.T) {
	m := parseGraph(t, `
		input ids int64[batch,seq]
		input x float32[N,3,32,32]
		init emb float32[100,16] rand
		init w float32[8,3,3,3] rand
		init proj float32[16,16] rand
		init i1 int64[] = 1
		init i2 int64[1] = -1
		init ax int64[1] = 0
		init zero int64[] = 0
		init one int64[] = 1
		init shp int64[3] = 0 -1 4
		init st int64[1] = 1
		init en int64[1] = 9223372036854775807
		e = Gather(emb, ids)
		s = Shape(e)
		d = Gather(s, i1) axis=0
		last = Gather(s, i2) axis=0
		r = Range(zero, d, one)
		dd = Mul(d, one)
		u = Unsqueeze(dd, ax)
		c = Concat(u, last) axis=0
		t = Transpose(e) perm=[1,0,2]
		rs = Reshape(e, shp)
		sl = Slice(e, st, en, i2)
		cv = Conv(x, w) pads=[1,1,1,1] strides=[2,2]
		p = MaxPool(cv) kernel_shape=[2,2] strides=[2,2]
		gp = GlobalAveragePool(p)
		fl = Flatten(gp)
		mm = MatMul(e, proj)
		q = ReduceMean(e) axes=[-1]
		sq = Squeeze(q, i2)
		output c`)
	for _, c := range []struct{ name, typ, vals string }{
		{"e", "float32[batch,seq,16]", ""},
		{"s", "int64[3]", "[batch seq 16]"},
		{"d", "int64[]", "[seq]"},
		{"last", "int64[1]", "[16]"},
		{"r", "int64[seq]", ""},
		{"u", "int64[1]", "[seq]"},
		{"c", "int64[2]", "[seq 16]"},
		{"t", "float32[seq,batch,16]", ""},
		{"rs", "float32[batch,?,4]", ""},
		{"sl", "float32[batch,seq,15]", ""},
		{"cv", "float32[N,8,16,16]", ""},
		{"p", "float32[N,8,8,8]", ""},
		{"gp", "float32[N,8,1,1]", ""},
		{"fl", "float32[N,8]", ""},
		{"mm", "float32[batch,seq,16]", ""},
		{"q", "float32[batch,seq,1]", ""},
		{"sq", "float32[batch,seq]", ""},
	} {
		typ, vals := optimize.InferredType(m, c.name)
		if typ.String() != c.typ || vals != c.vals {
			t.Errorf("%s: %v %s, want %s %s", c.name, typ, vals, c.typ, c.vals)
		}
	}
}

func TestInferReshapeSymbols(t *testing.T) {
	// -1 is solved by cancelling the symbols on both sides.
	m := parseGraph(t, `
		input x float32[B,S,12,32]
		init s1 int64[3] = 0 0 -1
		init s2 int64[4] = 0 -1 12 32
		a = Reshape(x, s1)
		b = Reshape(a, s2)
		output b`)
	for name, want := range map[string]string{"a": "float32[B,S,384]", "b": "float32[B,S,12,32]"} {
		if typ, _ := optimize.InferredType(m, name); typ.String() != want {
			t.Errorf("%s: %v, want %s", name, typ, want)
		}
	}
}
