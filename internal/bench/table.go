package bench

import (
	"fmt"
	"io"
	"math"
	"strings"
)

// unit says how a figure prints and which direction is better.
type unit int

const (
	micros  unit = iota // µs, lower is better
	millis              // ms, lower is better
	seconds             // s, lower is better
	rate                // items/s, higher is better
	factor              // ×, higher is better
	gbps                // GB/s, higher is better
)

func (u unit) lowerIsBetter() bool { return u == micros || u == millis || u == seconds }

// format prints v with three significant digits in unit u; NaN prints "—".
func (u unit) format(v float64) string {
	if math.IsNaN(v) {
		return "—"
	}
	switch u {
	case micros:
		return sig3(v) + " µs"
	case millis:
		return sig3(v) + " ms"
	case seconds:
		return sig3(v) + " s"
	case rate:
		switch {
		case v >= 1e6:
			return sig3(v/1e6) + " M/s"
		case v >= 1e3:
			return sig3(v/1e3) + " k/s"
		}
		return sig3(v) + " /s"
	case factor:
		return sig3(v) + "×"
	case gbps:
		return sig3(v) + " GB/s"
	}
	return fmt.Sprint(v)
}

// sig3 prints v with three significant digits, never in exponent form.
func sig3(v float64) string {
	switch a := math.Abs(v); {
	case a >= 100:
		return fmt.Sprintf("%.0f", v)
	case a >= 10:
		return fmt.Sprintf("%.1f", v)
	case a >= 1:
		return fmt.Sprintf("%.2f", v)
	}
	return fmt.Sprintf("%.3f", v)
}

// target is issue #2's goal for one figure of wasmpool's.
type target struct {
	value float64
}

// row is one measurement: wasmpool's median against Python's. NaN marks a
// figure not measured.
type row struct {
	name         string
	unit         unit
	ours, python float64
	target       *target // nil: no target
	// noRatio leaves the ratio out where "faster" does not apply (a
	// speedup against a speedup).
	noRatio bool
}

// ratio says how wasmpool compares with Python on r.
func (r row) ratio() string {
	if r.noRatio || math.IsNaN(r.ours) || math.IsNaN(r.python) || r.ours <= 0 || r.python <= 0 {
		return "—"
	}
	x := r.ours / r.python
	if r.unit.lowerIsBetter() {
		x = 1 / x
	}
	if x >= 1 {
		return sig3(x) + "× faster"
	}
	return sig3(1/x) + "× slower"
}

// verdict prints the target and whether wasmpool's figure meets it.
func (r row) verdict() string {
	if r.target == nil {
		return "—"
	}
	op, pass := "≥", r.ours >= r.target.value
	if r.unit.lowerIsBetter() {
		op, pass = "≤", r.ours <= r.target.value
	}
	s := op + " " + r.unit.format(r.target.value)
	switch {
	case math.IsNaN(r.ours):
		return s
	case pass:
		return s + " PASS"
	}
	return s + " MISS"
}

// table writes rows as a Markdown table as they come, then the notes.
type table struct {
	w       io.Writer
	notes   []string
	started bool
}

const rowFormat = "| %-40s | %-10s | %-10s | %-14s | %-16s |\n"

func (t *table) start() {
	if t.started {
		return
	}
	t.started = true
	fmt.Fprintf(t.w, rowFormat, "benchmark", "wasmpool", "Python", "ratio", "target")
	fmt.Fprintf(t.w, "|%s|%s|%s|%s|%s|\n", dashes(42), dashes(12), dashes(12), dashes(16), dashes(18))
}

func dashes(n int) string { return strings.Repeat("-", n) }

func (t *table) add(r row) {
	t.start()
	fmt.Fprintf(t.w, rowFormat, r.name, r.unit.format(r.ours), r.unit.format(r.python), r.ratio(), r.verdict())
}

// note adds a line to print under the table.
func (t *table) note(format string, args ...any) {
	t.notes = append(t.notes, fmt.Sprintf(format, args...))
}

// finish writes the notes.
func (t *table) finish() {
	if len(t.notes) == 0 {
		return
	}
	fmt.Fprintln(t.w)
	for _, n := range t.notes {
		fmt.Fprintf(t.w, "- %s\n", n)
	}
}
