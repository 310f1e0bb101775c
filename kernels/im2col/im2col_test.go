package im2col

import (
	"math"
	"math/rand/v2"
	"testing"
)

// TestFill compares Fill with the column matrix from its definition, for
// every panel and a few row ranges, with guard values after the panel.
func TestFill(t *testing.T) {
	rng := rand.New(rand.NewPCG(1, 2))
	type tc struct{ c, h, w, kh, kw, dh, dw, pt, pb, pl int }
	for _, cs := range []tc{
		{3, 7, 7, 3, 3, 1, 1, 1, 1, 1},
		{2, 14, 14, 3, 3, 1, 1, 1, 1, 1},
		{2, 9, 5, 5, 3, 2, 1, 3, 2, 1},
		{1, 4, 3, 5, 5, 1, 1, 2, 2, 2},
		{2, 56, 40, 3, 3, 1, 1, 1, 1, 1},
		{3, 6, 9, 1, 7, 1, 1, 0, 0, 3},
		{2, 5, 33, 3, 3, 2, 2, 2, 2, 2},
	} {
		// Output width W needs (kw-1)·dw = left + right padding.
		oh := cs.h + cs.pt + cs.pb - (cs.kh-1)*cs.dh
		f := NewFlat(cs.c, cs.h, cs.w, oh, cs.kh, cs.kw, cs.dh, cs.dw, cs.pt, cs.pl)
		x := make([]float32, cs.c*cs.h*cs.w)
		for i := range x {
			x[i] = rng.Float32() + 1
		}
		K := cs.kh * cs.kw
		want := func(p, j int) float32 {
			if j >= oh*cs.w {
				return 0
			}
			ch, tp := p/K, p%K
			ih := j/cs.w + (tp/cs.kw)*cs.dh - cs.pt
			iw := j%cs.w + (tp%cs.kw)*cs.dw - cs.pl
			if ih < 0 || ih >= cs.h || iw < 0 || iw >= cs.w {
				return 0
			}
			return x[(ch*cs.h+ih)*cs.w+iw]
		}
		rows := f.Rows()
		for j0 := 0; j0 < f.Cols(); j0 += NR {
			for _, rr := range [][2]int{{0, rows}, {1, rows}, {K - 1, rows - 1}, {rows / 2, rows/2 + 1}} {
				p0, p1 := rr[0], rr[1]
				if p0 >= p1 || p0 < 0 {
					continue
				}
				dst := make([]float32, (p1-p0)*NR+8)
				for i := range dst {
					dst[i] = -7
				}
				f.Fill(dst, x, p0, p1, j0)
				for p := p0; p < p1; p++ {
					for i := 0; i < NR; i++ {
						if got, w := dst[(p-p0)*NR+i], want(p, j0+i); got != w {
							t.Fatalf("%+v: row %d column %d: %v, want %v", cs, p, j0+i, got, w)
						}
					}
				}
				for _, v := range dst[(p1-p0)*NR:] {
					if v != -7 {
						t.Fatalf("%+v: wrote past the panel", cs)
					}
				}
			}
		}
	}
}

func BenchmarkFill(b *testing.B) {
	f := NewFlat(256, 14, 14, 14, 3, 3, 1, 1, 1, 1)
	x := make([]float32, 256*14*14)
	dst := make([]float32, f.Rows()*NR)
	for b.Loop() {
		for j0 := 0; j0 < f.Cols(); j0 += NR {
			f.Fill(dst, x, 0, f.Rows(), j0)
		}
	}
	b.SetBytes(int64(4 * f.Rows() * f.Cols()))
}

func TestGather2(t *testing.T) {
	for n := 0; n <= 70; n++ {
		src := make([]float32, 2*n+3)
		for i := range src {
			src[i] = float32(i)
		}
		dst := make([]float32, n+4)
		for i := range dst {
			dst[i] = -1
		}
		// The source ends at its last needed element.
		Gather2(dst[:n], src[:max(0, 2*n-1)])
		for i := range dst {
			want := float32(2 * i)
			if i >= n {
				want = -1
			}
			if dst[i] != want {
				t.Fatalf("n=%d: dst[%d] = %v, want %v", n, i, dst[i], want)
			}
		}
	}
}

func TestTranspose(t *testing.T) {
	for _, d := range [][2]int{{1, 1}, {16, 16}, {3, 40}, {49, 512}, {17, 15}, {196, 33}} {
		rows, cols := d[0], d[1]
		lds, ldd := cols+3, rows+5
		src := make([]float32, (rows-1)*lds+cols)
		for i := range src {
			src[i] = float32(i)
		}
		dst := make([]float32, (cols-1)*ldd+rows+7)
		for i := range dst {
			dst[i] = -1
		}
		Transpose(dst, ldd, src, lds, rows, cols)
		for j := 0; j < cols; j++ {
			for i := 0; i < ldd && j*ldd+i < len(dst); i++ {
				want := float32(-1)
				if i < rows {
					want = src[i*lds+j]
				}
				if got := dst[j*ldd+i]; got != want {
					t.Fatalf("%d×%d: dst[%d][%d] = %v, want %v", rows, cols, j, i, got, want)
				}
			}
		}
	}
}

func BenchmarkTranspose(b *testing.B) {
	src := make([]float32, 196*1024)
	dst := make([]float32, 196*1024)
	for b.Loop() {
		Transpose(dst, 196, src, 1024, 196, 1024)
	}
	b.SetBytes(4 * 196 * 1024)
}

// TestStrided compares Fill and WriteRows over a Split input with the
// column matrix of the strided convolution from its definition, with
// guard values around the output.
func TestStrided(t *testing.T) {
	rng := rand.New(rand.NewPCG(3, 4))
	type tc struct{ c, h, w, kh, kw, s, dh, dw, pt, pb, pl, pr int }
	for _, cs := range []tc{
		{3, 8, 8, 3, 3, 2, 1, 1, 1, 1, 1, 1},
		{2, 14, 14, 3, 3, 2, 1, 1, 1, 1, 1, 1},
		{2, 7, 7, 3, 3, 2, 1, 1, 1, 1, 1, 1},
		{3, 15, 13, 7, 7, 2, 1, 1, 3, 3, 3, 3},
		{2, 56, 56, 1, 1, 2, 1, 1, 0, 0, 0, 0},
		{2, 7, 9, 1, 1, 2, 1, 1, 0, 0, 0, 0},
		{2, 11, 10, 3, 3, 3, 1, 1, 1, 0, 1, 2},
		{1, 9, 12, 3, 2, 2, 2, 3, 2, 1, 0, 2},
		{2, 6, 5, 2, 2, 2, 1, 1, 0, 0, 0, 0},
		{1, 4, 4, 5, 5, 2, 1, 1, 2, 2, 2, 2},
	} {
		oh := (cs.h+cs.pt+cs.pb-(cs.kh-1)*cs.dh-1)/cs.s + 1
		ow := (cs.w+cs.pl+cs.pr-(cs.kw-1)*cs.dw-1)/cs.s + 1
		sp, f := NewStrided(cs.c, cs.h, cs.w, oh, ow, cs.kh, cs.kw, cs.s, cs.dh, cs.dw, cs.pt, cs.pl)
		if f == nil {
			t.Fatalf("%+v: NewStrided declined", cs)
		}
		x := make([]float32, cs.c*cs.h*cs.w)
		for i := range x {
			x[i] = rng.Float32() + 1
		}
		xs := make([]float32, sp.Len()+5)
		for i := range xs {
			xs[i] = -5
		}
		sp.Run(xs[:sp.Len()], x, 0, 1)
		sp.Run(xs[:sp.Len()], x, 1, cs.c)
		for _, v := range xs[sp.Len():] {
			if v != -5 {
				t.Fatalf("%+v: Split wrote past its length", cs)
			}
		}
		xs = xs[:sp.Len()]
		K := cs.kh * cs.kw
		want := func(p, j int) float32 {
			if j >= oh*ow {
				return 0
			}
			ch, tp := p/K, p%K
			ih := j/ow*cs.s + (tp/cs.kw)*cs.dh - cs.pt
			iw := j%ow*cs.s + (tp%cs.kw)*cs.dw - cs.pl
			if ih < 0 || ih >= cs.h || iw < 0 || iw >= cs.w {
				return 0
			}
			return x[(ch*cs.h+ih)*cs.w+iw]
		}
		if f.Rows() != cs.c*K || f.Cols() != oh*ow {
			t.Fatalf("%+v: %d×%d matrix, want %d×%d", cs, f.Rows(), f.Cols(), cs.c*K, oh*ow)
		}
		for j0 := 0; j0 < f.Cols(); j0 += NR {
			dst := make([]float32, f.Rows()*NR+8)
			for i := range dst {
				dst[i] = -7
			}
			f.Fill(dst, xs, 0, f.Rows(), j0)
			for p := 0; p < f.Rows(); p++ {
				for i := 0; i < NR; i++ {
					if got, w := dst[p*NR+i], want(p, j0+i); got != w {
						t.Fatalf("%+v: Fill: row %d column %d: %v, want %v", cs, p, j0+i, got, w)
					}
				}
			}
			for _, v := range dst[f.Rows()*NR:] {
				if v != -7 {
					t.Fatalf("%+v: Fill wrote past the panel", cs)
				}
			}
		}
		ld := f.Cols() + 3
		rows := make([]float32, f.Rows()*ld)
		for i := range rows {
			rows[i] = -7
		}
		f.WriteRows(rows, ld, xs, 0, 1)
		f.WriteRows(rows[ld:], ld, xs, 1, f.Rows())
		for p := 0; p < f.Rows(); p++ {
			for j := 0; j < ld; j++ {
				w := float32(-7)
				if j < f.Cols() {
					w = want(p, j)
				}
				if got := rows[p*ld+j]; got != w {
					t.Fatalf("%+v: WriteRows: row %d column %d: %v, want %v", cs, p, j, got, w)
				}
			}
		}
		if pw := cs.kh*cs.kw == 1 && cs.pt == 0 && cs.pl == 0; f.Pointwise() != pw {
			t.Errorf("%+v: Pointwise() = %v, want %v", cs, f.Pointwise(), pw)
		}
	}
}

// TestMaxRows checks MaxRows and CopyRows, guard columns included.
func TestMaxRows(t *testing.T) {
	nan := float32(math.NaN())
	rng := rand.New(rand.NewPCG(5, 6))
	for _, d := range [][2]int{{1, 1}, {1, 16}, {2, 17}, {3, 31}, {5, 112}, {4, 7}, {2, 64}} {
		rows, cols := d[0], d[1]
		ldd, lds := cols+2, cols+5
		dst := make([]float32, rows*ldd)
		src := make([]float32, rows*lds)
		for i := range dst {
			dst[i] = rng.Float32()*2 - 1
		}
		for i := range src {
			src[i] = rng.Float32()*2 - 1
		}
		dst[0], src[min(1, cols-1)] = nan, nan
		want := append([]float32(nil), dst...)
		for r := 0; r < rows; r++ {
			for c := 0; c < cols; c++ {
				a, b := want[r*ldd+c], src[r*lds+c]
				want[r*ldd+c] = float32(math.Max(float64(a), float64(b)))
			}
		}
		cp := append([]float32(nil), dst...)
		MaxRows(dst, ldd, src, lds, rows, cols)
		for i := range dst {
			if g, w := dst[i], want[i]; g != w && !(g != g && w != w) {
				t.Fatalf("%d×%d: dst[%d] = %v, want %v", rows, cols, i, g, w)
			}
		}
		CopyRows(cp, ldd, src, lds, rows, cols)
		for r := 0; r < rows; r++ {
			for c := 0; c < ldd; c++ {
				w := dst[r*ldd+c] // the guard columns
				if c < cols {
					w = src[r*lds+c]
				}
				if g := cp[r*ldd+c]; g != w && !(g != g && w != w) {
					t.Fatalf("%d×%d: CopyRows: dst[%d][%d] = %v, want %v", rows, cols, r, c, g, w)
				}
			}
		}
	}
}

// TestPackT checks PackT and WritePackedT against the layout of a GEMM's
// packed left operand, element by element, split into row ranges.
func TestPackT(t *testing.T) {
	for _, d := range [][2]int{{1, 1}, {5, 12}, {7, 13}, {30, 49}, {3, 196}} {
		rows, cols := d[0], d[1]
		lds := cols + 2
		src := make([]float32, rows*lds)
		for i := range src {
			src[i] = float32(i + 1)
		}
		dst := make([]float32, PackedTLen(rows, cols)+3)
		for i := range dst {
			dst[i] = -1
		}
		PackT(dst, src, lds, rows, cols, 0, rows/2)
		PackT(dst, src, lds, rows, cols, rows/2, rows)
		for j := 0; j < (cols+MR-1)/MR*MR; j++ {
			for r := 0; r < rows; r++ {
				want := float32(0)
				if j < cols {
					want = src[r*lds+j]
				}
				if got := dst[(j/MR)*rows*MR+r*MR+j%MR]; got != want {
					t.Fatalf("%d×%d: (%d, %d) = %v, want %v", rows, cols, r, j, got, want)
				}
			}
		}
		for _, v := range dst[PackedTLen(rows, cols):] {
			if v != -1 {
				t.Fatalf("%d×%d: wrote past the end", rows, cols)
			}
		}
	}
	// WritePackedT is PackT of WriteRows.
	sp, f := NewStrided(3, 14, 14, 7, 7, 3, 3, 2, 1, 1, 1, 1)
	x := make([]float32, 3*14*14)
	for i := range x {
		x[i] = float32(i%17) - 3
	}
	xs := make([]float32, sp.Len())
	sp.Run(xs, x, 0, 3)
	rows := make([]float32, f.Rows()*f.Cols())
	f.WriteRows(rows, f.Cols(), xs, 0, f.Rows())
	want := make([]float32, PackedTLen(f.Rows(), f.Cols()))
	PackT(want, rows, f.Cols(), f.Rows(), f.Cols(), 0, f.Rows())
	got := make([]float32, len(want))
	tmp := make([]float32, f.Cols())
	f.WritePackedT(got, xs, tmp, 0, 5)
	f.WritePackedT(got, xs, tmp, 5, f.Rows())
	for i := range want {
		if got[i] != want[i] {
			t.Fatalf("WritePackedT: element %d = %v, want %v", i, got[i], want[i])
		}
	}
}

func TestGather2Rows(t *testing.T) {
	for _, d := range [][2]int{{1, 1}, {3, 7}, {2, 16}, {4, 17}, {3, 33}, {5, 56}} {
		rows, n := d[0], d[1]
		lds, ldd := 2*n+3, n+2
		src := make([]float32, (rows-1)*lds+2*n-1)
		for i := range src {
			src[i] = float32(i)
		}
		dst := make([]float32, rows*ldd)
		for i := range dst {
			dst[i] = -1
		}
		// The source ends at the last row's last needed element.
		Gather2Rows(dst, ldd, src, lds, rows, n)
		for r := 0; r < rows; r++ {
			for i := 0; i < ldd; i++ {
				want := float32(-1)
				if i < n {
					want = src[r*lds+2*i]
				}
				if got := dst[r*ldd+i]; got != want {
					t.Fatalf("%d×%d: dst[%d][%d] = %v, want %v", rows, n, r, i, got, want)
				}
			}
		}
	}
}
