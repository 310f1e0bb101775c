package kernels

import (
	"fmt"
	"math"
	"sync"

	"github.com/inferd/inferd/kernels/vec"
	"github.com/inferd/inferd/tensor"
)

// Softmax, LogSoftmax and Hardmax. Before opset 13 the input is seen as a
// 2-D matrix [prod(d[:axis]), prod(d[axis:])] (default axis 1) and the
// function runs over each row; from opset 13 it runs along the single
// axis (default -1).

func init() {
	register("Softmax", func(b *Build) (any, error) { return newLinalgSoftmax(b, linalgSoftmax) })
	register("LogSoftmax", func(b *Build) (any, error) { return newLinalgSoftmax(b, linalgLogSoftmax) })
	register("Hardmax", func(b *Build) (any, error) { return newLinalgSoftmax(b, linalgHardmax) })
}

type linalgSoftmaxMode int

const (
	linalgSoftmax linalgSoftmaxMode = iota
	linalgLogSoftmax
	linalgHardmax
)

func newLinalgSoftmax(b *Build, mode linalgSoftmaxMode) (any, error) {
	a := b.Attrs()
	coerce := b.Opset < 13
	def := int64(-1)
	if coerce {
		def = 1
	}
	axis := a.Int("axis", def)
	if err := a.Err(); err != nil {
		return nil, err
	}
	op := b.Node.OpType
	return KernelFunc(func(c *Context, in []*tensor.Tensor) ([]*tensor.Tensor, error) {
		if len(in) < 1 || in[0] == nil {
			return nil, fmt.Errorf("%s needs an input", op)
		}
		x := in[0]
		r := x.Rank()
		ax := int(axis)
		if ax < 0 {
			ax += r
		}
		// Opset < 13 accepts axis == rank (every row has one element).
		if ax < 0 || ax > r || (ax == r && !coerce) || (r == 0 && !coerce) {
			return nil, fmt.Errorf("%s axis %d out of range for input %v", op, axis, x)
		}
		outer := tensor.NumElements(x.Shape[:ax])
		n, inner := 1, 1
		if coerce {
			n = tensor.NumElements(x.Shape[ax:])
		} else {
			n = x.Shape[ax]
			inner = tensor.NumElements(x.Shape[ax+1:])
		}
		var y *tensor.Tensor
		if mode == linalgHardmax {
			y = c.Alloc(x.DType, x.Shape...) // Hardmax writes only the ones
		} else {
			y = c.AllocRaw(x.DType, x.Shape...)
		}
		switch xv := x.Data.(type) {
		case []float32:
			linalgSoftmaxRun(c, mode, xv, y.Data.([]float32), outer, n, inner)
		case []float64:
			linalgSoftmaxRun(c, mode, xv, y.Data.([]float64), outer, n, inner)
		case []tensor.F16, []tensor.BF16:
			xf, _ := Float32s(x)
			yf := make([]float32, len(xf))
			linalgSoftmaxRun(c, mode, xf, yf, outer, n, inner)
			linalgStoreF32(y, yf)
		default:
			return nil, fmt.Errorf("%s of %v: %w", op, x.DType, ErrUnsupported)
		}
		return c.Outs(y), nil
	}), nil
}

// linalgSoftmaxBlock is how many inner positions a strided task handles.
const linalgSoftmaxBlock = 64

// linalgSoftmaxRun applies mode along the middle axis of x seen as
// [outer, n, inner].
func linalgSoftmaxRun[T float32 | float64](c *Context, mode linalgSoftmaxMode, x, y []T, outer, n, inner int) {
	if outer == 0 || n == 0 || inner == 0 {
		return
	}
	if inner == 1 {
		row := linalgSoftmaxRow[T]
		if x32, ok := any(x).([]float32); ok && mode != linalgHardmax {
			// float32 rows along the last axis: vec's vectorized rows.
			y32 := any(y).([]float32)
			t := smxTaskPool.Get().(*smxTask)
			*t = smxTask{x: x32, y: y32, n: n, grain: max(1, 4096/n), log: mode == linalgLogSoftmax}
			c.ParallelTask(linalgCeil(outer, t.grain), t)
			*t = smxTask{}
			smxTaskPool.Put(t)
			return
		}
		grain := max(1, 4096/n)
		c.Parallel(linalgCeil(outer, grain), func(lo, hi int) {
			for o := lo * grain; o < min(outer, hi*grain); o++ {
				row(mode, x[o*n:o*n+n], y[o*n:o*n+n])
			}
		})
		return
	}
	blocks := linalgCeil(inner, linalgSoftmaxBlock)
	c.Parallel(outer*blocks, func(lo, hi int) {
		var mx, sum [linalgSoftmaxBlock]float64
		var arg [linalgSoftmaxBlock]int
		for t := lo; t < hi; t++ {
			o, i0 := t/blocks, (t%blocks)*linalgSoftmaxBlock
			w := min(linalgSoftmaxBlock, inner-i0)
			base := o*n*inner + i0
			for i := 0; i < w; i++ {
				mx[i], sum[i], arg[i] = math.Inf(-1), 0, 0
			}
			for j := 0; j < n; j++ {
				row := x[base+j*inner : base+j*inner+w]
				for i, v := range row {
					if float64(v) > mx[i] {
						mx[i], arg[i] = float64(v), j
					}
				}
			}
			if mode == linalgHardmax {
				for j := 0; j < n; j++ {
					row := y[base+j*inner : base+j*inner+w]
					for i := range row {
						if arg[i] == j {
							row[i] = 1
						}
					}
				}
				continue
			}
			for j := 0; j < n; j++ {
				row := x[base+j*inner : base+j*inner+w]
				for i, v := range row {
					sum[i] += math.Exp(float64(v) - mx[i])
				}
			}
			for j := 0; j < n; j++ {
				row := x[base+j*inner : base+j*inner+w]
				out := y[base+j*inner : base+j*inner+w]
				if mode == linalgSoftmax {
					for i, v := range row {
						out[i] = T(math.Exp(float64(v)-mx[i]) / sum[i])
					}
				} else {
					for i, v := range row {
						out[i] = T(float64(v) - mx[i] - math.Log(sum[i]))
					}
				}
			}
		}
	})
}

// linalgSoftmaxRow applies mode to one contiguous row.
func linalgSoftmaxRow[T float32 | float64](mode linalgSoftmaxMode, x, y []T) {
	y = y[:len(x)]
	mx, arg := math.Inf(-1), 0
	for j, v := range x {
		if float64(v) > mx {
			mx, arg = float64(v), j
		}
	}
	switch mode {
	case linalgHardmax:
		y[arg] = 1
	case linalgSoftmax:
		sum := 0.0
		for j, v := range x {
			e := math.Exp(float64(v) - mx)
			y[j] = T(e)
			sum += e
		}
		inv := 1 / sum
		for j := range y {
			y[j] = T(float64(y[j]) * inv)
		}
	case linalgLogSoftmax:
		sum := 0.0
		for _, v := range x {
			sum += math.Exp(float64(v) - mx)
		}
		off := mx + math.Log(sum)
		for j, v := range x {
			y[j] = T(float64(v) - off)
		}
	}
}

// smxTask runs float32 softmax rows of length n along the last axis, grain
// rows a unit; tasks are pooled so that a run allocates nothing.
type smxTask struct {
	x, y     []float32
	n, grain int
	log      bool
}

var smxTaskPool = sync.Pool{New: func() any { return new(smxTask) }}

func (t *smxTask) Run(lo, hi int) {
	n, rows := t.n, len(t.x)/t.n
	for o := lo * t.grain; o < min(rows, hi*t.grain); o++ {
		if t.log {
			vec.LogSoftmaxRow(t.y[o*n:o*n+n], t.x[o*n:o*n+n])
		} else {
			vec.SoftmaxRow(t.y[o*n:o*n+n], t.x[o*n:o*n+n])
		}
	}
}
