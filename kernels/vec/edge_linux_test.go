//go:build linux

package vec

import (
	"syscall"
	"testing"
	"unsafe"
)

// pageEnd returns n float32s ending exactly at a page followed by an
// unmapped (PROT_NONE) page: a routine that reads past its input faults.
func pageEnd(t *testing.T, n int) []float32 {
	t.Helper()
	ps := syscall.Getpagesize()
	mem, err := syscall.Mmap(-1, 0, 2*ps, syscall.PROT_READ|syscall.PROT_WRITE, syscall.MAP_ANON|syscall.MAP_PRIVATE)
	if err != nil {
		t.Skipf("mmap: %v", err)
	}
	t.Cleanup(func() { syscall.Munmap(mem) })
	if err := syscall.Mprotect(mem[ps:], syscall.PROT_NONE); err != nil {
		t.Skipf("mprotect: %v", err)
	}
	all := unsafe.Slice((*float32)(unsafe.Pointer(&mem[0])), ps/4)
	s := all[ps/4-n:]
	for i := range s {
		s[i] = float32(i%7) - 3
	}
	return s
}

// TestNoReadPastEnd runs the routines on inputs that end at an unmapped
// page, at lengths that leave each possible tail.
func TestNoReadPastEnd(t *testing.T) {
	forEachImpl(t, func(t *testing.T) {
		for n := 1; n <= 33; n++ {
			x, y, z := pageEnd(t, n), pageEnd(t, n), pageEnd(t, n)
			d := make([]float32, n)
			Exp(d, x)
			Gelu(d, x)
			Clip(d, x, -1, 1)
			Add(d, x, y)
			ScalarDiv(d, 2, x)
			MulAdd(d, x, y, z)
			Max(x)
			Sum(x)
			SoftmaxRow(d, x)
			LogSoftmaxRow(d, x)
			LayerNormRow(d, x, y, z, 1e-5)
			LayerNormRow(d, x, y, nil, 1e-5)
		}
	})
}
