// Command ipc is an example guest: the queue, pipe and synchronization
// examples of Python's multiprocessing, as wasm processes that talk across
// worker processes, plus the guest halves of the IPC benchmarks.
//
//	producer(queue, n)        puts 0..n-1 (CBOR ints), then a nil sentinel
//	consumer(queue)           prints each item until the sentinel
//	print-raw(queue, n)       gets n messages and prints each on a line
//	make-queue(name, n)       creates the queue named name itself, then
//	                          puts 0..n-1 and the sentinel, as producer does
//	doubler(conn)             receives numbers, sends each doubled, until "stop"
//	counter(lock, queue, n)   n times: under the lock, takes the count from a
//	                          one-item queue and puts it back plus one
//	sync(barrier, sem, name)  waits at the barrier, prints its arrival, then
//	                          holds one semaphore unit while it "works"
//	hold(lock)                acquires the lock, says so, and never returns
//
// Benchmark halves, each printing the nanoseconds from its first message
// (after which the other side is surely running) to its last:
//
//	queue-pong(in, out, n)    n times: get from in (a view), put to out
//	pipe-pong(conn, n)        n times: recv (a view), send back
//	sem-pong(ping, pong, n)   n times: acquire ping, release pong
//	queue-sink(queue, n, b)   gets n messages, b at a time (prints ns and count)
//	queue-source(queue, n, b) puts n 64-byte messages, b at a time (prints ns and n)
//	lock-loop(lock, n)        n uncontended acquire+release pairs; prints ns/pair
package main

import (
	"errors"
	"fmt"
	"strconv"
	"time"

	"github.com/wasmpool/wasmpool/guest"
	"github.com/wasmpool/wasmpool/guest/typed"
)

const forever = guest.Forever

func init() {
	guest.Process("producer", producer)
	guest.Process("consumer", consumer)
	guest.Process("make-queue", makeQueue)
	guest.Process("print-raw", printRaw)
	guest.Process("doubler", doubler)
	guest.Process("counter", counter)
	guest.Process("sync", syncExample)
	guest.Process("hold", hold)
	guest.Process("queue-pong", queuePong)
	guest.Process("pipe-pong", pipePong)
	guest.Process("sem-pong", semPong)
	guest.Process("queue-sink", queueSink)
	guest.Process("queue-source", queueSource)
	guest.Process("lock-loop", lockLoop)
}

func main() {}

// need checks the argument count.
func need(args [][]byte, n int) error {
	if len(args) != n {
		return fmt.Errorf("want %d arguments, got %d", n, len(args))
	}
	return nil
}

func number(arg []byte) (int, error) { return strconv.Atoi(string(arg)) }

func producer(args [][]byte) error {
	if err := need(args, 2); err != nil {
		return err
	}
	q, err := guest.QueueArg(args[0])
	if err != nil {
		return err
	}
	return putNumbers(q, args[1])
}

// putNumbers puts 0..n-1 (CBOR ints), then a nil sentinel.
func putNumbers(q *guest.Queue, count []byte) error {
	n, err := number(count)
	if err != nil {
		return err
	}
	for i := range n {
		if err := typed.Put(q, &i, forever); err != nil {
			return err
		}
	}
	return typed.Put[*int](q, nil, forever)
}

func printRaw(args [][]byte) error {
	if err := need(args, 2); err != nil {
		return err
	}
	q, err := guest.QueueArg(args[0])
	if err != nil {
		return err
	}
	n, err := number(args[1])
	if err != nil {
		return err
	}
	for range n {
		msg, err := q.Get(forever)
		if err != nil {
			return err
		}
		fmt.Printf("%s\n", msg)
	}
	return nil
}

func makeQueue(args [][]byte) error {
	if err := need(args, 2); err != nil {
		return err
	}
	q, err := guest.NewQueue(string(args[0]), guest.QueueConfig{})
	if err != nil {
		return err
	}
	return putNumbers(q, args[1])
}

func consumer(args [][]byte) error {
	if err := need(args, 1); err != nil {
		return err
	}
	q, err := guest.QueueArg(args[0])
	if err != nil {
		return err
	}
	for {
		item, err := typed.Get[*int](q, forever)
		if err != nil {
			return err
		}
		if item == nil {
			return nil
		}
		fmt.Println(*item)
	}
}

func doubler(args [][]byte) error {
	if err := need(args, 1); err != nil {
		return err
	}
	conn, err := guest.ConnArg(args[0])
	if err != nil {
		return err
	}
	defer conn.Close()
	for {
		msg, err := conn.Recv(forever)
		if err != nil {
			return err
		}
		if string(msg) == "stop" {
			return nil
		}
		n, err := number(msg)
		if err != nil {
			return err
		}
		if err := conn.Send(strconv.AppendInt(nil, int64(2*n), 10), forever); err != nil {
			return err
		}
	}
}

func counter(args [][]byte) error {
	if err := need(args, 3); err != nil {
		return err
	}
	lock, err := guest.LockArg(args[0], false)
	if err != nil {
		return err
	}
	q, err := guest.QueueArg(args[1])
	if err != nil {
		return err
	}
	n, err := number(args[2])
	if err != nil {
		return err
	}
	for range n {
		if err := lock.Acquire(forever); err != nil && !errors.Is(err, guest.ErrOwnerDied) {
			return err
		}
		count, err := typed.Get[int](q, forever)
		if err != nil {
			return err
		}
		if err := typed.Put(q, count+1, forever); err != nil {
			return err
		}
		if err := lock.Release(); err != nil {
			return err
		}
	}
	return nil
}

func syncExample(args [][]byte) error {
	if err := need(args, 3); err != nil {
		return err
	}
	b, err := guest.BarrierArg(args[0])
	if err != nil {
		return err
	}
	sem, err := guest.SemaphoreArg(args[1])
	if err != nil {
		return err
	}
	if _, err := b.Wait(10 * time.Second); err != nil {
		return err
	}
	if err := sem.Acquire(forever); err != nil {
		return err
	}
	defer sem.Release(1)
	fmt.Printf("%s passed the barrier and holds the semaphore\n", args[2])
	time.Sleep(time.Millisecond)
	return nil
}

func hold(args [][]byte) error {
	if err := need(args, 1); err != nil {
		return err
	}
	lock, err := guest.LockArg(args[0], false)
	if err != nil {
		return err
	}
	if err := lock.Acquire(forever); err != nil {
		return err
	}
	fmt.Println("holding")
	for {
		time.Sleep(time.Hour)
	}
}

func queuePong(args [][]byte) error {
	if err := need(args, 3); err != nil {
		return err
	}
	in, err := guest.QueueArg(args[0])
	if err != nil {
		return err
	}
	out, err := guest.QueueArg(args[1])
	if err != nil {
		return err
	}
	n, err := number(args[2])
	if err != nil {
		return err
	}
	var start time.Time
	for i := range n {
		msg, err := in.GetView(forever)
		if err != nil {
			return err
		}
		if i == 0 {
			start = time.Now()
		}
		if err := out.Put(msg, forever); err != nil {
			return err
		}
	}
	elapsed(start)
	return nil
}

// elapsed prints the nanoseconds since start: the benchmark's figure,
// free of the time it took to start the process.
func elapsed(start time.Time) { fmt.Println(time.Since(start).Nanoseconds()) }

func pipePong(args [][]byte) error {
	if err := need(args, 2); err != nil {
		return err
	}
	conn, err := guest.ConnArg(args[0])
	if err != nil {
		return err
	}
	n, err := number(args[1])
	if err != nil {
		return err
	}
	var start time.Time
	for i := range n {
		msg, err := conn.RecvView(forever)
		if err != nil {
			return err
		}
		if i == 0 {
			start = time.Now()
		}
		// The peer may have finished and closed its end before the
		// last answer: that one is not needed.
		if err := conn.Send(msg, forever); err != nil && !(i == n-1 && errors.Is(err, guest.ErrClosed)) {
			return err
		}
	}
	elapsed(start)
	return nil
}

func semPong(args [][]byte) error {
	if err := need(args, 3); err != nil {
		return err
	}
	ping, err := guest.SemaphoreArg(args[0])
	if err != nil {
		return err
	}
	pong, err := guest.SemaphoreArg(args[1])
	if err != nil {
		return err
	}
	n, err := number(args[2])
	if err != nil {
		return err
	}
	var start time.Time
	for i := range n {
		if err := ping.Acquire(forever); err != nil {
			return err
		}
		if i == 0 {
			start = time.Now()
		}
		if err := pong.Release(1); err != nil {
			return err
		}
	}
	elapsed(start)
	return nil
}

func queueSink(args [][]byte) error {
	if err := need(args, 3); err != nil {
		return err
	}
	q, err := guest.QueueArg(args[0])
	if err != nil {
		return err
	}
	n, err := number(args[1])
	if err != nil {
		return err
	}
	batch, err := number(args[2])
	if err != nil {
		return err
	}
	// The clock starts after the first get, once the producer surely
	// runs; it prints the nanoseconds and the messages counted after it.
	var start time.Time
	counted := 0
	for got := 0; got < n; {
		var k int
		if batch <= 1 {
			if _, err := q.GetView(forever); err != nil {
				return err
			}
			k = 1
		} else {
			msgs, err := q.GetBatchView(min(batch, n-got), forever)
			if err != nil {
				return err
			}
			k = len(msgs)
		}
		if got == 0 {
			start = time.Now()
		} else {
			counted += k
		}
		got += k
	}
	fmt.Println(time.Since(start).Nanoseconds(), counted)
	return nil
}

func queueSource(args [][]byte) error {
	if err := need(args, 3); err != nil {
		return err
	}
	q, err := guest.QueueArg(args[0])
	if err != nil {
		return err
	}
	n, err := number(args[1])
	if err != nil {
		return err
	}
	batch, err := number(args[2])
	if err != nil {
		return err
	}
	msg := make([]byte, 64)
	msgs := make([][]byte, max(batch, 1))
	for i := range msgs {
		msgs[i] = msg
	}
	start := time.Now()
	defer func() { fmt.Println(time.Since(start).Nanoseconds(), n) }()
	for put := 0; put < n; {
		if batch <= 1 {
			if err := q.Put(msg, forever); err != nil {
				return err
			}
			put++
			continue
		}
		k, err := q.PutBatch(msgs[:min(batch, n-put)], forever)
		put += k
		if err != nil {
			return err
		}
	}
	return nil
}

func lockLoop(args [][]byte) error {
	if err := need(args, 2); err != nil {
		return err
	}
	lock, err := guest.LockArg(args[0], false)
	if err != nil {
		return err
	}
	n, err := number(args[1])
	if err != nil {
		return err
	}
	start := time.Now()
	for range n {
		if err := lock.Acquire(forever); err != nil {
			return err
		}
		if err := lock.Release(); err != nil {
			return err
		}
	}
	fmt.Printf("%.1f\n", float64(time.Since(start).Nanoseconds())/float64(n))
	return nil
}
