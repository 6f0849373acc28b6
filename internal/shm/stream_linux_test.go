package shm

import (
	"bytes"
	"fmt"
	"io"
	"math/rand/v2"
	"os"
	"os/exec"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

// newStreams reserves one region and opens its two ends: w for the
// writer (tokA), r for the reader (tokB).
func newStreams(t testing.TB, d *Directory, ring int) (w, r *Stream, reg Region) {
	t.Helper()
	reg, err := d.Reserve(ring)
	require.NoError(t, err)
	w, err = StreamAt(d.a, reg, tokA)
	require.NoError(t, err)
	r, err = StreamAt(d.a, reg, tokB)
	require.NoError(t, err)
	return w, r, reg
}

func TestStream(t *testing.T) {
	d := newDir(t)
	w, r, _ := newStreams(t, d, 4096) // pieces of 1 KiB
	for _, n := range []int{1, 100, 1024, 1025, 3000} {
		msg := bytes.Repeat([]byte{byte(n)}, n)
		done := make(chan error)
		go func() { _, err := w.Write(msg); done <- err }()
		got := make([]byte, n)
		_, err := io.ReadFull(r, got)
		require.NoError(t, err)
		require.NoError(t, <-done)
		require.Equal(t, msg, got, "%d bytes", n)
	}
	// A reader with a buffer smaller than a piece gets it in parts.
	_, err := w.Write(bytes.Repeat([]byte{7}, 1000))
	require.NoError(t, err)
	small := make([]byte, 300)
	total := 0
	for total < 1000 {
		n, err := r.Read(small)
		require.NoError(t, err)
		require.Equal(t, bytes.Repeat([]byte{7}, n), small[:n])
		total += n
	}
	require.Equal(t, 1000, total)

	// Close: the reader drains what is there, then io.EOF; the writer
	// fails.
	_, err = w.Write([]byte("last"))
	require.NoError(t, err)
	r.Close()
	require.True(t, w.Closed())
	got, err := io.ReadAll(r)
	require.NoError(t, err)
	require.Equal(t, "last", string(got))
	_, err = w.Write([]byte("x"))
	require.ErrorIs(t, err, ErrClosed)

	// Reset opens it again, empty.
	w.Reset()
	require.False(t, r.Closed())
	_, err = w.Write([]byte("again"))
	require.NoError(t, err)
	buf := make([]byte, 16)
	n, err := r.Read(buf)
	require.NoError(t, err)
	require.Equal(t, "again", string(buf[:n]))
}

// TestStream_blockedWakes: Close wakes a reader blocked on an empty stream
// and a writer blocked on a full one.
func TestStream_blockedWakes(t *testing.T) {
	d := newDir(t)
	w, r, _ := newStreams(t, d, 256)
	read := make(chan error)
	go func() { _, err := r.Read(make([]byte, 8)); read <- err }()
	wrote := make(chan error)
	go func() { _, err := w.Write(make([]byte, 1000)); wrote <- err }() // more than the ring
	time.Sleep(20 * time.Millisecond)
	w.Close()
	select {
	case err := <-wrote:
		require.ErrorIs(t, err, ErrClosed)
	case <-time.After(5 * time.Second):
		t.Fatal("a writer blocked on a full stream did not wake at Close")
	}
	select {
	case <-read: // the bytes that fit, or io.EOF
	case <-time.After(5 * time.Second):
		t.Fatal("a reader blocked on the stream did not wake at Close")
	}
}

func TestStreamAt_badRegion(t *testing.T) {
	d := newDir(t)
	size := uint64(d.a.Size())
	for _, r := range []Region{
		{Off: size, Size: 4096},
		{Off: size - 64, Size: 4096},
		{Off: 1 << 62, Size: 1 << 62},
		{Off: 4096 + 1, Size: 4096 + qHeader},
		{Off: 4096, Size: 100 + qHeader}, // not a power-of-two ring
	} {
		_, err := StreamAt(d.a, r, tokA)
		require.ErrorIs(t, err, ErrCorrupt, "%+v", r)
	}
	_, err := d.Reserve(MaxRing + 1)
	require.Error(t, err)
	for {
		if _, err := d.Reserve(1 << 20); err != nil {
			require.ErrorIs(t, err, ErrNoSpace)
			break
		}
	}
}

// TestStream_hammer: writes of random sizes from one goroutine, reads into
// buffers of random sizes in another; the reader sees exactly the bytes
// written, in order.
func TestStream_hammer(t *testing.T) {
	d := newDir(t)
	w, r, _ := newStreams(t, d, 8192)
	const total = 4 << 20
	src := make([]byte, total)
	for i := range src {
		src[i] = byte(rand.Uint32())
	}
	var wg sync.WaitGroup
	wg.Add(1)
	go func() {
		defer wg.Done()
		for rest := src; len(rest) > 0; {
			n := min(len(rest), 1+rand.IntN(10000))
			if _, err := w.Write(rest[:n]); err != nil {
				t.Error(err)
				return
			}
			rest = rest[n:]
		}
		w.Close()
	}()
	var got []byte
	for {
		buf := make([]byte, 1+rand.IntN(5000))
		n, err := r.Read(buf)
		got = append(got, buf[:n]...)
		if err == io.EOF {
			break
		}
		require.NoError(t, err)
	}
	wg.Wait()
	require.Equal(t, len(src), len(got))
	require.True(t, bytes.Equal(src, got), "the bytes read differ from those written")
}

// TestCrash_streamWriter: kill -9 of a process writing a stream leaves the
// reader a prefix of what it wrote, every piece whole; after Reset the
// stream works again.
func TestCrash_streamWriter(t *testing.T) {
	d := newDir(t)
	_, r, reg := newStreams(t, d, 4096)
	for round := range 5 {
		cmd := exec.Command(os.Args[0], "-test.run=^$")
		cmd.Env = append(os.Environ(), "SHM_HELPER=stream", fmt.Sprintf("SHM_HELPER_REGION=%d:%d", reg.Off, reg.Size))
		cmd.ExtraFiles = []*os.File{d.a.File()}
		cmd.Stderr = os.Stderr
		require.NoError(t, cmd.Start())
		var got []byte
		buf := make([]byte, 700)
		deadline := time.Now().Add(time.Duration(round+1) * 5 * time.Millisecond)
		for time.Now().Before(deadline) || len(got) == 0 {
			n, err := r.Read(buf)
			require.NoError(t, err)
			got = append(got, buf[:n]...)
		}
		require.NoError(t, cmd.Process.Kill())
		cmd.Wait()
		r.Close() // what the parent does once the writer is dead
		rest, err := io.ReadAll(r)
		require.NoError(t, err)
		got = append(got, rest...)
		// The helper writes the bytes 0, 1, 2, ... (mod 251) in writes
		// of up to 3000 bytes, pieces of 1 KiB: a prefix of that.
		for i, b := range got {
			if b != byte(i%251) {
				t.Fatalf("round %d: byte %d is %d, want %d", round, i, b, i%251)
			}
		}
		r.Reset()
	}
}

// streamHelper writes 0, 1, 2, ... (mod 251) to the stream in the region
// SHM_HELPER_REGION names, until it is killed.
func streamHelper(a *Arena) int {
	var reg Region
	fmt.Sscanf(os.Getenv("SHM_HELPER_REGION"), "%d:%d", &reg.Off, &reg.Size)
	s, err := StreamAt(a, reg, MakeToken(helperPart, 1))
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 2
	}
	next := 0
	for {
		b := make([]byte, 1+rand.IntN(3000))
		for i := range b {
			b[i] = byte((next + i) % 251)
		}
		next += len(b)
		if _, err := s.Write(b); err != nil {
			return 0
		}
	}
}

// BenchmarkStream is a ping-pong of 64-byte writes between two goroutines
// over two streams, beside the same over two Go channels.
func BenchmarkStream(b *testing.B) {
	b.Run("stream", func(b *testing.B) {
		d := newDir(b)
		w1, r1, _ := newStreams(b, d, 64<<10)
		w2, r2, _ := newStreams(b, d, 64<<10)
		go func() {
			buf := make([]byte, 64)
			for {
				if _, err := io.ReadFull(r1, buf); err != nil {
					return
				}
				w2.Write(buf)
			}
		}()
		msg, buf := make([]byte, 64), make([]byte, 64)
		b.ReportAllocs()
		for b.Loop() {
			w1.Write(msg)
			io.ReadFull(r2, buf)
		}
		w1.Close()
	})
	b.Run("baseline=chan", func(b *testing.B) {
		c1, c2 := make(chan []byte), make(chan []byte)
		go func() {
			for m := range c1 {
				c2 <- m
			}
		}()
		msg := make([]byte, 64)
		b.ReportAllocs()
		for b.Loop() {
			c1 <- msg
			<-c2
		}
		close(c1)
	})
}
