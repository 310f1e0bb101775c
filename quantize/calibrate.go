package quantize

import (
	"context"
	"fmt"
	"math"
	"slices"

	"github.com/inferd/inferd/ir"
	"github.com/inferd/inferd/tensor"
)

// Runner runs one compiled model. Run takes the model's inputs by name and
// returns every graph output by name; the returned tensors belong to the
// caller. *engine.Session satisfies it.
type Runner interface {
	Run(ctx context.Context, inputs map[string]*tensor.Tensor) (map[string]*tensor.Tensor, error)
}

// Compiler compiles a model into a Runner. Calibration and GPTQ call it
// once, on a copy of the model whose graph outputs include the tensors
// they observe. If the Runner it returns also has a Close() method,
// quantize calls it when done. Package engine provides the compiler:
//
//	quantize.CompilerFunc(func(m *ir.Model) (quantize.Runner, error) {
//		return engine.Compile(m, engine.Options{})
//	})
type Compiler interface {
	Compile(m *ir.Model) (Runner, error)
}

// CompilerFunc adapts a function to Compiler.
type CompilerFunc func(m *ir.Model) (Runner, error)

// Compile calls f.
func (f CompilerFunc) Compile(m *ir.Model) (Runner, error) { return f(m) }

// Sample is one set of model inputs, by input name.
type Sample map[string]*tensor.Tensor

// Method picks an activation range from calibration statistics.
type Method string

// The calibration methods.
const (
	// MinMax takes the observed minimum and maximum.
	MinMax Method = "minmax"
	// Percentile clips |x| at a percentile of its observed distribution
	// (Options.Percentile, default 99.999).
	Percentile Method = "percentile"
	// Entropy picks the clipping threshold whose quantized distribution
	// is closest to the observed one in Kullback-Leibler divergence (the
	// TensorRT method).
	Entropy Method = "entropy"
	// MSE picks the clipping threshold that minimizes the expected squared
	// error of quantizing the observed distribution: rounding error inside
	// the range plus clipping error outside.
	MSE Method = "mse"
)

// histBins is the resolution of the |x| histograms the percentile,
// entropy and MSE methods read.
const histBins = 2048

// tensorStats accumulates what calibration sees of one tensor.
type tensorStats struct {
	min, max float64
	absMax   float64
	hist     []float64 // counts of |x| over [0, absMax], histBins bins
	count    int64
}

func (s *tensorStats) observeRange(v []float32) {
	for _, x := range v {
		f := float64(x)
		if math.IsNaN(f) || math.IsInf(f, 0) {
			continue
		}
		s.min = min(s.min, f)
		s.max = max(s.max, f)
	}
	s.absMax = max(-s.min, s.max)
	s.count += int64(len(v))
}

func (s *tensorStats) observeHist(v []float32) {
	if s.hist == nil {
		s.hist = make([]float64, histBins)
	}
	if s.absMax == 0 {
		s.hist[0] += float64(len(v))
		return
	}
	w := s.absMax / histBins
	for _, x := range v {
		f := math.Abs(float64(x))
		if math.IsNaN(f) || math.IsInf(f, 0) {
			continue
		}
		b := int(f / w)
		if b >= histBins {
			b = histBins - 1
		}
		s.hist[b]++
	}
}

// calibration holds the statistics of every observed tensor.
type calibration struct {
	stats map[string]*tensorStats
	// xtx, for GPTQ, holds Σ xᵀx over the rows of each tensor named in
	// wantXTX (its last dimension is K, the matrix is K×K).
	xtx map[string]*gram
}

// gram accumulates XᵀX for the rows of a [.., K] activation.
type gram struct {
	k    int
	sum  []float64 // k*k
	rows int64
}

func (g *gram) add(t *tensor.Tensor) error {
	v, ok := float32Data(t)
	if !ok || len(t.Shape) == 0 || t.Shape[len(t.Shape)-1] != g.k {
		return fmt.Errorf("activation %v does not end in dimension %d", t, g.k)
	}
	k := g.k
	for r := 0; r+k <= len(v); r += k {
		row := v[r : r+k]
		for i, a := range row {
			if a == 0 {
				continue
			}
			fa := float64(a)
			dst := g.sum[i*k : i*k+k]
			for j := i; j < k; j++ {
				dst[j] += fa * float64(row[j])
			}
		}
		g.rows++
	}
	return nil
}

// matrix returns the symmetric Σ xᵀx.
func (g *gram) matrix() []float64 {
	k := g.k
	h := slices.Clone(g.sum)
	for i := 0; i < k; i++ {
		for j := 0; j < i; j++ {
			h[i*k+j] = h[j*k+i]
		}
	}
	return h
}

// calibrate runs the model on every sample with the named tensors exposed
// as outputs and gathers their statistics. hist asks for the second pass
// that builds histograms; xtxK names tensors whose Gram matrix GPTQ needs,
// with their last dimension.
func calibrate(ctx context.Context, m *ir.Model, opts *Options, names []string, hist bool, xtxK map[string]int) (*calibration, error) {
	if opts.Compiler == nil {
		return nil, fmt.Errorf("quantize: calibration needs a Compiler")
	}
	if len(opts.Samples) == 0 {
		return nil, fmt.Errorf("quantize: calibration needs at least one sample (--calibration DIR)")
	}
	all := slices.Clone(names)
	for n := range xtxK {
		all = append(all, n)
	}
	slices.Sort(all)
	all = slices.Compact(all)
	aug := exposeValues(m, all)
	r, err := opts.Compiler.Compile(aug)
	if err != nil {
		return nil, fmt.Errorf("quantize: compiling the calibration model: %w", err)
	}
	if c, ok := r.(interface{ Close() }); ok {
		defer c.Close()
	}
	cal := &calibration{stats: map[string]*tensorStats{}, xtx: map[string]*gram{}}
	for _, n := range names {
		cal.stats[n] = &tensorStats{}
	}
	for n, k := range xtxK {
		cal.xtx[n] = &gram{k: k, sum: make([]float64, k*k)}
	}
	passes := 1
	if hist {
		passes = 2
	}
	total := passes * len(opts.Samples)
	done := 0
	progress := func() {
		done++
		if opts.Progress != nil {
			opts.Progress(done, total)
		}
	}
	for pass := 0; pass < passes; pass++ {
		for i, s := range opts.Samples {
			if err := ctx.Err(); err != nil {
				return nil, err
			}
			outs, err := r.Run(ctx, s)
			if err != nil {
				return nil, fmt.Errorf("quantize: calibration sample %d: %w", i, err)
			}
			for _, n := range names {
				t := outs[n]
				v, ok := float32Data(t)
				if !ok {
					return nil, fmt.Errorf("quantize: calibration sample %d: value %q is %v, want float32", i, n, t)
				}
				if pass == 0 {
					cal.stats[n].observeRange(v)
				} else {
					cal.stats[n].observeHist(v)
				}
			}
			if pass == 0 {
				for n, g := range cal.xtx {
					if err := g.add(outs[n]); err != nil {
						return nil, fmt.Errorf("quantize: calibration sample %d: value %q: %w", i, n, err)
					}
				}
			}
			progress()
		}
	}
	return cal, nil
}

// exposeValues returns a copy of m whose graph outputs are m's outputs
// followed by every value in names that is not one already.
func exposeValues(m *ir.Model, names []string) *ir.Model {
	c := *m
	g := *m.Graph
	g.Outputs = slices.Clone(m.Graph.Outputs)
	have := map[string]bool{}
	for _, o := range g.Outputs {
		have[o.Name] = true
	}
	for _, n := range names {
		if !have[n] {
			have[n] = true
			g.Outputs = append(g.Outputs, &ir.ValueInfo{Name: n})
		}
	}
	c.Graph = &g
	return &c
}

// threshold returns the clipping threshold on |x| that method picks for s,
// for a quantized range of `levels` steps above zero (127 for symmetric
// int8, 255 for a one-sided uint8 range).
func (s *tensorStats) threshold(method Method, percentile float64, levels int) float64 {
	if s.absMax == 0 || method == MinMax || s.hist == nil {
		return s.absMax
	}
	w := s.absMax / histBins
	switch method {
	case Percentile:
		var total float64
		for _, c := range s.hist {
			total += c
		}
		target := total * percentile / 100
		var acc float64
		for i, c := range s.hist {
			acc += c
			if acc >= target {
				return float64(i+1) * w
			}
		}
		return s.absMax
	case Entropy:
		// KL divergence over mostly empty bins is noise: with few
		// observations, merge bins (keeping at least levels+1 of them)
		// until they hold 16 on average.
		var total float64
		for _, c := range s.hist {
			total += c
		}
		hist, f := s.hist, 1
		for len(hist)/2 >= levels+1 && total/float64(len(hist)) < 16 {
			hist = mergePairs(hist)
			f *= 2
		}
		return float64(entropyBins(hist, levels+1)) * w * float64(f)
	case MSE:
		return mseThreshold(s.hist, w, levels)
	}
	return s.absMax
}

// mergePairs halves a histogram's resolution.
func mergePairs(h []float64) []float64 {
	out := make([]float64, len(h)/2)
	for i := range out {
		out[i] = h[2*i] + h[2*i+1]
	}
	return out
}

// entropyBins returns the number of histogram bins to keep so that the
// distribution clipped there and quantized into `levels` levels diverges
// least (in KL) from the observed one.
func entropyBins(hist []float64, levels int) int {
	n := len(hist)
	if levels >= n {
		return n
	}
	best, bestKL := n, math.Inf(1)
	p := make([]float64, n)
	q := make([]float64, n)
	for i := levels; i <= n; i++ {
		// Reference: the first i bins, with everything beyond folded into
		// the last one (clipping).
		copy(p, hist[:i])
		for _, c := range hist[i:] {
			p[i-1] += c
		}
		// Candidate: the first i bins merged into `levels` groups, each
		// group's mass spread evenly over its non-empty bins.
		for j := 0; j < levels; j++ {
			lo := j * i / levels
			hi := (j + 1) * i / levels
			var mass float64
			nz := 0
			for b := lo; b < hi; b++ {
				mass += hist[b]
				if hist[b] != 0 {
					nz++
				}
			}
			for b := lo; b < hi; b++ {
				q[b] = 0
				if hist[b] != 0 {
					q[b] = mass / float64(nz)
				}
			}
		}
		// The clipped mass in p's last bin is not in q: q counts only
		// hist[i-1] there, which makes outliers cost divergence.
		kl := klDivergence(p[:i], q[:i])
		if kl < bestKL {
			best, bestKL = i, kl
		}
	}
	return best
}

// klDivergence returns KL(p‖q) of two unnormalized histograms; bins where
// p has mass and q has none are charged as if q held a tiny mass there.
func klDivergence(p, q []float64) float64 {
	var sp, sq float64
	for i := range p {
		sp += p[i]
		sq += q[i]
	}
	if sp == 0 || sq == 0 {
		return math.Inf(1)
	}
	const eps = 1e-4
	var kl float64
	for i := range p {
		if p[i] == 0 {
			continue
		}
		pi := p[i] / sp
		qi := q[i] / sq
		if qi == 0 {
			qi = eps / sq
		}
		kl += pi * math.Log(pi/qi)
	}
	return kl
}

// mseThreshold returns the threshold t (a multiple of the bin width w)
// that minimizes the expected squared error of quantizing the histogram
// with step t/levels: uniform rounding error step²/12 for values inside,
// (x-t)² for values clipped to t.
func mseThreshold(hist []float64, w float64, levels int) float64 {
	n := len(hist)
	best, bestErr := float64(n)*w, math.Inf(1)
	// Try thresholds from 1/64 of the range up, in steps of one bin past
	// the first 32, which is fine enough for a 2048-bin histogram.
	for i := max(1, n/64); i <= n; i++ {
		t := float64(i) * w
		step := t / float64(levels)
		var e float64
		for b, c := range hist {
			if c == 0 {
				continue
			}
			x := (float64(b) + 0.5) * w
			if x > t {
				d := x - t
				e += c * d * d
			} else {
				e += c * step * step / 12
			}
		}
		if e < bestErr {
			best, bestErr = t, e
		}
	}
	return best
}
