package shm

import (
	"fmt"
	"os"
	"os/exec"
	"strconv"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	"github.com/wasmpool/wasmpool/abi"
	"github.com/wasmpool/wasmpool/internal/leakcheck"
)

// TestMain runs the tests with a leak check after them (goroutines,
// descriptors, helper processes), or, in the helper process of the crash
// tests, maps the arena inherited as fd 3 and runs one action on the
// object SHM_HELPER_HANDLE as participant 9, until it is killed.
func TestMain(m *testing.M) {
	if action := os.Getenv("SHM_HELPER"); action != "" {
		os.Exit(helper(action))
	}
	var unused string // leakcheck's compilation cache: no pools here
	os.Exit(leakcheck.Main(m, &unused))
}

const helperPart = 9

func helper(action string) int {
	a, err := Map(os.NewFile(3, "arena"))
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 2
	}
	if action == "stream" {
		return streamHelper(a)
	}
	h, _ := strconv.ParseUint(os.Getenv("SHM_HELPER_HANDLE"), 10, 32)
	o, err := a.Open(Handle(h))
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 2
	}
	tok := MakeToken(helperPart, 1)
	switch action {
	case "hold":
		o.Lock().Acquire(tok, Forever)
		fmt.Println("held")
		time.Sleep(time.Hour)
	case "put":
		q, _ := o.Queue()
		fmt.Println("putting")
		for i := 0; ; i++ {
			msg := make([]byte, 1+i%200)
			for j := range msg {
				msg[j] = byte(len(msg))
			}
			q.Put(tok, Forever, msg)
		}
	case "wait":
		b := o.Barrier()
		fmt.Println("waiting")
		b.Wait(tok, Forever)
	}
	return 0
}

// startHelper runs the helper on object o and waits for its first line.
func startHelper(t *testing.T, a *Arena, o Object, action string) *exec.Cmd {
	t.Helper()
	cmd := exec.Command(os.Args[0], "-test.run=^$")
	cmd.Env = append(os.Environ(), "SHM_HELPER="+action, fmt.Sprintf("SHM_HELPER_HANDLE=%d", o.Handle))
	cmd.ExtraFiles = []*os.File{a.File()}
	cmd.Stderr = os.Stderr
	out, err := cmd.StdoutPipe()
	require.NoError(t, err)
	require.NoError(t, cmd.Start())
	t.Cleanup(func() { cmd.Process.Kill(); cmd.Wait() })
	buf := make([]byte, 64)
	_, err = out.Read(buf)
	require.NoError(t, err)
	return cmd
}

func killHelper(t *testing.T, a *Arena, cmd *exec.Cmd) {
	t.Helper()
	require.NoError(t, cmd.Process.Kill())
	cmd.Wait()
	a.Recover(func(t Token) bool { return t.Participant() == helperPart }, MakeToken(ParentParticipant, 0))
}

// TestCrash_lockHolder: kill -9 of a process holding a lock releases it and
// the next owner learns that its previous owner died.
func TestCrash_lockHolder(t *testing.T) {
	d := newDir(t)
	o := create(t, d, Spec{Kind: abi.KindLock})
	cmd := startHelper(t, d.a, o, "hold")
	l := o.Lock()
	require.ErrorIs(t, l.Acquire(tokA, NoWait), ErrWouldBlock)
	got := make(chan error)
	go func() { got <- l.Acquire(tokA, within(10*time.Second)) }()
	killHelper(t, d.a, cmd)
	require.ErrorIs(t, <-got, ErrOwnerDied)
	require.NoError(t, l.Release(tokA))
}

// TestCrash_producer: kill -9 of a producer at random moments leaves the
// queue consistent: every message in it is whole, and the queue goes on
// working.
func TestCrash_producer(t *testing.T) {
	d := newDir(t)
	o := create(t, d, Spec{Kind: abi.KindQueue, Ring: 4096})
	q, _ := o.Queue()
	for round := range 10 {
		cmd := startHelper(t, d.a, o, "put")
		var got [][]byte
		deadline := time.Now().Add(time.Duration(round+1) * time.Millisecond)
		for time.Now().Before(deadline) {
			q.Get(tokA, within(time.Millisecond), 16, into(&got))
		}
		killHelper(t, d.a, cmd)
		for {
			if _, err := q.Get(tokA, NoWait, 64, into(&got)); err != nil {
				require.ErrorIs(t, err, ErrWouldBlock)
				break
			}
		}
		require.NotEmpty(t, got, "round %d", round)
		for _, m := range got {
			require.NotEmpty(t, m)
			for _, b := range m {
				require.Equal(t, byte(len(m)), b, "a torn message")
			}
		}
		_, err := q.Put(tokA, NoWait, []byte("ok"))
		require.NoError(t, err)
		got = got[:0]
		_, err = q.Get(tokA, NoWait, 1, into(&got))
		require.NoError(t, err)
		require.Equal(t, "ok", string(got[0]))
	}
}

// TestCrash_barrierParty: kill -9 of a process waiting in a barrier breaks
// it for the others.
func TestCrash_barrierParty(t *testing.T) {
	d := newDir(t)
	o := create(t, d, Spec{Kind: abi.KindBarrier, Parties: 3})
	cmd := startHelper(t, d.a, o, "wait")
	b := o.Barrier()
	waitFor(t, func() bool { return b.Waiting() == 1 })
	got := make(chan error)
	go func() { _, err := b.Wait(tokA, within(10*time.Second)); got <- err }()
	waitFor(t, func() bool { return b.Waiting() == 2 })
	killHelper(t, d.a, cmd)
	require.ErrorIs(t, <-got, ErrBroken)
}
