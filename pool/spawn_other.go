//go:build !linux

package pool

import (
	"os"
	"os/exec"
)

// spawner starts worker processes; outside Linux there are none (New
// fails with ErrNotSupported before it would need one).
type spawner struct{}

func newSpawner() (*spawner, error) { return nil, ErrNotSupported }

func (s *spawner) start(cmd *exec.Cmd) error { return ErrNotSupported }

func (s *spawner) close() {}

func socketpair() (parent, child *os.File, err error) { return nil, nil, ErrNotSupported }
