package shm

import (
	"testing"

	"github.com/wasmpool/wasmpool/abi"
)

// BenchmarkQueue_oneway moves 64-byte messages from one goroutine to
// another through the shared-memory queue; the channel sub-benchmark is
// the in-process baseline.
func BenchmarkQueue_oneway(b *testing.B) {
	msg := make([]byte, 64)
	b.Run("shm", func(b *testing.B) {
		d := newDir(b)
		q := queue(b, d, Spec{Ring: 1 << 16})
		b.ReportAllocs()
		done := make(chan struct{})
		go func() {
			defer close(done)
			buf := make([]byte, 64)
			sink := func(int) []byte { return buf }
			for got := 0; got < b.N; {
				n, _ := q.Get(tokB, Forever, 64, sink)
				got += n
			}
		}()
		for range b.N {
			q.Put(tokA, Forever, msg)
		}
		<-done
	})
	b.Run("shm-batch64", func(b *testing.B) {
		d := newDir(b)
		q := queue(b, d, Spec{Ring: 1 << 16})
		b.ReportAllocs()
		batch := make([][]byte, 64)
		for i := range batch {
			batch[i] = msg
		}
		done := make(chan struct{})
		go func() {
			defer close(done)
			buf := make([]byte, 64)
			sink := func(int) []byte { return buf }
			for got := 0; got < b.N; {
				n, _ := q.Get(tokB, Forever, 64, sink)
				got += n
			}
		}()
		for i := 0; i < b.N; i += 64 {
			q.Put(tokA, Forever, batch[:min(64, b.N-i)]...)
		}
		<-done
	})
	b.Run("chan", func(b *testing.B) {
		b.ReportAllocs()
		c := make(chan []byte, 1024)
		done := make(chan struct{})
		go func() {
			defer close(done)
			buf := make([]byte, 64)
			for range b.N {
				copy(buf, <-c)
			}
		}()
		for range b.N {
			c <- msg
		}
		<-done
	})
}

// BenchmarkLock_uncontended: acquire and release with nobody else around.
func BenchmarkLock_uncontended(b *testing.B) {
	d := newDir(b)
	l := create(b, d, Spec{Kind: abi.KindLock}).Lock()
	b.ReportAllocs()
	for range b.N {
		l.Acquire(tokA, Forever)
		l.Release(tokA)
	}
}
