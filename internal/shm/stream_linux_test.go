package shm

import (
	"bytes"
	"fmt"
	"io"
	"math/rand/v2"
	"net"
	"os"
	"os/exec"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	"golang.org/x/sys/unix"
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

// bellPair returns the two ends of a connected unix socket, as the pool
// gives a worker and itself.
func bellPair(t testing.TB) (a, b net.Conn) {
	t.Helper()
	fds, err := unix.Socketpair(unix.AF_UNIX, unix.SOCK_STREAM|unix.SOCK_CLOEXEC, 0)
	require.NoError(t, err)
	conn := func(fd int) net.Conn {
		f := os.NewFile(uintptr(fd), "bell")
		defer f.Close()
		c, err := net.FileConn(f)
		require.NoError(t, err)
		t.Cleanup(func() { c.Close() })
		return c
	}
	return conn(fds[0]), conn(fds[1])
}

// withBells gives w and r a bell each, the two ends of one socket.
func withBells(t testing.TB, w, r *Stream) (wb, rb net.Conn) {
	wb, rb = bellPair(t)
	w.SetBell(wb, false)
	r.SetBell(rb, true)
	return wb, rb
}

// TestStream_bell: a reader sleeping on its bell wakes for bytes, for
// Close on either end, and at the end of the writer's bell (its process
// died), after it has read what was written.
func TestStream_bell(t *testing.T) {
	d := newDir(t)
	spins := spinIters
	spinIters = 0 // sleep on the bell at once
	t.Cleanup(func() { spinIters = spins })

	w, r, _ := newStreams(t, d, 4096)
	withBells(t, w, r)
	got := make(chan string)
	read := func() {
		buf := make([]byte, 64)
		n, err := r.Read(buf)
		if err != nil {
			got <- err.Error()
			return
		}
		got <- string(buf[:n])
	}
	recv := func() string {
		select {
		case s := <-got:
			return s
		case <-time.After(5 * time.Second):
			t.Fatal("the reader did not wake")
			return ""
		}
	}
	go read()
	time.Sleep(10 * time.Millisecond)
	_, err := w.Write([]byte("ding"))
	require.NoError(t, err)
	require.Equal(t, "ding", recv())

	go read()
	time.Sleep(10 * time.Millisecond)
	w.Close() // the writer closes
	require.Equal(t, io.EOF.Error(), recv())

	w.Reset()
	withBells(t, w, r)
	go read()
	time.Sleep(10 * time.Millisecond)
	r.Close() // the reader's own end closes
	require.Equal(t, io.EOF.Error(), recv())

	w.Reset()
	wb, _ := withBells(t, w, r)
	_, err = w.Write([]byte("last words"))
	require.NoError(t, err)
	wb.Close() // the writer's process is gone
	go read()
	require.Equal(t, "last words", recv())
	go read()
	require.Equal(t, io.EOF.Error(), recv())
}

// TestStream_hammer: writes of random sizes from one goroutine, reads into
// buffers of random sizes in another; the reader sees exactly the bytes
// written, in order, with and without bells.
func TestStream_hammer(t *testing.T) {
	for _, bells := range []bool{false, true} {
		t.Run(fmt.Sprintf("bells=%v", bells), func(t *testing.T) { hammerStream(t, bells) })
	}
}

func hammerStream(t *testing.T, bells bool) {
	d := newDir(t)
	w, r, _ := newStreams(t, d, 8192)
	if bells {
		withBells(t, w, r)
	}
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
// over two streams, with futex waits and with bells, beside the same over
// two Go channels.
func BenchmarkStream(b *testing.B) {
	for _, bells := range []bool{false, true} {
		b.Run(fmt.Sprintf("stream/bells=%v", bells), func(b *testing.B) { benchStream(b, bells) })
	}
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

func benchStream(b *testing.B, bells bool) {
	{
		d := newDir(b)
		w1, r1, _ := newStreams(b, d, 64<<10)
		w2, r2, _ := newStreams(b, d, 64<<10)
		if bells {
			withBells(b, w1, r1)
			withBells(b, w2, r2)
		}
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
	}
}

// TestStream_spinAndAwakeHooks: a Read that finds the stream empty calls
// Spin when it starts waiting and Awake when it stops, before it takes
// the bytes (whether the spin or the bell ended the wait); a Read that
// finds bytes calls neither.
func TestStream_spinAndAwakeHooks(t *testing.T) {
	for _, spins := range []int{spinIters, 0} {
		t.Run(fmt.Sprintf("spins=%d", spins), func(t *testing.T) {
			old := spinIters
			spinIters = spins
			t.Cleanup(func() { spinIters = old })
			testHooks(t)
		})
	}
}

func testHooks(t *testing.T) {
	d := newDir(t)
	w, r, _ := newStreams(t, d, 256)
	withBells(t, w, r)
	var events []string
	var mu sync.Mutex
	note := func(e string) {
		mu.Lock()
		defer mu.Unlock()
		if len(events) == 0 || events[len(events)-1] != e {
			events = append(events, e)
		}
	}
	r.Spin = func() bool { note("spin"); return true }
	r.Awake = func() {
		note("awake")
		require.True(t, r.Pending(), "Awake runs before the bytes are taken")
	}
	read := make(chan string)
	go func() {
		b := make([]byte, 8)
		n, _ := r.Read(b)
		read <- string(b[:n])
	}()
	time.Sleep(time.Millisecond)
	_, err := w.Write([]byte("late"))
	require.NoError(t, err)
	require.Equal(t, "late", <-read)
	mu.Lock()
	require.Equal(t, []string{"spin", "awake"}, events)
	events = nil
	mu.Unlock()

	_, err = w.Write([]byte("ready"))
	require.NoError(t, err)
	b := make([]byte, 8)
	n, err := r.Read(b)
	require.NoError(t, err)
	require.Equal(t, "ready", string(b[:n]))
	require.Empty(t, events, "no wait, no hooks")
}
