//go:build tools

package main

// The generator reads the polynomial coefficients from
// kernels/vec/internal/coef, so this module requires the main module.
import _ "github.com/inferd/inferd/kernels/vec/internal/coef"
