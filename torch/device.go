package torch

/*
#include "shim.h"
*/
import "C"

import (
	"fmt"
	"strconv"
	"strings"
)

// DeviceKind is CPU or CUDA.
type DeviceKind int

// Device kinds (the shim's dml_device_type codes, csrc/shim.h).
const (
	CPU  DeviceKind = C.DML_DEVICE_CPU
	CUDA DeviceKind = C.DML_DEVICE_CUDA
)

// Device names where a tensor lives. The zero value is the CPU.
type Device struct {
	Kind  DeviceKind
	Index int
}

// CPUDevice is the CPU.
var CPUDevice = Device{Kind: CPU}

// String returns "cpu" or "cuda:N".
func (d Device) String() string {
	if d.Kind == CUDA {
		return "cuda:" + strconv.Itoa(d.Index)
	}
	return "cpu"
}

// IsCUDA reports whether d is a CUDA device.
func (d Device) IsCUDA() bool { return d.Kind == CUDA }

func (d Device) codes() (kind, index int) {
	if d.Kind == CUDA {
		return 1, d.Index
	}
	return 0, -1
}

// ParseDevice accepts "cpu", "cuda", "cuda:N" and "auto" (cuda:0 when CUDA is available,
// else cpu). A CUDA device that the linked libtorch cannot use is an error.
func ParseDevice(s string) (Device, error) {
	t := strings.ToLower(strings.TrimSpace(s))
	switch {
	case t == "cpu":
		return CPUDevice, nil
	case t == "auto":
		if CUDAAvailable() {
			return Device{Kind: CUDA}, nil
		}
		return CPUDevice, nil
	case t == "cuda" || strings.HasPrefix(t, "cuda:"):
		idx := 0
		if t != "cuda" {
			n, err := strconv.Atoi(t[len("cuda:"):])
			if err != nil || n < 0 {
				return Device{}, fmt.Errorf("torch: bad device %q: index after \"cuda:\" must be a non-negative integer", s)
			}
			idx = n
		}
		if !CUDAAvailable() {
			return Device{}, fmt.Errorf("torch: device %q: CUDA is not available (libtorch %s; rebuild the shim with LIBTORCH pointing at a CUDA build)", s, Version())
		}
		if n := CUDADeviceCount(); idx >= n {
			return Device{}, fmt.Errorf("torch: device %q: only %d CUDA device(s)", s, n)
		}
		return Device{Kind: CUDA, Index: idx}, nil
	}
	return Device{}, fmt.Errorf("torch: bad device %q (want cpu, cuda, cuda:N or auto)", s)
}
