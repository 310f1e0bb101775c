//go:build amd64 && !purego

package gemm

import (
	"testing"
	"time"
)

// peak8Loops are the loops the 8-bit benchmarks measure peak with, per
// implementation: int8 operations (two per multiply-add) per round and
// the loop.
var peak8Loops = map[string]struct {
	ops  float64
	loop func(n int)
}{
	"avx512vnni": {3072, peakVNNI512},
	"avxvnni":    {768, peakVNNI256},
}

// measurePeak8 times an implementation's peak loop and returns its best
// GOP/s over many short tries, or false when it has none.
func measurePeak8(name string) (float64, bool) {
	p, ok := peak8Loops[name]
	if !ok {
		return 0, false
	}
	return bestRate(p.ops, p.loop), true
}

// bestRate returns the best rate, in G per second, of loop(rounds) doing
// perRound operations a round, over 100 short tries: the best, so that a
// core shared with other work still shows its peak.
func bestRate(perRound float64, loop func(int)) float64 {
	const rounds = 1 << 17
	best := 0.0
	for try := 0; try < 100; try++ {
		start := time.Now()
		loop(rounds)
		best = max(best, perRound*rounds/time.Since(start).Seconds()/1e9)
	}
	return best
}

// BenchmarkPeakVNNI measures the single-core VPDPBUSD peak the 8-bit
// benchmarks are compared against.
func BenchmarkPeakVNNI(b *testing.B) {
	for name, p := range peak8Loops {
		b.Run(name, func(b *testing.B) {
			if _, ok := useImpl8(name); !ok {
				b.Skip("not on this CPU")
			}
			const rounds = 1 << 16
			for b.Loop() {
				p.loop(rounds)
			}
			b.ReportMetric(p.ops*rounds*float64(b.N)/b.Elapsed().Seconds()/1e9, "GOP/s")
		})
	}
}
