package quantize

import (
	"fmt"
	"io"
	"text/tabwriter"
)

// WriteTable prints the report as the summary tables `inferd quantize`
// shows: the calibrated activation ranges (static mode), what happened to
// each node, and the size of the weights before and after.
func (r *Report) WriteTable(w io.Writer) error {
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', tabwriter.AlignRight)
	if len(r.Tensors) > 0 {
		fmt.Fprintf(w, "activations: %v per tensor, %s calibration on %d samples\n", r.Activations, r.Method, r.Samples)
		fmt.Fprintln(tw, "tensor\tobserved min\tobserved max\tkept min\tkept max\tscale\tzero point\tshares\t")
		for _, t := range r.Tensors {
			shares := "-"
			if t.SharedFrom != "" {
				shares = t.SharedFrom
			}
			fmt.Fprintf(tw, "%s\t%.5g\t%.5g\t%.5g\t%.5g\t%.5g\t%d\t%s\t\n", t.Name, t.Min, t.Max, t.Lo, t.Hi, t.Scale, t.ZeroPoint, shares)
		}
		if err := tw.Flush(); err != nil {
			return err
		}
		fmt.Fprintln(w)
	}
	quantized := 0
	tw = tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	fmt.Fprintln(tw, "node\top\tresult\t")
	for _, n := range r.Nodes {
		res := "kept: " + n.Detail
		if n.Quantized {
			res = n.Detail
			quantized++
		}
		fmt.Fprintf(tw, "%s\t%s\t%s\t\n", n.Name, n.OpType, res)
	}
	if err := tw.Flush(); err != nil {
		return err
	}
	fmt.Fprintf(w, "\n%s: %d of %d nodes considered changed; weights %s -> %s (%.2fx smaller); ai.onnx opset %d\n",
		r.Mode, quantized, len(r.Nodes), HumanBytes(r.ParamBytesBefore), HumanBytes(r.ParamBytesAfter),
		float64(r.ParamBytesBefore)/float64(max(1, r.ParamBytesAfter)), r.Opset)
	return nil
}

// HumanBytes formats a byte count as "1.5 MiB".
func HumanBytes(n int64) string {
	const unit = 1024
	if n < unit {
		return fmt.Sprintf("%d B", n)
	}
	div, exp := int64(unit), 0
	for v := n / unit; v >= unit; v /= unit {
		div *= unit
		exp++
	}
	return fmt.Sprintf("%.2f %ciB", float64(n)/float64(div), "KMGTPE"[exp])
}
