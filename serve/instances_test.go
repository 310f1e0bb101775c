package serve

import (
	"context"
	"path/filepath"
	"strings"
	"testing"
)

// TestInstancesAndWarmup: instance_group.count sessions, each with the
// configured threads, warmed up with the configured requests before the
// version serves; a warm-up that cannot run fails the load.
func TestInstancesAndWarmup(t *testing.T) {
	repo := lenetRepo(t, `
max_batch_size: 4
dynamic_batching { }
instance_group [ { name: "cpu" count: 2 kind: KIND_CPU } ]
parameters { key: "intra_op_thread_count" value { string_value: "1" } }
model_warmup [
  { name: "random" batch_size: 2 count: 2 inputs { key: "input" value { data_type: TYPE_FP32 dims: [ 1, 28, 28 ] random_data: true } } },
  { name: "file" batch_size: 1 inputs { key: "input" value { data_type: TYPE_FP32 dims: [ 1, 28, 28 ] input_data_file: "digit.raw" } } }
]
`)
	writeFile(t, filepath.Join(repo, "lenet", "warmup", "digit.raw"), f32bytes(digit(1)))
	m := NewManager(repo, ModeExplicit, nil, nil)
	ctx := context.Background()
	if err := m.Load(ctx, "lenet"); err != nil {
		t.Fatal(err)
	}
	defer m.Close(ctx)
	v, err := m.acquire("lenet", 0)
	if err != nil {
		t.Fatal(err)
	}
	if len(v.insts) != 2 || v.insts[0].name != "cpu_0" || v.insts[1].name != "cpu_1" {
		t.Errorf("instances %v, want cpu_0 and cpu_1", v.insts)
	}
	for _, in := range v.insts {
		if in.sess.Threads() != 1 {
			t.Errorf("instance %s has %d threads, want 1", in.name, in.sess.Threads())
		}
	}
	v.release()
	resp, err := m.Infer(ctx, &InferRequest{Model: "lenet", Inputs: []Tensor{{Name: "input", Tensor: tensorOf(digit(3), 3, 1, 28, 28)}}})
	if err != nil {
		t.Fatal(err)
	}
	closeTo(t, "log_probs", resp.Outputs[0].Data.([]float32), engineOutput(t, digit(3), 3))

	// A warm-up file of the wrong size: the load fails and says why.
	writeFile(t, filepath.Join(repo, "lenet", "warmup", "digit.raw"), []byte{1, 2, 3})
	addModel(t, repo, "lenet", 2, lenetPath)
	err = m.Load(ctx, "lenet")
	if err == nil || !strings.Contains(err.Error(), `warm-up: model_warmup "file": input "input"`) || !strings.Contains(err.Error(), "3 bytes of raw data") {
		t.Fatalf("load with a bad warm-up file: %v", err)
	}
	if md, _ := m.Metadata("lenet", 0); md == nil || md.Versions[0] != "1" {
		t.Errorf("after the failed load of version 2, serving %v, want version 1", md)
	}
}

// TestOptimizationLevel: parameters optimization_level and Triton's
// optimization.graph.level reach the engine: "none" compiles the graph as
// exported, the default fuses (lenet's Conv+Relu become ai.inferd ops).
func TestOptimizationLevel(t *testing.T) {
	fused := func(t *testing.T, config string) bool {
		t.Helper()
		m := NewManager(lenetRepo(t, config), ModeNone, nil, nil)
		ctx := context.Background()
		if err := m.LoadAll(ctx); err != nil {
			t.Fatal(err)
		}
		defer m.Close(ctx)
		v, err := m.acquire("lenet", 0)
		if err != nil {
			t.Fatal(err)
		}
		defer v.release()
		for _, n := range v.insts[0].sess.Model().Graph.Nodes {
			if n.Domain == "ai.inferd" {
				return true
			}
		}
		return false
	}
	for _, tc := range []struct {
		name, config string
		want         bool
	}{
		{"default", "max_batch_size: 4\n", true},
		{"none", "max_batch_size: 4\nparameters { key: \"optimization_level\" value { string_value: \"none\" } }\n", false},
		{"extended", "max_batch_size: 4\nparameters { key: \"optimization_level\" value { string_value: \"extended\" } }\n", true},
		{"graph level basic", "max_batch_size: 4\noptimization { graph { level: -1 } }\n", false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if got := fused(t, tc.config); got != tc.want {
				t.Errorf("fused ops in the compiled graph: %v, want %v", got, tc.want)
			}
		})
	}
}
