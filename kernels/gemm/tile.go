package gemm

// tileArgs is what a micro-kernel reads. The assembly reaches its fields
// through offsets that the avo generator takes from this declaration.
type tileArgs struct {
	a     []float32 // packed A panel at the tile's first k: MR floats per k
	b     []float32 // B at the tile's first k and column: NR (or more) floats per k
	c     []float32 // C at the tile's top-left element
	r     []float32 // source of the beta term (flagLoadC): C itself, or a residual
	ldr   int       // floats between rows of r
	k     int       // steps of k
	ldb   int       // floats between consecutive k of b
	bps   int       // floats between consecutive panels of b (gemv)
	ldc   int       // floats between rows of c
	alpha float32
	beta  float32
	mask  uint32 // bit j set: column j of the tile is stored (AVX-512)
	flags uint32 // flag* bits
	bias  []float32
	lo    float32 // lower clamp (flagLo)
	hi    float32 // upper clamp (flagHi)
}

// Bits of tileArgs.flags.
const (
	flagLoadC   = 1 << iota // add beta·r (otherwise r is not read)
	flagBiasRow             // add bias[i] to row i
	flagBiasCol             // add bias[j] to column j
	flagLo                  // max(x, lo), keeping NaN
	flagHi                  // min(x, hi), keeping NaN
)

// impl is one implementation of the micro-kernels.
type impl struct {
	name string
	// tile computes an mr×nr tile (1 ≤ mr ≤ MR, 1 ≤ nr ≤ NR) as the
	// reference loop in tileGeneric's comment, storing only those rows
	// and columns of C.
	tile func(t *tileArgs, mr, nr int)
	// gemv, if not nil, computes one row (m = 1) against B panels: np
	// panels of NR columns (nr columns in the last), panel stride ps
	// floats, a read contiguously (t.a[kk]). Only t.mask of the last
	// panel applies.
	gemv func(t *tileArgs, np, ps, nr int)
	// dot4 sets out[r] to the dot product of a with b[r*ldb:][:len(a)]
	// for r < 4 (ldb may be 0).
	dot4 func(a, b []float32, ldb int, out *[4]float32)
}

// finish stores an mr×nr tile whose alpha·AB is in acc (row stride NR)
// into t.c, applying beta·C and t's epilogue as the kernels do.
func finish(t *tileArgs, acc *[MR * NR]float32, mr, nr int) {
	for i := 0; i < mr; i++ {
		row := t.c[i*t.ldc : i*t.ldc+nr]
		var src []float32
		if t.flags&flagLoadC != 0 {
			src = t.r[i*t.ldr : i*t.ldr+nr]
		}
		av := acc[i*NR : i*NR+nr]
		var rb float32
		if t.flags&flagBiasRow != 0 {
			rb = t.bias[i]
		}
		for j, v := range av {
			if t.flags&flagLoadC != 0 {
				v += t.beta * src[j]
			}
			if t.flags&flagBiasRow != 0 {
				v += rb
			}
			if t.flags&flagBiasCol != 0 {
				v += t.bias[j]
			}
			if t.flags&flagLo != 0 && v < t.lo {
				v = t.lo
			}
			if t.flags&flagHi != 0 && v > t.hi {
				v = t.hi
			}
			row[j] = v
		}
	}
}

// current is the implementation in use, chosen once at init; only tests
// change it, through useImpl.
var current = bestImpl()

// useImpl makes the named implementation current and returns a func that
// restores the previous one. It reports false if this CPU cannot run it.
func useImpl(name string) (restore func(), ok bool) {
	for _, im := range available() {
		if im.name == name {
			prev := current
			current = im
			return func() { current = prev }, true
		}
	}
	return func() {}, false
}

// Impl returns the name of the micro-kernels in use: "avx512", "avx2" or
// "generic".
func Impl() string { return current.name }
