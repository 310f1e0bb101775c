package conformance

import (
	"bufio"
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"sort"
	"strings"
	"testing"
)

var (
	casesFlag  = flag.String("cases", "", "run only the node cases whose name matches this regexp")
	updateFlag = flag.Bool("update", false, "rewrite testdata/failing.txt from this run")
)

// failingFile is the known-failing list of a suite: testdata/failing.txt
// for the node suite, testdata/failing-<suite>.txt for the others.
func failingFile(suite string) string {
	if suite == "node" {
		return "testdata/failing.txt"
	}
	return "testdata/failing-" + suite + ".txt"
}

func dataDir() string {
	if d := os.Getenv("INFERD_ONNX_TESTDATA"); d != "" {
		return d
	}
	return "/usr/share/libonnx-testdata/data"
}

// readFailing reads the known-failing list: one case per line, then
// whitespace and the reason; '#' starts a comment line.
func readFailing(t *testing.T, suite string) map[string]string {
	t.Helper()
	f, err := os.Open(failingFile(suite))
	if os.IsNotExist(err) {
		return map[string]string{}
	}
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	out := map[string]string{}
	sc := bufio.NewScanner(f)
	sc.Buffer(nil, 1<<20)
	for sc.Scan() {
		line := strings.TrimSpace(sc.Text())
		if line == "" || strings.HasPrefix(line, "#") {
			continue
		}
		name, reason, _ := strings.Cut(line, " ")
		out[name] = strings.TrimSpace(reason)
	}
	return out
}

// TestNode runs ONNX's single-operator cases, the suite the engine issue
// is measured on.
func TestNode(t *testing.T) { runSuite(t, "node") }

// TestSimple, TestPytorchConverted and TestPytorchOperator run the small
// multi-node models of the same package.
func TestSimple(t *testing.T)           { runSuite(t, "simple") }
func TestPytorchConverted(t *testing.T) { runSuite(t, "pytorch-converted") }
func TestPytorchOperator(t *testing.T)  { runSuite(t, "pytorch-operator") }

func runSuite(t *testing.T, suite string) {
	root := filepath.Join(dataDir(), suite)
	dirs, err := filepath.Glob(filepath.Join(root, "test_*"))
	if err != nil || len(dirs) == 0 {
		t.Skipf("ONNX backend test data not found under %s: install Debian's libonnx-testdata (or set INFERD_ONNX_TESTDATA)", root)
	}
	sort.Strings(dirs)
	var re *regexp.Regexp
	if *casesFlag != "" {
		re = regexp.MustCompile(*casesFlag)
	}
	known := readFailing(t, suite)
	var results []Result
	for _, dir := range dirs {
		name := filepath.Base(dir)
		if re != nil && !re.MatchString(name) {
			continue
		}
		r := RunCase(dir)
		results = append(results, r)
		if testing.Verbose() {
			fmt.Printf("%-70s %s %s\n", r.Name, r.Status, oneLine(r.Detail))
		}
	}
	fmt.Printf("%s conformance: %s\n", suite, Summary(results))
	if *updateFlag {
		if re != nil {
			t.Fatal("-update needs the whole suite: drop -cases")
		}
		writeFailing(t, suite, results)
		return
	}
	for _, r := range results {
		_, listed := known[r.Name]
		switch {
		case r.Status != Pass && !listed:
			t.Errorf("%s: %s: %s", r.Name, r.Status, oneLine(r.Detail))
		case r.Status == Pass && listed:
			t.Errorf("%s passes but is listed in %s: remove it (go test ./conformance -args -update)", r.Name, failingFile(suite))
		}
	}
}

func writeFailing(t *testing.T, suite string, rs []Result) {
	var b strings.Builder
	b.WriteString("# ONNX backend " + suite + " cases inferd does not pass, with the reason.\n")
	b.WriteString("# Regenerate with: go test ./conformance -args -update\n")
	b.WriteString("# " + Summary(rs) + "\n")
	for _, r := range rs {
		if r.Status != Pass {
			fmt.Fprintf(&b, "%s %s: %s\n", r.Name, r.Status, oneLine(r.Detail))
		}
	}
	if err := os.WriteFile(failingFile(suite), []byte(b.String()), 0o644); err != nil {
		t.Fatal(err)
	}
}
