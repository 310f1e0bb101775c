//go:build race

package kernels

// rnnRaceEnabled: under the race detector sync.Pool drops items at random,
// so allocation counts mean nothing.
const rnnRaceEnabled = true
