//go:build linux

// Package probe is test support: imported by a test binary that becomes a
// worker, it makes the worker try, from host-side code once hardened, what
// a compromised worker would (exec, sockets), and write each outcome to
// stderr as "probe WHAT: ERROR". It acts only when WASMPOOL_TEST_PROBE=1
// is in the environment. Its init runs before the importing package's, so
// before the worker starts.
package probe

import (
	"encoding/binary"
	"fmt"
	"io"
	"net"
	"os"
	"os/exec"
	"strings"

	"github.com/wasmpool/wasmpool/internal/wire"
	"github.com/wasmpool/wasmpool/internal/worker"
	"golang.org/x/sys/unix"
)

// Env is the environment variable that turns the probe on.
const Env = "WASMPOOL_TEST_PROBE"

// Garble is the value of Env that makes every worker write a frame of an
// unknown type to the parent right after Hello, as a worker whose host
// side went wrong would.
const Garble = "garble"

// BadRequest is the value of Env that makes every worker send the parent,
// right after Hello, a request (a wire.TypeRequest frame) with an
// operation that does not exist.
const BadRequest = "badrequest"

// BadItem is the value of Env that makes every worker send the parent,
// right after Hello, an item outcome (a wire.TypeItem frame) too short to
// parse.
const BadItem = "baditem"

// SkipItem and EarlyResult are values of Env that make every worker
// answer merged calls wrongly: without the Item frame of their first
// item (the next one comes out of turn), or with the Result alone.
const (
	SkipItem    = "skipitem"
	EarlyResult = "earlyresult"
)

// dropFrames returns frames without those drop picks, by type and body.
func dropFrames(frames []byte, drop func(t wire.Type, body []byte) bool) []byte {
	var out []byte
	for len(frames) >= 5 {
		n := 4 + int(binary.LittleEndian.Uint32(frames))
		if n > len(frames) {
			break
		}
		if !drop(wire.Type(frames[4]), frames[5:n]) {
			out = append(out, frames[:n]...)
		}
		frames = frames[n:]
	}
	return out
}

func init() {
	switch os.Getenv(Env) {
	case SkipItem:
		worker.BeforeItems = func(frames []byte) []byte {
			return dropFrames(frames, func(t wire.Type, body []byte) bool {
				it, err := wire.ParseItem(body)
				return t == wire.TypeItem && err == nil && it.Index == 0
			})
		}
		return
	case EarlyResult:
		worker.BeforeItems = func(frames []byte) []byte {
			return dropFrames(frames, func(t wire.Type, _ []byte) bool { return t == wire.TypeItem })
		}
		return
	case BadItem:
		worker.AfterHello = func(results io.Writer) {
			results.Write(wire.AppendRaw(nil, wire.TypeItem, []byte{1, 2, 3}))
		}
		return
	case Garble:
		worker.AfterHello = func(results io.Writer) {
			results.Write([]byte{5, 0, 0, 0, 99, 1, 2, 3, 4})
		}
		return
	case BadRequest:
		worker.AfterHello = func(results io.Writer) {
			// Op 99 (none), an argument of 0, a name.
			req := append(append([]byte{99}, make([]byte, 8)...), 'x')
			results.Write(wire.AppendRaw(nil, wire.TypeRequest, req))
		}
		return
	}
	if os.Getenv(Env) != "1" {
		return
	}
	worker.AfterHarden = func() {
		report := func(what string, err error) { fmt.Fprintf(os.Stderr, "probe %s: %v\n", what, err) }
		// Pipes, not /dev/null (Landlock may refuse that first): the
		// attempt reaches the fork.
		cmd := exec.Command("/bin/true")
		cmd.Stdin, cmd.Stdout, cmd.Stderr = strings.NewReader(""), io.Discard, io.Discard
		report("exec", cmd.Run())
		_, err := unix.Socket(unix.AF_INET, unix.SOCK_STREAM, 0)
		report("socket", err)
		_, err = net.Dial("tcp", "127.0.0.1:9")
		report("dial", err)
		_, err = unix.Socketpair(unix.AF_UNIX, unix.SOCK_STREAM, 0)
		report("socketpair", err)
		_, err = os.ReadFile("/etc/passwd")
		report("read", err)
		_, err = os.ReadFile("/proc/self/environ")
		report("proc", err)
		probe := fmt.Sprintf("%s/wasmpool-probe-%d", os.TempDir(), os.Getpid())
		report("write", os.WriteFile(probe, nil, 0o600))
		os.Remove(probe) // where nothing refused it
	}
}
