package bench

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"math"
	"os/exec"
	"path/filepath"
	"strings"
)

// pyOutput is what baseline.py prints.
type pyOutput struct {
	Python  string     `json:"python"`
	Results []pyResult `json:"results"`
}

// pyResult is one measurement of baseline.py: the median of its samples,
// in the unit it names ("us", "ms", "s", "items/s" or "x").
type pyResult struct {
	Name    string    `json:"name"`
	Unit    string    `json:"unit"`
	Median  float64   `json:"median"`
	Samples []float64 `json:"samples"`
	Items   int       `json:"items,omitempty"` // map benchmarks
	Count   int       `json:"count,omitempty"` // primes: primes found
}

// parsePython decodes baseline.py's output.
func parsePython(b []byte) (*pyOutput, error) {
	var out pyOutput
	if err := json.Unmarshal(b, &out); err != nil {
		return nil, fmt.Errorf("parsing baseline.py output: %w", err)
	}
	if out.Python == "" {
		return nil, fmt.Errorf("parsing baseline.py output: no Python version")
	}
	return &out, nil
}

// get returns the result called name, or false.
func (o *pyOutput) get(name string) (pyResult, bool) {
	for _, r := range o.Results {
		if r.Name == name {
			return r, true
		}
	}
	return pyResult{}, false
}

// median returns the median of result name, or NaN if o is nil or lacks it.
func (o *pyOutput) median(name string) float64 {
	if o == nil {
		return math.NaN()
	}
	if r, ok := o.get(name); ok {
		return r.Median
	}
	return math.NaN()
}

// runPython runs baseline.py for bench with args and parses its output.
func (r *runner) runPython(ctx context.Context, bench string, args ...string) (*pyOutput, error) {
	cmd := exec.CommandContext(ctx, r.python, append([]string{filepath.Join(r.tempDir, "baseline.py"), bench}, args...)...)
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	if err := cmd.Run(); err != nil {
		if msg := strings.TrimSpace(stderr.String()); msg != "" {
			lines := strings.Split(msg, "\n")
			return nil, fmt.Errorf("%w: %s", err, lines[len(lines)-1])
		}
		return nil, err
	}
	return parsePython(stdout.Bytes())
}

// baseline runs baseline.py for bench if the baseline is on. It returns
// nil (every Python cell empty) when it is off or fails; a failure is
// noted and reported by Run.
func (r *runner) baseline(ctx context.Context, bench string, args ...string) *pyOutput {
	if r.python == "" {
		return nil
	}
	runs := r.sizes.runs
	if bench == "primes" || bench == "scaling" {
		runs = r.sizes.pyPrimesRuns
	}
	args = append(args, "--runs", fmt.Sprint(runs))
	out, err := r.runPython(ctx, bench, args...)
	if err != nil {
		r.pythonFailed(bench, err)
		return nil
	}
	return out
}
