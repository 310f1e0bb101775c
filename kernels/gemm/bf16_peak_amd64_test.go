//go:build amd64 && !purego

package gemm

import "testing"

// measurePeakBF16 times the VDPBF16PS loop, or reports false without
// AVX512_BF16.
func measurePeakBF16() (float64, bool) {
	if !hasBF16 {
		return 0, false
	}
	return bestRate(1536, peakBF16), true
}

// BenchmarkPeakBF16 measures the single-core VDPBF16PS peak.
func BenchmarkPeakBF16(b *testing.B) {
	if !hasBF16 {
		b.Skip("no AVX512_BF16")
	}
	const rounds = 1 << 16
	for b.Loop() {
		peakBF16(rounds)
	}
	b.ReportMetric(1536*rounds*float64(b.N)/b.Elapsed().Seconds()/1e9, "GFLOP/s")
}
