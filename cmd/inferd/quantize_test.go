package main

import (
	"bytes"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

const (
	digitsModel  = "../../models/digits/1/model.onnx"
	digitsCal    = "../../models/digits/calibration"
	digitsTest   = "../../models/digits/test"
	digitsLabels = "../../models/digits/test/labels.npy"
)

func TestQuantizeCommandDeterministic(t *testing.T) {
	dir := t.TempDir()
	for _, mode := range [][]string{
		{"--mode", "static", "--calibration", digitsCal, "--method", "entropy"},
		{"--mode", "static", "--calibration", digitsCal, "--activations", "uint8", "--exclude-op-types", "MaxPool"},
		{"--mode", "dynamic"},
		{"--mode", "int4", "--block-size", "64", "--gptq", "--calibration", digitsCal},
		{"--mode", "fp16", "--keep-io-types"},
		{"--mode", "bf16", "--block-ops", "Relu"},
	} {
		var files [2][]byte
		for i := range files {
			out := filepath.Join(dir, "q.onnx")
			stdout, stderr, code := run(t, append([]string{"quantize", digitsModel, "-o", out}, mode...)...)
			if code != 0 {
				t.Fatalf("%v: exit %d: %s", mode, code, stderr)
			}
			if !strings.Contains(stdout, "nodes considered changed") || !strings.Contains(stdout, "wrote ") {
				t.Errorf("%v: no summary in %q", mode, stdout)
			}
			if mode[1] == "static" && !strings.Contains(stdout, "zero point") {
				t.Errorf("%v: no range table in %q", mode, stdout)
			}
			b, err := os.ReadFile(out)
			if err != nil {
				t.Fatal(err)
			}
			files[i] = b
		}
		if !bytes.Equal(files[0], files[1]) {
			t.Errorf("%v: two runs wrote different files", mode)
		}
	}
}

func TestQuantizeCommandErrors(t *testing.T) {
	out := filepath.Join(t.TempDir(), "q.onnx")
	for _, tc := range []struct {
		args []string
		want string
	}{
		{[]string{"quantize", digitsModel, "--mode", "static"}, "-o OUT"},
		{[]string{"quantize", digitsModel, "-o", out, "--mode", "int3"}, "unknown mode"},
		{[]string{"quantize", digitsModel, "-o", out, "--mode", "static"}, "calibration"},
		{[]string{"quantize", digitsModel, "-o", out, "--mode", "static", "--calibration", digitsCal, "--method", "median"}, "unknown calibration method"},
		{[]string{"quantize", digitsModel, "-o", out, "--mode", "int4", "--block-size", "48"}, "block size"},
		{[]string{"quantize", digitsModel, "-o", out, "--mode", "static", "--calibration", digitsTest + "/nope"}, "no such file"},
	} {
		_, stderr, code := run(t, tc.args...)
		if code == 0 || !strings.Contains(stderr, tc.want) {
			t.Errorf("%v: exit %d, stderr %q; want an error mentioning %q", tc.args, code, stderr, tc.want)
		}
	}
}

func TestEvaluateDigits(t *testing.T) {
	dir := t.TempDir()
	q := filepath.Join(dir, "fp16.onnx")
	// fp16 without --keep-io-types: evaluate converts the inputs.
	if _, stderr, code := run(t, "quantize", digitsModel, "-o", q, "--mode", "fp16"); code != 0 {
		t.Fatalf("quantize: %s", stderr)
	}
	stdout, stderr, code := run(t, "evaluate", digitsModel, q, "--data", digitsTest, "--labels", digitsLabels, "--iters", "3", "--json")
	if code != 0 {
		t.Fatalf("evaluate: exit %d: %s", code, stderr)
	}
	var res evaluateResult
	if err := json.Unmarshal([]byte(stdout), &res); err != nil {
		t.Fatalf("%v: %s", err, stdout)
	}
	if res.Baseline.Accuracy < 0.95 || res.Candidate.Accuracy < res.Baseline.Accuracy-0.005 {
		t.Errorf("accuracy %.4f -> %.4f", res.Baseline.Accuracy, res.Candidate.Accuracy)
	}
	if len(res.Outputs) != 1 || res.Outputs[0].Cosine < 0.9999 || res.Outputs[0].Top1 < 0.99 || res.Outputs[0].Rows != 360 {
		t.Errorf("outputs %+v", res.Outputs)
	}
	if res.Candidate.FileBytes >= res.Baseline.FileBytes || res.Baseline.GzipBytes == 0 || res.Baseline.Batch != 1 {
		t.Errorf("facts %+v / %+v", res.Baseline, res.Candidate)
	}
	// Random input when no data is given; plain text.
	stdout, stderr, code = run(t, "evaluate", digitsModel, digitsModel, "--iters", "2")
	if code != 0 || !strings.Contains(stdout, "1.000000") {
		t.Errorf("self-evaluation: exit %d, %s%s", code, stdout, stderr)
	}
}

func TestCompressCommand(t *testing.T) {
	dir := t.TempDir()
	out := filepath.Join(dir, "c.onnx")
	stdout, stderr, code := run(t, "compress", digitsModel, "-o", out, "--prune", "channels", "--sparsity", "0.25",
		"--data", digitsTest, "--labels", digitsLabels, "--iters", "3")
	if code != 0 {
		t.Fatalf("exit %d: %s", code, stderr)
	}
	for _, want := range []string{"output channels removed", "graph output", "median latency", "accuracy"} {
		if !strings.Contains(stdout, want) {
			t.Errorf("channels: no %q in\n%s", want, stdout)
		}
	}
	if strings.Contains(stdout, "note: pruning kept every shape") {
		t.Errorf("channel pruning reported as dense")
	}
	stdout, stderr, code = run(t, "compress", digitsModel, "-o", out, "--prune", "2:4", "--iters", "2")
	if code != 0 || !strings.Contains(stdout, "note: pruning kept every shape") {
		t.Errorf("2:4: exit %d, no dense note in\n%s%s", code, stdout, stderr)
	}
	for _, args := range [][]string{
		{"--low-rank", "0.9"}, {"--share-weights", "16"}, {"--prune", "magnitude", "--sparsity", "0.3", "--share-weights", "64"},
	} {
		if _, stderr, code := run(t, append([]string{"compress", digitsModel, "-o", out, "--iters", "2"}, args...)...); code != 0 {
			t.Errorf("%v: exit %d: %s", args, code, stderr)
		}
	}
	if _, stderr, code := run(t, "compress", digitsModel, "-o", out, "--prune", "x:y"); code == 0 || !strings.Contains(stderr, "N:M") {
		t.Errorf("bad --prune: exit %d, %s", code, stderr)
	}
	if _, stderr, code := run(t, "compress", digitsModel, "-o", out); code == 0 || !strings.Contains(stderr, "nothing to do") {
		t.Errorf("no method: exit %d, %s", code, stderr)
	}
}
