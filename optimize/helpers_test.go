package optimize_test

import (
	"bytes"
	"context"
	"fmt"
	"math"
	"math/rand/v2"
	"slices"
	"strconv"
	"strings"
	"testing"

	"github.com/inferd/inferd/engine"
	"github.com/inferd/inferd/ir"
	"github.com/inferd/inferd/onnx"
	"github.com/inferd/inferd/optimize"
	"github.com/inferd/inferd/tensor"
)

// Tests write graphs in a small text syntax, one statement per line:
//
//	opset 17                              (default 17; "opset ai.inferd 1" for another domain)
//	input x float32[N,3,8,8]              a graph input (symbolic dims are bound to 2 when run)
//	init w float32[4,3,3,3] rand          an initializer of normal random values
//	init b float32[4] = 0.1 0.2 0.3 0.4   an initializer with values
//	y = Conv(x, w, b) pads=[1,1,1,1]      a node; "_" omits an input; "a, b = ..." has two outputs
//	z = ai.inferd.Gelu(y)                 an op of another domain
//	output z                              a graph output
//
// Attribute values: 1 (int), 0.5 (float), "tanh" (string), [1,2] (ints),
// [0.5,1.0] (floats), float32[]:2 (a tensor: type[shape]:values).

func parseGraph(t *testing.T, src string) *ir.Model {
	t.Helper()
	m, err := parseModel(src)
	if err != nil {
		t.Fatalf("bad test graph: %v", err)
	}
	return m
}

func parseModel(src string) (*ir.Model, error) {
	g := &ir.Graph{Name: "test"}
	m := &ir.Model{IRVersion: 8, Graph: g}
	rng := rand.New(rand.NewPCG(42, 7))
	opset := map[string]int64{"": 17}
	for ln, line := range strings.Split(src, "\n") {
		line = strings.TrimSpace(line)
		if i := strings.Index(line, "#"); i >= 0 {
			line = strings.TrimSpace(line[:i])
		}
		if line == "" {
			continue
		}
		fail := func(format string, args ...any) error {
			return fmt.Errorf("line %d %q: %s", ln+1, line, fmt.Sprintf(format, args...))
		}
		f := strings.Fields(line)
		switch f[0] {
		case "opset":
			if len(f) == 2 {
				v, _ := strconv.ParseInt(f[1], 10, 64)
				opset[""] = v
			} else if len(f) == 3 {
				v, _ := strconv.ParseInt(f[2], 10, 64)
				opset[f[1]] = v
			}
			continue
		case "input":
			typ, err := parseType(f[2])
			if err != nil {
				return nil, fail("%v", err)
			}
			g.Inputs = append(g.Inputs, &ir.ValueInfo{Name: f[1], Type: typ})
			continue
		case "output":
			g.Outputs = append(g.Outputs, &ir.ValueInfo{Name: f[1]})
			continue
		case "init":
			typ, err := parseType(f[2])
			if err != nil {
				return nil, fail("%v", err)
			}
			shape, ok := typ.Shape.Static()
			if !ok {
				return nil, fail("initializer shape must be static")
			}
			vals := make([]float64, tensor.NumElements(shape))
			switch {
			case len(f) > 3 && f[3] == "rand":
				for i := range vals {
					vals[i] = rng.NormFloat64()
				}
			case len(f) > 3 && f[3] == "pos": // positive values (variances)
				for i := range vals {
					vals[i] = 0.5 + rng.Float64()
				}
			case len(f) > 3 && f[3] == "=":
				if len(f)-4 != len(vals) {
					return nil, fail("%d values for %d elements", len(f)-4, len(vals))
				}
				if typ.DType == tensor.Int64 {
					// Parsed as integers: int64 limits do not survive float64.
					v := make([]int64, len(vals))
					for i := range v {
						if v[i], err = strconv.ParseInt(f[4+i], 10, 64); err != nil {
							return nil, fail("%v", err)
						}
					}
					g.Initializers = append(g.Initializers, &ir.Initializer{Name: f[1], Tensor: tensor.FromSlice(v, shape...)})
					continue
				}
				for i := range vals {
					vals[i], err = strconv.ParseFloat(f[4+i], 64)
					if err != nil {
						return nil, fail("%v", err)
					}
				}
			default:
				return nil, fail("init needs rand, pos or = values")
			}
			tt, err := makeTensor(typ.DType, shape, vals)
			if err != nil {
				return nil, fail("%v", err)
			}
			g.Initializers = append(g.Initializers, &ir.Initializer{Name: f[1], Tensor: tt})
			continue
		}
		n, err := parseNode(line)
		if err != nil {
			return nil, fail("%v", err)
		}
		g.Nodes = append(g.Nodes, n)
	}
	for d, v := range opset {
		m.Opsets = append(m.Opsets, ir.OpsetImport{Domain: d, Version: v})
	}
	slices.SortFunc(m.Opsets, func(a, b ir.OpsetImport) int { return strings.Compare(a.Domain, b.Domain) })
	return m, nil
}

func parseType(s string) (ir.Type, error) {
	i := strings.Index(s, "[")
	if i < 0 || !strings.HasSuffix(s, "]") {
		return ir.Type{}, fmt.Errorf("type %q: want dtype[dims]", s)
	}
	dt, err := tensor.ParseDType(s[:i])
	if err != nil {
		return ir.Type{}, err
	}
	shape := ir.Shape{}
	if body := s[i+1 : len(s)-1]; body != "" {
		for _, d := range strings.Split(body, ",") {
			if v, err := strconv.ParseInt(d, 10, 64); err == nil {
				shape = append(shape, ir.Dim{Value: v})
			} else {
				shape = append(shape, ir.Dim{Value: -1, Param: d})
			}
		}
	}
	return ir.TensorType(dt, shape), nil
}

func makeTensor(dt tensor.DType, shape []int, vals []float64) (*tensor.Tensor, error) {
	t := tensor.New(dt, shape...)
	switch s := t.Data.(type) {
	case []float32:
		for i, v := range vals {
			s[i] = float32(v)
		}
	case []float64:
		copy(s, vals)
	case []int64:
		for i, v := range vals {
			s[i] = int64(v)
		}
	case []int32:
		for i, v := range vals {
			s[i] = int32(v)
		}
	case []int8:
		for i, v := range vals {
			s[i] = int8(v)
		}
	case []uint8:
		for i, v := range vals {
			s[i] = uint8(v)
		}
	case []bool:
		for i, v := range vals {
			s[i] = v != 0
		}
	default:
		return nil, fmt.Errorf("no literal syntax for %v", dt)
	}
	return t, nil
}

func parseNode(line string) (*ir.Node, error) {
	lhs, rhs, ok := strings.Cut(line, "=")
	if !ok {
		return nil, fmt.Errorf("want OUT = Op(IN, ...)")
	}
	n := &ir.Node{}
	for _, o := range strings.Split(lhs, ",") {
		n.Outputs = append(n.Outputs, strings.TrimSpace(o))
	}
	rhs = strings.TrimSpace(rhs)
	open, close := strings.Index(rhs, "("), strings.Index(rhs, ")")
	if open < 0 || close < open {
		return nil, fmt.Errorf("want Op(IN, ...)")
	}
	op := rhs[:open]
	if i := strings.LastIndex(op, "."); i >= 0 {
		n.Domain, op = op[:i], op[i+1:]
	}
	n.OpType = op
	n.Name = n.Outputs[0] + "_node"
	if args := strings.TrimSpace(rhs[open+1 : close]); args != "" {
		for _, a := range strings.Split(args, ",") {
			a = strings.TrimSpace(a)
			if a == "_" {
				a = ""
			}
			n.Inputs = append(n.Inputs, a)
		}
	}
	for _, kv := range strings.Fields(rhs[close+1:]) {
		k, v, ok := strings.Cut(kv, "=")
		if !ok {
			return nil, fmt.Errorf("attribute %q: want name=value", kv)
		}
		a, err := parseAttr(k, v)
		if err != nil {
			return nil, err
		}
		n.Attrs = append(n.Attrs, a)
	}
	return n, nil
}

func parseAttr(name, v string) (*ir.Attribute, error) {
	a := &ir.Attribute{Name: name}
	switch {
	case strings.HasPrefix(v, `"`):
		s, err := strconv.Unquote(v)
		a.Type, a.S = ir.AttrString, []byte(s)
		return a, err
	case strings.HasPrefix(v, "["):
		items := strings.Split(strings.Trim(v, "[]"), ",")
		if strings.Contains(v, ".") {
			a.Type = ir.AttrFloats
			for _, it := range items {
				f, err := strconv.ParseFloat(it, 32)
				if err != nil {
					return nil, err
				}
				a.Floats = append(a.Floats, float32(f))
			}
			return a, nil
		}
		a.Type = ir.AttrInts
		for _, it := range items {
			if it == "" {
				continue
			}
			i, err := strconv.ParseInt(it, 10, 64)
			if err != nil {
				return nil, err
			}
			a.Ints = append(a.Ints, i)
		}
		return a, nil
	case strings.Contains(v, ":"):
		ts, vals, _ := strings.Cut(v, ":")
		typ, err := parseType(ts)
		if err != nil {
			return nil, err
		}
		shape, _ := typ.Shape.Static()
		var fs []float64
		for _, s := range strings.Split(vals, ",") {
			f, err := strconv.ParseFloat(s, 64)
			if err != nil {
				return nil, err
			}
			fs = append(fs, f)
		}
		a.Type = ir.AttrTensor
		a.T, err = makeTensor(typ.DType, shape, fs)
		return a, err
	case strings.ContainsAny(v, ".e") && !strings.HasPrefix(v, "-") || strings.Contains(v, "."):
		f, err := strconv.ParseFloat(v, 32)
		a.Type, a.F = ir.AttrFloat, float32(f)
		return a, err
	}
	i, err := strconv.ParseInt(v, 10, 64)
	a.Type, a.I = ir.AttrInt, i
	return a, err
}

// ops lists the op types of g's nodes in order, domain qualified, separated
// by spaces.
func ops(g *ir.Graph) string {
	var s []string
	for _, n := range g.Nodes {
		op := n.OpType
		if d := ir.CanonicalDomain(n.Domain); d != "" {
			op = d + "." + op
		}
		s = append(s, op)
	}
	return strings.Join(s, " ")
}

// expectOptimized optimizes the graph src at level (with the engine's
// evaluator) and checks that the result's ops are want, that it is valid,
// that a second run gives byte-identical output, and that on random inputs
// it computes what src computes, within a relative L2 error of 1e-5.
func expectOptimized(t *testing.T, src string, level optimize.Level, want string) *ir.Model {
	t.Helper()
	return expectOptimizedOpts(t, src, optimize.Options{Level: level}, want)
}

func expectOptimizedOpts(t *testing.T, src string, opts optimize.Options, want string) *ir.Model {
	t.Helper()
	m := parseGraph(t, src)
	opts.Evaluator = engine.Evaluator{}
	opts.Verify = true
	got := optimize.Clone(m)
	if _, err := optimize.Run(context.Background(), got, opts); err != nil {
		t.Fatalf("optimize: %v", err)
	}
	if err := ir.Verify(got); err != nil {
		t.Fatalf("optimized graph is invalid: %v", err)
	}
	if g := ops(got.Graph); g != want {
		t.Errorf("ops after optimizing:\n got: %s\nwant: %s", g, want)
	}
	again := optimize.Clone(m)
	if _, err := optimize.Run(context.Background(), again, opts); err != nil {
		t.Fatal(err)
	}
	b1, err1 := onnx.Encode(got)
	b2, err2 := onnx.Encode(again)
	if err1 != nil || err2 != nil {
		t.Fatalf("encode: %v %v", err1, err2)
	}
	if !bytes.Equal(b1, b2) {
		t.Error("two runs of the optimizer gave different models")
	}
	compareOutputs(t, m, got, 1e-5)
	return got
}

// compareOutputs runs both models on the same seeded random inputs and
// fails if an output differs by more than tol relative L2.
func compareOutputs(t *testing.T, base, opt *ir.Model, tol float64) {
	t.Helper()
	compareOutputsTol(t, base, opt, nil, tol)
}

// compareOutputsWith is compareOutputs with some inputs given.
func compareOutputsWith(t *testing.T, base, opt *ir.Model, given map[string]*tensor.Tensor) {
	t.Helper()
	compareOutputsTol(t, base, opt, given, 1e-5)
}

func compareOutputsTol(t *testing.T, base, opt *ir.Model, given map[string]*tensor.Tensor, tol float64) {
	t.Helper()
	s0, err := engine.Compile(base, engine.Options{Threads: 1, Optimize: optimize.LevelNone})
	if err != nil {
		t.Fatalf("compile original: %v", err)
	}
	defer s0.Close()
	s1, err := engine.Compile(opt, engine.Options{Threads: 1, Optimize: optimize.LevelNone})
	if err != nil {
		t.Fatalf("compile optimized: %v", err)
	}
	defer s1.Close()
	rng := rand.New(rand.NewPCG(1, 1))
	feeds := map[string]*tensor.Tensor{}
	for _, in := range s0.Inputs() {
		if x, ok := given[in.Name]; ok {
			feeds[in.Name] = x
			continue
		}
		shape := make([]int, len(in.Type.Shape))
		for i, d := range in.Type.Shape {
			shape[i] = 2
			if d.Known() {
				shape[i] = int(d.Value)
			}
		}
		vals := make([]float64, tensor.NumElements(shape))
		for i := range vals {
			vals[i] = rng.NormFloat64()
			if in.Type.DType.IsInt() || in.Type.DType == tensor.Bool {
				vals[i] = float64(rng.IntN(2))
			}
		}
		x, err := makeTensor(in.Type.DType, shape, vals)
		if err != nil {
			t.Fatal(err)
		}
		feeds[in.Name] = x
	}
	want, err := s0.Run(context.Background(), feeds)
	if err != nil {
		t.Fatalf("run original: %v", err)
	}
	got, err := s1.Run(context.Background(), feeds)
	if err != nil {
		t.Fatalf("run optimized: %v", err)
	}
	for name, w := range want {
		if e := relL2(got[name], w); e > tol {
			t.Errorf("output %q: relative L2 error %.3g > %g", name, e, tol)
		}
	}
}

func relL2(got, want *tensor.Tensor) float64 {
	if got == nil || !tensor.EqualShapes(got.Shape, want.Shape) {
		return math.Inf(1)
	}
	g, ok1 := toFloats(got)
	w, ok2 := toFloats(want)
	if !ok1 || !ok2 {
		if fmt.Sprint(got.Data) == fmt.Sprint(want.Data) {
			return 0
		}
		return math.Inf(1)
	}
	var num, den float64
	for i := range w {
		d := g[i] - w[i]
		num += d * d
		den += w[i] * w[i]
	}
	if math.IsNaN(num) {
		return math.Inf(1)
	}
	if den == 0 {
		return math.Sqrt(num)
	}
	return math.Sqrt(num / den)
}

func toFloats(t *tensor.Tensor) ([]float64, bool) {
	switch s := t.Data.(type) {
	case []float32:
		out := make([]float64, len(s))
		for i, v := range s {
			out[i] = float64(v)
		}
		return out, true
	case []float64:
		return s, true
	case []int64:
		out := make([]float64, len(s))
		for i, v := range s {
			out[i] = float64(v)
		}
		return out, true
	}
	return nil, false
}

func evaluator() optimize.Evaluator { return engine.Evaluator{} }
