package train

import (
	"bufio"
	"fmt"
	"os"
	"strings"

	"golang.org/x/sys/cpu"

	"dmlrun/torch"
)

// cpuBF16 says whether this CPU has bfloat16 arithmetic in hardware (AVX512-BF16 or
// AMX-BF16). Without it oneDNN emulates bfloat16 convolutions, or has none (AVX2 CPUs), so
// CPU autocast would be slower than float32 or fail: train refuses it. A test hook.
var cpuBF16 = func() bool { return cpu.X86.HasAVX512BF16 || cpu.X86.HasAMXBF16 }

// checkAutocast refuses an autocast the device cannot run: on the CPU libtorch 1.13's
// autocast has bfloat16 only, and only a CPU with bfloat16 instructions gains from it. The
// check runs when the node starts, not at validate: a plan may be made on another machine
// than the one that trains, and the key must not depend on where a node runs.
func checkAutocast(autocast string, dev torch.Device) error {
	if autocast == "none" || dev.IsCUDA() {
		return nil
	}
	if autocast == "f16" {
		return fmt.Errorf("autocast = \"f16\" needs a CUDA device (the device is %s): libtorch's CPU autocast has bfloat16 only; use autocast = \"bf16\" on a CPU with bfloat16 instructions, or \"none\"", dev)
	}
	if !cpuBF16() {
		return fmt.Errorf("autocast = \"bf16\" on the CPU needs bfloat16 instructions (AVX512-BF16 or AMX-BF16), and this CPU (%s) has neither: oneDNN would emulate bfloat16, slower than float32; set autocast = \"none\", or train on a CUDA device (--device cuda)", cpuModel())
	}
	return nil
}

// cpuModel is /proc/cpuinfo's first "model name", for messages; "unknown model" elsewhere.
func cpuModel() string {
	f, err := os.Open("/proc/cpuinfo")
	if err != nil {
		return "unknown model"
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		k, v, ok := strings.Cut(sc.Text(), ":")
		if ok && strings.TrimSpace(k) == "model name" {
			return strings.TrimSpace(v)
		}
	}
	return "unknown model"
}
