package gemm

import "unsafe"

// qtileArgs is what an 8-bit micro-kernel reads. The assembly reaches its
// fields through offsets that the avo generator takes from this
// declaration.
type qtileArgs struct {
	a      []byte    // packed A panel at the tile's first row: 4·MR bytes per k group
	b      []byte    // packed B panel at the tile's first column: 4·NR bytes per k group
	c      []byte    // output at the tile's top-left element
	ldc    int       // bytes between rows of c
	kg     int       // k groups (of 4 steps)
	rowOff []int32   // at the tile's first row (q8RowOff)
	colOff []int32   // at the tile's first column (q8ColOff)
	rowR   []int32   // rank-one term, row factors (q8Rank1)
	colR   []int32   // rank-one term, column factors (q8Rank1)
	scaleR []float32 // per-row scale (q8ScaleRow)
	scaleC []float32 // per-column scale (q8ScaleCol)
	bias   []float32 // float bias, per row (q8BiasRow) or column (q8BiasCol)
	lo, hi float32   // clamps (q8Lo, q8Hi)
	zero   int32     // 8-bit output zero point (q8OutQuant)
	mask   uint32    // bit j set: column j of the tile is stored
	flags  uint32    // q8* bits
}

// Bits of qtileArgs.flags.
const (
	q8RowOff   = 1 << iota // v += rowOff[i]
	q8ColOff               // v += colOff[j]
	q8Rank1                // v += rowR[i]·colR[j]
	q8ScaleRow             // f *= scaleR[i]
	q8ScaleCol             // f *= scaleC[j]
	q8BiasRow              // f += bias[i]
	q8BiasCol              // f += bias[j]
	q8Lo                   // f = max(f, lo)
	q8Hi                   // f = min(f, hi)
	q8OutFloat             // store f as float32
	q8OutQuant             // store roundEven(f) + zero as one byte
)

// impl8 is one implementation of the 8-bit micro-kernels.
type impl8 struct {
	name string
	// tile computes an mr×nr tile (1 ≤ mr ≤ MR, 1 ≤ nr ≤ NR) as
	// tile8Generic's comment states. With signedA the A panel holds int8
	// and the B panel uint8; otherwise A holds uint8 and B int8.
	tile func(t *qtileArgs, mr, nr int, signedA bool)
}

var generic8 = &impl8{name: "generic", tile: tile8Generic}

// tile8Generic computes an mr×nr tile:
//
//	for i < mr, j < nr:
//		s := int32(0)
//		for g < t.kg, q < 4: s += A(t.a[g*4*MR + i*4 + q]) * B(t.b[g*4*NR + j*4 + q])
//		v := s
//		if q8RowOff: v += t.rowOff[i]
//		if q8ColOff: v += t.colOff[j]
//		if q8Rank1:  v += t.rowR[i] * t.colR[j]       (int32, wrapping)
//		if neither q8OutFloat nor q8OutQuant: int32 at t.c[i*t.ldc + 4*j] = v; continue
//		f := float32(v)
//		if q8ScaleRow: f *= t.scaleR[i]
//		if q8ScaleCol: f *= t.scaleC[j]
//		if q8BiasRow: f += t.bias[i]
//		if q8BiasCol: f += t.bias[j]
//		if q8Lo: f = max(f, t.lo)
//		if q8Hi: f = min(f, t.hi)
//		if q8OutFloat: float32 at t.c[i*t.ldc + 4*j] = f
//		if q8OutQuant: t.c[i*t.ldc + j] = byte(roundEven(f) + t.zero)
//
// where A and B read a byte as int8 or uint8 (see impl8.tile). Every
// kernel computes exactly this, to the bit.
func tile8Generic(t *qtileArgs, mr, nr int, signedA bool) {
	var acc [MR * NR]int32
	if signedA {
		dot8[int8, uint8](&acc, t.a, t.b, t.kg, mr, nr)
	} else {
		dot8[uint8, int8](&acc, t.a, t.b, t.kg, mr, nr)
	}
	finish8(t, &acc, mr, nr)
}

// dot8 sets acc[i*NR+j] to the integer dot product of row i of the A
// panel with column j of the B panel.
func dot8[TA, TB int8 | uint8](acc *[MR * NR]int32, a, b []byte, kg, mr, nr int) {
	a, b = a[:kg*4*MR], b[:kg*4*NR]
	for i := 0; i < mr; i++ {
		row := acc[i*NR : i*NR+nr]
		for g := 0; g < kg; g++ {
			ap := a[g*4*MR+i*4 : g*4*MR+i*4+4]
			a0, a1, a2, a3 := int32(TA(ap[0])), int32(TA(ap[1])), int32(TA(ap[2])), int32(TA(ap[3]))
			bp := b[g*4*NR : g*4*NR+4*nr]
			for j := range row {
				q := bp[j*4 : j*4+4]
				row[j] += a0*int32(TB(q[0])) + a1*int32(TB(q[1])) + a2*int32(TB(q[2])) + a3*int32(TB(q[3]))
			}
		}
	}
}

// finish8 applies t's epilogue to the sums in acc (row stride NR) and
// stores the mr×nr tile, as tile8Generic documents.
func finish8(t *qtileArgs, acc *[MR * NR]int32, mr, nr int) {
	f := t.flags
	for i := 0; i < mr; i++ {
		v := acc[i*NR : i*NR+nr]
		if f&q8RowOff != 0 {
			o := t.rowOff[i]
			for j := range v {
				v[j] += o
			}
		}
		if f&q8ColOff != 0 {
			for j, o := range t.colOff[:nr] {
				v[j] += o
			}
		}
		if f&q8Rank1 != 0 {
			r := t.rowR[i]
			for j, c := range t.colR[:nr] {
				v[j] += r * c
			}
		}
		out := t.c[i*t.ldc:]
		if f&(q8OutFloat|q8OutQuant) == 0 {
			dst := unsafe.Slice((*int32)(unsafe.Pointer(&out[0])), nr)
			copy(dst, v)
			continue
		}
		var fv [NR]float32
		x := fv[:nr]
		for j, s := range v {
			x[j] = float32(s)
		}
		if f&q8ScaleRow != 0 {
			s := t.scaleR[i]
			for j := range x {
				x[j] *= s
			}
		}
		if f&q8ScaleCol != 0 {
			for j, s := range t.scaleC[:nr] {
				x[j] *= s
			}
		}
		if f&q8BiasRow != 0 {
			b := t.bias[i]
			for j := range x {
				x[j] += b
			}
		}
		if f&q8BiasCol != 0 {
			for j, b := range t.bias[:nr] {
				x[j] += b
			}
		}
		if f&q8Lo != 0 {
			for j := range x {
				x[j] = max(x[j], t.lo)
			}
		}
		if f&q8Hi != 0 {
			for j := range x {
				x[j] = min(x[j], t.hi)
			}
		}
		if f&q8OutFloat != 0 {
			copy(unsafe.Slice((*float32)(unsafe.Pointer(&out[0])), nr), x)
			continue
		}
		q := out[:nr]
		for j, y := range x {
			q[j] = byte(roundEven32(y) + t.zero)
		}
	}
}

// cur8 is the 8-bit implementation in use, chosen once at init; only
// tests change it, through useImpl8.
var cur8 = best8()

// useImpl8 makes the named 8-bit implementation current and returns a
// func that restores the previous one. It reports false if this CPU
// cannot run it.
func useImpl8(name string) (restore func(), ok bool) {
	for _, im := range available8() {
		if im.name == name {
			prev := cur8
			cur8 = im
			return func() { cur8 = prev }, true
		}
	}
	return func() {}, false
}

// Impl8 returns the name of the 8-bit micro-kernels in use:
// "avx512vnni", "avxvnni", "avx2" or "generic".
func Impl8() string { return cur8.name }
