package quantize

import (
	"math"
	"math/rand/v2"
	"testing"

	"github.com/inferd/inferd/tensor"
)

// TestThresholds feeds a Gaussian with one far outlier through each
// method: min-max keeps the outlier, the others clip it.
func TestThresholds(t *testing.T) {
	rng := rand.New(rand.NewPCG(1, 2))
	v := make([]float32, 200000)
	for i := range v {
		v[i] = float32(rng.NormFloat64())
	}
	v[0] = 40
	s := &tensorStats{}
	s.observeRange(v)
	s.observeHist(v)
	if got := s.threshold(MinMax, 0, 127); got != 40 {
		t.Errorf("minmax threshold %g, want 40", got)
	}
	// The 99.9th percentile of |N(0,1)| is about 3.29.
	if got := s.threshold(Percentile, 99.9, 127); math.Abs(got-3.29) > 0.1 {
		t.Errorf("percentile 99.9 threshold %g, want about 3.29", got)
	}
	if got := s.threshold(Entropy, 0, 127); got < 2 || got > 8 {
		t.Errorf("entropy threshold %g, want the Gaussian's range (2..8), not the outlier's", got)
	}
	// MSE weighs the one outlier's clipping error, (40-t)², against the
	// rounding error of 200000 values, n·(t/127)²/12: the two balance
	// near t = 20.
	if got := s.threshold(MSE, 0, 127); got < 15 || got > 25 {
		t.Errorf("mse threshold %g, want about 20", got)
	}
	// A range without outliers: every method keeps most of it.
	u := make([]float32, 100000)
	for i := range u {
		u[i] = float32(rng.Float64()*2 - 1)
	}
	s = &tensorStats{}
	s.observeRange(u)
	s.observeHist(u)
	for _, m := range []Method{Percentile, Entropy, MSE} {
		if got := s.threshold(m, 99.99, 127); got < 0.9 || got > 1.001 {
			t.Errorf("uniform: %s threshold %g, want about 1", m, got)
		}
	}
}

func TestParamsFor(t *testing.T) {
	s := &tensorStats{}
	s.observeRange([]float32{-1, 0.5, 3})
	p := paramsFor(s, tensor.Int8, MinMax, 0)
	if p.zeroPoint != 0 || math.Abs(float64(p.scale)-3.0/127) > 1e-7 {
		t.Errorf("int8: %+v", p)
	}
	p = paramsFor(s, tensor.Uint8, MinMax, 0)
	// [-1, 3] over 255 steps, zero at round(1/scale) = 64.
	if math.Abs(float64(p.scale)-4.0/255) > 1e-7 || p.zeroPoint != 64 {
		t.Errorf("uint8: %+v", p)
	}
	s = &tensorStats{}
	s.observeRange([]float32{0, 2})
	if p := paramsFor(s, tensor.Uint8, MinMax, 0); p.zeroPoint != 0 || math.Abs(float64(p.scale)-2.0/255) > 1e-7 {
		t.Errorf("one-sided uint8: %+v", p)
	}
	s = &tensorStats{}
	s.observeRange([]float32{0, 0})
	if p := paramsFor(s, tensor.Int8, MinMax, 0); p.scale != 1 {
		t.Errorf("all-zero tensor: %+v", p)
	}
}

func TestQuantizeSymmetric(t *testing.T) {
	// [2, 3] along axis 0: channel 0 max 4, channel 1 all zero.
	w := []float32{4, -2, 1, 0, 0, 0}
	q, s := quantizeSymmetric(w, []int{2, 3}, 0, 127)
	if s[0] != 4.0/127 || s[1] != 1 {
		t.Errorf("scales %v", s)
	}
	want := []int8{127, -64, 32, 0, 0, 0}
	for i := range want {
		if q[i] != want[i] {
			t.Fatalf("codes %v, want %v", q, want)
		}
	}
	// Axis 1 of a [K=2, N=2] MatMul weight: one scale per column.
	_, s = quantizeSymmetric([]float32{1, -8, 2, 4}, []int{2, 2}, 1, 63)
	if s[0] != 2.0/63 || s[1] != 8.0/63 {
		t.Errorf("axis-1 scales %v", s)
	}
}

// TestGPTQBeatsRTN quantizes a layer whose inputs are strongly correlated
// and checks GPTQ's output error on those inputs is below round-to-nearest.
func TestGPTQBeatsRTN(t *testing.T) {
	rng := rand.New(rand.NewPCG(8, 9))
	const k, n, rows = 64, 24, 512
	w := make([]float32, k*n)
	for i := range w {
		w[i] = float32(rng.NormFloat64())
	}
	// x = z·mix: 8 latent factors spread over 64 inputs, plus noise.
	mix := make([]float64, 8*k)
	for i := range mix {
		mix[i] = rng.NormFloat64()
	}
	x := make([]float32, rows*k)
	for r := 0; r < rows; r++ {
		var z [8]float64
		for i := range z {
			z[i] = rng.NormFloat64()
		}
		for j := 0; j < k; j++ {
			v := 0.05 * rng.NormFloat64()
			for i := range z {
				v += z[i] * mix[i*k+j]
			}
			x[r*k+j] = float32(v)
		}
	}
	g := &gram{k: k, sum: make([]float64, k*k)}
	if err := g.add(tensor.FromSlice(x, rows, k)); err != nil {
		t.Fatal(err)
	}
	outErr := func(codes []int8, bq *blockQuantizer) float64 {
		var e float64
		for r := 0; r < rows; r++ {
			for c := 0; c < n; c++ {
				var y, yq float64
				for j := 0; j < k; j++ {
					y += float64(x[r*k+j]) * float64(w[j*n+c])
					s := float64(bq.scale[(j/bq.bs)*n+c])
					yq += float64(x[r*k+j]) * float64(codes[j*n+c]) * s
				}
				e += (y - yq) * (y - yq)
			}
		}
		return e
	}
	rtnQ := newBlockQuantizer(k, n, 32, false)
	rtn := rtnQ.rtn(w)
	gq := newBlockQuantizer(k, n, 32, false)
	gptq, err := gq.gptq(w, g.matrix())
	if err != nil {
		t.Fatal(err)
	}
	er, eg := outErr(rtn, rtnQ), outErr(gptq, gq)
	t.Logf("output squared error: RTN %.4g, GPTQ %.4g", er, eg)
	if eg >= er*0.8 {
		t.Errorf("GPTQ error %.4g is not clearly below RTN's %.4g", eg, er)
	}
}

func TestInvertSPD(t *testing.T) {
	a := []float64{4, 2, 0.6, 2, 5, 1, 0.6, 1, 3}
	inv, err := invertSPD(a, 3)
	if err != nil {
		t.Fatal(err)
	}
	for i := 0; i < 3; i++ {
		for j := 0; j < 3; j++ {
			var s float64
			for p := 0; p < 3; p++ {
				s += a[i*3+p] * inv[p*3+j]
			}
			want := 0.0
			if i == j {
				want = 1
			}
			if math.Abs(s-want) > 1e-12 {
				t.Fatalf("a·a⁻¹[%d][%d] = %g", i, j, s)
			}
		}
	}
	if _, err := cholesky([]float64{1, 2, 2, 1}, 2); err == nil {
		t.Error("indefinite matrix: no error")
	}
}
