package engine_test

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"runtime"
	"testing"

	"github.com/inferd/inferd/tensor"
)

func TestTmpAllocs(t *testing.T) {
	runtime.MemProfileRate = 0
	dir, m := os.Getenv("INFERD_REFKIT_MODELS"), os.Getenv("M")
	if m == "" {
		t.Skip()
	}
	s := loadFixture(t, filepath.Join(dir, m, m+"_opset17.onnx"), 1)
	var in []*tensor.Tensor
	for i := range s.Inputs() {
		in = append(in, readNpy(t, filepath.Join(dir, m, fmt.Sprintf("b1_input_%d.npy", i))))
	}
	out := make([]*tensor.Tensor, len(s.Outputs()))
	for range 3 {
		s.RunInto(context.Background(), in, out)
	}
	runtime.MemProfileRate = 1
	for range 4 {
		s.RunInto(context.Background(), in, out)
	}
}
