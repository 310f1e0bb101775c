package ir

import (
	"fmt"
	"sort"
	"strings"

	"github.com/inferd/inferd/tensor"
)

// Shape functions of matrix products, Einsum, Det and quantization.

func init() {
	registerInfer(DomainONNX, inferMatMul, "MatMul", "MatMulInteger", "QLinearMatMul")
	registerInfer(DomainONNX, inferGemm, "Gemm")
	registerInfer(DomainONNX, inferEinsum, "Einsum")
	registerInfer(DomainONNX, inferDet, "Det")
	registerInfer(DomainONNX, inferQuantizeLinear, "QuantizeLinear")
	registerInfer(DomainONNX, inferDequantizeLinear, "DequantizeLinear")
	registerInfer(DomainONNX, inferDynamicQuantizeLinear, "DynamicQuantizeLinear")
}

// matmulShape applies numpy matmul rules to shapes a and b (inputs ai and
// bi of c, for messages).
func matmulShape(c *nodeCtx, ai, bi int) (Shape, bool) {
	a, b := c.shape(ai), c.shape(bi)
	if a == nil || b == nil {
		return nil, true
	}
	if len(a) == 0 || len(b) == 0 {
		c.errorf("cannot multiply scalars: %s, %s", c.desc(ai), c.desc(bi))
		return nil, false
	}
	aa, bb := a, b
	if len(a) == 1 {
		aa = Shape{dimOf(1), a[0]}
	}
	if len(b) == 1 {
		bb = Shape{b[0], dimOf(1)}
	}
	k1, k2 := aa[len(aa)-1], bb[len(bb)-2]
	if conflict(k1, k2) {
		c.errorf("inner dimensions differ: %s has %v columns but %s has %v rows", c.desc(ai), k1, c.desc(bi), k2)
		return nil, false
	}
	batch, err := broadcastShapes(aa[:len(aa)-2], bb[:len(bb)-2])
	if err != nil {
		c.errorf("batch dimensions of %s and %s do not broadcast: %v", c.desc(ai), c.desc(bi), err)
		return nil, false
	}
	out := batch
	if len(a) > 1 {
		out = append(out, aa[len(aa)-2])
	}
	if len(b) > 1 {
		out = append(out, bb[len(bb)-1])
	}
	return out, true
}

func inferMatMul(c *nodeCtx) {
	var dt tensor.DType
	ai, bi := 0, 1
	switch c.n.OpType {
	case "MatMulInteger":
		dt = tensor.Int32
	case "QLinearMatMul":
		bi = 3
		dt = c.dtype(7)
	case "MatMulIntegerToFloat":
		// The result has the type of a_scale (float32 or float16).
		dt = c.dtype(2)
		if dt == tensor.Undefined {
			dt = tensor.Float32
		}
	default:
		dt = c.sameElemTypes(0, 1)
	}
	s, ok := matmulShape(c, ai, bi)
	if ok {
		c.setTensor(0, dt, s)
	}
}

func inferGemm(c *nodeCtx) {
	dt := c.sameElemTypes(0, 1)
	a, b := c.shape(0), c.shape(1)
	m, k1, k2, n := unknownDim, unknownDim, unknownDim, unknownDim
	if a != nil {
		if len(a) != 2 {
			c.errorf("%s is not a matrix", c.desc(0))
			return
		}
		m, k1 = a[0], a[1]
		if c.attrs.Int("transA", 0) != 0 {
			m, k1 = k1, m
		}
	}
	if b != nil {
		if len(b) != 2 {
			c.errorf("%s is not a matrix", c.desc(1))
			return
		}
		k2, n = b[0], b[1]
		if c.attrs.Int("transB", 0) != 0 {
			k2, n = n, k2
		}
	}
	if conflict(k1, k2) {
		c.errorf("inner dimensions differ: %s gives K = %v but %s gives K = %v", c.desc(0), k1, c.desc(1), k2)
		return
	}
	out := Shape{m, n}
	if cs := c.shape(2); cs != nil && c.has(2) {
		s, err := broadcastShapes(cs, out)
		if err == nil && len(s) != 2 {
			err = fmt.Errorf("rank %d", len(cs))
		}
		if err == nil {
			for i := range s {
				if conflict(s[i], out[i]) {
					err = fmt.Errorf("dimension %d is %v, want %v or 1", i, s[i], out[i])
				}
			}
		}
		if err != nil {
			c.errorf("%s does not broadcast to the product's shape %v: %v", c.desc(2), out, err)
			return
		}
		// C may tell M or N where A and B do not.
		for i := range out {
			if !out[i].Known() && s[i].Known() && s[i].Value != 1 {
				out[i] = s[i]
			}
		}
	}
	c.setTensor(0, dt, out)
}

func inferEinsum(c *nodeCtx) {
	dt := c.sameElemTypes(allInputs(c)...)
	eq := strings.ReplaceAll(c.attrs.String("equation", ""), " ", "")
	lhs, rhs, explicit := strings.Cut(eq, "->")
	terms := strings.Split(lhs, ",")
	if len(terms) != len(c.in) {
		c.errorf("equation %q has %d operands for %d inputs", eq, len(terms), len(c.in))
		return
	}
	letters := map[rune]Dim{}
	count := map[rune]int{}
	var ell Shape
	haveEll := false
	for i, t := range terms {
		s := c.shape(i)
		nl := strings.Count(t, "...")
		if nl > 1 {
			c.errorf("equation %q: operand %d has more than one ellipsis", eq, i)
			return
		}
		labels := []rune(strings.Replace(t, "...", "", 1))
		for _, l := range labels {
			if !('a' <= l && l <= 'z' || 'A' <= l && l <= 'Z') {
				c.errorf("equation %q: %q is not a letter", eq, l)
				return
			}
			count[l]++
		}
		if s == nil {
			for _, l := range labels {
				if _, ok := letters[l]; !ok {
					letters[l] = unknownDim
				}
			}
			if nl > 0 {
				haveEll = true
				ell = nil
			}
			continue
		}
		ne := len(s) - len(labels)
		if ne < 0 || (nl == 0 && ne != 0) {
			c.errorf("equation %q: operand %d %q does not fit %s", eq, i, t, c.desc(i))
			return
		}
		pre := strings.Index(t, "...")
		if pre < 0 {
			pre = len(labels)
		} else {
			pre = len([]rune(t[:pre]))
		}
		var e Shape
		for j, l := range labels {
			k := j
			if j >= pre {
				k = j + ne
			}
			d := s[k]
			if old, ok := letters[l]; ok {
				switch {
				case conflict(old, d) && old.Value != 1 && d.Value != 1:
					c.errorf("equation %q: label %c is %v in one operand and %v in %s", eq, l, old, d, c.desc(i))
					return
				case old.Known() && old.Value == 1:
					letters[l] = d
				case d.Known() && d.Value == 1:
				default:
					letters[l] = unify(old, d)
				}
			} else {
				letters[l] = d
			}
		}
		if nl > 0 {
			e = s[pre : pre+ne]
			if !haveEll {
				ell, haveEll = copyShape(e), true
			} else if ell != nil {
				b, err := broadcastShapes(ell, e)
				if err != nil {
					c.errorf("equation %q: ellipsis dimensions do not broadcast: %v", eq, err)
					return
				}
				ell = b
			}
		}
	}
	var out Shape
	if explicit {
		if strings.Count(rhs, "...") > 1 {
			c.errorf("equation %q: output has more than one ellipsis", eq)
			return
		}
		for i, part := range strings.SplitN(rhs, "...", 2) {
			if i == 1 {
				if haveEll && ell == nil {
					c.setTensor(0, dt, nil)
					return
				}
				out = append(out, ell...)
			}
			for _, l := range part {
				d, ok := letters[l]
				if !ok {
					c.errorf("equation %q: output label %c is in no operand", eq, l)
					return
				}
				out = append(out, d)
			}
		}
	} else {
		if haveEll && ell == nil {
			c.setTensor(0, dt, nil)
			return
		}
		out = append(Shape{}, ell...)
		var once []rune
		for l, n := range count {
			if n == 1 {
				once = append(once, l)
			}
		}
		sort.Slice(once, func(i, j int) bool { return once[i] < once[j] })
		for _, l := range once {
			out = append(out, letters[l])
		}
	}
	c.setTensor(0, dt, out)
}

func inferDet(c *nodeCtx) {
	x := c.shape(0)
	if x == nil {
		c.setTensor(0, c.dtype(0), nil)
		return
	}
	if len(x) < 2 || conflict(x[len(x)-1], x[len(x)-2]) {
		c.errorf("%s is not a (batch of) square matrices", c.desc(0))
		return
	}
	c.setTensor(0, c.dtype(0), copyShape(x[:len(x)-2]))
}

func inferQuantizeLinear(c *nodeCtx) {
	dt := tensor.Uint8
	switch {
	case c.attrs.Has("output_dtype") && c.attrs.Int("output_dtype", 0) != 0:
		dt = tensor.DType(c.attrs.Int("output_dtype", 0))
	case c.has(2):
		dt = c.dtype(2)
	}
	if c.has(0) {
		c.setTensor(0, dt, copyShape(c.shape(0)))
	}
}

func inferDequantizeLinear(c *nodeCtx) {
	dt := c.dtype(1)
	if dt == tensor.Undefined {
		dt = tensor.Float32
	}
	if c.has(0) {
		c.setTensor(0, dt, copyShape(c.shape(0)))
	}
}

func inferDynamicQuantizeLinear(c *nodeCtx) {
	if c.has(0) {
		c.setTensor(0, tensor.Uint8, copyShape(c.shape(0)))
	}
	c.setTensor(1, tensor.Float32, Shape{})
	c.setTensor(2, tensor.Uint8, Shape{})
}
