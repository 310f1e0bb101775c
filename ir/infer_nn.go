package ir

import (
	"math"

	"github.com/inferd/inferd/tensor"
)

// Shape functions of neural-network operators: convolutions, pools,
// normalisations, Resize and the layout shuffles.

func init() {
	registerInfer(DomainONNX, inferConv, "Conv", "ConvInteger", "QLinearConv")
	registerInfer(DomainONNX, inferConvTranspose, "ConvTranspose")
	registerInfer(DomainONNX, inferPool, "MaxPool", "AveragePool", "LpPool")
	registerInfer(DomainONNX, inferGlobalPool, "GlobalAveragePool", "GlobalMaxPool", "GlobalLpPool")
	registerInfer(DomainONNX, inferMaxUnpool, "MaxUnpool")
	registerInfer(DomainONNX, inferRoiPool, "MaxRoiPool", "RoiAlign")
	registerInfer(DomainONNX, inferBatchNorm, "BatchNormalization")
	registerInfer(DomainONNX, inferLayerNorm, "LayerNormalization")
	registerInfer(DomainONNX, inferUnary, "GroupNormalization")
	registerInfer(DomainONNX, inferDepthToSpace, "DepthToSpace")
	registerInfer(DomainONNX, inferSpaceToDepth, "SpaceToDepth")
	registerInfer(DomainONNX, inferGridSample, "GridSample")
	registerInfer(DomainONNX, inferResize, "Resize", "Upsample")
	registerInfer(DomainONNX, inferCol2Im, "Col2Im")
	registerInfer(DomainONNX, inferCenterCropPad, "CenterCropPad")
	registerInfer(DomainONNX, inferAffineGrid, "AffineGrid")
}

// window holds the attributes of a sliding window (convolution or pool)
// over nd spatial dimensions.
type window struct {
	kernel, strides, dilations, pads []int64
	autoPad                          string
	ceil                             bool
}

// readWindow reads a window's attributes, kernel (which may hold -1 for
// unknown sizes) coming from kernel_shape or else from the weights.
func readWindow(c *nodeCtx, nd int, kernel []int64) (*window, bool) {
	w := &window{
		kernel:    c.attrs.Ints("kernel_shape", kernel),
		strides:   c.attrs.Ints("strides", nil),
		dilations: c.attrs.Ints("dilations", nil),
		pads:      c.attrs.Ints("pads", nil),
		autoPad:   c.attrs.String("auto_pad", "NOTSET"),
		ceil:      c.attrs.Int("ceil_mode", 0) != 0,
	}
	if w.kernel == nil {
		return nil, false
	}
	ones := func() []int64 {
		s := make([]int64, nd)
		for i := range s {
			s[i] = 1
		}
		return s
	}
	if w.strides == nil {
		w.strides = ones()
	}
	if w.dilations == nil {
		w.dilations = ones()
	}
	if w.pads == nil || w.autoPad == "VALID" {
		w.pads = make([]int64, 2*nd)
	}
	switch {
	case len(w.kernel) != nd:
		c.errorf("kernel_shape %v does not fit %d spatial dimensions", w.kernel, nd)
	case len(w.strides) != nd:
		c.errorf("strides %v do not fit %d spatial dimensions", w.strides, nd)
	case len(w.dilations) != nd:
		c.errorf("dilations %v do not fit %d spatial dimensions", w.dilations, nd)
	case len(w.pads) != 2*nd:
		c.errorf("pads %v do not fit %d spatial dimensions", w.pads, nd)
	default:
		for i := range nd {
			if w.strides[i] <= 0 || w.dilations[i] <= 0 {
				c.errorf("strides %v and dilations %v must be positive", w.strides, w.dilations)
				return nil, false
			}
		}
		switch w.autoPad {
		case "NOTSET", "VALID", "SAME_UPPER", "SAME_LOWER":
		default:
			c.errorf("auto_pad %q is not NOTSET, VALID, SAME_UPPER or SAME_LOWER", w.autoPad)
			return nil, false
		}
		return w, true
	}
	return nil, false
}

// outDims returns the spatial output size of the window over in.
func (w *window) outDims(c *nodeCtx, in Shape) (Shape, bool) {
	out := make(Shape, len(in))
	for i, d := range in {
		k := w.kernel[i]
		if !d.Known() || k < 0 {
			out[i] = unknownDim
			continue
		}
		s := w.strides[i]
		ek := (k-1)*w.dilations[i] + 1
		switch {
		case w.autoPad == "SAME_UPPER" || w.autoPad == "SAME_LOWER":
			out[i] = dimOf(ceilDiv(d.Value, s))
		case w.autoPad == "VALID" && w.ceil:
			span := d.Value - ek + 1
			if span <= 0 {
				c.errorf("kernel extent %d is larger than input extent %d in spatial dimension %d", ek, d.Value, i)
				return nil, false
			}
			out[i] = dimOf(ceilDiv(span, s))
		default:
			pb, pe := w.pads[i], w.pads[i+len(in)]
			span := d.Value + pb + pe - ek
			if span < 0 {
				c.errorf("kernel extent %d is larger than padded input extent %d in spatial dimension %d", ek, d.Value+pb+pe, i)
				return nil, false
			}
			n := span/s + 1
			if w.ceil {
				n = ceilDiv(span, s) + 1
				// The last window must start inside the input or the
				// leading padding.
				if (n-1)*s >= d.Value+pb {
					n--
				}
			}
			out[i] = dimOf(n)
		}
	}
	return out, true
}

func inferConv(c *nodeCtx) {
	xi, wi := 0, 1
	dt := c.dtype(0)
	switch c.n.OpType {
	case "ConvInteger":
		dt = tensor.Int32
	case "QLinearConv":
		wi = 3
		dt = c.dtype(7)
		if dt == tensor.Undefined {
			dt = c.dtype(0)
		}
	default:
		dt = c.sameElemTypes(0, 1)
	}
	x, w := c.shape(xi), c.shape(wi)
	if x == nil && w == nil {
		c.setTensor(0, dt, nil)
		return
	}
	r := len(x)
	if x == nil {
		r = len(w)
	}
	if r < 3 {
		c.errorf("%s has rank %d, want at least 3 (N, C, spatial...)", c.desc(xi), r)
		return
	}
	if w != nil && len(w) != r {
		c.errorf("weights %s do not have the rank of %s", c.desc(wi), c.desc(xi))
		return
	}
	out := unknownShape(r)
	if x == nil {
		out[1] = w[0]
		c.setTensor(0, dt, out)
		return
	}
	group := c.attrs.Int("group", 1)
	kernel := make([]int64, r-2)
	for i := range kernel {
		kernel[i] = -1
		if w != nil && w[2+i].Known() {
			kernel[i] = w[2+i].Value
		}
	}
	if w != nil {
		if x[1].Known() && w[1].Known() && x[1].Value != w[1].Value*group {
			c.errorf("%s has %d channels, but weights %s expect %d (%d × group %d)", c.desc(xi), x[1].Value, c.desc(wi), w[1].Value*group, w[1].Value, group)
			return
		}
		if w[0].Known() && group > 0 && w[0].Value%group != 0 {
			c.errorf("weights %s: %d output channels do not divide into %d groups", c.desc(wi), w[0].Value, group)
			return
		}
		out[1] = w[0]
		if c.n.OpType == "Conv" && c.has(2) {
			if b := c.shape(2); len(b) == 1 && conflict(b[0], w[0]) {
				c.errorf("bias %s does not have the %v output channels of %s", c.desc(2), w[0], c.desc(wi))
				return
			}
		}
	}
	out[0] = x[0]
	win, ok := readWindow(c, r-2, kernel)
	if !ok {
		c.setTensor(0, dt, out)
		return
	}
	if w != nil {
		for i, k := range win.kernel {
			if w[2+i].Known() && k != w[2+i].Value {
				c.errorf("kernel_shape %v differs from weights %s", win.kernel, c.desc(wi))
				return
			}
		}
	}
	sp, ok := win.outDims(c, x[2:])
	if !ok {
		return
	}
	copy(out[2:], sp)
	c.setTensor(0, dt, out)
}

func inferConvTranspose(c *nodeCtx) {
	dt := c.sameElemTypes(0, 1)
	x, w := c.shape(0), c.shape(1)
	if x == nil {
		c.setTensor(0, dt, nil)
		return
	}
	r := len(x)
	if r < 3 {
		c.errorf("%s has rank %d, want at least 3 (N, C, spatial...)", c.desc(0), r)
		return
	}
	nd := r - 2
	group := c.attrs.Int("group", 1)
	out := unknownShape(r)
	out[0] = x[0]
	kernel := make([]int64, nd)
	for i := range kernel {
		kernel[i] = -1
	}
	if w != nil {
		if len(w) != r {
			c.errorf("weights %s do not have the rank of %s", c.desc(1), c.desc(0))
			return
		}
		if conflict(x[1], w[0]) {
			c.errorf("%s has %v channels, but weights %s expect %v", c.desc(0), x[1], c.desc(1), w[0])
			return
		}
		out[1] = dimProduct([]Dim{w[1], dimOf(group)})
		for i := range kernel {
			if w[2+i].Known() {
				kernel[i] = w[2+i].Value
			}
		}
	}
	win, ok := readWindow(c, nd, kernel)
	if !ok {
		c.setTensor(0, dt, out)
		return
	}
	if os := c.attrs.Ints("output_shape", nil); os != nil {
		if len(os) == r {
			os = os[2:]
		}
		if len(os) != nd {
			c.errorf("output_shape %v does not fit %d spatial dimensions", os, nd)
			return
		}
		for i, v := range os {
			out[2+i] = dimOf(v)
		}
		c.setTensor(0, dt, out)
		return
	}
	outPad := c.attrs.Ints("output_padding", make([]int64, nd))
	if len(outPad) != nd {
		c.errorf("output_padding %v does not fit %d spatial dimensions", outPad, nd)
		return
	}
	for i := range nd {
		d, k := x[2+i], win.kernel[i]
		if !d.Known() || k < 0 {
			continue
		}
		s := win.strides[i]
		if win.autoPad == "SAME_UPPER" || win.autoPad == "SAME_LOWER" {
			out[2+i] = dimOf(d.Value * s)
			continue
		}
		ek := (k-1)*win.dilations[i] + 1
		n := s*(d.Value-1) + outPad[i] + ek - win.pads[i] - win.pads[i+nd]
		if n < 0 {
			c.errorf("pads %v leave a negative output size in spatial dimension %d", win.pads, i)
			return
		}
		out[2+i] = dimOf(n)
	}
	c.setTensor(0, dt, out)
}

func inferPool(c *nodeCtx) {
	x := c.shape(0)
	dt := c.dtype(0)
	if x == nil {
		c.setTensor(0, dt, nil)
		if c.n.OpType == "MaxPool" {
			c.setTensor(1, tensor.Int64, nil)
		}
		return
	}
	if len(x) < 3 {
		c.errorf("%s has rank %d, want at least 3 (N, C, spatial...)", c.desc(0), len(x))
		return
	}
	if !c.attrs.Has("kernel_shape") {
		c.errorf("required attribute %q is missing", "kernel_shape")
		return
	}
	out := copyShape(x)
	if win, ok := readWindow(c, len(x)-2, nil); ok {
		sp, ok := win.outDims(c, x[2:])
		if !ok {
			return
		}
		copy(out[2:], sp)
	} else {
		return
	}
	c.setTensor(0, dt, out)
	if c.n.OpType == "MaxPool" {
		c.setTensor(1, tensor.Int64, copyShape(out))
	}
}

func inferGlobalPool(c *nodeCtx) { globalPool(c, c.dtype(0)) }

// globalPool gives output 0 the shape of a global pool of input 0 (N, C,
// 1, ...) and element type dt.
func globalPool(c *nodeCtx, dt tensor.DType) {
	x := c.shape(0)
	if x == nil {
		c.setTensor(0, dt, nil)
		return
	}
	if len(x) < 2 {
		c.errorf("%s has rank %d, want at least 2 (N, C, ...)", c.desc(0), len(x))
		return
	}
	out := copyShape(x)
	for i := 2; i < len(out); i++ {
		out[i] = dimOf(1)
	}
	c.setTensor(0, dt, out)
}

func inferMaxUnpool(c *nodeCtx) {
	x := c.shape(0)
	dt := c.dtype(0)
	if s, ok := c.shapeArg(2); ok && c.has(2) {
		c.setTensor(0, dt, s)
		return
	}
	if x == nil || len(x) < 3 {
		c.setTensor(0, dt, nil)
		return
	}
	nd := len(x) - 2
	win, ok := readWindow(c, nd, nil)
	out := copyShape(x)
	if !ok {
		return
	}
	for i := range nd {
		d := x[2+i]
		if !d.Known() {
			out[2+i] = unknownDim
			continue
		}
		out[2+i] = dimOf((d.Value-1)*win.strides[i] + win.kernel[i] - win.pads[i] - win.pads[i+nd])
	}
	c.setTensor(0, dt, out)
}

func inferRoiPool(c *nodeCtx) {
	x, rois := c.shape(0), c.shape(1)
	out := unknownShape(4)
	if rois != nil && len(rois) == 2 {
		out[0] = rois[0]
	}
	if x != nil && len(x) == 4 {
		out[1] = x[1]
	}
	if c.n.OpType == "MaxRoiPool" {
		ps := c.attrs.Ints("pooled_shape", nil)
		if len(ps) != 2 {
			c.errorf("pooled_shape %v is not two sizes", ps)
			return
		}
		out[2], out[3] = dimOf(ps[0]), dimOf(ps[1])
	} else {
		out[2] = dimOf(c.attrs.Int("output_height", 1))
		out[3] = dimOf(c.attrs.Int("output_width", 1))
	}
	c.setTensor(0, c.dtype(0), out)
}

func inferBatchNorm(c *nodeCtx) {
	inferUnary(c)
	x := c.shape(0)
	ch := unknownDim
	if len(x) >= 2 {
		ch = x[1]
	}
	for i := 1; i <= 4 && i < len(c.in); i++ {
		if s := c.shape(i); len(s) == 1 && conflict(s[0], ch) {
			c.errorf("%s does not match the %v channels of %s", c.desc(i), ch, c.desc(0))
			return
		}
	}
	for i := 1; i < len(c.out); i++ {
		dt := c.dtype(3)
		if dt == tensor.Undefined {
			dt = c.dtype(0)
		}
		c.setTensor(i, dt, Shape{ch})
	}
}

func inferLayerNorm(c *nodeCtx) {
	inferUnary(c)
	x := c.shape(0)
	dt := tensor.DType(c.attrs.Int("stash_type", int64(tensor.Float32)))
	if x == nil {
		for i := 1; i < len(c.out); i++ {
			c.setTensor(i, dt, nil)
		}
		return
	}
	axis, ok := c.axis("axis", c.attrs.Int("axis", -1), len(x))
	if !ok {
		return
	}
	stat := copyShape(x)
	for i := axis; i < len(stat); i++ {
		stat[i] = dimOf(1)
	}
	for i := 1; i < len(c.out); i++ {
		c.setTensor(i, dt, copyShape(stat))
	}
}

// blockInput returns the input shape and blocksize of DepthToSpace and
// SpaceToDepth, checked; ok is false when nothing more can be inferred.
func blockInput(c *nodeCtx) (x Shape, b int64, ok bool) {
	x = c.shape(0)
	b = c.attrs.Int("blocksize", 0)
	if x == nil {
		c.setTensor(0, c.dtype(0), unknownShape(4))
		return nil, 0, false
	}
	if len(x) != 4 || b <= 0 {
		c.errorf("%s with blocksize %d: want rank 4 and a positive blocksize", c.desc(0), b)
		return nil, 0, false
	}
	return x, b, true
}

func inferDepthToSpace(c *nodeCtx) {
	x, b, ok := blockInput(c)
	if !ok {
		return
	}
	if x[1].Known() && x[1].Value%(b*b) != 0 {
		c.errorf("%s: %d channels do not divide by blocksize² %d", c.desc(0), x[1].Value, b*b)
		return
	}
	bd := knownElt(b)
	c.setTensor(0, c.dtype(0), Shape{x[0], eltDiv(eltOf(x[1]), knownElt(b*b)).dim(), eltMul(eltOf(x[2]), bd).dim(), eltMul(eltOf(x[3]), bd).dim()})
}

func inferSpaceToDepth(c *nodeCtx) {
	x, b, ok := blockInput(c)
	if !ok {
		return
	}
	for i := 2; i < 4; i++ {
		if x[i].Known() && x[i].Value%b != 0 {
			c.errorf("%s: dimension %d does not divide by blocksize %d", c.desc(0), i, b)
			return
		}
	}
	bd := knownElt(b)
	c.setTensor(0, c.dtype(0), Shape{x[0], eltMul(eltOf(x[1]), knownElt(b*b)).dim(), eltDiv(eltOf(x[2]), bd).dim(), eltDiv(eltOf(x[3]), bd).dim()})
}

func inferGridSample(c *nodeCtx) {
	x, g := c.shape(0), c.shape(1)
	if x == nil || g == nil {
		r := -1
		if x != nil {
			r = len(x)
		} else if g != nil {
			r = len(g)
		}
		if r >= 0 {
			c.setTensor(0, c.dtype(0), unknownShape(r))
		} else {
			c.setTensor(0, c.dtype(0), nil)
		}
		return
	}
	if len(x) != len(g) || len(x) < 3 {
		c.errorf("%s and grid %s do not fit (want ranks N+2 and N+2)", c.desc(0), c.desc(1))
		return
	}
	if conflict(x[0], g[0]) {
		c.errorf("batch of %s differs from grid %s", c.desc(0), c.desc(1))
		return
	}
	out := Shape{unify(x[0], g[0]), x[1]}
	out = append(out, g[1:len(g)-1]...)
	c.setTensor(0, c.dtype(0), out)
}

func inferResize(c *nodeCtx) {
	x := c.shape(0)
	dt := c.dtype(0)
	if x == nil {
		c.setTensor(0, dt, nil)
		return
	}
	out := unknownShape(len(x))
	axes := make([]int, len(x))
	for i := range axes {
		axes[i] = i
	}
	if a := c.attrs.Ints("axes", nil); a != nil {
		ax, ok := c.normAxes(a, len(x))
		if !ok {
			return
		}
		axes = ax
		copy(out, x)
	}
	var scales []float64
	scalesOK := false
	var sizes []elt
	sizesOK := false
	switch {
	case c.n.OpType == "Upsample" && c.opset < 9:
		if f := c.attrs.Floats("scales", nil); f != nil {
			scales, scalesOK = make([]float64, len(f)), true
			for i, v := range f {
				scales[i] = float64(v)
			}
		}
	case c.n.OpType == "Upsample" || c.opset < 11:
		scales, scalesOK = c.floats(1)
	default:
		if c.has(3) {
			sizes, sizesOK = c.elts(3)
			if !sizesOK {
				c.setTensor(0, dt, out)
				return
			}
		}
		if !sizesOK && c.has(2) {
			scales, scalesOK = c.floats(2)
		}
	}
	switch {
	case sizesOK && len(sizes) > 0:
		if len(sizes) != len(axes) {
			c.errorf("sizes %v do not fit %s", eltString(sizes), c.desc(0))
			return
		}
		policy := c.attrs.String("keep_aspect_ratio_policy", "stretch")
		for i, a := range axes {
			if policy == "stretch" {
				out[a] = sizes[i].dim()
			} else {
				out[a] = unknownDim
			}
		}
	case scalesOK && len(scales) > 0:
		if len(scales) != len(axes) {
			c.errorf("scales %v do not fit %s", scales, c.desc(0))
			return
		}
		for i, a := range axes {
			d := x[a]
			switch {
			case d.Known():
				// As ONNX computes it, in float32.
				out[a] = dimOf(int64(math.Floor(float64(float32(d.Value) * float32(scales[i])))))
			case scales[i] == 1:
				out[a] = d
			default:
				out[a] = unknownDim
			}
		}
	}
	c.setTensor(0, dt, out)
}

// inferCol2Im: [N, C·∏block, L] with image_shape and block_shape inputs
// gives [N, C, image_shape...].
func inferCol2Im(c *nodeCtx) {
	x := c.shape(0)
	dt := c.dtype(0)
	img, ok1 := c.shapeArg(1)
	block, ok2 := c.ints(2)
	if !ok1 {
		c.setTensor(0, dt, nil)
		return
	}
	out := append(Shape{unknownDim, unknownDim}, img...)
	if x != nil {
		if len(x) != 3 {
			c.errorf("%s is not [N, C·∏block, L]", c.desc(0))
			return
		}
		out[0] = x[0]
		if ok2 {
			p := int64(1)
			for _, b := range block {
				p *= b
			}
			if x[1].Known() && p > 0 && x[1].Value%p != 0 {
				c.errorf("%s: %d does not divide by the block size %d", c.desc(0), x[1].Value, p)
				return
			}
			out[1] = eltDiv(eltOf(x[1]), knownElt(p)).dim()
		}
	}
	c.setTensor(0, dt, out)
}

func inferCenterCropPad(c *nodeCtx) {
	x := c.shape(0)
	dt := c.dtype(0)
	s, ok := c.shapeArg(1)
	switch {
	case x == nil:
		c.setTensor(0, dt, nil)
		return
	case !ok:
		c.setTensor(0, dt, unknownShape(len(x)))
		return
	}
	axes := make([]int, len(x))
	for i := range axes {
		axes[i] = i
	}
	if a := c.attrs.Ints("axes", nil); a != nil {
		if axes, ok = c.normAxes(a, len(x)); !ok {
			return
		}
	}
	if len(s) != len(axes) {
		c.errorf("shape %v does not fit the %d axes of %s", s, len(axes), c.desc(0))
		return
	}
	out := copyShape(x)
	for i, a := range axes {
		out[a] = s[i]
	}
	c.setTensor(0, dt, out)
}

// inferAffineGrid: theta [N, 2, 3] or [N, 3, 4] and size [N, C, H, W] or
// [N, C, D, H, W] give a grid [N, H, W, 2] or [N, D, H, W, 3].
func inferAffineGrid(c *nodeCtx) {
	dt := c.dtype(0)
	size, ok := c.shapeArg(1)
	if !ok || len(size) < 4 {
		c.setTensor(0, dt, nil)
		return
	}
	out := append(Shape{size[0]}, size[2:]...)
	c.setTensor(0, dt, append(out, dimOf(int64(len(size)-2))))
}
