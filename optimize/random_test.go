package optimize_test

import (
	"context"
	"fmt"
	"math/rand/v2"
	"strings"
	"testing"

	"github.com/inferd/inferd/engine"
	"github.com/inferd/inferd/optimize"
)

// TestRandomGraphs builds random graphs from the patterns the passes look
// for (and near misses: values read twice, graph outputs in the middle of a
// pattern, shared weights), optimizes them at both levels and checks that
// the results are valid and compute what the originals do.
func TestRandomGraphs(t *testing.T) {
	seeds := 300
	if testing.Short() {
		seeds = 40
	}
	for seed := 0; seed < seeds; seed++ {
		src := randomGraph(uint64(seed))
		for _, level := range []optimize.Level{optimize.LevelBasic, optimize.LevelExtended} {
			m, err := parseModel(src)
			if err != nil {
				t.Fatalf("seed %d: %v\n%s", seed, err, src)
			}
			opt := optimize.Clone(m)
			if _, err := optimize.Run(context.Background(), opt, optimize.Options{Level: level, Evaluator: engine.Evaluator{}, Verify: true}); err != nil {
				t.Fatalf("seed %d %v: %v\n%s", seed, level, err, src)
			}
			ok := t.Run(fmt.Sprintf("seed=%d/%v", seed, level), func(t *testing.T) { compareOutputs(t, m, opt, 1e-5) })
			if !ok {
				t.Logf("graph:\n%s\noptimized: %s", src, ops(opt.Graph))
			}
		}
	}
}

// randomGraph writes a graph over tensors of shape [N,4,6,6] in the test
// syntax.
func randomGraph(seed uint64) string {
	rng := rand.New(rand.NewPCG(seed, 99))
	var b strings.Builder
	b.WriteString("opset 17\ninput x float32[N,4,6,6]\n")
	b.WriteString("init w1 float32[4,4,1,1] rand\ninit w3 float32[4,4,3,3] rand\ninit bias float32[4] rand\n")
	b.WriteString("init bs float32[4] rand\ninit bo float32[4] rand\ninit bm float32[4] rand\ninit bv float32[4] pos\n")
	b.WriteString("init pc float32[4,1,1] rand\ninit one float32[] = 1\ninit zero float32[] = 0\ninit half float32[] = 0.5\n")
	b.WriteString("init six float32[] = 6\ninit r2 float32[] = 1.4142135\ninit two float32[] = 2\ninit eps float32[] = 0.00001\n")
	b.WriteString("init g6 float32[6] rand\ninit wm float32[6,6] rand\ninit b6 float32[6] rand\ninit ax1 int64[1] = 1\n")
	vals := []string{"x"}
	k := 0
	fresh := func() string { k++; return fmt.Sprintf("v%d", k) }
	pick := func() string {
		// Prefer recent values, so chains form.
		i := len(vals) - 1 - min(len(vals)-1, int(rng.ExpFloat64()*1.5))
		return vals[i]
	}
	// tmp writes a node whose output is not of the common shape (no later
	// node picks it); emit one whose output is.
	tmp := func(format string, args ...any) string {
		out := fresh()
		fmt.Fprintf(&b, out+" = "+format+"\n", args...)
		return out
	}
	emit := func(format string, args ...any) string {
		out := tmp(format, args...)
		vals = append(vals, out)
		return out
	}
	var outputs []string
	n := 4 + rng.IntN(10)
	for i := 0; i < n; i++ {
		x := pick()
		switch rng.IntN(17) {
		case 0:
			emit("Conv(%s, w1, bias)", x)
		case 1:
			emit("Conv(%s, w3) pads=[1,1,1,1]", x)
		case 2:
			emit("BatchNormalization(%s, bs, bo, bm, bv)", x)
		case 3:
			emit("Relu(%s)", x)
		case 4:
			emit("Add(%s, %s)", x, pick())
		case 5:
			emit("Mul(%s, pc)", x)
		case 6:
			t := emit("Transpose(%s) perm=[0,1,3,2]", x)
			if rng.IntN(2) == 0 {
				t = emit("Sigmoid(%s)", t)
			}
			emit("Transpose(%s) perm=[0,1,3,2]", t)
		case 7:
			s := tmp("Shape(%s)", x)
			emit("Reshape(%s, %s)", x, s)
		case 8:
			emit("Identity(%s)", x)
		case 9:
			emit("Clip(%s, zero, six)", x)
		case 10: // Gelu, erf form
			a := emit("Div(%s, r2)", x)
			e := emit("Erf(%s)", a)
			p := emit("Add(%s, one)", e)
			m := emit("Mul(%s, %s)", x, p)
			emit("Mul(%s, half)", m)
		case 11: // LayerNormalization over the last axis
			m := tmp("ReduceMean(%s) axes=[-1]", x)
			d := emit("Sub(%s, %s)", x, m)
			p := emit("Pow(%s, two)", d)
			v := tmp("ReduceMean(%s) axes=[-1]", p)
			e := tmp("Add(%s, eps)", v)
			s := tmp("Sqrt(%s)", e)
			y := emit("Div(%s, %s)", d, s)
			emit("Mul(%s, g6)", y)
		case 12:
			m := emit("MatMul(%s, wm)", x)
			emit("Add(%s, b6)", m)
		case 13:
			u := tmp("Unsqueeze(%s, ax1)", x)
			emit("Squeeze(%s, ax1)", u)
		case 14:
			s := emit("Sigmoid(%s)", x)
			emit("Mul(%s, %s)", x, s)
		case 15:
			emit("Mul(%s, one)", x)
		case 16:
			// A value read as an output in the middle of a pattern.
			outputs = append(outputs, x)
		}
	}
	outputs = append(outputs, vals[len(vals)-1])
	seen := map[string]bool{}
	for _, o := range outputs {
		if !seen[o] && o != "x" {
			seen[o] = true
			fmt.Fprintf(&b, "output %s\n", o)
		}
	}
	if len(seen) == 0 {
		b.WriteString("y = Relu(x)\noutput y\n")
	}
	return b.String()
}
