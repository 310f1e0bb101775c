package main

import (
	"path/filepath"
	"strings"
	"testing"

	"github.com/inferd/inferd/tensor"
)

func TestOptimizeCommand(t *testing.T) {
	for _, level := range []string{"basic", "extended"} {
		t.Run(level, func(t *testing.T) {
			dir := t.TempDir()
			out := filepath.Join(dir, "opt.onnx")
			stdout, stderr, code := run(t, "optimize", exampleModel, "-o", out, "--level", level, "--report")
			if code != 0 {
				t.Fatalf("exit %d: %s", code, stderr)
			}
			for _, want := range []string{"level " + level, "op type", "total"} {
				if !strings.Contains(stdout, want) {
					t.Errorf("report lacks %q:\n%s", want, stdout)
				}
			}
			if level == "extended" && !strings.Contains(stdout, "ai.inferd.FusedConv") {
				t.Errorf("extended report lacks the fused convolutions:\n%s", stdout)
			}
			// The optimized model runs (without optimizing again) and
			// agrees with PyTorch.
			_, stderr, code = run(t, "run", out, "-i", "input="+exampleInput, "-o", dir, "--opt-level", "none")
			if code != 0 {
				t.Fatalf("run: exit %d: %s", code, stderr)
			}
			got := tensor.Data[float32](readNpy(t, filepath.Join(dir, "log_probs.npy")))
			want := tensor.Data[float32](readNpy(t, exampleOutput))
			for i := range want {
				if d := got[i] - want[i]; d > 1e-4 || d < -1e-4 {
					t.Fatalf("log_probs[%d] = %v, want %v", i, got[i], want[i])
				}
			}
		})
	}
}

func TestOptimizeCommandErrors(t *testing.T) {
	out := filepath.Join(t.TempDir(), "o.onnx")
	for _, c := range []struct {
		args []string
		want string
	}{
		{[]string{"optimize", exampleModel}, "-o OUT"},
		{[]string{"optimize", exampleModel, "-o", out, "--level", "max"}, "unknown level"},
		{[]string{"optimize", exampleModel, "-o", out, "--disable", "fuse-all"}, "unknown pass"},
		{[]string{"optimize", "missing.onnx", "-o", out}, "missing.onnx"},
		{[]string{"run", exampleModel, "--opt-level", "max"}, "unknown level"},
	} {
		_, stderr, code := run(t, c.args...)
		if code == 0 || !strings.Contains(stderr, c.want) {
			t.Errorf("%v: exit %d, stderr %q; want an error mentioning %q", c.args, code, stderr, c.want)
		}
	}
	stdout, _, code := run(t, "optimize", "--list")
	if code != 0 || !strings.Contains(stdout, "fuse-conv-bn") || !strings.Contains(stdout, "extended") {
		t.Errorf("--list: exit %d\n%s", code, stdout)
	}
}
