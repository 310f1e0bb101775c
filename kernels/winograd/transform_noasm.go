//go:build !amd64 || purego

package winograd

// useAsm is false: there is no assembly in this build (tests set it).
var useAsm = false

// Accelerated reports whether the transforms run as vector assembly on
// this CPU; callers choose Winograd only when they do, since the portable
// Go transforms cost more than the multiplications Winograd saves.
func Accelerated() bool { return false }

func splitRows(dst, src []float32, a *splitArgs) { splitGeneric(dst, src, a) }

func inputTiles(v []float32, vxs, vcs int, s []float32, lh, scs, nch int, mask uint32) {
	inputGeneric(v, vxs, vcs, s, lh, scs, nch, mask)
}

func outputTiles(y, m, bias, res []float32, a *outArgs) { outputGeneric(y, m, bias, res, a) }
