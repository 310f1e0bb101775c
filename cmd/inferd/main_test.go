package main

import (
	"bytes"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/inferd/inferd/tensor"
)

const (
	exampleModel = "../../models/lenet/1/model.onnx"
	exampleInput = "../../examples/lenet_input.npy"
	// The PyTorch output for exampleInput, from ../shared/refkit.
	exampleOutput = "../../conformance/testdata/refkit/lenet/b1_output_0.npy"
)

func run(t *testing.T, args ...string) (stdout, stderr string, code int) {
	t.Helper()
	var o, e bytes.Buffer
	code = mainErr(args, &o, &e)
	return o.String(), e.String(), code
}

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

func TestRunWritesOutputs(t *testing.T) {
	dir := t.TempDir()
	_, stderr, code := run(t, "run", exampleModel, "-i", "input="+exampleInput, "-o", dir, "--threads", "1")
	if code != 0 {
		t.Fatalf("exit %d: %s", code, stderr)
	}
	got := readNpy(t, filepath.Join(dir, "log_probs.npy"))
	want := readNpy(t, exampleOutput)
	g, w := tensor.Data[float32](got), tensor.Data[float32](want)
	if len(g) != len(w) {
		t.Fatalf("got %v, want %v", got, want)
	}
	for i := range w {
		if d := g[i] - w[i]; d > 1e-4 || d < -1e-4 {
			t.Fatalf("log_probs[%d] = %v, want %v", i, g[i], w[i])
		}
	}
}

func TestRunErrors(t *testing.T) {
	dir := t.TempDir()
	bad := filepath.Join(dir, "bad.onnx")
	os.WriteFile(bad, []byte("this is not a model"), 0o644)
	trunc := filepath.Join(dir, "trunc.onnx")
	data, _ := os.ReadFile(exampleModel)
	os.WriteFile(trunc, data[:len(data)/2], 0o644)
	wrong := filepath.Join(dir, "wrong.npy")
	f, _ := os.Create(wrong)
	tensor.WriteNpy(f, tensor.New(tensor.Float32, 1, 1, 5, 5))
	f.Close()
	cases := []struct {
		args []string
		want string
	}{
		{[]string{"run", bad, "-i", "input=" + exampleInput}, "bad.onnx"},
		{[]string{"run", trunc, "-i", "input=" + exampleInput}, "trunc.onnx"},
		{[]string{"run", exampleModel}, "missing inputs"},
		{[]string{"run", exampleModel, "-i", "nope=" + exampleInput}, `no input "nope"`},
		{[]string{"run", exampleModel, "-i", "input=" + wrong}, "want"},
		{[]string{"run", exampleModel, "-i", "input=/no/such.npy"}, "no such file"},
		{[]string{"run", exampleModel, "-i", "input=" + exampleModel}, "unknown input format"},
		{[]string{"run"}, "want one MODEL"},
		{[]string{"frobnicate"}, "unknown command"},
		{[]string{"bench", exampleModel, "--iters", "0"}, "--iters"},
	}
	for _, c := range cases {
		_, stderr, code := run(t, c.args...)
		if code == 0 {
			t.Errorf("%v: exit 0", c.args)
			continue
		}
		if !strings.Contains(stderr, c.want) {
			t.Errorf("%v: stderr %q does not mention %q", c.args, stderr, c.want)
		}
	}
}

func TestInspect(t *testing.T) {
	stdout, stderr, code := run(t, "inspect", exampleModel)
	if code != 0 {
		t.Fatalf("exit %d: %s", code, stderr)
	}
	for _, want := range []string{"ai.onnx=17", "input: float32[batch,1,28,28]", "log_probs: float32", "Conv", "unsupported ops: none", "parameters:"} {
		if !strings.Contains(stdout, want) {
			t.Errorf("inspect output lacks %q:\n%s", want, stdout)
		}
	}
}

func TestBenchJSON(t *testing.T) {
	stdout, stderr, code := run(t, "bench", exampleModel, "--iters", "3", "--warmup", "1", "--json", "--shape", "input=2,1,28,28", "--threads", "1")
	if code != 0 {
		t.Fatalf("exit %d: %s", code, stderr)
	}
	var r map[string]any
	if err := json.Unmarshal([]byte(stdout), &r); err != nil {
		t.Fatalf("not JSON: %v: %s", err, stdout)
	}
	for _, k := range []string{"model", "threads", "iters", "median_ms", "p90_ms", "p99_ms", "min_ms"} {
		if _, ok := r[k]; !ok {
			t.Errorf("JSON lacks %q: %s", k, stdout)
		}
	}
	if r["iters"].(float64) != 3 || r["threads"].(float64) != 1 {
		t.Errorf("iters/threads wrong: %s", stdout)
	}
}

func TestSafeName(t *testing.T) {
	for in, want := range map[string]string{"logits": "logits", "a/b:0": "a_b_0", "..": "_..", "": "_", "x.y-z_1": "x.y-z_1"} {
		if got := safeName(in); got != want {
			t.Errorf("safeName(%q) = %q, want %q", in, got, want)
		}
	}
}
