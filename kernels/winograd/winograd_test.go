package winograd

import (
	"fmt"
	"math"
	"math/rand/v2"
	"sync"
	"testing"
)

// directConv64 is the reference: the 3×3 stride-1 convolution of x (N×C×H×W)
// with w (K×C×3×3) in float64, pads pt (top) and pl (left), output OH×OW,
// plus bias and residual, then the activation act.
func directConv64(g Geom, x, w, bias, res []float32, act func(float64) float64) []float64 {
	y := make([]float64, g.N*g.K*g.OH*g.OW)
	for n := 0; n < g.N; n++ {
		for k := 0; k < g.K; k++ {
			for oy := 0; oy < g.OH; oy++ {
				for ox := 0; ox < g.OW; ox++ {
					s := 0.0
					for c := 0; c < g.C; c++ {
						for i := 0; i < 3; i++ {
							iy := oy + i - g.PT
							if iy < 0 || iy >= g.H {
								continue
							}
							for j := 0; j < 3; j++ {
								ix := ox + j - g.PL
								if ix < 0 || ix >= g.W {
									continue
								}
								s += float64(x[((n*g.C+c)*g.H+iy)*g.W+ix]) * float64(w[((k*g.C+c)*3+i)*3+j])
							}
						}
					}
					o := ((n*g.K+k)*g.OH+oy)*g.OW + ox
					if bias != nil {
						s += float64(bias[k])
					}
					if res != nil {
						s += float64(res[o])
					}
					y[o] = act(s)
				}
			}
		}
	}
	return y
}

func randSlice(r *rand.Rand, n int) []float32 {
	v := make([]float32, n)
	for i := range v {
		v[i] = float32(r.Float64()*2 - 1)
	}
	return v
}

// parTwo runs fn over [0, n) on two goroutines, as the engine's pool does
// with two threads.
func parTwo(n int, fn func(lo, hi int)) {
	var wg sync.WaitGroup
	mid := n / 2
	wg.Add(1)
	go func() { defer wg.Done(); fn(0, mid) }()
	fn(mid, n)
	wg.Wait()
}

// implementations returns the transform implementations this build can
// run, each with a func that makes it current and restores the previous.
func implementations() map[string]func() func() {
	impls := map[string]func() func(){
		"generic": func() func() {
			prev := useAsm
			useAsm = false
			return func() { useAsm = prev }
		},
	}
	if Accelerated() {
		impls["asm"] = func() func() {
			prev := useAsm
			useAsm = true
			return func() { useAsm = prev }
		}
	}
	return impls
}

type epCase struct {
	name            string
	bias, res       bool
	lo, hi          float32
	leaky           bool
	fn              bool
	act             func(float64) float64
	identityOutside bool
}

var (
	inf     = float32(math.Inf(1))
	epCases = []epCase{
		{name: "none", lo: -inf, hi: inf, act: func(v float64) float64 { return v }},
		{name: "bias", bias: true, lo: -inf, hi: inf, act: func(v float64) float64 { return v }},
		{name: "bias-res-relu", bias: true, res: true, lo: 0, hi: inf, act: func(v float64) float64 { return max(v, 0) }},
		{name: "clip", bias: true, lo: -0.5, hi: 0.5, act: func(v float64) float64 { return min(max(v, -0.5), 0.5) }},
		{name: "leaky-res", res: true, lo: -inf, hi: inf, leaky: true, act: func(v float64) float64 {
			if v < 0 {
				return 0.1 * v
			}
			return v
		}},
		{name: "fn", bias: true, lo: -inf, hi: inf, fn: true, act: func(v float64) float64 { return 2 * v }},
	}
)

// checkConv runs the plan of g against the float64 reference and fails
// if the relative L2 error exceeds 1e-5 or any element's error exceeds
// 1e-5 of the output's largest magnitude. F(2×2, 3×3) adds about log2(C)
// + 4 float32 roundings (the sum over channels, the transforms' few
// additions), each of relative size 6e-8, to values of the output's scale:
// observed errors are near 1e-7 for these sizes; 1e-5 leaves room and
// still catches any wrong tap, tile or edge.
func checkConv(t *testing.T, r *rand.Rand, g Geom, e epCase, par func(int, func(int, int))) {
	t.Helper()
	x := randSlice(r, g.N*g.C*g.H*g.W)
	w := randSlice(r, g.K*g.C*9)
	var bias, res []float32
	if e.bias {
		bias = randSlice(r, g.K)
	}
	if e.res {
		res = randSlice(r, g.N*g.K*g.OH*g.OW)
	}
	f, err := NewFilter(w, g.K, g.C)
	if err != nil {
		t.Fatal(err)
	}
	p, err := NewPlan(g, 2)
	if err != nil {
		t.Fatal(err)
	}
	y := make([]float32, g.N*g.K*g.OH*g.OW+7)
	for i := range y {
		y[i] = float32(math.NaN())
	}
	ep := Epilogue{Bias: bias, Residual: res, Lo: e.lo, Hi: e.hi, Leaky: e.leaky, Alpha: 0.1}
	if e.fn {
		ep.Fn = func(row []float32, _, _ int) {
			for i := range row {
				row[i] *= 2
			}
		}
	}
	p.Run(y, x, f, &ep, par)
	want := directConv64(g, x, w, bias, res, e.act)
	var num, den, maxAbs, maxErr float64
	for i, v := range want {
		d := float64(y[i]) - v
		if math.IsNaN(d) {
			t.Fatalf("%+v %s: y[%d] = %v, want %v", g, e.name, i, y[i], v)
		}
		num += d * d
		den += v * v
		maxAbs = max(maxAbs, math.Abs(v))
		maxErr = max(maxErr, math.Abs(d))
	}
	for i := len(want); i < len(y); i++ {
		if !math.IsNaN(float64(y[i])) {
			t.Fatalf("%+v: wrote y[%d] past the output", g, i)
		}
	}
	if rel := math.Sqrt(num / max(den, 1e-300)); rel > 1e-5 || maxErr > 1e-5*maxAbs {
		t.Errorf("%+v %s: relative L2 error %.3g, max error %.3g of max |y| %.3g", g, e.name, rel, maxErr, maxAbs)
	}
}

func TestConv(t *testing.T) {
	type pads struct{ t, l, b, r int }
	sizes := [][2]int{{1, 1}, {2, 2}, {3, 3}, {4, 5}, {7, 7}, {8, 8}, {13, 6}, {14, 14}, {17, 33}, {28, 28}, {35, 34}, {57, 57}}
	padList := []pads{{0, 0, 0, 0}, {1, 1, 1, 1}, {1, 0, 0, 1}, {0, 1, 1, 0}, {2, 2, 1, 0}}
	chans := [][2]int{{1, 1}, {3, 5}, {17, 19}, {64, 32}}
	for name, use := range implementations() {
		t.Run(name, func(t *testing.T) {
			defer use()()
			r := rand.New(rand.NewPCG(1, 2))
			i := 0
			for _, hw := range sizes {
				for _, pd := range padList {
					oh, ow := hw[0]+pd.t+pd.b-2, hw[1]+pd.l+pd.r-2
					if oh <= 0 || ow <= 0 {
						continue
					}
					for _, ck := range chans {
						if ck[0]*ck[1]*hw[0]*hw[1] > 64*32*28*28 {
							continue
						}
						i++
						n := 1 + 2*(i%2) // batch 1 and 3
						e := epCases[i%len(epCases)]
						g := Geom{N: n, C: ck[0], H: hw[0], W: hw[1], K: ck[1], OH: oh, OW: ow, PT: pd.t, PL: pd.l}
						var par func(int, func(int, int))
						if i%3 == 0 {
							par = parTwo
						}
						checkConv(t, r, g, e, par)
					}
				}
			}
			// Every epilogue on one shape, and the big planes with few
			// channels.
			for _, e := range epCases {
				checkConv(t, r, Geom{N: 2, C: 9, H: 11, W: 10, K: 7, OH: 11, OW: 10, PT: 1, PL: 1}, e, parTwo)
			}
			checkConv(t, r, Geom{N: 1, C: 3, H: 57, W: 57, K: 4, OH: 57, OW: 57, PT: 1, PL: 1}, epCases[2], nil)
			checkConv(t, r, Geom{N: 1, C: 2, H: 5, W: 150, K: 3, OH: 5, OW: 150, PT: 1, PL: 1}, epCases[1], parTwo)
		})
	}
}

// TestBlocks runs plans cut into many small blocks (down and across) and
// one big one.
func TestBlocks(t *testing.T) {
	for name, use := range implementations() {
		t.Run(name, func(t *testing.T) {
			defer use()()
			r := rand.New(rand.NewPCG(3, 4))
			for _, bb := range []int{1, 40 << 10, 64 << 20} {
				prev := BlockBytes
				BlockBytes = bb
				for _, g := range []Geom{
					{N: 1, C: 16, H: 30, W: 31, K: 16, OH: 30, OW: 31, PT: 1, PL: 1},
					{N: 3, C: 5, H: 9, W: 140, K: 6, OH: 7, OW: 138},
				} {
					checkConv(t, r, g, epCases[2], parTwo)
				}
				BlockBytes = prev
			}
		})
	}
}

func TestBadGeometry(t *testing.T) {
	for _, g := range []Geom{
		{N: 1, C: 1, H: 4, W: 4, K: 1, OH: 0, OW: 2},
		{N: 1, C: 1, H: 4, W: 4, K: 1, OH: 5, OW: 2},
		{N: 1, C: 1, H: 4, W: 4, K: 1, OH: 2, OW: 2, PT: -1},
	} {
		if _, err := NewPlan(g, 1); err == nil {
			t.Errorf("NewPlan(%+v) succeeded", g)
		}
	}
	if _, err := NewFilter(make([]float32, 17), 2, 1); err == nil {
		t.Error("NewFilter of 17 floats for 2×1×3×3 succeeded")
	}
}

// TestPlanBlocks checks the blocking of ResNet's shapes: every tile in
// exactly one block.
func TestPlanBlocks(t *testing.T) {
	for _, s := range [][2]int{{56, 64}, {28, 128}, {14, 256}, {7, 512}} {
		for _, threads := range []int{1, 2, 4} {
			g := Geom{N: 1, C: s[1], H: s[0], W: s[0], K: s[1], OH: s[0], OW: s[0], PT: 1, PL: 1}
			p, err := NewPlan(g, threads)
			if err != nil {
				t.Fatal(err)
			}
			if p.nby*p.nty < p.th || (p.nby-1)*p.nty >= p.th || p.nbx*p.ntx < p.tw {
				t.Errorf("%v threads %d: blocks %d×%d of %d×%d do not cover %d×%d tiles", s, threads, p.nby, p.nbx, p.nty, p.ntx, p.th, p.tw)
			}
			t.Log(fmt.Sprintf("%d×%d×%d, %d threads: %d blocks of %d×%d tiles", s[0], s[0], s[1], threads, p.Blocks(), p.nty, p.ntx))
		}
	}
}
