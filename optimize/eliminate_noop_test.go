package optimize_test

import (
	"testing"

	"github.com/inferd/inferd/optimize"
)

func TestEliminateNoop(t *testing.T) {
	b := optimize.LevelBasic
	cases := []struct{ name, src, want string }{
		{"identity", `
			input x float32[N,4]
			a = Identity(x)
			y = Relu(a)
			output y`, "Relu"},
		{"identity to output renames the producer", `
			input x float32[N,4]
			a = Relu(x)
			y = Identity(a)
			output y`, "Relu"},
		{"identity of an input to an output stays", `
			input x float32[N,4]
			y = Identity(x)
			output y`, "Identity"},
		{"dropout in inference", `
			input x float32[N,4]
			a = Dropout(x)
			y = Relu(a)
			output y`, "Relu"},
		{"dropout with constant training_mode false", `
			input x float32[N,4]
			init r float32[] = 0.5
			init tm bool[] = 0
			a = Dropout(x, r, tm)
			y = Relu(a)
			output y`, "Relu"},
		{"dropout whose mask is read stays", `
			input x float32[N,4]
			a, m = Dropout(x)
			y = Relu(a)
			output y
			output m`, "Dropout Relu"},
		{"cast to the same type", `
			input x float32[N,4]
			a = Cast(x) to=1
			y = Relu(a)
			output y`, "Relu"},
		{"cast to another type stays", `
			input x float32[N,4]
			a = Cast(x) to=11
			y = Relu(a)
			output y`, "Cast Relu"},
		{"reshape to the same shape", `
			input x float32[N,4]
			init s int64[2] = 0 4
			a = Reshape(x, s)
			y = Relu(a)
			output y`, "Relu"},
		{"reshape to another shape stays", `
			input x float32[N,4]
			init s int64[3] = 0 2 2
			a = Reshape(x, s)
			y = Relu(a)
			output y`, "Reshape Relu"},
		{"expand that expands nothing", `
			input x float32[N,4]
			init s int64[2] = 1 4
			a = Expand(x, s)
			y = Relu(a)
			output y`, "Relu"},
		{"expand that broadcasts stays", `
			input x float32[N,1]
			init s int64[2] = 1 4
			a = Expand(x, s)
			y = Relu(a)
			output y`, "Expand Relu"},
		{"full slice", `
			input x float32[N,4]
			init st int64[1] = 0
			init en int64[1] = 9223372036854775807
			init ax int64[1] = 1
			a = Slice(x, st, en, ax)
			y = Relu(a)
			output y`, "Relu"},
		{"partial slice stays", `
			input x float32[N,4]
			init st int64[1] = 1
			init en int64[1] = 4
			init ax int64[1] = 1
			a = Slice(x, st, en, ax)
			y = Relu(a)
			output y`, "Slice Relu"},
		{"reversing slice stays", `
			input x float32[N,4]
			init st int64[1] = -1
			init en int64[1] = -9223372036854775807
			init ax int64[1] = 1
			init sp int64[1] = -1
			a = Slice(x, st, en, ax, sp)
			y = Relu(a)
			output y`, "Slice Relu"},
		{"identity transpose", `
			input x float32[N,4,5]
			a = Transpose(x) perm=[0,1,2]
			y = Relu(a)
			output y`, "Relu"},
		{"zero pad", `
			input x float32[N,4]
			init p int64[4] = 0 0 0 0
			a = Pad(x, p)
			y = Relu(a)
			output y`, "Relu"},
		{"mul by one", `
			input x float32[N,4]
			init one float32[] = 1
			a = Mul(one, x)
			y = Relu(a)
			output y`, "Relu"},
		{"add zero that broadcasts stays", `
			input x float32[4]
			init z float32[3,1] = 0 0 0
			a = Add(x, z)
			y = Relu(a)
			output y`, "Add Relu"},
		{"sub zero from the left stays", `
			input x float32[4]
			init z float32[] = 0
			a = Sub(z, x)
			y = Relu(a)
			output y`, "Sub Relu"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) { expectOptimized(t, c.src, b, c.want) })
	}
}

func TestEliminateDead(t *testing.T) {
	m := expectOptimized(t, `
		input x float32[N,4]
		input unused float32[3]
		init w float32[4] rand
		init spare float32[4] rand
		a = Relu(x)
		b = Sigmoid(a)
		y = Mul(a, w)
		output y`, optimize.LevelBasic, "Relu Mul")
	if len(m.Graph.Initializers) != 1 || len(m.Graph.Inputs) != 2 {
		t.Errorf("%d initializers, %d inputs: want 1 and 2 (inputs stay)", len(m.Graph.Initializers), len(m.Graph.Inputs))
	}
}

func TestCSE(t *testing.T) {
	expectOptimized(t, `
		input x float32[N,4]
		a = Relu(x)
		b = Relu(x)
		c = Add(a, b)
		d = Add(b, a)
		y = Mul(c, d)
		output y`, optimize.LevelBasic, "Relu Add Mul")
	// Different attributes, different values.
	expectOptimized(t, `
		input x float32[N,4]
		a = LeakyRelu(x) alpha=0.1
		b = LeakyRelu(x) alpha=0.2
		y = Add(a, b)
		output y`, optimize.LevelBasic, "LeakyRelu LeakyRelu Add")
	// Equal small initializers merge, so the nodes reading them do.
	expectOptimized(t, `
		input x float32[N,4]
		init a1 int64[1] = 1
		init a2 int64[1] = 1
		u = Unsqueeze(x, a1)
		v = Unsqueeze(x, a2)
		y = Add(u, v)
		output y`, optimize.LevelBasic, "Unsqueeze Add")
	// Both copies are graph outputs: they stay.
	expectOptimized(t, `
		input x float32[N,4]
		a = Relu(x)
		b = Relu(x)
		output a
		output b`, optimize.LevelBasic, "Relu Relu")
}

func TestCanonicalDims(t *testing.T) {
	// Two layers each compute the batch size from their own tensor; both
	// become Gather(Shape(x), 0) and merge.
	expectOptimized(t, `
		input x float32[B,4]
		a = Relu(x)
		b = Sigmoid(x)
		sa = Shape(a)
		sb = Shape(b)
		init i0 int64[] = 0
		na = Gather(sa, i0) axis=0
		nb = Gather(sb, i0) axis=0
		init ax int64[1] = 0
		ua = Unsqueeze(na, ax)
		ub = Unsqueeze(nb, ax)
		init four int64[1] = 4
		s1 = Concat(ua, four) axis=0
		s2 = Concat(ub, four) axis=0
		ra = Reshape(a, s1)
		rb = Expand(b, s2)
		y = Add(ra, rb)
		output y`, optimize.LevelBasic, "Relu Sigmoid Add")
}
