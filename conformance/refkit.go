package conformance

import (
	"context"
	"fmt"
	"math"
	"os"
	"path/filepath"
	"regexp"
	"sort"

	"github.com/inferd/inferd/engine"
	"github.com/inferd/inferd/kernels"
	"github.com/inferd/inferd/onnx"
	"github.com/inferd/inferd/tensor"
)

// RefkitTolerance is the largest relative L2 error inferd may show against
// PyTorch's outputs on a refkit model (DESIGN.md: fp32, 1e-4).
const RefkitTolerance = 1e-4

// RefkitResult is the outcome of one model file at one batch size.
type RefkitResult struct {
	Model string
	Batch int
	// RelL2 is the worst relative L2 error over the outputs.
	RelL2 float64
	Err   error
}

var batchInput = regexp.MustCompile(`^b(\d+)_input_0\.npy$`)

// RunRefkitDir checks every <name>_opset<K>.onnx in a refkit model folder
// (the layout ../shared/refkit/make_models.py writes) against each
// b<B>_output_<j>.npy reference made by PyTorch from b<B>_input_<i>.npy.
func RunRefkitDir(dir string, threads int) []RefkitResult {
	models, _ := filepath.Glob(filepath.Join(dir, "*.onnx"))
	sort.Strings(models)
	entries, _ := os.ReadDir(dir)
	var batches []string
	for _, e := range entries {
		if m := batchInput.FindStringSubmatch(e.Name()); m != nil {
			batches = append(batches, m[1])
		}
	}
	sort.Strings(batches)
	var out []RefkitResult
	for _, path := range models {
		m, err := onnx.Load(path)
		if err != nil {
			out = append(out, RefkitResult{Model: path, Err: err})
			continue
		}
		s, err := engine.Compile(m, engine.Options{Threads: threads})
		if err != nil {
			out = append(out, RefkitResult{Model: path, Err: err})
			continue
		}
		// Every batch runs twice on one session, so storage the engine
		// recycles between runs is checked too.
		for _, b := range append(batches, batches...) {
			r := RefkitResult{Model: path}
			fmt.Sscan(b, &r.Batch)
			r.RelL2, r.Err = runRefkitBatch(s, dir, b)
			out = append(out, r)
		}
		s.Close()
	}
	return out
}

func runRefkitBatch(s *engine.Session, dir, b string) (float64, error) {
	feeds := map[string]*tensor.Tensor{}
	for i, in := range s.Inputs() {
		t, err := readNpyFile(filepath.Join(dir, fmt.Sprintf("b%s_input_%d.npy", b, i)))
		if err != nil {
			return 0, err
		}
		feeds[in.Name] = t
	}
	got, err := s.Run(context.Background(), feeds)
	if err != nil {
		return 0, err
	}
	worst := 0.0
	for j, o := range s.Outputs() {
		want, err := readNpyFile(filepath.Join(dir, fmt.Sprintf("b%s_output_%d.npy", b, j)))
		if err != nil {
			return 0, err
		}
		e, err := RelL2(got[o.Name], want)
		if err != nil {
			return 0, fmt.Errorf("output %q: %w", o.Name, err)
		}
		worst = math.Max(worst, e)
	}
	return worst, nil
}

func readNpyFile(path string) (*tensor.Tensor, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	t, err := tensor.ReadNpy(f)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	return t, nil
}

// RelL2 returns ‖got − want‖₂ / ‖want‖₂ (or ‖got − want‖₂ when want is all
// zeros) after checking that shapes match.
func RelL2(got, want *tensor.Tensor) (float64, error) {
	if got == nil {
		return 0, fmt.Errorf("missing")
	}
	if !tensor.EqualShapes(got.Shape, want.Shape) {
		return 0, fmt.Errorf("shape %v, want %v", tensor.ShapeString(got.Shape), tensor.ShapeString(want.Shape))
	}
	g, err := kernels.Float64s(got)
	if err != nil {
		return 0, err
	}
	w, err := kernels.Float64s(want)
	if err != nil {
		return 0, err
	}
	var num, den float64
	for i := range w {
		d := g[i] - w[i]
		num += d * d
		den += w[i] * w[i]
	}
	if math.IsNaN(num) {
		return math.Inf(1), nil
	}
	if den == 0 {
		return math.Sqrt(num), nil
	}
	return math.Sqrt(num / den), nil
}
