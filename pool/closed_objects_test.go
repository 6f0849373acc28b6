//go:build linux

package pool

import (
	"context"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

// TestObjects_afterClose: calls blocked in handles when the pool closes
// return ErrClosed, and a handle used after Close fails with ErrClosed:
// the arena is unmapped by then, and touching it would crash the host.
func TestObjects_afterClose(t *testing.T) {
	p := newTestPool(t, Config{Workers: 1})
	ctx := context.Background()
	q, err := p.NewQueue("", QueueConfig{})
	require.NoError(t, err)
	a, b, err := p.NewPipe(true, 0)
	require.NoError(t, err)
	l, err := p.NewLock("after-close")
	require.NoError(t, err)
	require.NoError(t, l.Acquire(ctx))
	other, err := p.OpenLock("after-close") // a second owner, who must wait
	require.NoError(t, err)
	sem, err := p.NewSemaphore("", 0)
	require.NoError(t, err)
	ev, err := p.NewEvent("")
	require.NoError(t, err)
	cond, err := p.NewCondition("")
	require.NoError(t, err)
	bar, err := p.NewBarrier("", 2)
	require.NoError(t, err)

	calls := map[string]func() error{
		"Queue.Get":         func() error { _, err := q.Get(ctx); return err },
		"Conn.Recv":         func() error { _, err := a.Recv(ctx); return err },
		"Lock.Acquire":      func() error { return other.Acquire(ctx) },
		"Semaphore.Acquire": func() error { return sem.Acquire(ctx) },
		"Event.Wait":        func() error { return ev.Wait(ctx) },
		"Barrier.Wait":      func() error { _, err := bar.Wait(ctx); return err },
	}
	blocked := make(chan string, len(calls))
	for name, call := range calls {
		go func() {
			err := call()
			if err == ErrClosed {
				blocked <- ""
				return
			}
			blocked <- name + ": " + errString(err)
		}()
	}
	time.Sleep(100 * time.Millisecond)
	require.NoError(t, p.Close())
	for range calls {
		select {
		case msg := <-blocked:
			require.Empty(t, msg, "a call blocked at Close returns ErrClosed")
		case <-time.After(5 * time.Second):
			t.Fatal("a call blocked when the pool closed never returned")
		}
	}

	require.ErrorIs(t, q.TryPut([]byte("x")), ErrClosed)
	_, err = q.TryGet()
	require.ErrorIs(t, err, ErrClosed)
	require.Zero(t, q.Len())
	require.NoError(t, q.Close(), "Close stays idempotent")
	require.ErrorIs(t, b.Send(ctx, []byte("x")), ErrClosed)
	require.False(t, b.Poll(0))
	require.ErrorIs(t, l.Release(), ErrClosed)
	require.ErrorIs(t, sem.Release(1), ErrClosed)
	require.Zero(t, sem.Value())
	ev.Set()
	require.False(t, ev.IsSet())
	require.ErrorIs(t, cond.Acquire(ctx), ErrClosed)
	require.ErrorIs(t, bar.Abort(), ErrClosed)
	require.False(t, bar.Broken())
}

func errString(err error) string {
	if err == nil {
		return "nil"
	}
	return err.Error()
}
