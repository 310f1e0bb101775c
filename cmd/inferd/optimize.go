package main

import (
	"context"
	"fmt"
	"io"
	"runtime/debug"
	"strings"

	"github.com/inferd/inferd/engine"
	"github.com/inferd/inferd/ir"
	"github.com/inferd/inferd/onnx"
	"github.com/inferd/inferd/optimize"
)

// externalDataLimit is the size above which inferd optimize writes
// initializers to an external data file: a protobuf message cannot exceed
// 2 GiB, and the graph itself needs some room.
const externalDataLimit = 1 << 30

func optimizeCmd(args []string, stdout, stderr io.Writer) error {
	fs := newFlagSet("optimize", stderr)
	out := fs.String("o", "", "write the optimized model to `OUT`")
	levelName := fs.String("level", "extended", "`LEVEL`: basic (standard ONNX ops only, loadable by any runtime) or extended (adds inferd's fused ops)")
	disable := fs.String("disable", "", "comma-separated `PASSES` not to run")
	enable := fs.String("enable", "", "comma-separated `PASSES` to run although the level does not include them")
	report := fs.Bool("report", false, "print the passes that changed the graph and the node count by op type")
	list := fs.Bool("list", false, "list the passes and their levels, then exit")
	extData := fs.Int64("external-data", -1, "write initializers of at least `BYTES` to OUT.data (default: only when the weights exceed 1 GiB; 0 never)")
	pos, err := parseInterleaved(fs, args)
	if err != nil {
		return err
	}
	if *list {
		for _, p := range optimize.AllPasses() {
			fmt.Fprintf(stdout, "%-24s %s\n", p[0], p[1])
		}
		return nil
	}
	if len(pos) != 1 {
		return fmt.Errorf("want one MODEL argument, got %d", len(pos))
	}
	if *out == "" {
		return fmt.Errorf("-o OUT is required")
	}
	level, err := optimize.ParseLevel(*levelName)
	if err != nil {
		return err
	}
	// Loading keeps every weight in memory once. Rewriting and saving make
	// garbage of about one weight at a time; a low GC target collects it
	// before it adds up (a 2.2 GB model peaks at 1.2x its size, where the
	// default target lets it reach 2x).
	defer debug.SetGCPercent(debug.SetGCPercent(10))
	m, err := onnx.Load(pos[0])
	if err != nil {
		return err
	}
	var weights int64
	for _, in := range m.Graph.Initializers {
		weights += int64(in.Tensor.Len() * max(in.Tensor.DType.Size(), 1))
	}
	rep, err := optimize.Run(context.Background(), m, optimize.Options{Level: level,
		Disable: splitList(*disable), Enable: splitList(*enable), Evaluator: engine.Evaluator{}})
	if err != nil {
		return fmt.Errorf("%s: %w", pos[0], err)
	}
	if err := ir.Verify(m); err != nil {
		return fmt.Errorf("%s: the optimized model is invalid (a bug in inferd): %w", pos[0], err)
	}
	opts := onnx.SaveOptions{}
	switch {
	case *extData > 0:
		opts.ExternalDataThreshold = *extData
	case *extData < 0 && weights > externalDataLimit:
		opts.ExternalDataThreshold = 1024
	}
	if err := onnx.Save(*out, m, opts); err != nil {
		return err
	}
	if *report {
		_, err := rep.WriteTo(stdout)
		return err
	}
	fmt.Fprintf(stdout, "%s: %d nodes -> %d nodes (%s) -> %s\n", pos[0], rep.NodesBefore(), rep.NodesAfter(), level, *out)
	return nil
}

func splitList(s string) []string {
	var out []string
	for _, f := range strings.Split(s, ",") {
		if f = strings.TrimSpace(f); f != "" {
			out = append(out, f)
		}
	}
	return out
}
