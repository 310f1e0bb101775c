package ir

import "github.com/inferd/inferd/tensor"

// Shape functions of the remaining operator families: random generators,
// signal processing, text, losses, detection and training optimizers.

func init() {
	registerInfer(DomainONNX, inferRandom, "RandomNormal", "RandomUniform")
	registerInfer(DomainONNX, inferRandomLike, "RandomNormalLike", "RandomUniformLike", "Bernoulli")
	registerInfer(DomainONNX, inferMultinomial, "Multinomial")
	registerInfer(DomainONNX, inferWindow, "HannWindow", "HammingWindow", "BlackmanWindow")
	registerInfer(DomainONNX, inferDFT, "DFT")
	registerInfer(DomainONNX, inferSTFT, "STFT")
	registerInfer(DomainONNX, inferMelWeightMatrix, "MelWeightMatrix")
	registerInfer(DomainONNX, inferStringNormalizer, "StringNormalizer")
	registerInfer(DomainONNX, inferRegexFullMatch, "RegexFullMatch")
	registerInfer(DomainONNX, inferStringConcat, "StringConcat")
	registerInfer(DomainONNX, inferStringSplit, "StringSplit")
	registerInfer(DomainONNX, inferTfIdfVectorizer, "TfIdfVectorizer")
	registerInfer(DomainONNX, inferLoss, "NegativeLogLikelihoodLoss", "SoftmaxCrossEntropyLoss")
	registerInfer(DomainONNX, inferNonMaxSuppression, "NonMaxSuppression")
	registerInfer(DomainTraining, inferOptimizer(false), "Adagrad", "Momentum")
	registerInfer(DomainTraining, inferOptimizer(true), "Adam")
	registerInfer(DomainTraining, inferGradient, "Gradient")
}

func inferRandom(c *nodeCtx) {
	dt := tensor.DType(c.attrs.Int("dtype", int64(tensor.Float32)))
	s := c.attrs.Ints("shape", nil)
	if s == nil {
		c.errorf("required attribute %q is missing", "shape")
		return
	}
	out := make(Shape, len(s))
	for i, d := range s {
		out[i] = dimOf(d)
	}
	c.setTensor(0, dt, out)
}

func inferRandomLike(c *nodeCtx) {
	dt := c.dtype(0)
	if c.attrs.Has("dtype") {
		dt = tensor.DType(c.attrs.Int("dtype", 0))
	}
	if c.has(0) {
		c.setTensor(0, dt, copyShape(c.shape(0)))
	}
}

func inferMultinomial(c *nodeCtx) {
	dt := tensor.DType(c.attrs.Int("dtype", int64(tensor.Int32)))
	x := c.shape(0)
	batch := unknownDim
	if x != nil {
		if len(x) != 2 {
			c.errorf("%s is not [batch, classes]", c.desc(0))
			return
		}
		batch = x[0]
	}
	c.setTensor(0, dt, Shape{batch, dimOf(c.attrs.Int("sample_size", 1))})
}

func inferWindow(c *nodeCtx) {
	dt := tensor.DType(c.attrs.Int("output_datatype", int64(tensor.Float32)))
	n := unknownDim
	if v, ok := c.scalarInt(0); ok {
		n = dimOf(v)
	}
	c.setTensor(0, dt, Shape{n})
}

func inferDFT(c *nodeCtx) {
	x := c.shape(0)
	dt := c.dtype(0)
	if x == nil {
		c.setTensor(0, dt, nil)
		return
	}
	if len(x) < 2 || (x[len(x)-1].Known() && x[len(x)-1].Value != 1 && x[len(x)-1].Value != 2) {
		c.errorf("%s does not end in a real (1) or complex (2) dimension", c.desc(0))
		return
	}
	axis, ok := c.axis("axis", c.attrs.Int("axis", 1), len(x)-1)
	if !ok {
		return
	}
	out := copyShape(x)
	out[len(out)-1] = dimOf(2)
	n := x[axis]
	if c.has(1) {
		n = unknownDim
		if v, ok := c.scalarInt(1); ok {
			n = dimOf(v)
		}
	}
	if c.attrs.Int("onesided", 0) != 0 && c.attrs.Int("inverse", 0) == 0 {
		n = eltAdd(eltDiv(eltOf(n), knownElt(2)), knownElt(1)).dim()
	}
	out[axis] = n
	c.setTensor(0, dt, out)
}

func inferSTFT(c *nodeCtx) {
	x := c.shape(0)
	dt := c.dtype(0)
	out := unknownShape(4)
	out[3] = dimOf(2)
	if x != nil {
		if len(x) != 3 {
			c.errorf("%s is not [batch, length, 1 or 2]", c.desc(0))
			return
		}
		out[0] = x[0]
	}
	frameLen := int64(-1)
	if v, ok := c.scalarInt(3); ok {
		frameLen = v
	} else if w := c.shape(2); len(w) == 1 && w[0].Known() {
		frameLen = w[0].Value
	}
	step, okStep := c.scalarInt(1)
	if x != nil && x[1].Known() && frameLen > 0 && okStep && step > 0 {
		out[1] = dimOf((x[1].Value-frameLen)/step + 1)
	}
	if frameLen > 0 {
		bins := frameLen
		if c.attrs.Int("onesided", 1) != 0 {
			bins = frameLen/2 + 1
		}
		out[2] = dimOf(bins)
	}
	c.setTensor(0, dt, out)
}

func inferMelWeightMatrix(c *nodeCtx) {
	dt := tensor.DType(c.attrs.Int("output_datatype", int64(tensor.Float32)))
	out := unknownShape(2)
	if v, ok := c.scalarInt(1); ok {
		out[0] = dimOf(v/2 + 1)
	}
	if v, ok := c.scalarInt(0); ok {
		out[1] = dimOf(v)
	}
	c.setTensor(0, dt, out)
}

func inferStringNormalizer(c *nodeCtx) {
	x := c.shape(0)
	if x == nil {
		c.setTensor(0, tensor.String, nil)
		return
	}
	out := copyShape(x)
	if len(out) > 0 && len(c.attrs.Strings("stopwords", nil)) > 0 {
		out[len(out)-1] = unknownDim
	}
	c.setTensor(0, tensor.String, out)
}

func inferRegexFullMatch(c *nodeCtx) {
	if c.has(0) {
		c.setTensor(0, tensor.Bool, copyShape(c.shape(0)))
	}
}

func inferStringConcat(c *nodeCtx) {
	c.setTensor(0, tensor.String, c.broadcastInputs(0, 1))
}

// inferStringSplit: the substrings gain a last axis as long as the most
// pieces any string splits into; their counts keep X's shape.
func inferStringSplit(c *nodeCtx) {
	x := c.shape(0)
	if x == nil {
		c.setTensor(0, tensor.String, nil)
	} else {
		c.setTensor(0, tensor.String, append(copyShape(x), unknownDim))
	}
	c.setTensor(1, tensor.Int64, copyShape(x))
}

func inferTfIdfVectorizer(c *nodeCtx) {
	x := c.shape(0)
	size := int64(0)
	for _, v := range c.attrs.Ints("ngram_indexes", nil) {
		size = max(size, v+1)
	}
	switch len(x) {
	case 1:
		c.setTensor(0, tensor.Float32, Shape{dimOf(size)})
	case 2:
		c.setTensor(0, tensor.Float32, Shape{x[0], dimOf(size)})
	default:
		c.setTensor(0, tensor.Float32, nil)
	}
}

func inferLoss(c *nodeCtx) {
	x, target := c.shape(0), c.shape(1)
	dt := c.dtype(0)
	if x != nil && target != nil {
		if len(x) != len(target)+1 || len(x) < 2 {
			c.errorf("%s and target %s do not fit (want [N, C, d...] and [N, d...])", c.desc(0), c.desc(1))
			return
		}
		if conflict(x[0], target[0]) {
			c.errorf("batch of %s differs from target %s", c.desc(0), c.desc(1))
			return
		}
		for i := 2; i < len(x); i++ {
			if conflict(x[i], target[i-1]) {
				c.errorf("%s and target %s differ in dimension %d", c.desc(0), c.desc(1), i)
				return
			}
		}
	}
	if c.attrs.String("reduction", "mean") == "none" {
		switch {
		case target != nil:
			c.setTensor(0, dt, copyShape(target))
		case x != nil && len(x) >= 2:
			c.setTensor(0, dt, append(Shape{x[0]}, x[2:]...))
		default:
			c.setTensor(0, dt, nil)
		}
	} else {
		c.setTensor(0, dt, Shape{})
	}
	if len(c.out) > 1 {
		c.setTensor(1, dt, copyShape(x))
	}
}

func inferNonMaxSuppression(c *nodeCtx) {
	c.setTensor(0, tensor.Int64, Shape{unknownDim, dimOf(3)})
}

// inferOptimizer handles Adagrad and Momentum (inputs R, T, then groups
// X, G, H or X, G, V; outputs X_new, H_new or X_new, V_new) and Adam
// (R, T, X, G, V, H → X_new, V_new, H_new): each output group has the
// types of the matching input group, gradients left out.
func inferOptimizer(adam bool) inferFunc {
	return func(c *nodeCtx) {
		groups := 3
		if adam {
			groups = 4
		}
		n := (len(c.in) - 2) / groups
		if n <= 0 || 2+n*groups != len(c.in) || len(c.out) != n*(groups-1) {
			c.errorf("%d inputs and %d outputs do not form groups of %d tensors", len(c.in), len(c.out), groups)
			return
		}
		for i := range c.out {
			g := i / n
			if g >= 1 {
				g++ // skip the gradients
			}
			if t := c.typ(2 + g*n + i%n); t.Kind != UnknownKind {
				c.set(i, t)
			}
		}
	}
}

// inferGradient: each gradient has the type of the value (named in xs)
// it is taken with respect to.
func inferGradient(c *nodeCtx) {
	for i, name := range c.attrs.Strings("xs", nil) {
		if v, ok := c.sc.lookup(name); ok && i < len(c.out) {
			c.set(i, v.typ)
		}
	}
}
