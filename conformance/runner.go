package conformance

import (
	"context"
	"errors"
	"fmt"
	"math"
	"os"
	"path/filepath"
	"sort"
	"strings"

	"github.com/inferd/inferd/engine"
	"github.com/inferd/inferd/ir"
	"github.com/inferd/inferd/kernels"
	"github.com/inferd/inferd/onnx"
	"github.com/inferd/inferd/tensor"
)

// Status is a case's outcome.
type Status string

// The outcomes of a case.
const (
	Pass        Status = "pass"
	Fail        Status = "fail"        // ran, but an output differs
	Error       Status = "error"       // refused or failed at run time
	Unsupported Status = "unsupported" // an op, version or type inferd lacks
)

// Result is the outcome of one case.
type Result struct {
	Name   string
	Status Status
	Detail string
}

// Tolerances of onnx.backend.test: every element within
// atol + rtol·|expected|.
const (
	RTol = 1e-3
	ATol = 1e-7
)

// RunCase runs every test_data_set_* of the case folder dir.
func RunCase(dir string) Result {
	r := Result{Name: filepath.Base(dir)}
	m, err := onnx.Load(filepath.Join(dir, "model.onnx"))
	if err != nil {
		r.Status, r.Detail = Error, "load: "+err.Error()
		return r
	}
	s, err := engine.Compile(m, engine.Options{Threads: 1})
	if err != nil {
		r.Status, r.Detail = Error, "compile: "+err.Error()
		if errors.Is(err, kernels.ErrUnsupported) {
			r.Status = Unsupported
		}
		return r
	}
	defer s.Close()
	sets, _ := filepath.Glob(filepath.Join(dir, "test_data_set_*"))
	sort.Strings(sets)
	if len(sets) == 0 {
		r.Status, r.Detail = Error, "no test_data_set_* folders"
		return r
	}
	for _, set := range sets {
		if st, detail := runSet(s, set); st != Pass {
			r.Status, r.Detail = st, filepath.Base(set)+": "+detail
			return r
		}
	}
	r.Status = Pass
	return r
}

func runSet(s *engine.Session, set string) (Status, string) {
	inputs := map[string]any{}
	for i, vi := range s.Inputs() {
		path := filepath.Join(set, fmt.Sprintf("input_%d.pb", i))
		if _, err := os.Stat(path); err != nil {
			// Optional trailing inputs may be left out of the data set.
			continue
		}
		v, err := readValue(path, vi.Type)
		if err != nil {
			return Error, fmt.Sprintf("input %q: %v", vi.Name, err)
		}
		inputs[vi.Name] = asBFloat16(v, vi.Type.DType)
	}
	// Each set runs twice on one session: the second run must not be
	// disturbed by storage the engine recycles from the first.
	for run := 1; run <= 2; run++ {
		if st, detail := runOnce(s, set, inputs); st != Pass {
			if run == 2 {
				detail = "second run: " + detail
			}
			return st, detail
		}
	}
	return Pass, ""
}

func runOnce(s *engine.Session, set string, inputs map[string]any) (Status, string) {
	got, err := s.RunValues(context.Background(), inputs)
	if err != nil {
		if errors.Is(err, kernels.ErrUnsupported) {
			return Unsupported, "run: " + err.Error()
		}
		return Error, "run: " + err.Error()
	}
	for i, vi := range s.Outputs() {
		want, err := readValue(filepath.Join(set, fmt.Sprintf("output_%d.pb", i)), vi.Type)
		if err != nil {
			return Error, fmt.Sprintf("output %q: reading reference: %v", vi.Name, err)
		}
		if g, ok := got[vi.Name].(*tensor.Tensor); ok {
			want = asBFloat16(want, g.DType)
		}
		if msg := compareValues(got[vi.Name], want); msg != "" {
			return Fail, fmt.Sprintf("output %q: %s", vi.Name, msg)
		}
	}
	return Pass, ""
}

func readValue(path string, t ir.Type) (any, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	switch t.Kind {
	case ir.SequenceKind:
		_, s, err := onnx.DecodeSequence(data)
		return s, err
	case ir.OptionalKind:
		_, o, err := onnx.DecodeOptional(data)
		return o, err
	}
	return onnx.DecodeTensor(data)
}

// asBFloat16 reinterprets a uint16 tensor as bfloat16 bits when dt is
// bfloat16. NumPy has no bfloat16, so ONNX 1.12's test data stores bfloat16
// values as their uint16 bit patterns (data_type UINT16).
func asBFloat16(v any, dt tensor.DType) any {
	t, ok := v.(*tensor.Tensor)
	if !ok || dt != tensor.BFloat16 || t.DType != tensor.Uint16 {
		return v
	}
	bits := t.Data.([]uint16)
	out := make([]tensor.BF16, len(bits))
	for i, b := range bits {
		out[i] = tensor.BF16(b)
	}
	return &tensor.Tensor{DType: tensor.BFloat16, Shape: t.Shape, Data: out}
}

// compareValues returns "" if got matches want, else what differs.
func compareValues(got, want any) string {
	switch w := want.(type) {
	case *tensor.Tensor:
		g, ok := got.(*tensor.Tensor)
		if !ok {
			return fmt.Sprintf("got a %T, want a tensor", got)
		}
		return CompareTensors(g, w)
	case *tensor.Sequence:
		g, ok := got.(*tensor.Sequence)
		if !ok {
			return fmt.Sprintf("got a %T, want a sequence", got)
		}
		if len(g.Tensors) != len(w.Tensors) {
			return fmt.Sprintf("sequence of %d tensors, want %d", len(g.Tensors), len(w.Tensors))
		}
		for i := range w.Tensors {
			if msg := CompareTensors(g.Tensors[i], w.Tensors[i]); msg != "" {
				return fmt.Sprintf("element %d: %s", i, msg)
			}
		}
		return ""
	case *tensor.Optional:
		g, ok := got.(*tensor.Optional)
		if !ok {
			return fmt.Sprintf("got a %T, want an optional", got)
		}
		if (g.Value == nil) != (w.Value == nil) {
			return fmt.Sprintf("optional has value %v, want %v", g.Value != nil, w.Value != nil)
		}
		if w.Value == nil {
			return ""
		}
		return compareValues(g.Value, w.Value)
	}
	return fmt.Sprintf("cannot compare %T", want)
}

// CompareTensors returns "" if got equals want within the backend-test
// tolerances (exactly, for integers, booleans and strings), else a
// description of the first difference and the count of mismatches.
func CompareTensors(got, want *tensor.Tensor) string {
	if got == nil {
		return "output is missing"
	}
	if got.DType != want.DType {
		return fmt.Sprintf("element type %v, want %v", got.DType, want.DType)
	}
	if !tensor.EqualShapes(got.Shape, want.Shape) {
		return fmt.Sprintf("shape %v, want %v", tensor.ShapeString(got.Shape), tensor.ShapeString(want.Shape))
	}
	if want.DType == tensor.String {
		g, w := got.Data.([]string), want.Data.([]string)
		for i := range w {
			if g[i] != w[i] {
				return fmt.Sprintf("element %d is %q, want %q", i, g[i], w[i])
			}
		}
		return ""
	}
	if want.DType == tensor.Complex64 || want.DType == tensor.Complex128 {
		return compareComplex(got, want)
	}
	g, err1 := kernels.Float64s(got)
	w, err2 := kernels.Float64s(want)
	if err1 != nil || err2 != nil {
		if fmt.Sprint(got.Data) == fmt.Sprint(want.Data) {
			return ""
		}
		return fmt.Sprintf("%v values differ", want.DType)
	}
	exact := !want.DType.IsFloat()
	bad, first := 0, -1
	maxAbs := 0.0
	for i := range w {
		if !within(g[i], w[i], exact) {
			bad++
			if first < 0 {
				first = i
			}
			if d := math.Abs(g[i] - w[i]); d > maxAbs || math.IsNaN(d) {
				maxAbs = d
			}
		}
	}
	if bad == 0 {
		return ""
	}
	return fmt.Sprintf("%d of %d elements differ (max abs %.3g); first at %d: got %v, want %v", bad, len(w), maxAbs, first, g[first], w[first])
}

func within(g, w float64, exact bool) bool {
	if math.IsNaN(w) {
		return math.IsNaN(g)
	}
	if math.IsInf(w, 0) {
		return g == w
	}
	if exact {
		return g == w
	}
	return math.Abs(g-w) <= ATol+RTol*math.Abs(w)
}

func compareComplex(got, want *tensor.Tensor) string {
	var g, w []complex128
	switch want.DType {
	case tensor.Complex64:
		for _, v := range got.Data.([]complex64) {
			g = append(g, complex128(v))
		}
		for _, v := range want.Data.([]complex64) {
			w = append(w, complex128(v))
		}
	default:
		g, w = got.Data.([]complex128), want.Data.([]complex128)
	}
	for i := range w {
		if !within(real(g[i]), real(w[i]), false) || !within(imag(g[i]), imag(w[i]), false) {
			return fmt.Sprintf("element %d is %v, want %v", i, g[i], w[i])
		}
	}
	return ""
}

// Summary formats counts of results by status.
func Summary(rs []Result) string {
	n := map[Status]int{}
	for _, r := range rs {
		n[r.Status]++
	}
	return fmt.Sprintf("%d cases: %d pass, %d fail, %d error, %d unsupported", len(rs), n[Pass], n[Fail], n[Error], n[Unsupported])
}

// oneLine squeezes a detail message onto one line for the failing list.
func oneLine(s string) string {
	s = strings.ReplaceAll(s, "\n", " ")
	if len(s) > 300 {
		s = s[:300] + "…"
	}
	return s
}
