package kernels

// Signal-processing ops: DFT (opset 17 axis attribute, opset 20 axis
// input), STFT, the Hann, Hamming and Blackman windows and
// MelWeightMatrix. Transforms are computed in float64 whatever the tensor
// type and rounded once on output. Any transform length works in
// O(n log n): powers of two use an iterative radix-2 FFT, other lengths
// Bluestein's chirp-z algorithm on top of it.

import (
	"fmt"
	"math"
	"math/bits"
	"math/cmplx"

	"github.com/inferd/inferd/tensor"
)

func init() {
	Default.Register(Spec{Op: "DFT", Since: 17, Until: 19, New: newDFT17})
	Default.Register(Spec{Op: "DFT", Since: 20, New: newDFT20})
	Default.Register(Spec{Op: "STFT", Since: 17, New: newSTFT})
	Default.Register(Spec{Op: "HannWindow", Since: 17, New: newHannWindow})
	Default.Register(Spec{Op: "HammingWindow", Since: 17, New: newHammingWindow})
	Default.Register(Spec{Op: "BlackmanWindow", Since: 17, New: newBlackmanWindow})
	Default.Register(Spec{Op: "MelWeightMatrix", Since: 17, New: newMelWeightMatrix})
}

// ---------------------------------------------------------------------------
// Shared helpers of the misc family.

// miscScalarInt reads a one-element integer tensor.
func miscScalarInt(t *tensor.Tensor, name string) (int64, error) {
	if t == nil {
		return 0, fmt.Errorf("input %s is missing", name)
	}
	if t.Len() != 1 {
		return 0, fmt.Errorf("input %s has shape %v, want a scalar", name, t.Shape)
	}
	v, err := Int64s(t)
	if err != nil {
		return 0, fmt.Errorf("input %s: %w", name, err)
	}
	return v[0], nil
}

// miscScalarFloat reads a one-element numeric tensor as float64.
func miscScalarFloat(t *tensor.Tensor, name string) (float64, error) {
	if t == nil {
		return 0, fmt.Errorf("input %s is missing", name)
	}
	if t.Len() != 1 {
		return 0, fmt.Errorf("input %s has shape %v, want a scalar", name, t.Shape)
	}
	v, err := Float64s(t)
	if err != nil {
		return 0, fmt.Errorf("input %s: %w", name, err)
	}
	return v[0], nil
}

// miscIsFloat reports whether dt is one of the four float types the
// signal and random ops compute on.
func miscIsFloat(dt tensor.DType) bool {
	switch dt {
	case tensor.Float32, tensor.Float64, tensor.Float16, tensor.BFloat16:
		return true
	}
	return false
}

// miscNumericOut reports whether dt is a valid numeric output type for
// ops whose output type constraint is "all numeric types" (the windows,
// MelWeightMatrix, Bernoulli without bool).
func miscNumericOut(dt tensor.DType) bool {
	switch dt {
	case tensor.Float32, tensor.Float64, tensor.Float16, tensor.BFloat16,
		tensor.Int8, tensor.Int16, tensor.Int32, tensor.Int64,
		tensor.Uint8, tensor.Uint16, tensor.Uint32, tensor.Uint64:
		return true
	}
	return false
}

func miscConvert[T tensor.Numeric](dst []T, src []float64) {
	for i, x := range src {
		dst[i] = T(x)
	}
}

// miscWriteF64 stores v into t's storage (same length): floats round to
// nearest, integers truncate toward zero, bools are v != 0.
func miscWriteF64(t *tensor.Tensor, v []float64) error {
	switch s := t.Data.(type) {
	case []float32:
		miscConvert(s, v)
	case []float64:
		copy(s, v)
	case []tensor.F16:
		for i, x := range v {
			s[i] = tensor.F16FromFloat32(float32(x))
		}
	case []tensor.BF16:
		for i, x := range v {
			s[i] = tensor.BF16FromFloat32(float32(x))
		}
	case []int8:
		miscConvert(s, v)
	case []int16:
		miscConvert(s, v)
	case []int32:
		miscConvert(s, v)
	case []int64:
		miscConvert(s, v)
	case []uint8:
		miscConvert(s, v)
	case []uint16:
		miscConvert(s, v)
	case []uint32:
		miscConvert(s, v)
	case []uint64:
		miscConvert(s, v)
	case []bool:
		for i, x := range v {
			s[i] = x != 0
		}
	default:
		return fmt.Errorf("cannot write float values to a %v tensor: %w", t.DType, ErrUnsupported)
	}
	return nil
}

// ---------------------------------------------------------------------------
// FFT.

// miscFFTPlan holds the precomputed tables for transforms of one length
// n. It is read-only once built, so goroutines share it; each needs its
// own scratch from newScratch.
type miscFFTPlan struct {
	n int
	// m is the radix-2 size actually transformed: n itself when n is a
	// power of two, else the Bluestein convolution size (>= 2n-1).
	m  int
	tw []complex128 // tw[k] = exp(-2πik/m), k < m/2
	// Bluestein tables (n not a power of two): chirp[j] = exp(-πi j²/n)
	// and bhat = FFT_m of the conjugate chirp laid out circularly.
	chirp []complex128
	bhat  []complex128
}

func miscIsPow2(n int) bool { return n > 0 && n&(n-1) == 0 }

func miscNewFFTPlan(n int) *miscFFTPlan {
	p := &miscFFTPlan{n: n}
	if n <= 1 {
		p.m = n
		return p
	}
	if miscIsPow2(n) {
		p.m = n
	} else {
		p.m = 1 << bits.Len(uint(2*n-2))
	}
	p.tw = make([]complex128, p.m/2)
	for k := range p.tw {
		s, c := math.Sincos(-2 * math.Pi * float64(k) / float64(p.m))
		p.tw[k] = complex(c, s)
	}
	if p.m == n {
		return p
	}
	p.chirp = make([]complex128, n)
	n2 := uint64(2 * n)
	for j := range p.chirp {
		// j² mod 2n keeps the angle small and exact.
		q := (uint64(j) * uint64(j)) % n2
		s, c := math.Sincos(-math.Pi * float64(q) / float64(n))
		p.chirp[j] = complex(c, s)
	}
	p.bhat = make([]complex128, p.m)
	p.bhat[0] = cmplx.Conj(p.chirp[0])
	for j := 1; j < n; j++ {
		v := cmplx.Conj(p.chirp[j])
		p.bhat[j] = v
		p.bhat[p.m-j] = v
	}
	p.radix2(p.bhat)
	return p
}

// newScratch returns the work buffer transform needs.
func (p *miscFFTPlan) newScratch() []complex128 {
	if p.m == p.n {
		return nil
	}
	return make([]complex128, p.m)
}

// radix2 transforms a (len p.m, a power of two) in place, forward sign.
func (p *miscFFTPlan) radix2(a []complex128) {
	m := len(a)
	if m <= 1 {
		return
	}
	shift := bits.UintSize - bits.Len(uint(m-1))
	for i := range a {
		j := int(bits.Reverse(uint(i)) >> shift)
		if i < j {
			a[i], a[j] = a[j], a[i]
		}
	}
	for size := 2; size <= m; size <<= 1 {
		half := size / 2
		step := m / size
		for start := 0; start < m; start += size {
			for k := 0; k < half; k++ {
				w := p.tw[k*step]
				u := a[start+k]
				v := a[start+k+half] * w
				a[start+k] = u + v
				a[start+k+half] = u - v
			}
		}
	}
}

// transform computes in place the unnormalised DFT of x (len p.n):
// X[k] = Σ x[j]·exp(∓2πi jk/n), minus sign forward, plus sign inverse.
func (p *miscFFTPlan) transform(x, scratch []complex128, inverse bool) {
	if p.n <= 1 {
		return
	}
	if inverse {
		for i := range x {
			x[i] = cmplx.Conj(x[i])
		}
	}
	if p.m == p.n {
		p.radix2(x)
	} else {
		a := scratch
		for j := range a {
			a[j] = 0
		}
		for j, v := range x {
			a[j] = v * p.chirp[j]
		}
		p.radix2(a)
		for j := range a {
			a[j] = cmplx.Conj(a[j] * p.bhat[j])
		}
		// Inverse FFT via conjugation: conv = conj(FFT(conj(A·B)))/m.
		p.radix2(a)
		scale := 1 / float64(p.m)
		for k := range x {
			x[k] = cmplx.Conj(a[k]) * complex(scale, 0) * p.chirp[k]
		}
	}
	if inverse {
		for i := range x {
			x[i] = cmplx.Conj(x[i])
		}
	}
}

// ---------------------------------------------------------------------------
// DFT.

type miscDFT struct {
	inverse, onesided bool
	// axisAttr is the opset-17 axis attribute; axisInput the index of the
	// opset-20 axis input (-1 before opset 20).
	axisAttr  int64
	axisInput int
}

func newDFT17(b *Build) (any, error) {
	a := b.Attrs()
	k := &miscDFT{
		inverse:   a.Int("inverse", 0) != 0,
		onesided:  a.Int("onesided", 0) != 0,
		axisAttr:  a.Int("axis", 1),
		axisInput: -1,
	}
	if err := a.Err(); err != nil {
		return nil, err
	}
	return KernelFunc(k.run), nil
}

func newDFT20(b *Build) (any, error) {
	a := b.Attrs()
	k := &miscDFT{
		inverse:   a.Int("inverse", 0) != 0,
		onesided:  a.Int("onesided", 0) != 0,
		axisAttr:  -2,
		axisInput: 2,
	}
	if a.Has("axis") {
		a.Fail(fmt.Errorf("attribute \"axis\" is not allowed from opset 20 (axis is input 2)"))
	}
	if err := a.Err(); err != nil {
		return nil, err
	}
	return KernelFunc(k.run), nil
}

func (k *miscDFT) run(c *Context, in []*tensor.Tensor) ([]*tensor.Tensor, error) {
	if len(in) == 0 || in[0] == nil {
		return nil, fmt.Errorf("input is missing")
	}
	x := in[0]
	if !miscIsFloat(x.DType) {
		return nil, fmt.Errorf("input has type %v, want a float type", x.DType)
	}
	r := x.Rank()
	if r < 2 || (x.Shape[r-1] != 1 && x.Shape[r-1] != 2) {
		return nil, fmt.Errorf("input has shape %v, want rank >= 2 with last dimension 1 (real) or 2 (complex)", x.Shape)
	}
	axis := k.axisAttr
	if k.axisInput >= 0 && len(in) > k.axisInput && in[k.axisInput] != nil {
		v, err := miscScalarInt(in[k.axisInput], "axis")
		if err != nil {
			return nil, err
		}
		axis = v
	}
	ax, err := NormAxis(axis, r)
	if err != nil || ax == r-1 {
		return nil, fmt.Errorf("axis %d is invalid for input shape %v: want [-%d, -2] or [0, %d]", axis, x.Shape, r, r-2)
	}
	inLen := x.Shape[ax]
	irfft := k.inverse && k.onesided
	n := inLen
	if irfft {
		n = 2 * (inLen - 1)
	}
	if len(in) > 1 && in[1] != nil {
		v, err := miscScalarInt(in[1], "dft_length")
		if err != nil {
			return nil, err
		}
		if v <= 0 {
			return nil, fmt.Errorf("dft_length is %d, want > 0", v)
		}
		n = int(v)
	}
	if n <= 0 {
		return nil, fmt.Errorf("DFT length is %d for input shape %v, want > 0", n, x.Shape)
	}
	outLen, outLast := n, 2
	switch {
	case irfft:
		outLast = 1
	case k.onesided:
		outLen = n/2 + 1
	}
	outShape := append([]int(nil), x.Shape...)
	outShape[ax] = outLen
	outShape[r-1] = outLast
	xs, err := Float64s(x)
	if err != nil {
		return nil, err
	}
	outer := tensor.NumElements(x.Shape[:ax])
	inner := tensor.NumElements(x.Shape[ax+1 : r-1])
	ys := make([]float64, tensor.NumElements(outShape))
	inC := x.Shape[r-1]
	plan := miscNewFFTPlan(n)
	c.Parallel(outer*inner, func(lo, hi int) {
		buf := make([]complex128, n)
		scratch := plan.newScratch()
		for line := lo; line < hi; line++ {
			o, i := line/inner, line%inner
			inBase := o*inLen*inner + i
			get := func(j int) complex128 {
				off := (inBase + j*inner) * inC
				if inC == 2 {
					return complex(xs[off], xs[off+1])
				}
				return complex(xs[off], 0)
			}
			if irfft {
				// Rebuild the Hermitian full spectrum from its one-sided half.
				half := n / 2
				for j := 0; j <= half; j++ {
					if j < inLen {
						buf[j] = get(j)
					} else {
						buf[j] = 0
					}
				}
				for j := half + 1; j < n; j++ {
					buf[j] = cmplx.Conj(buf[n-j])
				}
			} else {
				for j := range buf {
					if j < inLen {
						buf[j] = get(j)
					} else {
						buf[j] = 0
					}
				}
			}
			plan.transform(buf, scratch, k.inverse)
			scale := 1.0
			if k.inverse {
				scale = 1 / float64(n)
			}
			outBase := o*outLen*inner + i
			for j := 0; j < outLen; j++ {
				off := (outBase + j*inner) * outLast
				ys[off] = real(buf[j]) * scale
				if outLast == 2 {
					ys[off+1] = imag(buf[j]) * scale
				}
			}
		}
	})
	out := c.Alloc(x.DType, outShape...)
	if err := miscWriteF64(out, ys); err != nil {
		return nil, err
	}
	return c.Outs(out), nil
}

// ---------------------------------------------------------------------------
// STFT.

func newSTFT(b *Build) (any, error) {
	a := b.Attrs()
	onesided := a.Int("onesided", 1) != 0
	if err := a.Err(); err != nil {
		return nil, err
	}
	return KernelFunc(func(c *Context, in []*tensor.Tensor) ([]*tensor.Tensor, error) {
		return miscSTFT(c, in, onesided)
	}), nil
}

func miscSTFT(c *Context, in []*tensor.Tensor, onesided bool) ([]*tensor.Tensor, error) {
	if len(in) < 2 || in[0] == nil || in[1] == nil {
		return nil, fmt.Errorf("inputs signal and frame_step are required")
	}
	sig := in[0]
	if !miscIsFloat(sig.DType) {
		return nil, fmt.Errorf("signal has type %v, want a float type", sig.DType)
	}
	if sig.Rank() != 3 || (sig.Shape[2] != 1 && sig.Shape[2] != 2) {
		return nil, fmt.Errorf("signal has shape %v, want [batch, length, 1] or [batch, length, 2]", sig.Shape)
	}
	complexIn := sig.Shape[2] == 2
	if complexIn && onesided {
		return nil, fmt.Errorf("onesided=1 needs a real signal, got shape %v (set onesided=0 for complex signals)", sig.Shape)
	}
	step, err := miscScalarInt(in[1], "frame_step")
	if err != nil {
		return nil, err
	}
	if step <= 0 {
		return nil, fmt.Errorf("frame_step is %d, want > 0", step)
	}
	var window []float64
	if len(in) > 2 && in[2] != nil {
		w := in[2]
		if w.Rank() != 1 {
			return nil, fmt.Errorf("window has shape %v, want rank 1", w.Shape)
		}
		if window, err = Float64s(w); err != nil {
			return nil, fmt.Errorf("window: %w", err)
		}
	}
	frameLen := -1
	if len(in) > 3 && in[3] != nil {
		v, err := miscScalarInt(in[3], "frame_length")
		if err != nil {
			return nil, err
		}
		if v <= 0 {
			return nil, fmt.Errorf("frame_length is %d, want > 0", v)
		}
		frameLen = int(v)
		if window != nil && len(window) != frameLen {
			return nil, fmt.Errorf("window has length %d but frame_length is %d; they must be equal", len(window), frameLen)
		}
	}
	if frameLen < 0 {
		if window == nil {
			return nil, fmt.Errorf("either window or frame_length must be given")
		}
		frameLen = len(window)
	}
	if frameLen == 0 {
		return nil, fmt.Errorf("frame length is 0, want > 0")
	}
	batch, sigLen := sig.Shape[0], sig.Shape[1]
	if sigLen < frameLen {
		return nil, fmt.Errorf("signal length %d is shorter than frame length %d", sigLen, frameLen)
	}
	frames := 1 + (sigLen-frameLen)/int(step)
	bins := frameLen
	if onesided {
		bins = frameLen/2 + 1
	}
	xs, err := Float64s(sig)
	if err != nil {
		return nil, err
	}
	inC := sig.Shape[2]
	ys := make([]float64, batch*frames*bins*2)
	plan := miscNewFFTPlan(frameLen)
	c.Parallel(batch*frames, func(lo, hi int) {
		buf := make([]complex128, frameLen)
		scratch := plan.newScratch()
		for bf := lo; bf < hi; bf++ {
			bi, f := bf/frames, bf%frames
			start := f * int(step)
			for j := range buf {
				off := (bi*sigLen + start + j) * inC
				v := complex(xs[off], 0)
				if complexIn {
					v = complex(xs[off], xs[off+1])
				}
				if window != nil {
					v *= complex(window[j], 0)
				}
				buf[j] = v
			}
			plan.transform(buf, scratch, false)
			base := bf * bins * 2
			for j := 0; j < bins; j++ {
				ys[base+2*j] = real(buf[j])
				ys[base+2*j+1] = imag(buf[j])
			}
		}
	})
	out := c.Alloc(sig.DType, batch, frames, bins, 2)
	if err := miscWriteF64(out, ys); err != nil {
		return nil, err
	}
	return c.Outs(out), nil
}

// ---------------------------------------------------------------------------
// Windows.

// miscWindow builds a window op: coef(n, N) gives sample n of a window
// whose cosine terms have period N (size when periodic, size-1 when
// symmetric).
func miscWindow(b *Build, coef func(n, period float64) float64) (any, error) {
	a := b.Attrs()
	dt := tensor.DType(a.Int("output_datatype", int64(tensor.Float32)))
	periodic := a.Int("periodic", 1) != 0
	if err := a.Err(); err != nil {
		return nil, err
	}
	if !miscNumericOut(dt) {
		return nil, fmt.Errorf("output_datatype %v is not a numeric tensor type", dt)
	}
	return KernelFunc(func(c *Context, in []*tensor.Tensor) ([]*tensor.Tensor, error) {
		if len(in) < 1 {
			return nil, fmt.Errorf("input size is missing")
		}
		size, err := miscScalarInt(in[0], "size")
		if err != nil {
			return nil, err
		}
		if size < 0 {
			return nil, fmt.Errorf("size is %d, want >= 0", size)
		}
		n := int(size)
		period := float64(n)
		if !periodic {
			period = float64(n - 1)
		}
		v := make([]float64, n)
		for i := range v {
			if period == 0 {
				v[i] = 1 // a one-sample symmetric window
				continue
			}
			v[i] = coef(float64(i), period)
		}
		out := c.Alloc(dt, n)
		if err := miscWriteF64(out, v); err != nil {
			return nil, err
		}
		return c.Outs(out), nil
	}), nil
}

func newHannWindow(b *Build) (any, error) {
	return miscWindow(b, func(n, N float64) float64 {
		return 0.5 - 0.5*math.Cos(2*math.Pi*n/N)
	})
}

func newHammingWindow(b *Build) (any, error) {
	// ONNX uses the exact Hamming coefficients a0 = 25/46, a1 = 21/46.
	const a0 = 25.0 / 46.0
	return miscWindow(b, func(n, N float64) float64 {
		return a0 - (1-a0)*math.Cos(2*math.Pi*n/N)
	})
}

func newBlackmanWindow(b *Build) (any, error) {
	return miscWindow(b, func(n, N float64) float64 {
		return 0.42 - 0.5*math.Cos(2*math.Pi*n/N) + 0.08*math.Cos(4*math.Pi*n/N)
	})
}

// ---------------------------------------------------------------------------
// MelWeightMatrix.

func newMelWeightMatrix(b *Build) (any, error) {
	a := b.Attrs()
	dt := tensor.DType(a.Int("output_datatype", int64(tensor.Float32)))
	if err := a.Err(); err != nil {
		return nil, err
	}
	if !miscNumericOut(dt) {
		return nil, fmt.Errorf("output_datatype %v is not a numeric tensor type", dt)
	}
	return KernelFunc(func(c *Context, in []*tensor.Tensor) ([]*tensor.Tensor, error) {
		if len(in) < 5 {
			return nil, fmt.Errorf("got %d inputs, want 5", len(in))
		}
		names := []string{"num_mel_bins", "dft_length", "sample_rate"}
		var iv [3]int64
		for i, name := range names {
			v, err := miscScalarInt(in[i], name)
			if err != nil {
				return nil, err
			}
			if v <= 0 {
				return nil, fmt.Errorf("%s is %d, want > 0", name, v)
			}
			iv[i] = v
		}
		lower, err := miscScalarFloat(in[3], "lower_edge_hertz")
		if err != nil {
			return nil, err
		}
		upper, err := miscScalarFloat(in[4], "upper_edge_hertz")
		if err != nil {
			return nil, err
		}
		if lower < 0 || upper < lower {
			return nil, fmt.Errorf("want 0 <= lower_edge_hertz (%g) <= upper_edge_hertz (%g)", lower, upper)
		}
		v, rows, cols := miscMelMatrix(int(iv[0]), int(iv[1]), float64(iv[2]), lower, upper)
		out := c.Alloc(dt, rows, cols)
		if err := miscWriteF64(out, v); err != nil {
			return nil, err
		}
		return c.Outs(out), nil
	}), nil
}

// miscMelMatrix returns the [dftLen/2+1, mels] triangular filterbank
// ONNX defines: num_mel_bins+2 points evenly spaced on the mel scale
// mel(f) = 2595·log10(1 + f/700) between the edges, each mapped to the
// spectrogram bin floor((dftLen+1)·f/sampleRate); filter i rises linearly
// from point i to a peak of 1 at point i+1 and falls to point i+2.
func miscMelMatrix(mels, dftLen int, sampleRate, lower, upper float64) ([]float64, int, int) {
	rows := dftLen/2 + 1
	out := make([]float64, rows*mels)
	toMel := func(f float64) float64 { return 2595 * math.Log10(1+f/700) }
	lowMel, highMel := toMel(lower), toMel(upper)
	step := (highMel - lowMel) / float64(mels+2)
	pts := make([]int, mels+2)
	for i := range pts {
		hz := 700 * (math.Pow(10, (float64(i)*step+lowMel)/2595) - 1)
		pts[i] = int(math.Floor(float64(dftLen+1) * hz / sampleRate))
	}
	set := func(j, i int, v float64) {
		if j >= 0 && j < rows {
			out[j*mels+i] = v
		}
	}
	for i := 0; i < mels; i++ {
		l, m, h := pts[i], pts[i+1], pts[i+2]
		if m == l {
			set(m, i, 1)
		} else {
			for j := l; j <= m; j++ {
				set(j, i, float64(j-l)/float64(m-l))
			}
		}
		if h > m {
			for j := m; j < h; j++ {
				set(j, i, float64(h-j)/float64(h-m))
			}
		}
	}
	return out, rows, mels
}
