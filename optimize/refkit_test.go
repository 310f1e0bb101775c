package optimize_test

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"sort"
	"testing"

	"github.com/inferd/inferd/engine"
	"github.com/inferd/inferd/ir"
	"github.com/inferd/inferd/onnx"
	"github.com/inferd/inferd/optimize"
	"github.com/inferd/inferd/tensor"
)

// refkitTolerance is how far an optimized model's outputs may stray from
// the unoptimized model's (relative L2): fusions reorder float arithmetic,
// nothing more.
const refkitTolerance = 1e-5

var batchInput = regexp.MustCompile(`^b(\d+)_input_0\.npy$`)

// checkRefkitDir optimizes every model of a refkit folder at both levels
// and compares outputs on each reference batch with the unoptimized
// model's (and with PyTorch's reference outputs, at DESIGN.md's 1e-4).
func checkRefkitDir(t *testing.T, dir string) {
	models, _ := filepath.Glob(filepath.Join(dir, "*.onnx"))
	entries, _ := os.ReadDir(dir)
	var batches []string
	for _, e := range entries {
		if m := batchInput.FindStringSubmatch(e.Name()); m != nil {
			batches = append(batches, m[1])
		}
	}
	sort.Strings(batches)
	for _, path := range models {
		t.Run(filepath.Base(path), func(t *testing.T) {
			m, err := onnx.Load(path)
			if err != nil {
				t.Fatal(err)
			}
			base, err := engine.Compile(m, engine.Options{Threads: 1, Optimize: optimize.LevelNone})
			if err != nil {
				t.Fatal(err)
			}
			defer base.Close()
			for _, level := range []optimize.Level{optimize.LevelBasic, optimize.LevelExtended} {
				opt := optimize.Clone(m)
				rep, err := optimize.Run(context.Background(), opt, optimize.Options{Level: level, Evaluator: engine.Evaluator{}})
				if err != nil {
					t.Fatalf("%v: %v", level, err)
				}
				if err := ir.Verify(opt); err != nil {
					t.Fatalf("%v: invalid result: %v", level, err)
				}
				if level == optimize.LevelBasic {
					for op := range rep.After {
						if rep.Before[op] == 0 && !standardOps[op] {
							t.Errorf("basic level introduced %s", op)
						}
					}
				}
				s, err := engine.Compile(opt, engine.Options{Threads: 1, Optimize: optimize.LevelNone})
				if err != nil {
					t.Fatalf("%v: %v", level, err)
				}
				for _, b := range batches {
					feeds := map[string]*tensor.Tensor{}
					for i, in := range base.Inputs() {
						feeds[in.Name] = readNpy(t, filepath.Join(dir, fmt.Sprintf("b%s_input_%d.npy", b, i)))
					}
					want, err := base.Run(context.Background(), feeds)
					if err != nil {
						t.Fatal(err)
					}
					got, err := s.Run(context.Background(), feeds)
					if err != nil {
						t.Fatalf("%v batch %s: %v", level, b, err)
					}
					worst, worstRef := 0.0, 0.0
					for j, o := range base.Outputs() {
						worst = max(worst, relL2(got[o.Name], want[o.Name]))
						ref := readNpy(t, filepath.Join(dir, fmt.Sprintf("b%s_output_%d.npy", b, j)))
						worstRef = max(worstRef, relL2(got[o.Name], ref))
					}
					if worst > refkitTolerance {
						t.Errorf("%v batch %s: relative L2 error %.3g against the unoptimized model, want ≤ %g", level, b, worst, refkitTolerance)
					}
					if worstRef > 1e-4 {
						t.Errorf("%v batch %s: relative L2 error %.3g against PyTorch, want ≤ 1e-4", level, b, worstRef)
					}
					t.Logf("%-8v batch %s: %4d -> %4d nodes, rel. L2 %.2g (vs PyTorch %.2g)", level, b, rep.NodesBefore(), rep.NodesAfter(), worst, worstRef)
				}
				s.Close()
			}
		})
	}
}

// standardOps are the ONNX ops the basic level may introduce: those it
// recovers from decompositions (at opsets that have them) or writes in
// place of others.
var standardOps = map[string]bool{"Gemm": true, "LayerNormalization": true, "Gelu": true, "Reshape": true,
	"Transpose": true, "Identity": true, "Shape": true, "Gather": true}

func readNpy(t *testing.T, path string) *tensor.Tensor {
	t.Helper()
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	x, err := tensor.ReadNpy(f)
	if err != nil {
		t.Fatal(err)
	}
	return x
}

// TestRefkitFixtures runs the small refkit models committed for the
// conformance package.
func TestRefkitFixtures(t *testing.T) {
	dirs, _ := filepath.Glob("../conformance/testdata/refkit/*")
	if len(dirs) == 0 {
		t.Fatal("no refkit fixtures")
	}
	for _, d := range dirs {
		checkRefkitDir(t, d)
	}
}

// TestRefkitModels runs a full refkit export (make_models.py's models/
// folder) named by INFERD_REFKIT_MODELS.
func TestRefkitModels(t *testing.T) {
	root := os.Getenv("INFERD_REFKIT_MODELS")
	if root == "" {
		t.Skip("INFERD_REFKIT_MODELS not set")
	}
	dirs, _ := filepath.Glob(filepath.Join(root, "*"))
	n := 0
	for _, d := range dirs {
		if st, err := os.Stat(d); err == nil && st.IsDir() {
			t.Run(filepath.Base(d), func(t *testing.T) { checkRefkitDir(t, d) })
			n++
		}
	}
	if n == 0 {
		t.Fatalf("no refkit models under %s", root)
	}
}
