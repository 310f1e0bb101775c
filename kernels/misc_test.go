package kernels

import (
	"math"
	"math/cmplx"
	"strings"
	"testing"

	"github.com/inferd/inferd/ir"
	"github.com/inferd/inferd/tensor"
)

// ---------------------------------------------------------------------------
// Test helpers.

func miscAttrI(name string, v int64) *ir.Attribute {
	return &ir.Attribute{Name: name, Type: ir.AttrInt, I: v}
}

func miscAttrF(name string, v float32) *ir.Attribute {
	return &ir.Attribute{Name: name, Type: ir.AttrFloat, F: v}
}

func miscAttrS(name, v string) *ir.Attribute {
	return &ir.Attribute{Name: name, Type: ir.AttrString, S: []byte(v)}
}

func miscAttrInts(name string, v ...int64) *ir.Attribute {
	return &ir.Attribute{Name: name, Type: ir.AttrInts, Ints: v}
}

func miscAttrFloats(name string, v ...float32) *ir.Attribute {
	return &ir.Attribute{Name: name, Type: ir.AttrFloats, Floats: v}
}

func miscAttrStrings(name string, v ...string) *ir.Attribute {
	a := &ir.Attribute{Name: name, Type: ir.AttrStrings}
	for _, s := range v {
		a.Strings = append(a.Strings, []byte(s))
	}
	return a
}

// miscBuildOp builds the kernel of one node with nin inputs and nout
// outputs.
func miscBuildOp(domain, op string, opset int64, nin, nout int, attrs ...*ir.Attribute) (Kernel, error) {
	n := &ir.Node{Name: "n", OpType: op, Domain: domain, Attrs: attrs}
	for i := 0; i < nin; i++ {
		n.Inputs = append(n.Inputs, "in"+string(rune('a'+i)))
	}
	for i := 0; i < nout; i++ {
		n.Outputs = append(n.Outputs, "out"+string(rune('a'+i)))
	}
	k, err := Default.Build(&Build{Node: n, Opset: opset, Const: func(int) *tensor.Tensor { return nil }})
	if err != nil {
		return nil, err
	}
	return k.(Kernel), nil
}

// miscRun builds and runs an ai.onnx op, failing the test on error.
func miscRun(t *testing.T, op string, opset int64, in []*tensor.Tensor, attrs ...*ir.Attribute) []*tensor.Tensor {
	t.Helper()
	return miscRunD(t, "", op, opset, in, 1, attrs...)
}

func miscRunD(t *testing.T, domain, op string, opset int64, in []*tensor.Tensor, nout int, attrs ...*ir.Attribute) []*tensor.Tensor {
	t.Helper()
	k, err := miscBuildOp(domain, op, opset, len(in), nout, attrs...)
	if err != nil {
		t.Fatalf("%s: build: %v", op, err)
	}
	out, err := k.Run(&Context{}, in)
	if err != nil {
		t.Fatalf("%s: run: %v", op, err)
	}
	return out
}

// miscRunErr builds and runs an op and returns the first error.
func miscRunErr(op string, opset int64, in []*tensor.Tensor, attrs ...*ir.Attribute) error {
	k, err := miscBuildOp("", op, opset, len(in), 1, attrs...)
	if err != nil {
		return err
	}
	_, err = k.Run(&Context{}, in)
	return err
}

func miscClose(t *testing.T, what string, got, want []float64, tol float64) {
	t.Helper()
	if len(got) != len(want) {
		t.Fatalf("%s: got %d values, want %d", what, len(got), len(want))
	}
	for i := range got {
		if math.Abs(got[i]-want[i]) > tol*(1+math.Abs(want[i])) {
			t.Fatalf("%s: [%d] = %g, want %g (got %v)", what, i, got[i], want[i], got)
		}
	}
}

func miscShape(t *testing.T, what string, x *tensor.Tensor, dt tensor.DType, shape ...int) {
	t.Helper()
	if x.DType != dt || !tensor.EqualShapes(x.Shape, shape) {
		t.Fatalf("%s: got %v, want %v%v", what, x, dt, tensor.ShapeString(shape))
	}
	if err := x.Validate(); err != nil {
		t.Fatalf("%s: %v", what, err)
	}
}

func miscF64(t *testing.T, x *tensor.Tensor) []float64 {
	t.Helper()
	v, err := Float64s(x)
	if err != nil {
		t.Fatal(err)
	}
	return v
}

// miscNaiveDFT is the DFT by its definition, sign -1 forward, +1 inverse,
// unnormalised.
func miscNaiveDFT(x []complex128, inverse bool) []complex128 {
	n := len(x)
	sign := -1.0
	if inverse {
		sign = 1
	}
	out := make([]complex128, n)
	for k := range out {
		var s complex128
		for j, v := range x {
			ang := sign * 2 * math.Pi * float64((j*k)%n) / float64(n)
			s += v * cmplx.Exp(complex(0, ang))
		}
		out[k] = s
	}
	return out
}

// ---------------------------------------------------------------------------
// FFT and DFT.

func TestMiscFFTPlanMatchesDefinition(t *testing.T) {
	for _, n := range []int{1, 2, 3, 4, 5, 6, 7, 8, 12, 16, 17, 31, 64, 100, 127, 255, 256} {
		x := make([]complex128, n)
		for i := range x {
			x[i] = complex(math.Sin(float64(i)*1.3)+0.25*float64(i%5), math.Cos(float64(i)*0.7))
		}
		for _, inv := range []bool{false, true} {
			want := miscNaiveDFT(x, inv)
			got := append([]complex128(nil), x...)
			p := miscNewFFTPlan(n)
			p.transform(got, p.newScratch(), inv)
			for k := range want {
				if cmplx.Abs(got[k]-want[k]) > 1e-9*float64(n) {
					t.Fatalf("n=%d inverse=%v: X[%d] = %v, want %v", n, inv, k, got[k], want[k])
				}
			}
		}
	}
}

func TestMiscDFTHandValues(t *testing.T) {
	// DFT of [1, 2, 3, 4] is [10, -2+2i, -2, -2-2i].
	x := tensor.FromSlice([]float32{1, 2, 3, 4}, 1, 4, 1)
	y := miscRun(t, "DFT", 17, []*tensor.Tensor{x})[0]
	miscShape(t, "dft", y, tensor.Float32, 1, 4, 2)
	miscClose(t, "dft", miscF64(t, y), []float64{10, 0, -2, 2, -2, 0, -2, -2}, 1e-6)

	// onesided: the first 4/2+1 = 3 bins.
	y = miscRun(t, "DFT", 17, []*tensor.Tensor{x}, miscAttrI("onesided", 1))[0]
	miscShape(t, "rfft", y, tensor.Float32, 1, 3, 2)
	miscClose(t, "rfft", miscF64(t, y), []float64{10, 0, -2, 2, -2, 0}, 1e-6)

	// Inverse of the spectrum gives the signal back, as complex.
	spec := tensor.FromSlice([]float64{10, 0, -2, 2, -2, 0, -2, -2}, 1, 4, 2)
	y = miscRun(t, "DFT", 17, []*tensor.Tensor{spec}, miscAttrI("inverse", 1))[0]
	miscShape(t, "idft", y, tensor.Float64, 1, 4, 2)
	miscClose(t, "idft", miscF64(t, y), []float64{1, 0, 2, 0, 3, 0, 4, 0}, 1e-12)

	// IRFFT: one-sided input of 3 bins → default length 2*(3-1) = 4, real.
	half := tensor.FromSlice([]float64{10, 0, -2, 2, -2, 0}, 1, 3, 2)
	y = miscRun(t, "DFT", 17, []*tensor.Tensor{half}, miscAttrI("inverse", 1), miscAttrI("onesided", 1))[0]
	miscShape(t, "irfft", y, tensor.Float64, 1, 4, 1)
	miscClose(t, "irfft", miscF64(t, y), []float64{1, 2, 3, 4}, 1e-12)

	// dft_length pads with zeros: DFT of [1, 2, 0] is [3, 1-√3 i·…].
	y = miscRun(t, "DFT", 17, []*tensor.Tensor{tensor.FromSlice([]float32{1, 2}, 1, 2, 1), tensor.Scalar(int64(3))})[0]
	miscShape(t, "padded", y, tensor.Float32, 1, 3, 2)
	// X[k] = 1 + 2·exp(-2πik/3): k=1 → 1 + 2(-1/2 - i√3/2) = -i√3.
	s3 := math.Sqrt(3)
	miscClose(t, "padded", miscF64(t, y), []float64{3, 0, 0, -s3, 0, s3}, 1e-6)

	// dft_length truncates: only the first 2 values are used.
	y = miscRun(t, "DFT", 17, []*tensor.Tensor{x, tensor.Scalar(int32(2))})[0]
	miscClose(t, "truncated", miscF64(t, y), []float64{3, 0, -1, 0}, 1e-6)
}

func TestMiscDFTAxes(t *testing.T) {
	// x[a][b] = 10a + b as [1, 3, 5, 1]; transform along axis 1 (a) and
	// axis 2 (b) and compare with the definition.
	const A, B = 3, 5
	vals := make([]float32, A*B)
	for a := 0; a < A; a++ {
		for b := 0; b < B; b++ {
			vals[a*B+b] = float32(10*a + b)
		}
	}
	x := tensor.FromSlice(vals, 1, A, B, 1)
	check := func(y *tensor.Tensor, alongA bool) {
		t.Helper()
		miscShape(t, "dft", y, tensor.Float32, 1, A, B, 2)
		got := miscF64(t, y)
		for a := 0; a < A; a++ {
			for b := 0; b < B; b++ {
				var line []complex128
				k := b
				if alongA {
					for j := 0; j < A; j++ {
						line = append(line, complex(float64(vals[j*B+b]), 0))
					}
					k = a
				} else {
					for j := 0; j < B; j++ {
						line = append(line, complex(float64(vals[a*B+j]), 0))
					}
				}
				w := miscNaiveDFT(line, false)[k]
				off := (a*B + b) * 2
				if math.Abs(got[off]-real(w)) > 1e-4 || math.Abs(got[off+1]-imag(w)) > 1e-4 {
					t.Fatalf("[%d,%d] = %v%+vi, want %v", a, b, got[off], got[off+1], w)
				}
			}
		}
	}
	check(miscRun(t, "DFT", 17, []*tensor.Tensor{x}, miscAttrI("axis", 1))[0], true)
	check(miscRun(t, "DFT", 17, []*tensor.Tensor{x}, miscAttrI("axis", 2))[0], false)
	check(miscRun(t, "DFT", 17, []*tensor.Tensor{x}, miscAttrI("axis", -2))[0], false)
	// Opset 20: axis is input 2 and defaults to -2.
	check(miscRun(t, "DFT", 20, []*tensor.Tensor{x, nil, tensor.Scalar(int64(1))})[0], true)
	check(miscRun(t, "DFT", 20, []*tensor.Tensor{x})[0], false)

	if err := miscRunErr("DFT", 17, []*tensor.Tensor{x}, miscAttrI("axis", 3)); err == nil {
		t.Fatal("axis on the complex dimension: want an error")
	}
	if err := miscRunErr("DFT", 17, []*tensor.Tensor{tensor.FromSlice([]float32{1, 2, 3}, 1, 1, 3)}); err == nil {
		t.Fatal("last dimension 3: want an error")
	}
	if _, err := miscBuildOp("", "DFT", 20, 1, 1, miscAttrI("axis", 1)); err == nil {
		t.Fatal("axis attribute at opset 20: want an error")
	}
}

func TestMiscDFTRoundTripFloat16(t *testing.T) {
	// Forward then inverse of a complex float16 signal of length 6.
	in := []float32{1, 0.5, -2, 1, 0.25, 0, 3, -1, 0, 0, -0.5, 2}
	h := make([]tensor.F16, len(in))
	for i, v := range in {
		h[i] = tensor.F16FromFloat32(v)
	}
	x := tensor.FromSlice(h, 1, 6, 2)
	y := miscRun(t, "DFT", 17, []*tensor.Tensor{x})[0]
	z := miscRun(t, "DFT", 17, []*tensor.Tensor{y}, miscAttrI("inverse", 1))[0]
	miscShape(t, "roundtrip", z, tensor.Float16, 1, 6, 2)
	want := make([]float64, len(in))
	for i, v := range in {
		want[i] = float64(v)
	}
	miscClose(t, "roundtrip", miscF64(t, z), want, 1e-2)
}

// ---------------------------------------------------------------------------
// STFT.

func TestMiscSTFT(t *testing.T) {
	// Signal 0..15, frame 8, step 4 → 3 frames; compare with definition.
	sig := make([]float32, 16)
	for i := range sig {
		sig[i] = float32(i)
	}
	x := tensor.FromSlice(sig, 1, 16, 1)
	hann := []float64{}
	for n := 0; n < 8; n++ {
		hann = append(hann, 0.5-0.5*math.Cos(2*math.Pi*float64(n)/8))
	}
	win := make([]float32, 8)
	for i, v := range hann {
		win[i] = float32(v)
	}
	for _, tc := range []struct {
		name     string
		in       []*tensor.Tensor
		onesided int64
		window   bool
	}{
		{"frame_length", []*tensor.Tensor{x, tensor.Scalar(int64(4)), nil, tensor.Scalar(int64(8))}, 1, false},
		{"window", []*tensor.Tensor{x, tensor.Scalar(int64(4)), tensor.FromSlice(win, 8)}, 1, true},
		{"both_twosided", []*tensor.Tensor{x, tensor.Scalar(int32(4)), tensor.FromSlice(win, 8), tensor.Scalar(int32(8))}, 0, true},
	} {
		y := miscRun(t, "STFT", 17, tc.in, miscAttrI("onesided", tc.onesided))[0]
		bins := 8
		if tc.onesided == 1 {
			bins = 5
		}
		miscShape(t, tc.name, y, tensor.Float32, 1, 3, bins, 2)
		got := miscF64(t, y)
		for f := 0; f < 3; f++ {
			frame := make([]complex128, 8)
			for j := range frame {
				v := float64(sig[4*f+j])
				if tc.window {
					v *= float64(win[j])
				}
				frame[j] = complex(v, 0)
			}
			want := miscNaiveDFT(frame, false)
			for k := 0; k < bins; k++ {
				off := (f*bins + k) * 2
				if math.Abs(got[off]-real(want[k])) > 1e-4 || math.Abs(got[off+1]-imag(want[k])) > 1e-4 {
					t.Fatalf("%s: frame %d bin %d = %v%+vi, want %v", tc.name, f, k, got[off], got[off+1], want[k])
				}
			}
		}
	}
	if err := miscRunErr("STFT", 17, []*tensor.Tensor{x, tensor.Scalar(int64(4)), tensor.FromSlice(win, 8), tensor.Scalar(int64(6))}); err == nil {
		t.Fatal("window length != frame_length: want an error")
	}
	if err := miscRunErr("STFT", 17, []*tensor.Tensor{x, tensor.Scalar(int64(0)), nil, tensor.Scalar(int64(8))}); err == nil {
		t.Fatal("frame_step 0: want an error")
	}
}

// ---------------------------------------------------------------------------
// Windows and MelWeightMatrix.

func TestMiscWindows(t *testing.T) {
	a0 := 25.0 / 46.0
	for _, tc := range []struct {
		op       string
		size     int64
		periodic int64
		want     []float64
	}{
		{"HannWindow", 4, 1, []float64{0, 0.5, 1, 0.5}},
		{"HannWindow", 5, 0, []float64{0, 0.5, 1, 0.5, 0}},
		{"HammingWindow", 2, 1, []float64{a0 - (1 - a0), 1}},
		{"HammingWindow", 3, 0, []float64{a0 - (1 - a0), 1, a0 - (1 - a0)}},
		{"BlackmanWindow", 3, 0, []float64{0, 1, 0}},
		// periodic 4: n=1 → 0.42 - 0.5cos(π/2) + 0.08cos(π) = 0.34.
		{"BlackmanWindow", 4, 1, []float64{0, 0.34, 1, 0.34}},
		{"HannWindow", 0, 1, []float64{}},
		{"HannWindow", 1, 0, []float64{1}},
	} {
		y := miscRun(t, tc.op, 17, []*tensor.Tensor{tensor.Scalar(tc.size)}, miscAttrI("periodic", tc.periodic))[0]
		miscShape(t, tc.op, y, tensor.Float32, int(tc.size))
		miscClose(t, tc.op, miscF64(t, y), tc.want, 1e-6)
	}
	// output_datatype double, and an int type (truncation: only the peak is 1).
	y := miscRun(t, "HannWindow", 17, []*tensor.Tensor{tensor.Scalar(int32(4))}, miscAttrI("output_datatype", int64(tensor.Float64)))[0]
	miscShape(t, "double", y, tensor.Float64, 4)
	miscClose(t, "double", miscF64(t, y), []float64{0, 0.5, 1, 0.5}, 1e-15)
	y = miscRun(t, "HannWindow", 17, []*tensor.Tensor{tensor.Scalar(int32(4))}, miscAttrI("output_datatype", int64(tensor.Int64)))[0]
	miscShape(t, "int64", y, tensor.Int64, 4)
	if got := y.Data.([]int64); got[2] != 1 || got[1] != 0 {
		t.Fatalf("int64 window = %v", got)
	}
	if _, err := miscBuildOp("", "HannWindow", 17, 1, 1, miscAttrI("output_datatype", int64(tensor.String))); err == nil {
		t.Fatal("string output_datatype: want an error")
	}
}

func TestMiscMelWeightMatrix(t *testing.T) {
	// The ONNX example: 8 mel bins, DFT 16, 8192 Hz, 0..4096 Hz. Its
	// expected matrix (from the spec's test, worked through its formula):
	// the mel points land on bins 0,1,1,2,2,3,4,5,6,8 (… see rows).
	y := miscRun(t, "MelWeightMatrix", 17, []*tensor.Tensor{
		tensor.Scalar(int32(8)), tensor.Scalar(int32(16)), tensor.Scalar(int32(8192)),
		tensor.Scalar(float32(0)), tensor.Scalar(float32(4096)),
	})[0]
	miscShape(t, "mel", y, tensor.Float32, 9, 8)
	want := []float64{
		1, 1, 0, 0, 0, 0, 0, 0,
		0, 0, 1, 1, 0, 0, 0, 0,
		0, 0, 0, 0, 1, 0, 0, 0,
		0, 0, 0, 0, 0, 1, 0, 0,
		0, 0, 0, 0, 0, 0, 1, 0,
		0, 0, 0, 0, 0, 0, 0, 1,
		0, 0, 0, 0, 0, 0, 0, 0,
		0, 0, 0, 0, 0, 0, 0, 0,
		0, 0, 0, 0, 0, 0, 0, 0,
	}
	miscClose(t, "mel", miscF64(t, y), want, 0)

	// A case with real ramps: 2 mel bins over 0..32 Hz, DFT 64, 64 Hz.
	// mel(32) = 2595·log10(1 + 32/700) ≈ 50.38, step = 50.38/4 ≈ 12.60;
	// the points 0, 12.60, 25.19, 37.79 mel are 0, 7.87, 15.82, 23.86 Hz,
	// i.e. bins floor(65·f/64) = 0, 7, 16, 24.
	v, rows, cols := miscMelMatrix(2, 64, 64, 0, 32)
	if rows != 33 || cols != 2 {
		t.Fatalf("shape %dx%d", rows, cols)
	}
	at := func(bin, mel int) float64 { return v[bin*cols+mel] }
	for j := 0; j <= 7; j++ {
		if got := at(j, 0); math.Abs(got-float64(j)/7) > 1e-12 {
			t.Fatalf("filter 0 bin %d = %g, want %d/7", j, got, j)
		}
	}
	for _, c := range []struct {
		bin, mel int
		want     float64
	}{{12, 0, 4.0 / 9}, {16, 0, 0}, {10, 1, 3.0 / 9}, {16, 1, 1}, {20, 1, 0.5}, {24, 1, 0}, {3, 1, 0}} {
		if got := at(c.bin, c.mel); math.Abs(got-c.want) > 1e-12 {
			t.Fatalf("filter %d bin %d = %g, want %g", c.mel, c.bin, got, c.want)
		}
	}
}

// ---------------------------------------------------------------------------
// Random ops.

func TestMiscRandomUniformNormal(t *testing.T) {
	seed := miscAttrF("seed", 3)
	u1 := miscRun(t, "RandomUniform", 1, nil, miscAttrInts("shape", 2, 500), miscAttrF("low", -2), miscAttrF("high", 3), seed)[0]
	u2 := miscRun(t, "RandomUniform", 1, nil, miscAttrInts("shape", 2, 500), miscAttrF("low", -2), miscAttrF("high", 3), seed)[0]
	miscShape(t, "uniform", u1, tensor.Float32, 2, 500)
	a, b := u1.Data.([]float32), u2.Data.([]float32)
	sum := 0.0
	for i := range a {
		if a[i] != b[i] {
			t.Fatal("same seed gave different values")
		}
		if a[i] < -2 || a[i] > 3 {
			t.Fatalf("value %g outside [-2, 3]", a[i])
		}
		sum += float64(a[i])
	}
	if mean := sum / 1000; math.Abs(mean-0.5) > 0.2 {
		t.Fatalf("uniform mean %g, want about 0.5", mean)
	}
	// A different seed gives different values; no seed differs per run.
	u3 := miscRun(t, "RandomUniform", 1, nil, miscAttrInts("shape", 4), miscAttrF("seed", 4))[0]
	u4 := miscRun(t, "RandomUniform", 1, nil, miscAttrInts("shape", 4), miscAttrF("seed", 3))[0]
	if u3.Data.([]float32)[0] == u4.Data.([]float32)[0] {
		t.Fatal("seeds 3 and 4 gave the same first value")
	}
	k, err := miscBuildOp("", "RandomUniform", 1, 0, 1, miscAttrInts("shape", 8))
	if err != nil {
		t.Fatal(err)
	}
	r1, _ := k.Run(&Context{}, nil)
	r2, _ := k.Run(&Context{}, nil)
	if r1[0].Data.([]float32)[0] == r2[0].Data.([]float32)[0] && r1[0].Data.([]float32)[1] == r2[0].Data.([]float32)[1] {
		t.Fatal("unseeded runs gave the same values")
	}

	n := miscRun(t, "RandomNormal", 1, nil, miscAttrInts("shape", 4000), miscAttrF("mean", 10), miscAttrF("scale", 2), miscAttrI("dtype", int64(tensor.Float64)), seed)[0]
	miscShape(t, "normal", n, tensor.Float64, 4000)
	var s, s2 float64
	for _, v := range n.Data.([]float64) {
		s += v
		s2 += v * v
	}
	mean := s / 4000
	sd := math.Sqrt(s2/4000 - mean*mean)
	if math.Abs(mean-10) > 0.2 || math.Abs(sd-2) > 0.2 {
		t.Fatalf("normal mean %g sd %g, want 10 and 2", mean, sd)
	}

	// Like ops: shape from the input; dtype from the attribute or input.
	in := tensor.New(tensor.Float16, 3, 2)
	y := miscRun(t, "RandomUniformLike", 1, []*tensor.Tensor{in})[0]
	miscShape(t, "uniformlike", y, tensor.Float16, 3, 2)
	y = miscRun(t, "RandomNormalLike", 1, []*tensor.Tensor{tensor.New(tensor.Int32, 5)}, miscAttrI("dtype", int64(tensor.Float64)))[0]
	miscShape(t, "normallike", y, tensor.Float64, 5)
	if err := miscRunErr("RandomNormalLike", 1, []*tensor.Tensor{tensor.New(tensor.Int32, 5)}); err == nil {
		t.Fatal("int input without dtype: want an error")
	}
	if _, err := miscBuildOp("", "RandomUniform", 1, 0, 1); err == nil {
		t.Fatal("missing shape: want an error")
	}
	if _, err := miscBuildOp("", "RandomUniform", 1, 0, 1, miscAttrInts("shape", 2), miscAttrI("dtype", int64(tensor.Int32))); err == nil {
		t.Fatal("int dtype: want an error")
	}
}

func TestMiscBernoulli(t *testing.T) {
	p := make([]float64, 2000)
	for i := range p {
		switch i % 4 {
		case 0:
			p[i] = 0
		case 1:
			p[i] = 1
		default:
			p[i] = 0.5
		}
	}
	x := tensor.FromSlice(p, 2000)
	y := miscRun(t, "Bernoulli", 15, []*tensor.Tensor{x}, miscAttrF("seed", 0))[0]
	miscShape(t, "bernoulli", y, tensor.Float64, 2000)
	ones := 0
	for i, v := range y.Data.([]float64) {
		switch {
		case v != 0 && v != 1:
			t.Fatalf("value %g, want 0 or 1", v)
		case i%4 == 0 && v != 0, i%4 == 1 && v != 1:
			t.Fatalf("p=%g gave %g", p[i], v)
		case i%4 >= 2 && v == 1:
			ones++
		}
	}
	if ones < 400 || ones > 600 {
		t.Fatalf("p=0.5 gave %d ones of 1000", ones)
	}
	y2 := miscRun(t, "Bernoulli", 15, []*tensor.Tensor{x}, miscAttrF("seed", 0))[0]
	for i, v := range y2.Data.([]float64) {
		if v != y.Data.([]float64)[i] {
			t.Fatal("same seed gave different draws")
		}
	}
	yb := miscRun(t, "Bernoulli", 15, []*tensor.Tensor{tensor.FromSlice([]float32{1, 0}, 2)}, miscAttrI("dtype", int64(tensor.Bool)))[0]
	miscShape(t, "bool", yb, tensor.Bool, 2)
	if got := yb.Data.([]bool); !got[0] || got[1] {
		t.Fatalf("bool draws %v, want [true false]", got)
	}
	if err := miscRunErr("Bernoulli", 15, []*tensor.Tensor{tensor.FromSlice([]float32{1.5}, 1)}); err == nil {
		t.Fatal("p = 1.5: want an error")
	}
}

func TestMiscMultinomial(t *testing.T) {
	// Row 0: only class 2 is possible; row 1: classes 0 and 1 at 1:3.
	inf := float32(math.Inf(-1))
	x := tensor.FromSlice([]float32{inf, inf, 0, 0, float32(math.Log(3)), inf}, 2, 3)
	y := miscRun(t, "Multinomial", 7, []*tensor.Tensor{x}, miscAttrI("sample_size", 4000), miscAttrF("seed", 1))[0]
	miscShape(t, "multinomial", y, tensor.Int32, 2, 4000)
	d := y.Data.([]int32)
	ones := 0
	for i, v := range d {
		if i < 4000 && v != 2 {
			t.Fatalf("row 0 drew class %d", v)
		}
		if i >= 4000 {
			if v != 0 && v != 1 {
				t.Fatalf("row 1 drew class %d", v)
			}
			if v == 1 {
				ones++
			}
		}
	}
	if ones < 2850 || ones > 3150 {
		t.Fatalf("class 1 drawn %d of 4000 times, want about 3000", ones)
	}
	y = miscRun(t, "Multinomial", 7, []*tensor.Tensor{x}, miscAttrI("dtype", int64(tensor.Int64)))[0]
	miscShape(t, "multinomial64", y, tensor.Int64, 2, 1)
}

// ---------------------------------------------------------------------------
// Strings.

func miscStrings(t *testing.T, what string, x *tensor.Tensor, want []string, shape ...int) {
	t.Helper()
	miscShape(t, what, x, tensor.String, shape...)
	got := x.Data.([]string)
	for i := range want {
		if got[i] != want[i] {
			t.Fatalf("%s: got %q, want %q", what, got, want)
		}
	}
}

func TestMiscStringNormalizer(t *testing.T) {
	days := tensor.FromSlice([]string{"monday", "tuesday", "wednesday", "thursday"}, 4)
	y := miscRun(t, "StringNormalizer", 10, []*tensor.Tensor{days}, miscAttrI("is_case_sensitive", 1), miscAttrStrings("stopwords", "monday"))[0]
	miscStrings(t, "nochange", y, []string{"tuesday", "wednesday", "thursday"}, 3)
	y = miscRun(t, "StringNormalizer", 10, []*tensor.Tensor{days}, miscAttrS("case_change_action", "UPPER"), miscAttrI("is_case_sensitive", 1), miscAttrStrings("stopwords", "monday"))[0]
	miscStrings(t, "upper", y, []string{"TUESDAY", "WEDNESDAY", "THURSDAY"}, 3)
	// All removed: [""] of shape [1].
	y = miscRun(t, "StringNormalizer", 10, []*tensor.Tensor{tensor.FromSlice([]string{"monday", "monday"}, 2)}, miscAttrS("case_change_action", "UPPER"), miscAttrI("is_case_sensitive", 1), miscAttrStrings("stopwords", "monday"))[0]
	miscStrings(t, "empty", y, []string{""}, 1)
	// Case-insensitive stop words, [1, C] input.
	x := tensor.FromSlice([]string{"Monday", "tuesday", "wednesday", "Monday", "tuesday", "wednesday"}, 1, 6)
	y = miscRun(t, "StringNormalizer", 10, []*tensor.Tensor{x}, miscAttrS("case_change_action", "UPPER"), miscAttrStrings("stopwords", "monday"))[0]
	miscStrings(t, "twodim", y, []string{"TUESDAY", "WEDNESDAY", "TUESDAY", "WEDNESDAY"}, 1, 4)
	y = miscRun(t, "StringNormalizer", 10, []*tensor.Tensor{tensor.FromSlice([]string{"MONDAY"}, 1, 1)}, miscAttrStrings("stopwords", "monday"))[0]
	miscStrings(t, "twodim-empty", y, []string{""}, 1, 1)
	// Unicode case mapping.
	y = miscRun(t, "StringNormalizer", 10, []*tensor.Tensor{tensor.FromSlice([]string{"Çé straße"}, 1)}, miscAttrS("case_change_action", "LOWER"), miscAttrS("locale", "en_US"))[0]
	miscStrings(t, "unicode", y, []string{"çé straße"}, 1)
	if _, err := miscBuildOp("", "StringNormalizer", 10, 1, 1, miscAttrS("case_change_action", "TITLE")); err == nil {
		t.Fatal("bad case_change_action: want an error")
	}
	if err := miscRunErr("StringNormalizer", 10, []*tensor.Tensor{tensor.FromSlice([]string{"a", "b"}, 2, 1)}); err == nil {
		t.Fatal("[2, 1] input: want an error")
	}
}

func TestMiscRegexFullMatch(t *testing.T) {
	x := tensor.FromSlice([]string{"www.google.com", "www.facebook.com", "www.bbc.co.uk"}, 3)
	y := miscRun(t, "RegexFullMatch", 20, []*tensor.Tensor{x}, miscAttrS("pattern", `www\.[\w.-]+\.\bcom\b`))[0]
	miscShape(t, "regex", y, tensor.Bool, 3)
	if got := y.Data.([]bool); !got[0] || !got[1] || got[2] {
		t.Fatalf("got %v, want [true true false]", got)
	}
	// Full match, not search: "abc" does not fully match "b".
	y = miscRun(t, "RegexFullMatch", 20, []*tensor.Tensor{tensor.FromSlice([]string{"abc", "b", "bb"}, 1, 3)}, miscAttrS("pattern", `b|a`))[0]
	if got := y.Data.([]bool); got[0] || !got[1] || got[2] {
		t.Fatalf("got %v, want [false true false]", got)
	}
	y = miscRun(t, "RegexFullMatch", 20, []*tensor.Tensor{tensor.New(tensor.String, 2, 0)}, miscAttrS("pattern", `a`))[0]
	miscShape(t, "empty", y, tensor.Bool, 2, 0)
	if _, err := miscBuildOp("", "RegexFullMatch", 20, 1, 1, miscAttrS("pattern", `(`)); err == nil {
		t.Fatal("bad pattern: want an error")
	}
}

func TestMiscStringConcat(t *testing.T) {
	y := miscRun(t, "StringConcat", 20, []*tensor.Tensor{tensor.FromSlice([]string{"cat", "dog", "snake"}, 3), tensor.FromSlice([]string{"s"}, 1)})[0]
	miscStrings(t, "broadcast", y, []string{"cats", "dogs", "snakes"}, 3)
	y = miscRun(t, "StringConcat", 20, []*tensor.Tensor{tensor.Scalar("的"), tensor.Scalar("中")})[0]
	miscStrings(t, "scalar", y, []string{"的中"})
	y = miscRun(t, "StringConcat", 20, []*tensor.Tensor{tensor.FromSlice([]string{"a", "b"}, 2, 1), tensor.FromSlice([]string{"x", "y", "z"}, 3)})[0]
	miscStrings(t, "outer", y, []string{"ax", "ay", "az", "bx", "by", "bz"}, 2, 3)
}

func TestMiscStringSplit(t *testing.T) {
	run := func(in *tensor.Tensor, attrs ...*ir.Attribute) (*tensor.Tensor, *tensor.Tensor) {
		out := miscRunD(t, "", "StringSplit", 20, []*tensor.Tensor{in}, 2, attrs...)
		return out[0], out[1]
	}
	lens := func(z *tensor.Tensor, want ...int64) {
		t.Helper()
		got := z.Data.([]int64)
		for i := range want {
			if got[i] != want[i] {
				t.Fatalf("lengths %v, want %v", got, want)
			}
		}
	}
	y, z := run(tensor.FromSlice([]string{"abc.com", "def.net"}, 2), miscAttrS("delimiter", "."))
	miscStrings(t, "basic", y, []string{"abc", "com", "def", "net"}, 2, 2)
	lens(z, 2, 2)
	y, z = run(tensor.FromSlice([]string{"hello world", "def.net", "o n n x", "the quick brown fox"}, 2, 2), miscAttrI("maxsplit", 2))
	miscStrings(t, "maxsplit", y, []string{"hello", "world", "", "def.net", "", "", "o", "n", "n x", "the", "quick", "brown fox"}, 2, 2, 3)
	lens(z, 2, 1, 3, 3)
	y, z = run(tensor.FromSlice([]string{"o-n-n--x-", "o-n----nx"}, 2), miscAttrS("delimiter", "-"))
	miscStrings(t, "consecutive", y, []string{"o", "n", "n", "", "x", "", "o", "n", "", "", "", "nx"}, 2, 6)
	lens(z, 6, 6)
	y, z = run(tensor.FromSlice([]string{"hello world !", "  hello   world !", " hello world   ! "}, 3), miscAttrS("delimiter", ""))
	miscStrings(t, "whitespace", y, []string{"hello", "world", "!", "hello", "world", "!", "hello", "world", "!"}, 3, 3)
	lens(z, 3, 3, 3)
	y, z = run(tensor.New(tensor.String, 0))
	miscShape(t, "empty", y, tensor.String, 0, 0)
	miscShape(t, "empty", z, tensor.Int64, 0)
	// Python: "  a  b  c ".split(None, 1) == ["a", "b  c "]; "".split() == [].
	if got := miscSplitSpace("  a  b  c ", 1); strings.Join(got, "|") != "a|b  c " {
		t.Fatalf("split with maxsplit: %q", got)
	}
	if got := miscSplitSpace("   ", -1); len(got) != 0 {
		t.Fatalf("split of spaces: %q", got)
	}
	y, z = run(tensor.FromSlice([]string{"", "a,b"}, 2), miscAttrS("delimiter", ","), miscAttrI("maxsplit", 0))
	miscStrings(t, "maxsplit0", y, []string{"", "a,b"}, 2, 1)
	lens(z, 1, 1)
}

// ---------------------------------------------------------------------------
// TfIdfVectorizer.

func miscTfIdfAttrs(mode string, minN, maxN, skip int64, extra ...*ir.Attribute) []*ir.Attribute {
	return append([]*ir.Attribute{
		miscAttrS("mode", mode),
		miscAttrI("min_gram_length", minN), miscAttrI("max_gram_length", maxN), miscAttrI("max_skip_count", skip),
		miscAttrInts("ngram_counts", 0, 4),
		miscAttrInts("ngram_indexes", 0, 1, 2, 3, 4, 5, 6),
		miscAttrInts("pool_int64s", 2, 3, 5, 4, 5, 6, 7, 8, 6, 7),
	}, extra...)
}

func TestMiscTfIdf(t *testing.T) {
	// Pool: unigrams 2,3,5,4 (coords 0-3), bigrams (5,6),(7,8),(6,7) (4-6).
	row := []int32{1, 1, 3, 3, 3, 7, 8, 6, 7, 5, 6, 8}
	x := tensor.FromSlice(row, 12)
	for _, tc := range []struct {
		name       string
		minN, maxN int64
		skip       int64
		want       []float64
	}{
		// Adjacent bigrams: (7,8) at 5-6, (6,7) at 7-8, (5,6) at 9-10.
		{"bigrams_skip0", 2, 2, 0, []float64{0, 0, 0, 0, 1, 1, 1}},
		// Skips up to 5 add (7,8) at 5-11 (skip 5) and 8-11 (skip 2).
		{"bigrams_skip5", 2, 2, 5, []float64{0, 0, 0, 0, 1, 3, 1}},
		// Unigrams counted once: 3 appears 3 times, 5 once.
		{"uniandbigrams_skip5", 1, 2, 5, []float64{0, 3, 1, 0, 1, 3, 1}},
	} {
		y := miscRun(t, "TfIdfVectorizer", 9, []*tensor.Tensor{x}, miscTfIdfAttrs("TF", tc.minN, tc.maxN, tc.skip)...)[0]
		miscShape(t, tc.name, y, tensor.Float32, 7)
		miscClose(t, tc.name, miscF64(t, y), tc.want, 0)
	}
	// Batch of two rows of 6 (int64 input).
	wide := make([]int64, len(row))
	for i, v := range row {
		wide[i] = int64(v)
	}
	y := miscRun(t, "TfIdfVectorizer", 9, []*tensor.Tensor{tensor.FromSlice(wide, 2, 6)}, miscTfIdfAttrs("TF", 1, 2, 5)...)[0]
	miscShape(t, "batch", y, tensor.Float32, 2, 7)
	miscClose(t, "batch", miscF64(t, y), []float64{0, 3, 0, 0, 0, 0, 0, 0, 0, 1, 0, 1, 1, 1}, 0)

	// IDF and TFIDF with weights.
	w := miscAttrFloats("weights", 1, 2, 3, 4, 5, 6, 7)
	y = miscRun(t, "TfIdfVectorizer", 9, []*tensor.Tensor{x}, miscTfIdfAttrs("IDF", 1, 2, 5, w)...)[0]
	miscClose(t, "idf", miscF64(t, y), []float64{0, 2, 3, 0, 5, 6, 7}, 0)
	y = miscRun(t, "TfIdfVectorizer", 9, []*tensor.Tensor{x}, miscTfIdfAttrs("TFIDF", 1, 2, 5, w)...)[0]
	miscClose(t, "tfidf", miscF64(t, y), []float64{0, 6, 3, 0, 5, 18, 7}, 0)
	y = miscRun(t, "TfIdfVectorizer", 9, []*tensor.Tensor{x}, miscTfIdfAttrs("IDF", 1, 2, 5)...)[0]
	miscClose(t, "idf-noweights", miscF64(t, y), []float64{0, 1, 1, 0, 1, 1, 1}, 0)

	// Level with no unigrams: ngram_counts [0, 0].
	y = miscRun(t, "TfIdfVectorizer", 9, []*tensor.Tensor{x},
		miscAttrS("mode", "TF"), miscAttrI("min_gram_length", 2), miscAttrI("max_gram_length", 2), miscAttrI("max_skip_count", 0),
		miscAttrInts("ngram_counts", 0, 0), miscAttrInts("ngram_indexes", 0, 1, 2), miscAttrInts("pool_int64s", 5, 6, 7, 8, 6, 7))[0]
	miscClose(t, "levelempty", miscF64(t, y), []float64{1, 1, 1}, 0)

	// The spec's skip example: [94, 17, 36, 12, 28] with skip 2 has the
	// bigrams (94, 12) and (17, 28); ngram_indexes maps pool order to
	// output coordinates.
	y = miscRun(t, "TfIdfVectorizer", 9, []*tensor.Tensor{tensor.FromSlice([]string{"94", "17", "36", "12", "28"}, 5)},
		miscAttrS("mode", "TF"), miscAttrI("min_gram_length", 2), miscAttrI("max_gram_length", 2), miscAttrI("max_skip_count", 2),
		miscAttrInts("ngram_counts", 0, 0), miscAttrInts("ngram_indexes", 2, 0, 1), miscAttrStrings("pool_strings", "17", "28", "94", "12", "94", "17"))[0]
	// (17,28) → coord 2, (94,12) → 0, (94,17) → 1 (skip 0).
	miscClose(t, "strings", miscF64(t, y), []float64{1, 1, 1}, 0)

	if err := miscRunErr("TfIdfVectorizer", 9, []*tensor.Tensor{tensor.FromSlice([]string{"a"}, 1)}, miscTfIdfAttrs("TF", 1, 2, 0)...); err == nil {
		t.Fatal("string input with an int pool: want an error")
	}
	if _, err := miscBuildOp("", "TfIdfVectorizer", 9, 1, 1, miscTfIdfAttrs("BM25", 1, 2, 0)...); err == nil {
		t.Fatal("bad mode: want an error")
	}
}

// ---------------------------------------------------------------------------
// Training ops.

func TestMiscAdagrad(t *testing.T) {
	// r = 0.1/(1+1·0.1); g_r = 0.001·1 + 0.5; h' = 2 + g_r²; x' = 1 - r·g_r/(√h' + eps).
	const decay, eps, norm = 0.1, 1e-5, 0.001
	r := 0.1 / (1 + 1*decay)
	gr := norm*1 + 0.5
	h := 2 + gr*gr
	xw := 1 - r*gr/(math.Sqrt(h)+eps)
	out := miscRunD(t, ir.DomainTraining, "Adagrad", 1, []*tensor.Tensor{
		tensor.Scalar(float32(0.1)), tensor.Scalar(int64(1)),
		tensor.FromSlice([]float32{1}, 1), tensor.FromSlice([]float32{0.5}, 1), tensor.FromSlice([]float32{2}, 1),
	}, 2, miscAttrF("decay_factor", decay), miscAttrF("epsilon", eps), miscAttrF("norm_coefficient", norm))
	miscShape(t, "x_new", out[0], tensor.Float32, 1)
	miscClose(t, "x_new", miscF64(t, out[0]), []float64{xw}, 1e-6)
	miscClose(t, "h_new", miscF64(t, out[1]), []float64{h}, 1e-6)
}

func TestMiscAdamMultiple(t *testing.T) {
	const alpha, beta, eps, norm, post = 0.9, 0.99, 1e-3, 0.01, 0.05
	adam := func(r float64, tt int, x, g, v, h float64) (float64, float64, float64) {
		gr := norm*x + g
		vn := alpha*v + (1-alpha)*gr
		hn := beta*h + (1-beta)*gr*gr
		ra := r * math.Sqrt(1-math.Pow(beta, float64(tt))) / (1 - math.Pow(alpha, float64(tt)))
		return (1 - post) * (x - ra*vn/(math.Sqrt(hn)+eps)), vn, hn
	}
	x1, x2 := []float64{1.2, 2.8}, []float64{-3}
	g1, g2 := []float64{-0.94, -2.5}, []float64{0.5}
	v1, v2 := []float64{1.7, 3.6}, []float64{0.1}
	h1, h2 := []float64{0.1, 0.1}, []float64{1}
	out := miscRunD(t, ir.DomainTraining, "Adam", 1, []*tensor.Tensor{
		tensor.Scalar(0.1), tensor.Scalar(int64(3)),
		tensor.FromSlice(x1, 2), tensor.FromSlice(x2, 1),
		tensor.FromSlice(g1, 2), tensor.FromSlice(g2, 1),
		tensor.FromSlice(v1, 2), tensor.FromSlice(v2, 1),
		tensor.FromSlice(h1, 2), tensor.FromSlice(h2, 1),
	}, 6, miscAttrF("alpha", alpha), miscAttrF("beta", beta), miscAttrF("epsilon", eps),
		miscAttrF("norm_coefficient", norm), miscAttrF("norm_coefficient_post", post))
	var wx1, wv1, wh1 []float64
	for i := range x1 {
		a, b, c := adam(0.1, 3, x1[i], g1[i], v1[i], h1[i])
		wx1, wv1, wh1 = append(wx1, a), append(wv1, b), append(wh1, c)
	}
	a, b, c := adam(0.1, 3, x2[0], g2[0], v2[0], h2[0])
	miscClose(t, "x1", miscF64(t, out[0]), wx1, 1e-6)
	miscClose(t, "x2", miscF64(t, out[1]), []float64{a}, 1e-6)
	miscClose(t, "v1", miscF64(t, out[2]), wv1, 1e-6)
	miscClose(t, "v2", miscF64(t, out[3]), []float64{b}, 1e-6)
	miscClose(t, "h1", miscF64(t, out[4]), wh1, 1e-6)
	miscClose(t, "h2", miscF64(t, out[5]), []float64{c}, 1e-6)

	// T = 0: no bias correction.
	out = miscRunD(t, ir.DomainTraining, "Adam", 1, []*tensor.Tensor{
		tensor.Scalar(float32(0.1)), tensor.Scalar(int64(0)),
		tensor.FromSlice([]float32{1}, 1), tensor.FromSlice([]float32{1}, 1), tensor.FromSlice([]float32{0}, 1), tensor.FromSlice([]float32{0}, 1),
	}, 3, miscAttrF("alpha", 0.5), miscAttrF("beta", 0.75))
	// v' = 0.5, h' = 0.25, x' = 1 - 0.1·0.5/0.5 = 0.9.
	miscClose(t, "t0", miscF64(t, out[0]), []float64{0.9}, 1e-6)
}

func TestMiscMomentum(t *testing.T) {
	in := func(tt int64) []*tensor.Tensor {
		return []*tensor.Tensor{
			tensor.Scalar(0.1), tensor.Scalar(tt),
			tensor.FromSlice([]float64{1.2, 2.8}, 2), tensor.FromSlice([]float64{-0.94, -2.5}, 2), tensor.FromSlice([]float64{1.7, 3.6}, 2),
		}
	}
	attrs := func(mode string) []*ir.Attribute {
		return []*ir.Attribute{miscAttrF("alpha", 0.5), miscAttrF("beta", 0.25), miscAttrF("norm_coefficient", 0.125), miscAttrS("mode", mode)}
	}
	// Standard, T=1: g_r = 0.125x + g; v' = 0.5v + 0.25g_r; x' = x - 0.1v'.
	out := miscRunD(t, ir.DomainTraining, "Momentum", 1, in(1), 2, attrs("standard")...)
	var wx, wv, nx, nv, fx, fv []float64
	for i, x := range []float64{1.2, 2.8} {
		g := []float64{-0.94, -2.5}[i]
		v := []float64{1.7, 3.6}[i]
		gr := 0.125*x + g
		v1 := 0.5*v + 0.25*gr
		wx, wv = append(wx, x-0.1*v1), append(wv, v1)
		nx, nv = append(nx, x-0.1*(gr+0.5*v1)), append(nv, v1)
		v0 := 0.5*v + gr // T = 0: beta is taken as 1
		fx, fv = append(fx, x-0.1*v0), append(fv, v0)
	}
	miscClose(t, "standard x", miscF64(t, out[0]), wx, 1e-12)
	miscClose(t, "standard v", miscF64(t, out[1]), wv, 1e-12)
	out = miscRunD(t, ir.DomainTraining, "Momentum", 1, in(1), 2, attrs("nesterov")...)
	miscClose(t, "nesterov x", miscF64(t, out[0]), nx, 1e-12)
	miscClose(t, "nesterov v", miscF64(t, out[1]), nv, 1e-12)
	out = miscRunD(t, ir.DomainTraining, "Momentum", 1, in(0), 2, attrs("standard")...)
	miscClose(t, "first x", miscF64(t, out[0]), fx, 1e-12)
	miscClose(t, "first v", miscF64(t, out[1]), fv, 1e-12)

	if _, err := miscBuildOp(ir.DomainTraining, "Momentum", 1, 5, 2, attrs("heavy")...); err == nil {
		t.Fatal("bad mode: want an error")
	}
	if _, err := miscBuildOp(ir.DomainTraining, "Momentum", 1, 6, 2, attrs("standard")...); err == nil {
		t.Fatal("6 inputs: want an error")
	}
}

// ---------------------------------------------------------------------------
// NonMaxSuppression.

func miscNMSRun(t *testing.T, boxes []float32, nb, nbox int, scores []float32, ncls int, maxOut int64, iou, score float32, attrs ...*ir.Attribute) []int64 {
	t.Helper()
	in := []*tensor.Tensor{
		tensor.FromSlice(boxes, nb, nbox, 4), tensor.FromSlice(scores, nb, ncls, nbox),
		tensor.FromSlice([]int64{maxOut}, 1), tensor.FromSlice([]float32{iou}, 1), tensor.FromSlice([]float32{score}, 1),
	}
	y := miscRun(t, "NonMaxSuppression", 11, in, attrs...)[0]
	if y.DType != tensor.Int64 || y.Rank() != 2 || y.Shape[1] != 3 {
		t.Fatalf("output %v, want int64[n,3]", y)
	}
	return y.Data.([]int64)
}

func miscInts(t *testing.T, what string, got, want []int64) {
	t.Helper()
	if len(got) != len(want) {
		t.Fatalf("%s: got %v, want %v", what, got, want)
	}
	for i := range got {
		if got[i] != want[i] {
			t.Fatalf("%s: got %v, want %v", what, got, want)
		}
	}
}

func TestMiscNonMaxSuppression(t *testing.T) {
	boxes := []float32{
		0, 0, 1, 1,
		0, 0.1, 1, 1.1,
		0, -0.1, 1, 0.9,
		0, 10, 1, 11,
		0, 10.1, 1, 11.1,
		0, 100, 1, 101,
	}
	scores := []float32{0.9, 0.75, 0.6, 0.95, 0.5, 0.3}
	// Box 3 first, then 0; 1 and 2 overlap 0 (IoU 0.82), 4 overlaps 3; 5 last.
	miscInts(t, "iou", miscNMSRun(t, boxes, 1, 6, scores, 1, 3, 0.5, 0), []int64{0, 0, 3, 0, 0, 0, 0, 0, 5})
	miscInts(t, "scores", miscNMSRun(t, boxes, 1, 6, scores, 1, 3, 0.5, 0.4), []int64{0, 0, 3, 0, 0, 0})
	miscInts(t, "limit", miscNMSRun(t, boxes, 1, 6, scores, 1, 2, 0.5, 0), []int64{0, 0, 3, 0, 0, 0})
	// Flipped corners give the same boxes.
	flipped := []float32{
		1, 1, 0, 0,
		0, 0.1, 1, 1.1,
		0, 0.9, 1, -0.1,
		0, 10, 1, 11,
		1, 10.1, 0, 11.1,
		1, 101, 0, 100,
	}
	miscInts(t, "flipped", miscNMSRun(t, flipped, 1, 6, scores, 1, 3, 0.5, 0), []int64{0, 0, 3, 0, 0, 0, 0, 0, 5})
	// Center-point format of the same boxes.
	center := []float32{
		0.5, 0.5, 1, 1,
		0.5, 0.6, 1, 1,
		0.5, 0.4, 1, 1,
		0.5, 10.5, 1, 1,
		0.5, 10.6, 1, 1,
		0.5, 100.5, 1, 1,
	}
	miscInts(t, "center", miscNMSRun(t, center, 1, 6, scores, 1, 3, 0.5, 0, miscAttrI("center_point_box", 1)), []int64{0, 0, 3, 0, 0, 0, 0, 0, 5})
	// Two batches and two classes.
	two := append(append([]float32{}, boxes...), boxes...)
	twoScores := append(append([]float32{}, scores...), scores...)
	miscInts(t, "batches", miscNMSRun(t, two, 2, 6, twoScores, 1, 2, 0.5, 0), []int64{0, 0, 3, 0, 0, 0, 1, 0, 3, 1, 0, 0})
	miscInts(t, "classes", miscNMSRun(t, boxes, 1, 6, twoScores, 2, 2, 0.5, 0), []int64{0, 0, 3, 0, 0, 0, 0, 1, 3, 0, 1, 0})
	// Identical boxes: the first of equal scores is kept, the rest suppressed.
	same := make([]float32, 0, 40)
	for i := 0; i < 10; i++ {
		same = append(same, 0, 0, 1, 1)
	}
	sameScores := make([]float32, 10)
	for i := range sameScores {
		sameScores[i] = 0.9
	}
	miscInts(t, "identical", miscNMSRun(t, same, 1, 10, sameScores, 1, 3, 0.5, 0), []int64{0, 0, 0})
	// IoU exactly at the threshold is kept: two unit boxes overlapping by
	// half have IoU 1/3.
	half := []float32{0, 0, 1, 1, 0, 0.5, 1, 1.5}
	miscInts(t, "at-threshold", miscNMSRun(t, half, 1, 2, []float32{0.9, 0.8}, 1, 5, 1.0/3, 0), []int64{0, 0, 0, 0, 0, 1})
	// max_output_boxes_per_class omitted: nothing selected.
	y := miscRun(t, "NonMaxSuppression", 11, []*tensor.Tensor{tensor.FromSlice(half, 1, 2, 4), tensor.FromSlice([]float32{0.9, 0.8}, 1, 1, 2)})[0]
	miscShape(t, "nomax", y, tensor.Int64, 0, 3)
	if _, err := miscBuildOp("", "NonMaxSuppression", 11, 2, 1, miscAttrI("center_point_box", 2)); err == nil {
		t.Fatal("center_point_box 2: want an error")
	}
}
