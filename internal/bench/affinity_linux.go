package bench

import (
	"errors"
	"fmt"
	"os"
	"runtime"
	"slices"
	"strconv"

	"golang.org/x/sys/unix"
)

// allowedCPUs returns the CPUs this process may run on, in order.
func allowedCPUs() ([]int, error) {
	var set unix.CPUSet
	if err := unix.SchedGetaffinity(0, &set); err != nil {
		return nil, fmt.Errorf("sched_getaffinity: %w", err)
	}
	return cpuList(&set), nil
}

func cpuList(set *unix.CPUSet) []int {
	var cpus []int
	for c := range len(set) * 64 {
		if set.IsSet(c) {
			cpus = append(cpus, c)
		}
	}
	return cpus
}

func cpuSet(cpus []int) *unix.CPUSet {
	var set unix.CPUSet
	for _, c := range cpus {
		set.Set(c)
	}
	return &set
}

// setAffinity binds every thread of process pid (0: this one) to cpus. A
// thread's affinity covers only itself, and threads inherit the mask of
// the thread that creates them, so it repeats until a pass over the
// process's threads finds none it has not set.
func setAffinity(pid int, cpus []int) error {
	dir := "/proc/self/task"
	if pid != 0 {
		dir = "/proc/" + strconv.Itoa(pid) + "/task"
	}
	set := cpuSet(cpus)
	done := map[int]bool{}
	for {
		entries, err := os.ReadDir(dir)
		if err != nil {
			return err
		}
		fresh := 0
		for _, e := range entries {
			tid, err := strconv.Atoi(e.Name())
			if err != nil || done[tid] {
				continue
			}
			if err := unix.SchedSetaffinity(tid, set); err != nil && !errors.Is(err, unix.ESRCH) {
				return fmt.Errorf("sched_setaffinity(%d): %w", tid, err)
			}
			done[tid] = true
			fresh++
		}
		if fresh == 0 {
			break
		}
	}
	// GOMAXPROCS follows the affinity mask, but only every so often: make
	// it follow now, unless the environment fixed it.
	if pid == 0 && os.Getenv("GOMAXPROCS") == "" {
		runtime.SetDefaultGOMAXPROCS()
	}
	return nil
}

// checkAffinity reports an error unless process pid runs on exactly cpus.
func checkAffinity(pid int, cpus []int) error {
	var set unix.CPUSet
	if err := unix.SchedGetaffinity(pid, &set); err != nil {
		return fmt.Errorf("sched_getaffinity(%d): %w", pid, err)
	}
	if got := cpuList(&set); !slices.Equal(got, cpus) {
		return fmt.Errorf("process %d runs on CPUs %v, want %v", pid, got, cpus)
	}
	return nil
}
