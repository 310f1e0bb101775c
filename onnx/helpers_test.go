package onnx

import "fmt"

func valueString(v any) string { return fmt.Sprint(v) }
