//go:build !linux

package pool

import (
	"os"
	"os/exec"

	"github.com/wasmpool/wasmpool/internal/harden"
)

// spawner starts worker processes; outside Linux there are none (New
// fails with ErrNotSupported before it would need one).
type spawner struct{}

func newSpawner(paths []harden.Path) (*spawner, error) { return nil, ErrNotSupported }

func spawnPaths(cfg *Config) ([]harden.Path, error) { return nil, ErrNotSupported }

func (s *spawner) start(cmd *exec.Cmd) error { return ErrNotSupported }

func (s *spawner) close() {}

func leaky() string { return "" }

func socketpair() (parent, child *os.File, err error) { return nil, nil, ErrNotSupported }
