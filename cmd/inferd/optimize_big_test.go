package main

import (
	"bufio"
	"encoding/binary"
	"fmt"
	"math"
	"math/rand/v2"
	"os"
	"os/exec"
	"path/filepath"
	"syscall"
	"testing"

	"google.golang.org/protobuf/proto"

	"github.com/inferd/inferd/onnx/onnxpb"
)

// TestOptimizeBigModel optimizes a model whose weights (2.2 GB, in an
// external data file) exceed protobuf's 2 GB limit, in a separate inferd
// process, and checks that its peak memory stays well under twice the
// weights (under 1.5x), that the weights are written back to external data,
// and that the optimized model computes what the original does. Every
// weight goes through a Transpose that constant folding replaces, so the
// optimizer rewrites all of them.
//
// It writes about 4.5 GB to a temporary folder and takes a minute or two:
// it runs only with INFERD_BIG_MODEL=1.
//
//	INFERD_BIG_MODEL=1 go test ./cmd/inferd -run TestOptimizeBigModel -v -timeout 30m
func TestOptimizeBigModel(t *testing.T) {
	if os.Getenv("INFERD_BIG_MODEL") == "" {
		t.Skip("INFERD_BIG_MODEL not set")
	}
	const (
		layers = 33
		dim    = 4096 // 64 MiB of float32 weights per layer
	)
	dir := t.TempDir()
	model := filepath.Join(dir, "big.onnx")
	weights := writeBigModel(t, model, layers, dim)
	t.Logf("model: %d layers, %.2f GB of weights", layers, float64(weights)/1e9)

	bin := filepath.Join(dir, "inferd")
	if out, err := exec.Command("go", "build", "-o", bin, ".").CombinedOutput(); err != nil {
		t.Fatalf("go build: %v\n%s", err, out)
	}
	out := filepath.Join(dir, "opt.onnx")
	rss := runMeasured(t, bin, "optimize", model, "-o", out, "--level", "extended", "--report")
	t.Logf("inferd optimize: peak RSS %.2f GB (%.2fx the weights)", float64(rss)/1e9, float64(rss)/float64(weights))
	if float64(rss) > 1.5*float64(weights) {
		t.Errorf("peak RSS %.2f GB, want under 1.5x the %.2f GB of weights", float64(rss)/1e9, float64(weights)/1e9)
	}
	st, err := os.Stat(out)
	if err != nil {
		t.Fatal(err)
	}
	data, err := os.Stat(out + ".data")
	if err != nil {
		t.Fatalf("no external data written: %v", err)
	}
	if st.Size() > 1<<20 || data.Size() < weights {
		t.Errorf("model file %d bytes, data file %d bytes: want the weights (%d bytes) in the data file", st.Size(), data.Size(), weights)
	}

	// Both models, run by separate processes on the same input, agree.
	in := filepath.Join(dir, "x.npy")
	writeNpyVector(t, in, dim)
	for _, c := range []struct{ model, dir, level string }{{model, "want", "none"}, {out, "got", "none"}} {
		rss := runMeasured(t, bin, "run", c.model, "-i", "x="+in, "-o", filepath.Join(dir, c.dir), "--threads", "2", "--opt-level", c.level)
		t.Logf("inferd run %s: peak RSS %.2f GB", filepath.Base(c.model), float64(rss)/1e9)
	}
	got := readNpy(t, filepath.Join(dir, "got", "y.npy"))
	want := readNpy(t, filepath.Join(dir, "want", "y.npy"))
	g, w := got.Data.([]float32), want.Data.([]float32)
	var num, den float64
	for i := range w {
		num += float64(g[i]-w[i]) * float64(g[i]-w[i])
		den += float64(w[i]) * float64(w[i])
	}
	if e := math.Sqrt(num / den); e > 1e-5 || den == 0 || math.IsNaN(e) {
		t.Errorf("optimized model: relative L2 error %.3g (norm %.3g)", e, den)
	}
}

// runMeasured runs bin with args and returns its peak resident memory in
// bytes.
func runMeasured(t *testing.T, bin string, args ...string) int64 {
	t.Helper()
	cmd := exec.Command(bin, args...)
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("inferd %v: %v\n%s", args, err, out)
	}
	ru, ok := cmd.ProcessState.SysUsage().(*syscall.Rusage)
	if !ok {
		t.Skip("no resource usage on this platform")
	}
	return ru.Maxrss * 1024 // kilobytes on Linux
}

// writeBigModel writes y = MatMul(...MatMul(x, Transpose(w0))..., Transpose(wK))
// with the weights streamed to model.data, never all in memory, and
// returns the weights' size in bytes.
func writeBigModel(t *testing.T, path string, layers, dim int) int64 {
	t.Helper()
	f, err := os.Create(path + ".data")
	if err != nil {
		t.Fatal(err)
	}
	bw := bufio.NewWriterSize(f, 1<<20)
	rng := rand.New(rand.NewPCG(1, 2))
	s := func(v string) *string { return &v }
	i64 := func(v int64) *int64 { return &v }
	g := &onnxpb.GraphProto{Name: s("big")}
	vec := func(name string) *onnxpb.ValueInfoProto {
		return &onnxpb.ValueInfoProto{Name: s(name), Type: &onnxpb.TypeProto{Value: &onnxpb.TypeProto_TensorType{
			TensorType: &onnxpb.TypeProto_Tensor{ElemType: proto.Int32(1), Shape: &onnxpb.TensorShapeProto{
				Dim: []*onnxpb.TensorShapeProto_Dimension{{Value: &onnxpb.TensorShapeProto_Dimension_DimValue{DimValue: int64(dim)}}}}}}}}
	}
	g.Input = []*onnxpb.ValueInfoProto{vec("x")}
	g.Output = []*onnxpb.ValueInfoProto{vec("y")}
	var off int64
	buf := make([]byte, 4)
	// Weights of scale 1/sqrt(dim) keep the activations' norm steady.
	scale := 1 / math.Sqrt(float64(dim))
	prev := "x"
	for l := 0; l < layers; l++ {
		name := fmt.Sprintf("w%d", l)
		for k := 0; k < dim*dim; k++ {
			binary.LittleEndian.PutUint32(buf, math.Float32bits(float32(rng.NormFloat64()*scale)))
			bw.Write(buf)
		}
		n := int64(dim * dim * 4)
		g.Initializer = append(g.Initializer, &onnxpb.TensorProto{Name: s(name), DataType: proto.Int32(1),
			Dims: []int64{int64(dim), int64(dim)}, DataLocation: onnxpb.TensorProto_EXTERNAL.Enum(),
			ExternalData: []*onnxpb.StringStringEntryProto{{Key: s("location"), Value: s(filepath.Base(path) + ".data")},
				{Key: s("offset"), Value: s(fmt.Sprint(off))}, {Key: s("length"), Value: s(fmt.Sprint(n))}}})
		off += n
		wt, y := name+"_t", fmt.Sprintf("h%d", l)
		if l == layers-1 {
			y = "y"
		}
		g.Node = append(g.Node,
			&onnxpb.NodeProto{Name: s("t" + name), OpType: s("Transpose"), Input: []string{name}, Output: []string{wt},
				Attribute: []*onnxpb.AttributeProto{{Name: s("perm"), Type: onnxpb.AttributeProto_INTS.Enum(), Ints: []int64{1, 0}}}},
			&onnxpb.NodeProto{Name: s("mm" + name), OpType: s("MatMul"), Input: []string{prev, wt}, Output: []string{y}})
		prev = y
	}
	if err := bw.Flush(); err != nil {
		t.Fatal(err)
	}
	if err := f.Close(); err != nil {
		t.Fatal(err)
	}
	m := &onnxpb.ModelProto{IrVersion: i64(8), Graph: g, OpsetImport: []*onnxpb.OperatorSetIdProto{{Domain: s(""), Version: i64(17)}}}
	b, err := proto.Marshal(m)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(path, b, 0o644); err != nil {
		t.Fatal(err)
	}
	return off
}

func writeNpyVector(t *testing.T, path string, n int) {
	t.Helper()
	f, err := os.Create(path)
	if err != nil {
		t.Fatal(err)
	}
	header := fmt.Sprintf("{'descr': '<f4', 'fortran_order': False, 'shape': (%d,), }", n)
	for (10+len(header)+1)%64 != 0 {
		header += " "
	}
	header += "\n"
	f.Write([]byte{0x93, 'N', 'U', 'M', 'P', 'Y', 1, 0, byte(len(header)), byte(len(header) >> 8)})
	f.WriteString(header)
	rng := rand.New(rand.NewPCG(3, 4))
	buf := make([]byte, 4)
	for i := 0; i < n; i++ {
		binary.LittleEndian.PutUint32(buf, math.Float32bits(float32(rng.NormFloat64())))
		f.Write(buf)
	}
	if err := f.Close(); err != nil {
		t.Fatal(err)
	}
}
