package load

import (
	"bufio"
	"bytes"
	"fmt"
	"os"
	"strconv"
	"strings"
	"syscall"
)

// Stored image size bounds. The original stores 256 (crop 224 or 227, 256 for "big"); the
// small sets use 32-64. 1024 leaves room for larger experiments while keeping one stored
// image at 3 MiB; anything larger is almost certainly a typo (base = 100000 would be 30
// GB per image).
const (
	MinBase = 8
	MaxBase = 1024
)

// checkSize validates the stored size and the batch crop.
func checkSize(base, crop int) error {
	if base < MinBase || base > MaxBase {
		return fmt.Errorf("base = %d is outside %d..%d (the stored image side in pixels: the original uses 256, the small sets 32-64)",
			base, MinBase, MaxBase)
	}
	if crop < 1 || crop > base {
		return fmt.Errorf("crop = %d must be between 1 and base = %d", crop, base)
	}
	return nil
}

// checkResize refuses a source image resizeCenterCrop cannot work on. Its aspect ratio
// does not matter: only the cropped square of the resized image is computed.
func checkResize(w, h, base int) error {
	if w <= 0 || h <= 0 {
		return fmt.Errorf("image of %dx%d pixels is empty", w, h)
	}
	return nil
}

// memAvailable returns the memory available to new allocations without swapping
// (MemAvailable in /proc/meminfo), and whether it is known. Tests replace it.
var memAvailable = func() (int64, bool) {
	b, err := os.ReadFile("/proc/meminfo")
	if err != nil {
		return 0, false
	}
	return parseMemAvailable(b)
}

// parseMemAvailable reads "MemAvailable: <n> kB" from /proc/meminfo's contents.
func parseMemAvailable(b []byte) (int64, bool) {
	sc := bufio.NewScanner(bytes.NewReader(b))
	for sc.Scan() {
		f := strings.Fields(sc.Text())
		if len(f) == 3 && f[0] == "MemAvailable:" && f[2] == "kB" {
			n, err := strconv.ParseInt(f[1], 10, 64)
			if err != nil || n < 0 || n > 1<<53 {
				return 0, false
			}
			return n << 10, true
		}
	}
	return 0, false
}

// diskFree returns the bytes an unprivileged writer can still store in dir's file system,
// and whether it is known. Tests replace it.
var diskFree = func(dir string) (int64, bool) {
	var st syscall.Statfs_t
	if err := syscall.Statfs(dir, &st); err != nil {
		return 0, false
	}
	return int64(st.Bavail) * int64(st.Bsize), true
}

// memoryHeadroom: the load stage plans to use at most this fraction of MemAvailable, so
// that decoding buffers it does not count (a large source image, the Go heap's slack) and
// other processes keep room.
const memoryHeadroom = 0.75

// checkResources refuses to decode when the memory the stage holds at once, or the disk
// space the shards take, exceeds what the machine has. At once, writeSplit holds one
// shard's decoded images twice (the per-image results and the shard's contiguous pixels)
// and each worker a resized image and its crop; the shards on disk take 3*base*base bytes
// per image. n is the number of images of each split.
func checkResources(o Options, n []int, outDir string) error {
	img := int64(o.Base) * int64(o.Base) * 3
	var total int64
	largest := 0
	for _, k := range n {
		total += int64(k) * img
		largest = max(largest, k)
	}
	shard := int64(min(o.ShardImages, largest))
	need := (2*shard + 2*int64(o.Workers)) * img
	if avail, ok := memAvailable(); ok && float64(need) > memoryHeadroom*float64(avail) {
		return fmt.Errorf("base = %d: decoding needs about %s of memory at once (%d images per shard, held twice, and %d workers, %s per image) "+
			"but %s is available (MemAvailable in /proc/meminfo; the stage uses at most %.0f%% of it): use a smaller base",
			o.Base, bytesText(need), shard, o.Workers, bytesText(img), bytesText(avail), 100*memoryHeadroom)
	}
	if free, ok := diskFree(outDir); ok && total > free {
		return fmt.Errorf("base = %d: the %d images take %s stored (%s each), but %s has %s free",
			o.Base, sum(n), bytesText(total), bytesText(img), outDir, bytesText(free))
	}
	return nil
}

func sum(xs []int) int {
	s := 0
	for _, x := range xs {
		s += x
	}
	return s
}

// bytesText writes a byte count with a binary unit ("3.0 MiB").
func bytesText(n int64) string {
	const unit = 1024
	if n < unit {
		return fmt.Sprintf("%d B", n)
	}
	f, u := float64(n), 0
	for f >= unit && u < 5 {
		f /= unit
		u++
	}
	return fmt.Sprintf("%.1f %ciB", f, "KMGTPE"[u-1])
}
