//go:build race

package kernels

// raceEnabled: under the race detector sync.Pool drops items at random, so
// allocation counts mean nothing; tests still run the kernels and skip
// only their allocation assertions.
const raceEnabled = true
