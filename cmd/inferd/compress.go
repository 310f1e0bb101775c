package main

import (
	"context"
	"fmt"
	"io"
	"math/rand/v2"
	"strconv"
	"strings"
	"text/tabwriter"

	"github.com/inferd/inferd/compress"
	"github.com/inferd/inferd/kernels"
	"github.com/inferd/inferd/onnx"
	"github.com/inferd/inferd/quantize"
	"github.com/inferd/inferd/tensor"
)

const compressUsage = "compress MODEL -o OUT [--prune magnitude|n:m|N:M|channels --sparsity S] [--low-rank ENERGY] [--share-weights K] [--op-types T,..] [--exclude-nodes N,..] [--min-params N] [--data DIR [--labels FILE]] [--threads N] [--iters N]"

func compressCmd(args []string, stdout, stderr io.Writer) error {
	fs := newFlagSet("compress", stderr)
	out := fs.String("o", "", "output model `FILE`")
	prune := fs.String("prune", "", "magnitude, n:m (2:4), N:M (e.g. 1:4) or channels")
	sparsity := fs.Float64("sparsity", 0.5, "fraction of weights (magnitude) or channels (channels) to remove")
	lowRank := fs.Float64("low-rank", 0, "factor Gemm/MatMul weights keeping this fraction of their energy (e.g. 0.9)")
	share := fs.Int("share-weights", 0, "cluster each weight into K shared values (2..256)")
	opTypes := fs.String("op-types", "", "comma-separated op types whose weights to compress (default Conv,Gemm,MatMul)")
	exNodes := fs.String("exclude-nodes", "", "comma-separated node names to leave alone")
	minParams := fs.Int("min-params", 256, "skip weights with fewer elements")
	data := fs.String("data", "", "input `DIR` for the before/after comparison (default: one random input)")
	labels := fs.String("labels", "", "class labels (.npy) for --data: reports accuracy before and after")
	threads := fs.Int("threads", 1, "intra-op threads for the latency measurement")
	iters := fs.Int("iters", 50, "timed runs for latency")
	pos, err := parseInterleaved(fs, args)
	if err != nil {
		return err
	}
	if len(pos) != 1 {
		return fmt.Errorf("want one MODEL argument, got %d", len(pos))
	}
	if *out == "" {
		return fmt.Errorf("-o OUT is required")
	}
	opts := compress.Options{LowRank: *lowRank, ShareWeights: *share, OpTypes: splitList(*opTypes),
		ExcludeNodes: splitList(*exNodes), MinParams: *minParams}
	switch p := strings.ToLower(*prune); {
	case p == "":
	case p == "magnitude" || p == "channels" || p == "n:m":
		opts.Prune, opts.Sparsity = compress.Prune(p), *sparsity
	case strings.Contains(p, ":"):
		a, b, _ := strings.Cut(p, ":")
		n, e1 := strconv.Atoi(a)
		m, e2 := strconv.Atoi(b)
		if e1 != nil || e2 != nil {
			return fmt.Errorf("--prune %q: want magnitude, channels or N:M", *prune)
		}
		opts.Prune, opts.N, opts.M = compress.NM, n, m
	default:
		return fmt.Errorf("--prune %q: want magnitude, channels or N:M", *prune)
	}
	m, err := onnx.Load(pos[0])
	if err != nil {
		return err
	}
	c, rep, err := compress.Compress(m, opts)
	if err != nil {
		return err
	}
	if err := onnx.Save(*out, c, onnx.SaveOptions{}); err != nil {
		return err
	}
	writeCompressReport(stdout, rep)

	// Measure what it changed: outputs, size and latency, before and after.
	base, err := loadSession(pos[0], *threads, "extended")
	if err != nil {
		return err
	}
	defer base.Close()
	cand, err := loadSession(*out, *threads, "extended")
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
			return err
		}
	}
	res, err := evaluate(context.Background(), base, cand, samples, want)
	if err != nil {
		return err
	}
	res.Baseline.Path, res.Candidate.Path = pos[0], *out
	for _, f := range []*modelFacts{&res.Baseline, &res.Candidate} {
		if f.FileBytes, f.GzipBytes, err = fileSizes(f.Path); err != nil {
			return err
		}
	}
	lat := latencyInputs(base, samples[0])
	if res.Baseline.MedianMS, err = medianLatency(base, lat, *iters); err != nil {
		return err
	}
	if res.Candidate.MedianMS, err = medianLatency(cand, lat, *iters); err != nil {
		return err
	}
	res.Baseline.Batch, res.Candidate.Batch = batchOf(lat), batchOf(lat)
	fmt.Fprintln(stdout)
	if err := res.write(stdout); err != nil {
		return err
	}
	if rep.Dense {
		fmt.Fprintln(stdout, "\nnote: pruning kept every shape (zeros are stored): the file is no smaller and no faster as stored;\nonly its compressed (gzip) size shrinks, or a sparse kernel could use it.")
	}
	return nil
}

func writeCompressReport(w io.Writer, r *compress.Report) {
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	fmt.Fprintln(tw, "node\top\tweight\tbefore\tafter\tchange\t")
	for _, c := range r.Changes {
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t%s\t\n", c.Node, c.OpType, c.Weight, tensor.ShapeString(c.Before), tensor.ShapeString(c.After), c.What)
	}
	for _, c := range r.Skipped {
		fmt.Fprintf(tw, "%s\t%s\t%s\t\t\tkept: %s\t\n", c.Node, c.OpType, c.Weight, c.What)
	}
	tw.Flush()
	fmt.Fprintf(w, "\nparameters %d -> %d (%d -> %d zeros); weights %s -> %s\n", r.ParamsBefore, r.ParamsAfter, r.ZerosBefore, r.ZerosAfter,
		quantize.HumanBytes(r.ParamBytesBefore), quantize.HumanBytes(r.ParamBytesAfter))
}
