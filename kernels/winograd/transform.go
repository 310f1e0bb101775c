package winograd

// The three per-block kernels. Each has a portable Go version here, which
// is also the reference the assembly is tested against, and an AVX-512
// version on amd64 (transform_amd64.go). Their arguments are offsets into
// slices the driver has sized, so the kernels themselves check nothing.

// splitArgs describes one split call: for each of nch channels and rows
// rows, the n floats src[c·scs + r·srs + i] go to
//
//	dst[dst  + c·dcs + r·drs + i/2] for even i
//	dst[dst2 + c·dcs + r·drs + i/2] for odd i
type splitArgs struct {
	n, rows, nch   int
	srs, scs       int // source row and channel strides
	drs, dcs       int // destination row and channel strides
	src, dst, dst2 int // offsets of the first source float and of the A and B halves' first destinations
}

// splitGeneric runs a split in Go.
func splitGeneric(dst, src []float32, a *splitArgs) {
	for c := 0; c < a.nch; c++ {
		for r := 0; r < a.rows; r++ {
			s := src[a.src+c*a.scs+r*a.srs:][:a.n]
			da := dst[a.dst+c*a.dcs+r*a.drs:]
			db := dst[a.dst2+c*a.dcs+r*a.drs:]
			for i := 0; i+1 < len(s); i += 2 {
				da[i/2] = s[i]
				db[i/2] = s[i+1]
			}
			if len(s)%2 == 1 {
				da[len(s)/2] = s[len(s)-1]
			}
		}
	}
}

// inputGeneric computes the input transform V = Bᵀ·d·B of up to 16
// horizontally adjacent 4×4 tiles in each of nch channels. Tile l of
// channel c reads its rows r = 0…3 from the split scratch s: columns 0 and
// 2 from the even half, s[c·scs + r·2·lh + l + {0, 1}], columns 1 and 3
// from the odd half at +lh. V element ξ = 4i + j of tile l goes to
// v[ξ·vxs + c·vcs + l] for the lanes l set in mask.
func inputGeneric(v []float32, vxs, vcs int, s []float32, lh, scs, nch int, mask uint32) {
	var d [4][4]float32
	for c := 0; c < nch; c++ {
		sc := s[c*scs:]
		for l := 0; l < 16; l++ {
			if mask&(1<<l) == 0 {
				continue
			}
			for r := 0; r < 4; r++ {
				e, o := sc[r*2*lh+l:], sc[r*2*lh+lh+l:]
				// Bᵀ's rows on the columns: (d0-d2, d1+d2, d2-d1, d1-d3).
				d[r] = [4]float32{e[0] - e[1], o[0] + e[1], e[1] - o[0], o[0] - o[1]}
			}
			for j := 0; j < 4; j++ {
				vc := v[c*vcs+l:]
				vc[(0+j)*vxs] = d[0][j] - d[2][j]
				vc[(4+j)*vxs] = d[1][j] + d[2][j]
				vc[(8+j)*vxs] = d[2][j] - d[1][j]
				vc[(12+j)*vxs] = d[1][j] - d[3][j]
			}
		}
	}
}

// outArgs describes one output transform call over nch channels.
type outArgs struct {
	nch      int
	mxs, mcs int // M's ξ and channel strides
	ys, ycs  int // y's row and channel strides (the residual's too)
	rows     int // output rows to write: 1 or 2
	mask     uint32
	lo, hi   float32
}

// outputGeneric computes the output transform Y = Aᵀ·M·A of up to 16
// horizontally adjacent tiles in each of a.nch channels, with the
// epilogue: for each channel c, tile lane l set in a.mask… more exactly
// for each output column x < 32 whose bit is set in a.mask (column x is
// tile l = x/2's column x%2) and output row r < a.rows,
//
//	y[c·ycs + r·ys + x] = min(max(Y[r][x%2] + bias[c] + res[c·ycs + r·ys + x], lo), hi)
//
// where Y is tile l's 2×2 result from M element ξ at m[ξ·mxs + c·mcs + l]
// and the residual is added when res is not nil. A NaN stays NaN.
func outputGeneric(y []float32, m []float32, bias []float32, res []float32, a *outArgs) {
	for c := 0; c < a.nch; c++ {
		mc := m[c*a.mcs:]
		b := bias[c]
		for l := 0; l < 16; l++ {
			if a.mask&(3<<(2*l)) == 0 {
				continue
			}
			var s [2][4]float32
			for j := 0; j < 4; j++ {
				m0, m1, m2, m3 := mc[(0+j)*a.mxs+l], mc[(4+j)*a.mxs+l], mc[(8+j)*a.mxs+l], mc[(12+j)*a.mxs+l]
				s[0][j] = m0 + m1 + m2
				s[1][j] = m1 - m2 - m3
			}
			for r := 0; r < a.rows; r++ {
				out := [2]float32{s[r][0] + s[r][1] + s[r][2], s[r][1] - s[r][2] - s[r][3]}
				for q := 0; q < 2; q++ {
					x := 2*l + q
					if a.mask&(1<<x) == 0 {
						continue
					}
					i := c*a.ycs + r*a.ys + x
					v := out[q] + b
					if res != nil {
						v += res[i]
					}
					if v < a.lo {
						v = a.lo
					}
					if v > a.hi {
						v = a.hi
					}
					y[i] = v
				}
			}
		}
	}
}
