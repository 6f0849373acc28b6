//go:build !linux

package bench

import "errors"

func allowedCPUs() ([]int, error)             { return nil, errors.ErrUnsupported }
func setAffinity(pid int, cpus []int) error   { return errors.ErrUnsupported }
func checkAffinity(pid int, cpus []int) error { return errors.ErrUnsupported }
