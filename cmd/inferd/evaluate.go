package main

import (
	"bytes"
	"compress/gzip"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"math"
	"math/rand/v2"
	"os"
	"slices"
	"text/tabwriter"
	"time"

	"github.com/inferd/inferd/engine"
	"github.com/inferd/inferd/kernels"
	"github.com/inferd/inferd/quantize"
	"github.com/inferd/inferd/tensor"
)

const evaluateUsage = "evaluate BASELINE CANDIDATE [--data DIR] [--labels FILE.npy] [--threads N] [--iters N] [--json]"

// outputMetrics compares one output of the candidate with the baseline's,
// over every sample.
type outputMetrics struct {
	Name string `json:"name"`
	// Cosine similarity of the two outputs flattened over all samples;
	// SNR in dB (baseline power over error power); MaxAbsErr the largest
	// elementwise difference.
	Cosine    float64 `json:"cosine"`
	SNRdB     float64 `json:"snr_db"`
	MaxAbsErr float64 `json:"max_abs_err"`
	// Top1 is the fraction of rows (last axis = classes) whose argmax
	// agrees; -1 for outputs of rank < 2.
	Top1 float64 `json:"top1_agreement"`
	Rows int     `json:"rows"`

	dot, bb, cc, ee float64
	agree           int
}

// modelFacts is what evaluate reports of each model.
type modelFacts struct {
	Path      string  `json:"path"`
	FileBytes int64   `json:"file_bytes"`
	GzipBytes int64   `json:"gzip_bytes"`
	MedianMS  float64 `json:"median_ms"`
	Batch     int     `json:"latency_batch"`
	// Accuracy against --labels (top-1 of the first output), or -1.
	Accuracy float64 `json:"accuracy"`
	correct  int
}

type evaluateResult struct {
	Baseline  modelFacts      `json:"baseline"`
	Candidate modelFacts      `json:"candidate"`
	Samples   int             `json:"samples"`
	Outputs   []outputMetrics `json:"outputs"`
}

func evaluateCmd(args []string, stdout, stderr io.Writer) error {
	fs := newFlagSet("evaluate", stderr)
	data := fs.String("data", "", "input `DIR`: one sub-folder per sample (as for quantize --calibration); default one random input")
	labels := fs.String("labels", "", "int64 class labels (.npy), one per row of the first output over all samples in order: reports accuracy")
	threads := fs.Int("threads", 1, "intra-op threads for both models")
	iters := fs.Int("iters", 50, "timed runs for latency (batch 1 where the batch dimension is free)")
	asJSON := fs.Bool("json", false, "print one JSON object")
	pos, err := parseInterleaved(fs, args)
	if err != nil {
		return err
	}
	if len(pos) != 2 {
		return fmt.Errorf("want BASELINE and CANDIDATE, got %d arguments", len(pos))
	}
	base, err := loadSession(pos[0], *threads, "extended")
	if err != nil {
		return err
	}
	defer base.Close()
	cand, err := loadSession(pos[1], *threads, "extended")
	if err != nil {
		return err
	}
	defer cand.Close()
	var samples []quantize.Sample
	if *data != "" {
		if samples, err = quantize.ReadSamples(*data, base.Inputs()); err != nil {
			return err
		}
	} else {
		s := quantize.Sample{}
		rng := rand.New(rand.NewPCG(1, 2))
		for _, in := range base.Inputs() {
			shape, err := benchShape(in, nil, io.Discard)
			if err != nil {
				return err
			}
			if s[in.Name], err = randomTensor(in.Type.DType, shape, rng); err != nil {
				return fmt.Errorf("input %q: %w", in.Name, err)
			}
		}
		samples = []quantize.Sample{s}
	}
	var want []int64
	if *labels != "" {
		t, err := readInput(*labels)
		if err != nil {
			return err
		}
		if want, err = kernels.Int64s(t); err != nil {
			return fmt.Errorf("%s: %w", *labels, err)
		}
	}
	res, err := evaluate(context.Background(), base, cand, samples, want)
	if err != nil {
		return err
	}
	res.Baseline.Path, res.Candidate.Path = pos[0], pos[1]
	for _, f := range []*modelFacts{&res.Baseline, &res.Candidate} {
		if f.FileBytes, f.GzipBytes, err = fileSizes(f.Path); err != nil {
			return err
		}
	}
	lat := latencyInputs(base, samples[0])
	if res.Baseline.MedianMS, err = medianLatency(base, lat, *iters); err != nil {
		return err
	}
	clat, err := convertInputs(cand, lat)
	if err != nil {
		return err
	}
	if res.Candidate.MedianMS, err = medianLatency(cand, clat, *iters); err != nil {
		return err
	}
	res.Baseline.Batch, res.Candidate.Batch = batchOf(lat), batchOf(lat)
	if *asJSON {
		return json.NewEncoder(stdout).Encode(res)
	}
	return res.write(stdout)
}

// evaluate runs both sessions on every sample and compares their outputs.
func evaluate(ctx context.Context, base, cand *engine.Session, samples []quantize.Sample, labels []int64) (*evaluateResult, error) {
	res := &evaluateResult{Samples: len(samples), Baseline: modelFacts{Accuracy: -1}, Candidate: modelFacts{Accuracy: -1}}
	for _, o := range base.Outputs() {
		res.Outputs = append(res.Outputs, outputMetrics{Name: o.Name, Top1: -1})
	}
	row := 0
	for i, s := range samples {
		bo, err := base.Run(ctx, s)
		if err != nil {
			return nil, fmt.Errorf("baseline, sample %d: %w", i, err)
		}
		cs, err := convertInputs(cand, s)
		if err != nil {
			return nil, fmt.Errorf("candidate, sample %d: %w", i, err)
		}
		co, err := cand.Run(ctx, cs)
		if err != nil {
			return nil, fmt.Errorf("candidate, sample %d: %w", i, err)
		}
		for k := range res.Outputs {
			om := &res.Outputs[k]
			b, c := bo[om.Name], co[om.Name]
			if c == nil {
				return nil, fmt.Errorf("the candidate has no output %q", om.Name)
			}
			bv, err := kernels.Float64s(b)
			if err != nil {
				return nil, fmt.Errorf("output %q: %w", om.Name, err)
			}
			cv, err := kernels.Float64s(c)
			if err != nil {
				return nil, fmt.Errorf("output %q: %w", om.Name, err)
			}
			if len(bv) != len(cv) {
				return nil, fmt.Errorf("output %q: baseline %v, candidate %v", om.Name, b, c)
			}
			for j := range bv {
				d := bv[j] - cv[j]
				om.dot += bv[j] * cv[j]
				om.bb += bv[j] * bv[j]
				om.cc += cv[j] * cv[j]
				om.ee += d * d
				om.MaxAbsErr = max(om.MaxAbsErr, math.Abs(d))
			}
			if b.Rank() >= 2 {
				classes := b.Shape[b.Rank()-1]
				for r := 0; r+classes <= len(bv); r += classes {
					ab, ac := argmax(bv[r:r+classes]), argmax(cv[r:r+classes])
					if ab == ac {
						om.agree++
					}
					if k == 0 && labels != nil {
						if row >= len(labels) {
							return nil, fmt.Errorf("more rows than labels (%d)", len(labels))
						}
						if int64(ab) == labels[row] {
							res.Baseline.correct++
						}
						if int64(ac) == labels[row] {
							res.Candidate.correct++
						}
						row++
					}
					om.Rows++
				}
			}
		}
	}
	for k := range res.Outputs {
		om := &res.Outputs[k]
		om.Cosine = om.dot / math.Sqrt(om.bb*om.cc)
		if om.bb == 0 && om.cc == 0 {
			om.Cosine = 1
		}
		om.SNRdB = 10 * math.Log10(om.bb/om.ee)
		if om.Rows > 0 {
			om.Top1 = float64(om.agree) / float64(om.Rows)
		}
	}
	if labels != nil {
		if row != len(labels) {
			return nil, fmt.Errorf("%d labels for %d rows", len(labels), row)
		}
		res.Baseline.Accuracy = float64(res.Baseline.correct) / float64(row)
		res.Candidate.Accuracy = float64(res.Candidate.correct) / float64(row)
	}
	return res, nil
}

// convertInputs returns the sample with float inputs converted to the
// element type s declares (a model quantized to fp16 without
// --keep-io-types takes float16 inputs).
func convertInputs(s *engine.Session, sample quantize.Sample) (quantize.Sample, error) {
	out := quantize.Sample{}
	for k, v := range sample {
		out[k] = v
	}
	for _, in := range s.Inputs() {
		t := sample[in.Name]
		if t == nil || in.Type.DType == tensor.Undefined || t.DType == in.Type.DType || !t.DType.IsFloat() || !in.Type.DType.IsFloat() {
			continue
		}
		v, err := kernels.Float64s(t)
		if err != nil {
			return nil, err
		}
		if out[in.Name], err = kernels.FromFloat64s(in.Type.DType, t.Shape, v); err != nil {
			return nil, err
		}
	}
	return out, nil
}

func argmax(v []float64) int {
	best := 0
	for i, x := range v {
		if x > v[best] {
			best = i
		}
	}
	return best
}

func (r *evaluateResult) write(w io.Writer) error {
	fmt.Fprintf(w, "%d samples\n", r.Samples)
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', tabwriter.AlignRight)
	fmt.Fprintln(tw, "output\tcosine\tSNR dB\tmax abs err\ttop-1 agreement\t")
	for _, o := range r.Outputs {
		top := "-"
		if o.Top1 >= 0 {
			top = fmt.Sprintf("%.2f%% of %d", 100*o.Top1, o.Rows)
		}
		fmt.Fprintf(tw, "%s\t%.6f\t%.2f\t%.4g\t%s\t\n", o.Name, o.Cosine, o.SNRdB, o.MaxAbsErr, top)
	}
	if err := tw.Flush(); err != nil {
		return err
	}
	fmt.Fprintln(w)
	tw = tabwriter.NewWriter(w, 0, 0, 2, ' ', tabwriter.AlignRight)
	fmt.Fprintln(tw, "model\tfile\tgzip\tmedian latency\taccuracy\t")
	for _, f := range []modelFacts{r.Baseline, r.Candidate} {
		acc := "-"
		if f.Accuracy >= 0 {
			acc = fmt.Sprintf("%.2f%%", 100*f.Accuracy)
		}
		fmt.Fprintf(tw, "%s\t%s\t%s\t%.3f ms (batch %d)\t%s\t\n", f.Path, quantize.HumanBytes(f.FileBytes), quantize.HumanBytes(f.GzipBytes), f.MedianMS, f.Batch, acc)
	}
	return tw.Flush()
}

// fileSizes returns a file's size and its size gzipped (level 9), which
// is what a pruned model whose zeros are still stored densely saves.
func fileSizes(path string) (int64, int64, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return 0, 0, err
	}
	var buf bytes.Buffer
	zw, _ := gzip.NewWriterLevel(&buf, gzip.BestCompression)
	zw.Write(data)
	if err := zw.Close(); err != nil {
		return 0, 0, err
	}
	return int64(len(data)), int64(buf.Len()), nil
}

// latencyInputs returns the sample cut to its first row along dimension 0
// for every input whose declared first dimension is not fixed, so latency
// is measured at batch 1 even when the data folder holds one big batch.
func latencyInputs(s *engine.Session, sample map[string]*tensor.Tensor) map[string]*tensor.Tensor {
	out := map[string]*tensor.Tensor{}
	for _, in := range s.Inputs() {
		t := sample[in.Name]
		if t != nil && t.Rank() > 0 && t.Shape[0] > 1 && len(in.Type.Shape) > 0 && !in.Type.Shape[0].Known() {
			shape := slices.Clone(t.Shape)
			shape[0] = 1
			one := tensor.New(t.DType, shape...)
			tensor.CopySlice(one.Data, t.Data)
			t = one
		}
		out[in.Name] = t
	}
	return out
}

func batchOf(in map[string]*tensor.Tensor) int {
	for _, t := range in {
		if t.Rank() > 0 {
			return t.Shape[0]
		}
	}
	return 1
}

// medianLatency runs s a few times untimed, then iters times, and returns
// the median in milliseconds.
func medianLatency(s *engine.Session, in map[string]*tensor.Tensor, iters int) (float64, error) {
	ctx := context.Background()
	for i := 0; i < 3; i++ {
		if _, err := s.Run(ctx, in); err != nil {
			return 0, err
		}
	}
	times := make([]float64, max(1, iters))
	for i := range times {
		start := time.Now()
		if _, err := s.Run(ctx, in); err != nil {
			return 0, err
		}
		times[i] = float64(time.Since(start).Nanoseconds()) / 1e6
	}
	slices.Sort(times)
	return times[len(times)/2], nil
}
