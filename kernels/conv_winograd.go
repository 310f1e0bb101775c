package kernels

import (
	"math"
	"sync/atomic"

	"github.com/inferd/inferd/kernels/gemm"
	"github.com/inferd/inferd/kernels/winograd"
	"github.com/inferd/inferd/tensor"
)

// winoEnabled turns the Winograd path off (tests and benchmarks compare
// the two paths through it).
var winoEnabled = true

// winoApplies reports whether a float32 Conv of geometry p runs as
// Winograd F(2×2, 3×3) (kernels/winograd) when its filter is constant: a
// single-group 2-D 3×3 convolution with unit strides and dilations, with
// the transforms in assembly on this CPU, and output planes larger than
// 7×7. On 7×7 planes (ResNet's last stage at batch 1) the 16 tile
// columns fill half of each GEMM panel and U is 16/9 the filter's bytes
// to stream, so the NHWC GEMM stays ahead (BenchmarkWinograd, l4_3x3,
// forced onto Winograd: 1.56–1.68 ms against 1.31–1.33). Fewer than 4
// input or output channels also stay on the GEMM: there the transforms
// are most of the work (not measured; such layers are rare and small).
func winoApplies(p *nnConvParams) bool {
	g := p.g
	if !winoEnabled || !winograd.Accelerated() || g.nd() != 2 || p.group != 1 || p.cg < 4 || p.m < 4 {
		return false
	}
	for i := range 2 {
		if g.k[i] != 3 || g.s[i] != 1 || g.d[i] != 1 || g.pb[i] < 0 || g.pe[i] < 0 {
			return false
		}
	}
	return p.P > 64
}

// winoState is a Conv kernel's Winograd data: the filter transformed on
// the first run that takes the path, and the plan for the last geometry
// and thread count.
type winoState struct {
	filter atomic.Pointer[winograd.Filter]
	plan   atomic.Pointer[winoPlan]
}

type winoPlan struct {
	p       *nnConvParams
	threads int
	plan    *winograd.Plan
}

// winoRun computes y = ep(conv(x, w) + bias) through Winograd for a Conv
// whose params say it applies (p.wino) and whose W is the constant w.
func (k *nnConvKernel) winoRun(c *Context, p *nnConvParams, x, w *tensor.Tensor, bias, y []float32, ep *nnConvEpilogue) error {
	st := &k.wino
	f := st.filter.Load()
	if f == nil {
		var err error
		if f, err = winograd.NewFilter(w.Data.([]float32), p.m, p.c); err != nil {
			return err
		}
		st.filter.Store(f)
	}
	threads := c.gemmThreads()
	wp := st.plan.Load()
	if wp == nil || wp.p != p || wp.threads != threads {
		g := p.g
		plan, err := winograd.NewPlan(winograd.Geom{N: p.n, C: p.c, H: g.in[0], W: g.in[1], K: p.m,
			OH: g.out[0], OW: g.out[1], PT: g.pb[0], PL: g.pb[1]}, threads)
		if err != nil {
			return err
		}
		wp = &winoPlan{p: p, threads: threads, plan: plan}
		st.plan.Store(wp)
	}
	inf := float32(math.Inf(1))
	e := winograd.Epilogue{Bias: bias, Lo: -inf, Hi: inf}
	if ep != nil {
		e.Residual, e.Fn = ep.residual, ep.fn
		switch ep.act {
		case gemm.ActRelu:
			e.Lo = 0
		case gemm.ActClip:
			e.Lo, e.Hi = ep.min, ep.max
		case gemm.ActLeakyRelu:
			e.Leaky, e.Alpha = true, ep.alpha
		}
	}
	var par func(n int, fn func(lo, hi int))
	if c != nil {
		par = c.Par
	}
	wp.plan.Run(y, x.Data.([]float32), f, &e, par)
	return nil
}
