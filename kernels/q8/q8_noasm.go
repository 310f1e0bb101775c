//go:build !amd64 || purego

package q8

// Without assembly every routine takes nothing and the Go version runs.

func impls() []string                                      { return []string{"generic"} }
func useImpl(name string) func()                           { return func() {} }
func addAsm(y, a, b []byte, k *addConsts, as, bs bool) int { return 0 }
func maxIntoAsm(dst, src []byte, signed bool) int          { return 0 }
func maxIntoBlock() int                                    { return 0 }
func hmaxBlock() int                                       { return 0 }
func hmax3s2Asm(dst, m []byte, signed bool)                {}
func quantizeAsm(y []byte, x []float32, k *[4]uint32) int  { return 0 }
func minMaxAsm(x []float32, acc *[48]float32) (int, int)   { return 0, 0 }
func evensAsm(dst, src []byte) int                         { return 0 }
func compactAsm(dst, src []byte, rows, w, stride int) bool { return false }
