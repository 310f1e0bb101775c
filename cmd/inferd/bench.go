package main

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"math/rand/v2"
	"slices"
	"time"

	"github.com/inferd/inferd/engine"
	"github.com/inferd/inferd/ir"
	"github.com/inferd/inferd/tensor"
)

// benchResult is the --json output of inferd bench.
type benchResult struct {
	Model    string  `json:"model"`
	Threads  int     `json:"threads"`
	Iters    int     `json:"iters"`
	MedianMS float64 `json:"median_ms"`
	P90MS    float64 `json:"p90_ms"`
	P99MS    float64 `json:"p99_ms"`
	MinMS    float64 `json:"min_ms"`
	MeanMS   float64 `json:"mean_ms"`
	// ArenaBytes is the kernel output storage one run keeps for reuse;
	// PeakRSSBytes the process's peak resident memory.
	ArenaBytes   int64 `json:"arena_bytes"`
	PeakRSSBytes int64 `json:"peak_rss_bytes"`
}

func benchCmd(args []string, stdout, stderr io.Writer) error {
	fs := newFlagSet("bench", stderr)
	var inputs, shapes kvFlags
	fs.Var(&inputs, "i", "input `NAME=FILE` (.npy or .pb); inputs not given are random")
	fs.Var(&shapes, "shape", "shape `NAME=D,D,...` for a random input whose declared shape is not fixed")
	threads := fs.Int("threads", 0, "intra-op threads (0: all cores)")
	warmup := fs.Int("warmup", 5, "untimed runs before timing")
	iters := fs.Int("iters", 50, "timed runs")
	asJSON := fs.Bool("json", false, "print one JSON object")
	optLevel := fs.String("opt-level", "extended", "graph optimization `LEVEL`: none, basic or extended")
	profile := fs.Int("profile", 0, "after timing, print the `N` slowest nodes and the time per op type (timing adds a little overhead per node)")
	pos, err := parseInterleaved(fs, args)
	if err != nil {
		return err
	}
	if len(pos) != 1 {
		return fmt.Errorf("want one MODEL argument, got %d", len(pos))
	}
	if *iters < 1 || *warmup < 0 {
		return fmt.Errorf("--iters must be ≥ 1 and --warmup ≥ 0")
	}
	sess, err := loadSessionOpts(pos[0], *threads, *optLevel, *profile > 0)
	if err != nil {
		return err
	}
	defer sess.Close()
	feeds := map[string]*tensor.Tensor{}
	for i, name := range inputs.keys {
		t, err := readInput(inputs.vals[i])
		if err != nil {
			return fmt.Errorf("input %q: %w", name, err)
		}
		feeds[name] = t
	}
	shapeOf := map[string][]int{}
	for i, name := range shapes.keys {
		s, err := parseShape(shapes.vals[i])
		if err != nil {
			return fmt.Errorf("--shape %s: %w", name, err)
		}
		shapeOf[name] = s
	}
	rng := rand.New(rand.NewPCG(1, 2))
	for _, in := range sess.Inputs() {
		if _, ok := feeds[in.Name]; ok {
			continue
		}
		shape, err := benchShape(in, shapeOf[in.Name], stderr)
		if err != nil {
			return err
		}
		t, err := randomTensor(in.Type.DType, shape, rng)
		if err != nil {
			return fmt.Errorf("input %q: %w", in.Name, err)
		}
		feeds[in.Name] = t
	}
	ctx := context.Background()
	for i := 0; i < *warmup; i++ {
		if _, err := sess.Run(ctx, feeds); err != nil {
			return err
		}
	}
	sess.ResetProfile()
	times := make([]float64, *iters)
	for i := range times {
		start := time.Now()
		if _, err := sess.Run(ctx, feeds); err != nil {
			return err
		}
		times[i] = float64(time.Since(start).Nanoseconds()) / 1e6
	}
	r := summarize(pos[0], sess, times)
	if *asJSON {
		enc := json.NewEncoder(stdout)
		return enc.Encode(r)
	}
	fmt.Fprintf(stdout, "%s: %d threads, %d iterations: median %.3f ms, p90 %.3f ms, p99 %.3f ms, min %.3f ms, mean %.3f ms; arena %s, peak RSS %s\n",
		r.Model, r.Threads, r.Iters, r.MedianMS, r.P90MS, r.P99MS, r.MinMS, r.MeanMS, humanBytes(int(r.ArenaBytes)), humanBytes(int(r.PeakRSSBytes)))
	if *profile > 0 {
		printProfile(stdout, sess.Profile(), *iters, *profile)
	}
	return nil
}

// printProfile prints the time per op type and the n slowest nodes, each
// as milliseconds per run and share of the total.
func printProfile(w io.Writer, prof []engine.NodeTime, runs, n int) {
	var total time.Duration
	type opTime struct {
		op    string
		nodes int
		t     time.Duration
	}
	byOp := map[string]*opTime{}
	for _, p := range prof {
		total += p.Total
		o := byOp[p.Op]
		if o == nil {
			o = &opTime{op: p.Op}
			byOp[p.Op] = o
		}
		o.nodes++
		o.t += p.Total
	}
	if total == 0 {
		return
	}
	ops := make([]*opTime, 0, len(byOp))
	for _, o := range byOp {
		ops = append(ops, o)
	}
	slices.SortFunc(ops, func(a, b *opTime) int { return int(b.t - a.t) })
	perRun := func(d time.Duration) float64 { return float64(d.Nanoseconds()) / 1e6 / float64(runs) }
	pct := func(d time.Duration) float64 { return 100 * float64(d) / float64(total) }
	fmt.Fprintf(w, "\nper op type (ms per run, share of node time %.3f ms):\n", perRun(total))
	for _, o := range ops {
		fmt.Fprintf(w, "  %-32s %4d nodes %9.3f ms %5.1f%%\n", o.op, o.nodes, perRun(o.t), pct(o.t))
	}
	nodes := slices.Clone(prof)
	slices.SortFunc(nodes, func(a, b engine.NodeTime) int { return int(b.Total - a.Total) })
	fmt.Fprintf(w, "\nslowest nodes:\n")
	for _, p := range nodes[:min(n, len(nodes))] {
		fmt.Fprintf(w, "  %-40s %-24s %9.3f ms %5.1f%%\n", p.Node, p.Op, perRun(p.Total), pct(p.Total))
	}
}

func summarize(model string, s *engine.Session, times []float64) benchResult {
	sorted := slices.Clone(times)
	slices.Sort(sorted)
	q := func(p float64) float64 {
		i := int(p*float64(len(sorted)-1) + 0.5)
		return sorted[i]
	}
	mean := 0.0
	for _, t := range times {
		mean += t
	}
	return benchResult{Model: model, Threads: s.Threads(), Iters: len(times),
		MedianMS: q(0.5), P90MS: q(0.9), P99MS: q(0.99), MinMS: sorted[0], MeanMS: mean / float64(len(times)),
		ArenaBytes: s.ArenaBytes(), PeakRSSBytes: peakRSS()}
}

func benchShape(in *ir.ValueInfo, given []int, stderr io.Writer) ([]int, error) {
	if given != nil {
		return given, nil
	}
	if in.Type.Kind != ir.TensorKind || in.Type.Shape == nil {
		return nil, fmt.Errorf("input %q has no declared shape: give --shape %s=D,D,...", in.Name, in.Name)
	}
	shape := make([]int, len(in.Type.Shape))
	for i, d := range in.Type.Shape {
		if d.Known() {
			shape[i] = int(d.Value)
			continue
		}
		shape[i] = 1
		fmt.Fprintf(stderr, "inferd bench: input %q dimension %d (%s) is not fixed: using 1 (set it with --shape)\n", in.Name, i, d)
	}
	return shape, nil
}

// randomTensor draws values in [-1, 1) for floats and [0, 10) for integers,
// small enough to be valid token ids or indices for most models.
func randomTensor(dt tensor.DType, shape []int, rng *rand.Rand) (*tensor.Tensor, error) {
	t := tensor.New(dt, shape...)
	switch s := t.Data.(type) {
	case []float32:
		for i := range s {
			s[i] = rng.Float32()*2 - 1
		}
	case []float64:
		for i := range s {
			s[i] = rng.Float64()*2 - 1
		}
	case []tensor.F16:
		for i := range s {
			s[i] = tensor.F16FromFloat32(rng.Float32()*2 - 1)
		}
	case []tensor.BF16:
		for i := range s {
			s[i] = tensor.BF16FromFloat32(rng.Float32()*2 - 1)
		}
	case []int64:
		for i := range s {
			s[i] = rng.Int64N(10)
		}
	case []int32:
		for i := range s {
			s[i] = rng.Int32N(10)
		}
	case []int8:
		for i := range s {
			s[i] = int8(rng.IntN(10))
		}
	case []uint8:
		for i := range s {
			s[i] = uint8(rng.IntN(10))
		}
	case []bool:
		for i := range s {
			s[i] = rng.IntN(2) == 1
		}
	default:
		return nil, fmt.Errorf("cannot draw random %v values: give the input with -i", dt)
	}
	return t, nil
}
