// Command inferd takes a trained ONNX model to production: it runs,
// inspects, benchmarks, optimizes, compresses and serves it.
//
//	inferd run MODEL [-i NAME=FILE]... [-o DIR] [--threads N]
//	inferd bench MODEL [-i NAME=FILE]... [--shape NAME=1,3,224,224] [--threads N] [--warmup N] [--iters N] [--json]
//	inferd inspect MODEL
//	inferd serve [--model-repository DIR] [--http-port 8000] [--grpc-port 8001] [--metrics-port 8002] [--model-control-mode none|poll|explicit] [--repository-poll-secs N]
//	inferd config generate MODEL
//
// Errors go to stderr with a non-zero exit status.
package main

import (
	"fmt"
	"io"
	"os"
)

type command struct {
	name  string
	usage string
	run   func(args []string, stdout, stderr io.Writer) error
}

func commands() []command {
	return []command{
		{"run", "run MODEL [-i NAME=FILE]... [-o DIR] [--threads N]", runCmd},
		{"bench", "bench MODEL [-i NAME=FILE]... [--shape NAME=D,D,..]... [--threads N] [--warmup N] [--iters N] [--json]", benchCmd},
		{"inspect", "inspect MODEL", inspectCmd},
		{"quantize", quantizeUsage, quantizeCmd},
		{"evaluate", evaluateUsage, evaluateCmd},
		{"compress", compressUsage, compressCmd},
		{"config", "config generate MODEL [--name NAME] [--max-batch-size N]", configCmd},
		{"serve", "serve [--model-repository DIR] [--http-port 8000] [--grpc-port 8001] [--metrics-port 8002] [--model-control-mode none|poll|explicit] [--repository-poll-secs N] [...]", serveCmd},
		{"optimize", "optimize MODEL -o OUT [--level basic|extended] [--disable P,..] [--enable P,..] [--report] [--list]", optimizeCmd},
	}
}

func usage(w io.Writer) {
	fmt.Fprintln(w, "usage: inferd COMMAND [arguments]\n\ncommands:")
	for _, c := range commands() {
		fmt.Fprintln(w, "  inferd", c.usage)
	}
}

func main() {
	os.Exit(mainErr(os.Args[1:], os.Stdout, os.Stderr))
}

func mainErr(args []string, stdout, stderr io.Writer) int {
	if len(args) == 0 || args[0] == "-h" || args[0] == "--help" || args[0] == "help" {
		usage(stderr)
		if len(args) == 0 {
			return 2
		}
		return 0
	}
	for _, c := range commands() {
		if c.name == args[0] {
			if err := c.run(args[1:], stdout, stderr); err != nil {
				fmt.Fprintf(stderr, "inferd %s: %v\n", c.name, err)
				return 1
			}
			return 0
		}
	}
	fmt.Fprintf(stderr, "inferd: unknown command %q\n", args[0])
	usage(stderr)
	return 2
}
