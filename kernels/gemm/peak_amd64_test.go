//go:build amd64 && !purego

package gemm

import (
	"testing"
	"time"
)

// peakLoops are the FMA loops the benchmarks measure peak with, per
// implementation: flops per round and the loop.
var peakLoops = map[string]struct {
	flops float64
	loop  func(n int)
}{
	"avx512": {768, peakFMA512},
	"avx2":   {192, peakFMA256},
}

// measurePeak times the implementation's FMA loop and returns its best
// GFLOP/s over many short tries (the best, so that a core shared with
// other work still shows its peak), or false when it has none.
func measurePeak(name string) (float64, bool) {
	p, ok := peakLoops[name]
	if !ok {
		return 0, false
	}
	const rounds = 1 << 18
	best := 0.0
	for try := 0; try < 100; try++ {
		start := time.Now()
		p.loop(rounds)
		g := p.flops * rounds / time.Since(start).Seconds() / 1e9
		best = max(best, g)
	}
	return best, true
}

// BenchmarkPeakFMA measures the single-core FMA peak the GEMM benchmarks
// are compared against: 24 independent 512-bit FMAs (12 of 256 bits) a
// round.
func BenchmarkPeakFMA(b *testing.B) {
	for name, p := range peakLoops {
		b.Run(name, func(b *testing.B) {
			if _, ok := useImpl(name); !ok {
				b.Skip("not on this CPU")
			}
			const rounds = 1 << 16
			for b.Loop() {
				p.loop(rounds)
			}
			b.ReportMetric(p.flops*rounds*float64(b.N)/b.Elapsed().Seconds()/1e9, "GFLOP/s")
		})
	}
}
