//go:build !amd64 || purego

package vec

// Without assembly every routine declines and the Go version runs.

func impls() []string                                                 { return []string{"generic"} }
func useImpl(name string) func()                                      { return func() {} }
func unaryAsm(op int, dst, x []float32) bool                          { return false }
func clipAsm(dst, x []float32, lo, hi float32) bool                   { return false }
func binaryAsm(op int, dst, x, y []float32) bool                      { return false }
func scalarAsm(op int, dst, x []float32, s float32) bool              { return false }
func mulAddAsm(dst, x, y, z []float32) bool                           { return false }
func maxAsm(x []float32) (float32, bool)                              { return 0, false }
func sumAsm(x []float32) (float32, bool)                              { return 0, false }
func expSubSumAsm(dst, x []float32, m float32) (float32, bool)        { return 0, false }
func sumShiftAsm(x []float32, s float32) (s1, s2 float64, ok bool)    { return 0, 0, false }
func normAsm(dst, x, scale, bias []float32, mh, ml, inv float32) bool { return false }
