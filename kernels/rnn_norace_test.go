//go:build !race

package kernels

const rnnRaceEnabled = false
