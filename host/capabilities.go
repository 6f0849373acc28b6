package host

import (
	"bytes"
	"crypto/rand"
	"fmt"
	"os"
	"path"
	"strings"

	"github.com/tetratelabs/wazero"
)

// Capabilities are what a guest may reach beyond its own memory and the
// pool's shared objects. The zero value grants nothing: no files, no
// environment, no arguments, empty stdin, wazero's fixed stand-in for the
// wall clock and a deterministic random source. The monotonic clock and
// sleep are always real (timeouts need them). Sockets are never granted.
type Capabilities struct {
	// Dirs are host directories the guest sees at their Guest paths.
	Dirs []Dir
	// Env is the guest's environment, as "KEY=value" entries.
	Env []string
	// Args are the guest's WASI arguments (os.Args in a Go guest).
	Args []string
	// Stdin is what every instance reads from standard input.
	Stdin []byte
	// Clock gives the guest the real wall-clock time.
	Clock bool
	// Random gives the guest the operating system's random numbers.
	Random bool
}

// Dir is one preopened directory.
type Dir struct {
	Host     string // an existing directory on the host
	Guest    string // an absolute path in the guest, such as "/data"
	ReadOnly bool
}

// Check validates c: directories must exist, guest paths be absolute and
// clean, environment entries have the KEY=value form.
func (c Capabilities) Check() error {
	for _, d := range c.Dirs {
		st, err := os.Stat(d.Host)
		switch {
		case err != nil:
			return fmt.Errorf("host: preopened directory: %w", err)
		case !st.IsDir():
			return fmt.Errorf("host: preopened %q is not a directory", d.Host)
		case d.Guest == "" || d.Guest[0] != '/' || path.Clean(d.Guest) != d.Guest:
			return fmt.Errorf("host: guest path %q of %q must be absolute and clean", d.Guest, d.Host)
		}
	}
	for _, e := range c.Env {
		if k, _, ok := bytes.Cut([]byte(e), []byte("=")); !ok || len(k) == 0 || strings.ContainsRune(e, 0) {
			return fmt.Errorf("host: environment entry %q is not KEY=value without NUL bytes", e)
		}
	}
	for _, a := range c.Args {
		if strings.ContainsRune(a, 0) {
			return fmt.Errorf("host: argument %q holds a NUL byte", a)
		}
	}
	return nil
}

// apply grants c in mc.
func (c Capabilities) apply(mc wazero.ModuleConfig) wazero.ModuleConfig {
	if len(c.Dirs) > 0 {
		fs := wazero.NewFSConfig()
		for _, d := range c.Dirs {
			if d.ReadOnly {
				fs = fs.WithReadOnlyDirMount(d.Host, d.Guest)
			} else {
				fs = fs.WithDirMount(d.Host, d.Guest)
			}
		}
		mc = mc.WithFSConfig(fs)
	}
	for _, e := range c.Env {
		k, v, _ := bytes.Cut([]byte(e), []byte("="))
		mc = mc.WithEnv(string(k), string(v))
	}
	if len(c.Args) > 0 {
		mc = mc.WithArgs(c.Args...)
	}
	if len(c.Stdin) > 0 {
		mc = mc.WithStdin(bytes.NewReader(c.Stdin))
	}
	if c.Clock {
		mc = mc.WithSysWalltime()
	}
	if c.Random {
		mc = mc.WithRandSource(rand.Reader)
	}
	return mc
}
