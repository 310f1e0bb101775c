package main

import (
	"context"
	"fmt"
	"io"
	"os"
	"strings"
	"time"

	"github.com/inferd/inferd/engine"
	"github.com/inferd/inferd/ir"
	"github.com/inferd/inferd/onnx"
	"github.com/inferd/inferd/quantize"
	"github.com/inferd/inferd/tensor"
)

const quantizeUsage = "quantize MODEL -o OUT --mode static|dynamic|int4|fp16|bf16 [--calibration DIR] [--method minmax|percentile|entropy|mse] [--percentile P] [--activations int8|uint8] [--reduce-range] [--op-types T,..] [--exclude-nodes N,..] [--exclude-op-types T,..] [--block-size 32|64|128] [--asymmetric] [--gptq] [--keep-io-types] [--block-ops T,..]"

func quantizeCmd(args []string, stdout, stderr io.Writer) error {
	fs := newFlagSet("quantize", stderr)
	out := fs.String("o", "", "output model `FILE`")
	mode := fs.String("mode", "", "static, dynamic, int4, fp16 or bf16")
	calDir := fs.String("calibration", "", "calibration `DIR`: one sub-folder per sample with <input>.npy or input_<i>.pb")
	method := fs.String("method", "minmax", "activation range method: minmax, percentile, entropy or mse")
	percentile := fs.Float64("percentile", 99.999, "percentile of |x| kept by --method percentile")
	acts := fs.String("activations", "int8", "static activation type: int8 (symmetric) or uint8 (asymmetric)")
	reduce := fs.Bool("reduce-range", false, "7-bit int8 weights, for AVX2 kernels without VNNI")
	opTypes := fs.String("op-types", "", "comma-separated op types to quantize (default: the mode's set)")
	exNodes := fs.String("exclude-nodes", "", "comma-separated node names to leave alone")
	exOps := fs.String("exclude-op-types", "", "comma-separated op types to leave alone")
	block := fs.Int("block-size", 32, "int4 block size: 32, 64 or 128")
	asym := fs.Bool("asymmetric", false, "int4: asymmetric uint4 with a zero point per block")
	gptq := fs.Bool("gptq", false, "int4: GPTQ error correction (needs --calibration)")
	keepIO := fs.Bool("keep-io-types", false, "fp16/bf16: keep float32 model inputs and outputs")
	blockOps := fs.String("block-ops", "", "fp16/bf16: comma-separated op types to keep in float32")
	threads := fs.Int("threads", 0, "threads for calibration runs (0: all cores)")
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
	m, err := onnx.Load(pos[0])
	if err != nil {
		return err
	}
	opts := quantize.Options{
		Mode: quantize.Mode(*mode), Method: quantize.Method(*method), Percentile: *percentile,
		ReduceRange: *reduce, OpTypes: splitList(*opTypes), ExcludeNodes: splitList(*exNodes),
		ExcludeOpTypes: splitList(*exOps), BlockSize: *block, Asymmetric: *asym, GPTQ: *gptq,
		KeepIOTypes: *keepIO, BlockOps: splitList(*blockOps),
		Compiler: quantize.CompilerFunc(func(m *ir.Model) (quantize.Runner, error) {
			return engine.Compile(m, engine.Options{Threads: *threads})
		}),
	}
	switch *acts {
	case "int8":
		opts.Activations = tensor.Int8
	case "uint8":
		opts.Activations = tensor.Uint8
	default:
		return fmt.Errorf("--activations %q: want int8 or uint8", *acts)
	}
	if *calDir != "" {
		if opts.Samples, err = quantize.ReadSamples(*calDir, modelInputs(m)); err != nil {
			return err
		}
		bar := newProgressBar(stderr, "calibrating")
		opts.Progress = bar.update
	}
	start := time.Now()
	q, rep, err := quantize.Quantize(context.Background(), m, opts)
	if err != nil {
		return err
	}
	if err := onnx.Save(*out, q, onnx.SaveOptions{}); err != nil {
		return err
	}
	if err := rep.WriteTable(stdout); err != nil {
		return err
	}
	before, after := fileSize(pos[0]), fileSize(*out)
	fmt.Fprintf(stdout, "wrote %s: file %s -> %s in %.1fs\n", *out, quantize.HumanBytes(before), quantize.HumanBytes(after), time.Since(start).Seconds())
	return nil
}

// modelInputs returns the graph inputs that need values.
func modelInputs(m *ir.Model) []*ir.ValueInfo {
	var out []*ir.ValueInfo
	for _, in := range m.Graph.Inputs {
		if m.Graph.Initializer(in.Name) == nil {
			out = append(out, in)
		}
	}
	return out
}

func fileSize(path string) int64 {
	st, err := os.Stat(path)
	if err != nil {
		return 0
	}
	return st.Size()
}

// progressBar draws "label [#####.....] 12/64" on a terminal, redrawing in
// place; on anything else it prints one line when the work is done. It is
// a dozen lines, so inferd takes no dependency (and its terminal
// detection) for it.
type progressBar struct {
	w     io.Writer
	label string
	tty   bool
}

func newProgressBar(w io.Writer, label string) *progressBar {
	tty := false
	if f, ok := w.(*os.File); ok {
		if st, err := f.Stat(); err == nil {
			tty = st.Mode()&os.ModeCharDevice != 0
		}
	}
	return &progressBar{w: w, label: label, tty: tty}
}

func (p *progressBar) update(done, total int) {
	const width = 30
	if p.tty {
		n := width * done / max(1, total)
		fmt.Fprintf(p.w, "\r%s [%s%s] %d/%d", p.label, strings.Repeat("#", n), strings.Repeat(".", width-n), done, total)
		if done == total {
			fmt.Fprintln(p.w)
		}
		return
	}
	if done == total {
		fmt.Fprintf(p.w, "%s: %d runs done\n", p.label, total)
	}
}
