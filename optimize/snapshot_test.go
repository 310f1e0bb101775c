package optimize_test

import (
	"context"
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/inferd/inferd/engine"
	"github.com/inferd/inferd/ir"
	"github.com/inferd/inferd/onnx"
	"github.com/inferd/inferd/optimize"
)

var update = flag.Bool("update", false, "rewrite testdata/snapshots from this run")

// TestSnapshots optimizes the committed refkit fixtures at both levels and
// compares the resulting graphs (nodes with their inputs and outputs) with
// testdata/snapshots; go test ./optimize -run TestSnapshots -update rewrites
// them, for review as a diff.
func TestSnapshots(t *testing.T) {
	models, _ := filepath.Glob("../conformance/testdata/refkit/*/*.onnx")
	for _, path := range models {
		for _, level := range []optimize.Level{optimize.LevelBasic, optimize.LevelExtended} {
			name := fmt.Sprintf("%s_%v.txt", strings.TrimSuffix(filepath.Base(path), ".onnx"), level)
			t.Run(name, func(t *testing.T) {
				m, err := onnx.Load(path)
				if err != nil {
					t.Fatal(err)
				}
				rep, err := optimize.Run(context.Background(), m, optimize.Options{Level: level, Evaluator: engine.Evaluator{}})
				if err != nil {
					t.Fatal(err)
				}
				var b strings.Builder
				rep.WriteTo(&b)
				b.WriteString("\n")
				for _, n := range m.Graph.Nodes {
					op := n.OpType
					if n.Domain != "" {
						op = n.Domain + "." + op
					}
					fmt.Fprintf(&b, "%s = %s(%s)", strings.Join(n.Outputs, ", "), op, strings.Join(n.Inputs, ", "))
					for _, a := range n.Attrs {
						fmt.Fprintf(&b, " %s", attrString(a))
					}
					b.WriteString("\n")
				}
				file := filepath.Join("testdata", "snapshots", name)
				if *update {
					if err := os.MkdirAll(filepath.Dir(file), 0o755); err != nil {
						t.Fatal(err)
					}
					if err := os.WriteFile(file, []byte(b.String()), 0o644); err != nil {
						t.Fatal(err)
					}
					return
				}
				want, err := os.ReadFile(file)
				if err != nil {
					t.Fatalf("%v (run with -update to create it)", err)
				}
				if got := b.String(); got != string(want) {
					os.WriteFile(file+".got", []byte(got), 0o644)
					t.Errorf("%s differs from the snapshot; see %s.got (go test -update to accept)", name, file)
				}
			})
		}
	}
}

func attrString(a *ir.Attribute) string {
	switch a.Type {
	case ir.AttrFloat:
		return fmt.Sprintf("%s=%g", a.Name, a.F)
	case ir.AttrInt:
		return fmt.Sprintf("%s=%d", a.Name, a.I)
	case ir.AttrString:
		return fmt.Sprintf("%s=%q", a.Name, a.S)
	case ir.AttrFloats:
		return fmt.Sprintf("%s=%v", a.Name, a.Floats)
	case ir.AttrInts:
		return fmt.Sprintf("%s=%v", a.Name, a.Ints)
	}
	return a.Name + "=<" + a.Type.String() + ">"
}
