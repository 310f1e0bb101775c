package gemm

import "fmt"

// PackedA is an m×k left operand packed into panels of MR rows. Panel p
// holds rows [p·MR, p·MR+MR) for every k: element (i, kk) is at
// data[p·k·MR + kk·MR + i-p·MR], and rows at or past m are zero. A PackedA
// is immutable and safe for concurrent use.
type PackedA struct {
	m, k int
	data []float32
}

// PackedB is a k×n right operand packed into panels of NR columns. Panel p
// holds columns [p·NR, p·NR+NR) for every k: element (kk, j) is at
// data[p·k·NR + kk·NR + j-p·NR], and columns at or past n are zero. A
// PackedB is immutable and safe for concurrent use.
type PackedB struct {
	k, n int
	data []float32
}

// Dims returns op(A)'s rows and columns.
func (p *PackedA) Dims() (m, k int) { return p.m, p.k }

// Dims returns op(B)'s rows and columns.
func (p *PackedB) Dims() (k, n int) { return p.k, p.n }

// Floats returns the number of float32 the packed form holds (its size in
// memory is four times that).
func (p *PackedA) Floats() int { return len(p.data) }

// Floats returns the number of float32 the packed form holds.
func (p *PackedB) Floats() int { return len(p.data) }

func ceilDiv(a, b int) int { return (a + b - 1) / b }

// PackA packs op(a), an m×k matrix, for GemmPackedA.
func PackA(m, k int, a Matrix) *PackedA {
	a.check("A", m, k)
	p := &PackedA{m: m, k: k, data: make([]float32, ceilDiv(m, MR)*MR*k)}
	packA(p.data, a, 0, m, k)
	return p
}

// PackedAOf returns the PackedA of an m×k operand that the caller has
// written into data in PackedA's layout (ceil(m/MR)·MR·k floats, rows
// past m zero), without copying: a value, so that a caller that packs A
// on every call into pooled storage allocates nothing. data must not
// change while the PackedA is in use.
func PackedAOf(m, k int, data []float32) PackedA {
	if need := ceilDiv(m, MR) * MR * k; m < 0 || k < 0 || len(data) < need {
		panic(fmt.Sprintf("gemm: PackedAOf %d×%d: %d floats, need %d", m, k, len(data), need))
	}
	return PackedA{m: m, k: k, data: data}
}

// PackB packs op(b), a k×n matrix, for GemmPackedB.
func PackB(k, n int, b Matrix) *PackedB {
	b.check("B", k, n)
	p := &PackedB{k: k, n: n, data: make([]float32, ceilDiv(n, NR)*NR*k)}
	packB(p.data, b, k, 0, n)
	return p
}

// PackBFunc packs a k×n right operand that fill writes panel by panel (see
// PanelFunc).
func PackBFunc(k, n int, fill PanelFunc) *PackedB {
	p := &PackedB{k: k, n: n, data: make([]float32, ceilDiv(n, NR)*NR*k)}
	for j := 0; j < n; j += NR {
		fill(p.data[(j/NR)*k*NR:][:k*NR], 0, k, j)
	}
	return p
}

// packA packs rows [i0, i1) of op(a) (k columns) into dst as consecutive
// MR-row panels; rows of the last panel past i1 are zeroed.
func packA(dst []float32, a Matrix, i0, i1, k int) {
	if a.Trans {
		// Stored k×m: walk k in slabs that stay in cache while every
		// panel takes its MR columns from them.
		const slab = 64
		for kb := 0; kb < k; kb += slab {
			kn := min(slab, k-kb)
			for p, i := 0, i0; i < i1; p, i = p+1, i+MR {
				panel := dst[p*k*MR+kb*MR : p*k*MR+(kb+kn)*MR]
				packATrans(panel, a.Data[kb*a.Stride+i:], a.Stride, min(MR, i1-i), kn)
			}
		}
		return
	}
	for p, i := 0, i0; i < i1; p, i = p+1, i+MR {
		packARows(dst[p*k*MR:(p+1)*k*MR], a.Data[i*a.Stride:], a.Stride, min(MR, i1-i), k)
	}
}

// packATrans packs an A stored transposed (k×m): each step of k copies MR
// contiguous floats.
func packATrans(panel, src []float32, ld, rows, k int) {
	if rows == MR {
		for kk := 0; kk < k; kk++ {
			*(*[MR]float32)(panel[kk*MR:]) = *(*[MR]float32)(src[kk*ld:])
		}
		return
	}
	for kk := 0; kk < k; kk++ {
		d := panel[kk*MR : kk*MR+MR]
		copy(d, src[kk*ld:kk*ld+rows])
		clear(d[rows:])
	}
}

// packARows packs rows rows of a row-major A (row stride ld) into panel,
// transposing each MR×k slab to k×MR.
func packARows(panel, src []float32, ld, rows, k int) {
	if rows == MR && packARowsFast(panel, src, ld, k) {
		return
	}
	var r [MR][]float32
	for i := range r {
		if i < rows {
			r[i] = src[i*ld : i*ld+k]
		}
	}
	for i := 0; i < MR; i++ {
		if i >= rows {
			for kk := 0; kk < k; kk++ {
				panel[kk*MR+i] = 0
			}
			continue
		}
		row := r[i]
		for kk, v := range row {
			panel[kk*MR+i] = v
		}
	}
}

// packB packs columns [j0, j1) of op(b) (k rows) into dst as consecutive
// NR-column panels; columns of the last panel past j1 are zeroed.
func packB(dst []float32, b Matrix, k, j0, j1 int) {
	for p, j := 0, j0; j < j1; p, j = p+1, j+NR {
		packBPanel(dst[p*k*NR:(p+1)*k*NR], b, 0, k, j, min(NR, j1-j))
	}
}

// packBPanel packs rows [p0, p1) of the cols columns of op(b) that start
// at column j into panel (NR floats per row).
func packBPanel(panel []float32, b Matrix, p0, p1, j, cols int) {
	if !b.Trans {
		for kk := p0; kk < p1; kk++ {
			d := panel[(kk-p0)*NR : (kk-p0)*NR+NR]
			if cols == NR {
				*(*[NR]float32)(d) = *(*[NR]float32)(b.Data[kk*b.Stride+j:])
				continue
			}
			copy(d, b.Data[kk*b.Stride+j:kk*b.Stride+j+cols])
			clear(d[cols:])
		}
		return
	}
	// B stored n×k: column j of op(B) is row j of the storage.
	if cols == NR && packBTransFast(panel, b.Data[j*b.Stride:], b.Stride, p0, p1) {
		return
	}
	for c := 0; c < NR; c++ {
		if c >= cols {
			for kk := p0; kk < p1; kk++ {
				panel[(kk-p0)*NR+c] = 0
			}
			continue
		}
		row := b.Data[(j+c)*b.Stride+p0 : (j+c)*b.Stride+p1]
		for kk, v := range row {
			panel[kk*NR+c] = v
		}
	}
}
