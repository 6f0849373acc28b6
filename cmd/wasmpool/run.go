package main

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"runtime"
	"strings"
	"time"

	"github.com/fxamacker/cbor/v2"
	"github.com/wasmpool/wasmpool/abi"
	"github.com/wasmpool/wasmpool/pool"
)

// batchSize is how many input lines run calls Map with at once: big enough
// for good chunks, small enough for steady progress and bounded memory.
const batchSize = 65536

func runCmd(ctx context.Context, args []string, stdin io.Reader, stdout, stderr io.Writer) int {
	fs := flag.NewFlagSet("wasmpool run", flag.ContinueOnError)
	fs.SetOutput(stderr)
	fn := fs.String("fn", "", "task function to call (required)")
	workers := fs.Int("workers", runtime.NumCPU(), "worker processes")
	raw := fs.Bool("raw", false, "each input line is the raw input bytes, each output is printed as is (default: JSON lines)")
	input := fs.String("input", "-", "input file, - for standard input")
	chunk := fs.Int("chunk", 0, "items per guest call (0: automatic)")
	timeout := fs.Duration("timeout", 0, "deadline for the whole run (0: none)")
	progress := fs.Bool("progress", true, "show a progress bar when stderr is a terminal")
	fs.Usage = func() {
		fmt.Fprintf(stderr, `Usage: wasmpool run MODULE.wasm --fn NAME [flags]

Calls task function NAME on every input line and writes one result line per
input, in input order. Lines are JSON values (converted to CBOR for typed
tasks, to bytes for raw tasks given a JSON string) unless --raw. A failed
item prints {"error": "..."} (or "error: ..." with --raw) and the exit code
is 1.

`)
		fs.PrintDefaults()
	}
	module, rest := splitModule(args)
	if err := fs.Parse(rest); err != nil {
		return exitUsage
	}
	if module == "" && fs.NArg() > 0 {
		module = fs.Arg(0)
	}
	if module == "" || *fn == "" {
		fs.Usage()
		return exitUsage
	}
	wasm, err := os.ReadFile(module)
	if err != nil {
		fmt.Fprintln(stderr, "wasmpool:", err)
		return exitUsage
	}
	in := stdin
	if *input != "-" {
		f, err := os.Open(*input)
		if err != nil {
			fmt.Fprintln(stderr, "wasmpool:", err)
			return exitUsage
		}
		defer f.Close()
		in = f
	}
	if *timeout > 0 {
		var cancel context.CancelFunc
		ctx, cancel = context.WithTimeout(ctx, *timeout)
		defer cancel()
	}
	p, err := pool.New(ctx, pool.Config{Module: wasm, Workers: *workers})
	if err != nil {
		fmt.Fprintln(stderr, "wasmpool:", err)
		return exitCodeFor(err)
	}
	defer p.Close()
	typed := false
	found := false
	for _, f := range p.Functions() {
		if f.Name == *fn {
			found, typed = true, f.Kind == abi.FuncTypedTask
			if !f.Kind.IsTask() {
				fmt.Fprintf(stderr, "wasmpool: %s is a %s; run calls task functions\n", *fn, f.Kind)
				return exitUsage
			}
		}
	}
	if !found {
		fmt.Fprintf(stderr, "wasmpool: the module has no function %q (see wasmpool inspect)\n", *fn)
		return exitUsage
	}
	c := codec{raw: *raw, typed: typed}
	var opts []pool.MapOption
	if *chunk > 0 {
		opts = append(opts, pool.ChunkSize(*chunk))
	}
	bar := newProgress(stderr, *progress)
	out := bufio.NewWriter(stdout)
	defer out.Flush()
	sc := bufio.NewScanner(in)
	sc.Buffer(make([]byte, 0, 1<<20), 64<<20)
	failed, done := false, 0
	for {
		var items [][]byte
		for len(items) < batchSize && sc.Scan() {
			item, err := c.encode(sc.Bytes())
			if err != nil {
				fmt.Fprintf(stderr, "wasmpool: input line %d: %v\n", done+len(items)+1, err)
				return exitUsage
			}
			items = append(items, item)
		}
		if len(items) == 0 {
			break
		}
		res, err := p.Map(ctx, *fn, items, opts...)
		var ie *pool.ItemError
		if err != nil && !errors.As(err, &ie) {
			fmt.Fprintln(stderr, "wasmpool:", err)
			return exitInternal
		}
		for i, r := range res {
			if r == nil && err != nil {
				// Map reports the first failure and abandons chunks not
				// yet started: run each item it has no output for alone.
				var e error
				if r, e = p.Call(ctx, *fn, items[i]); e != nil {
					out.Write(c.failure(e))
					failed = true
					continue
				}
			}
			line, err := c.decode(r)
			if err != nil {
				out.Write(c.failure(err))
				failed = true
				continue
			}
			out.Write(line)
		}
		done += len(items)
		bar.update(done)
	}
	if err := sc.Err(); err != nil {
		fmt.Fprintln(stderr, "wasmpool: reading input:", err)
		return exitUsage
	}
	bar.finish(done)
	if failed {
		return exitFailed
	}
	return exitOK
}

// splitModule takes the module path from args when it comes first, so
// flags may follow it.
func splitModule(args []string) (string, []string) {
	if len(args) > 0 && !strings.HasPrefix(args[0], "-") {
		return args[0], args[1:]
	}
	return "", args
}

// codec converts input lines to call inputs and outputs to result lines.
type codec struct {
	raw, typed bool
}

func (c codec) encode(line []byte) ([]byte, error) {
	if c.raw {
		return bytes.Clone(line), nil
	}
	dec := json.NewDecoder(bytes.NewReader(line))
	dec.UseNumber()
	var v any
	if err := dec.Decode(&v); err != nil {
		return nil, fmt.Errorf("not JSON (use --raw for raw lines): %w", err)
	}
	if !c.typed {
		s, ok := v.(string)
		if !ok {
			return nil, errors.New("a raw task takes JSON strings (or use --raw)")
		}
		return []byte(s), nil
	}
	return cbor.Marshal(jsonToCBOR(v))
}

// jsonToCBOR turns json.Numbers into integers where they are integral.
func jsonToCBOR(v any) any {
	switch x := v.(type) {
	case json.Number:
		if i, err := x.Int64(); err == nil {
			return i
		}
		f, _ := x.Float64()
		return f
	case []any:
		for i := range x {
			x[i] = jsonToCBOR(x[i])
		}
	case map[string]any:
		for k := range x {
			x[k] = jsonToCBOR(x[k])
		}
	}
	return v
}

func (c codec) decode(out []byte) ([]byte, error) {
	if c.raw {
		return append(out, '\n'), nil
	}
	var v any = string(out)
	if c.typed {
		dm, _ := cbor.DecOptions{DefaultMapType: mapStringAny}.DecMode()
		if err := dm.Unmarshal(out, &v); err != nil {
			return nil, fmt.Errorf("output is not CBOR: %w", err)
		}
	}
	return marshalLine(v)
}

// marshalLine encodes v as one JSON line, without HTML escaping.
func marshalLine(v any) ([]byte, error) {
	var b bytes.Buffer
	enc := json.NewEncoder(&b)
	enc.SetEscapeHTML(false)
	if err := enc.Encode(v); err != nil {
		return nil, err
	}
	return b.Bytes(), nil
}

func (c codec) failure(err error) []byte {
	msg := strings.SplitN(err.Error(), "\n", 2)[0]
	if c.raw {
		return []byte("error: " + msg + "\n")
	}
	b, _ := marshalLine(map[string]string{"error": msg})
	return b
}

// progress draws a bar on a terminal when the run is long.
type progress struct {
	w     io.Writer
	on    bool
	start time.Time
	drawn bool
}

func newProgress(w io.Writer, enabled bool) *progress {
	p := &progress{w: w, start: time.Now()}
	if f, ok := w.(*os.File); ok && enabled {
		p.on = isTerminal(f)
	}
	return p
}

func (p *progress) update(done int) {
	if !p.on || time.Since(p.start) < time.Second {
		return
	}
	el := time.Since(p.start).Seconds()
	fmt.Fprintf(p.w, "\r%d items, %.0f items/s, %.1fs", done, float64(done)/el, el)
	p.drawn = true
}

func (p *progress) finish(done int) {
	if p.drawn {
		p.update(done)
		fmt.Fprintln(p.w)
	}
}
