package kernels

import (
	"slices"
	"sync"

	"github.com/inferd/inferd/kernels/vec"
	"github.com/inferd/inferd/tensor"
)

// lnFastKernel is LayerNormalization (and SkipLayerNormalization, when skip
// is set) for float32 inputs whose Scale and B are float32 constants over
// the normalized axes, and whose Mean and InvStdDev outputs nobody reads:
// the case of every transformer export. It normalizes rows with the
// vectorized kernels and allocates nothing per run.
type lnFastKernel struct {
	axis        int
	scaleShape  []int // Scale's shape without leading 1s
	scale, bias []float32
	eps         float32
	skip        bool
	general     Kernel
}

// lnFastBuild returns the fast kernel for b, or nil when the node needs the
// general one. scaleIn is the index of the Scale input (B follows it);
// general runs whatever the fast path declines at run time.
func lnFastBuild(b *Build, axis int, eps float32, scaleIn int, skip bool, general Kernel) Kernel {
	if !skip {
		for _, o := range b.Node.Outputs[min(len(b.Node.Outputs), 1):] {
			if o != "" {
				return nil
			}
		}
	}
	if b.Const == nil {
		return nil
	}
	sc := b.Const(scaleIn)
	if sc == nil || sc.DType != tensor.Float32 || len(sc.Shape) == 0 {
		return nil
	}
	k := &lnFastKernel{axis: axis, eps: eps, skip: skip, general: general}
	k.scaleShape = lnTrimOnes(sc.Shape)
	k.scale = tensor.Data[float32](sc)
	if len(b.Node.Inputs) > scaleIn+1 && b.Node.Inputs[scaleIn+1] != "" {
		bs := b.Const(scaleIn + 1)
		if bs == nil || bs.DType != tensor.Float32 || !slices.Equal(lnTrimOnes(bs.Shape), k.scaleShape) {
			return nil
		}
		k.bias = tensor.Data[float32](bs)
	}
	return k
}

func lnTrimOnes(s []int) []int {
	for len(s) > 0 && s[0] == 1 {
		s = s[1:]
	}
	return s
}

func (k *lnFastKernel) Run(c *Context, in []*tensor.Tensor) ([]*tensor.Tensor, error) {
	x := input(in, 0)
	if x == nil || x.DType != tensor.Float32 {
		return k.general.Run(c, in)
	}
	ax, err := NormAxis(int64(k.axis), x.Rank())
	if err != nil {
		return k.general.Run(c, in)
	}
	if !slices.Equal(lnTrimOnes(x.Shape[ax:]), k.scaleShape) {
		return k.general.Run(c, in)
	}
	var skip []float32
	if k.skip {
		s := input(in, 1)
		if s == nil || s.DType != tensor.Float32 || !tensor.EqualShapes(s.Shape, x.Shape) {
			return k.general.Run(c, in)
		}
		skip = tensor.Data[float32](s)
	}
	cols := len(k.scale)
	rows := 0
	if cols > 0 {
		rows = tensor.SliceLen(x.Data) / cols
	}
	y := c.AllocRaw(tensor.Float32, x.Shape...)
	var sum *tensor.Tensor
	t := lnTaskPool.Get().(*lnTask)
	*t = lnTask{x: tensor.Data[float32](x), y: tensor.Data[float32](y), skip: skip,
		scale: k.scale, bias: k.bias, cols: cols, eps: k.eps, grain: max(1, 4096/max(cols, 1))}
	if k.skip {
		sum = c.AllocRaw(tensor.Float32, x.Shape...)
		t.sum = tensor.Data[float32](sum)
	}
	if rows > 0 {
		c.ParallelTask(linalgCeil(rows, t.grain), t)
	}
	*t = lnTask{}
	lnTaskPool.Put(t)
	if k.skip {
		return c.Outs(y, sum), nil
	}
	return c.Outs(y), nil
}

// lnTask normalizes blocks of grain rows; with skip set it first adds the
// skip row, keeping the sum.
type lnTask struct {
	x, y, skip, sum []float32
	scale, bias     []float32
	cols, grain     int
	eps             float32
}

var lnTaskPool = sync.Pool{New: func() any { return new(lnTask) }}

func (t *lnTask) Run(lo, hi int) {
	n := t.cols
	rows := len(t.x) / n
	for r := lo * t.grain; r < min(rows, hi*t.grain); r++ {
		xr := t.x[r*n : (r+1)*n]
		if t.skip != nil {
			s := t.sum[r*n : (r+1)*n]
			vec.Add(s, xr, t.skip[r*n:(r+1)*n])
			xr = s
		}
		vec.LayerNormRow(t.y[r*n:(r+1)*n], xr, t.scale, t.bias, t.eps)
	}
}
