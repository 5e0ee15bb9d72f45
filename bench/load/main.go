// Command loadbench measures images per second for what the load stage does to every
// image (read, decode, RGB/alpha-over-white conversion, shorter side resized to base,
// centre crop) on the emoji set, so it can be compared with Pillow doing the same work
// (pil_bench.py; run.sh runs both).
package main

import (
	"encoding/json"
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"runtime"
	"runtime/pprof"
	"sync"
	"syscall"
	"time"

	"dmlrun/stages/load"
)

func main() {
	data := flag.String("data", "data", "DATA_DIR of scripts/fetch-data.sh")
	vendor := flag.String("vendor", "google", "emoji vendor")
	base := flag.Int("base", 256, "stored size")
	workers := flag.Int("workers", runtime.NumCPU(), "goroutines")
	limit := flag.Int("n", 0, "images (0 = all)")
	prof := flag.String("cpuprofile", "", "write a CPU profile here")
	flag.Parse()
	if *prof != "" {
		f, err := os.Create(*prof)
		if err != nil {
			fmt.Fprintln(os.Stderr, "loadbench:", err)
			os.Exit(1)
		}
		pprof.StartCPUProfile(f)
		defer pprof.StopCPUProfile()
	}
	if err := run(*data, *vendor, *base, *workers, *limit); err != nil {
		fmt.Fprintln(os.Stderr, "loadbench:", err)
		pprof.StopCPUProfile()
		os.Exit(1)
	}
}

func run(data, vendor string, base, workers, limit int) error {
	pkg := filepath.Join(data, "emoji", vendor, "package")
	b, err := os.ReadFile(filepath.Join(pkg, "emoji.json"))
	if err != nil {
		return fmt.Errorf("%w (run scripts/fetch-data.sh)", err)
	}
	var entries []struct {
		Image string `json:"image"`
	}
	if err := json.Unmarshal(b, &entries); err != nil {
		return err
	}
	var paths []string
	for _, e := range entries {
		paths = append(paths, filepath.Join(pkg, "img", vendor, "64", e.Image))
	}
	if limit > 0 && limit < len(paths) {
		paths = paths[:limit]
	}
	// Warm-up outside the timer: page cache and code paths.
	for _, p := range paths[:min(50, len(paths))] {
		if _, err := load.PreprocessFile(p, base, true); err != nil {
			return err
		}
	}
	cpu0 := cpuSeconds()
	start := time.Now()
	next := make(chan string)
	errs := make(chan error, workers)
	var wg sync.WaitGroup
	for w := 0; w < workers; w++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for p := range next {
				if _, err := load.PreprocessFile(p, base, true); err != nil {
					errs <- err
					return
				}
			}
		}()
	}
	for _, p := range paths {
		next <- p
	}
	close(next)
	wg.Wait()
	el := time.Since(start)
	cpu := cpuSeconds() - cpu0
	select {
	case err := <-errs:
		return err
	default:
	}
	fmt.Printf("go  workers=%d images=%d base=%d seconds=%.3f images_per_s=%.1f cpu_seconds=%.3f images_per_cpu_s=%.1f\n",
		workers, len(paths), base, el.Seconds(), float64(len(paths))/el.Seconds(), cpu, float64(len(paths))/cpu)
	return nil
}

// cpuSeconds is the process's user + system CPU time: on a shared machine it measures the
// work done better than wall time.
func cpuSeconds() float64 {
	var ru syscall.Rusage
	syscall.Getrusage(syscall.RUSAGE_SELF, &ru)
	return float64(ru.Utime.Sec+ru.Stime.Sec) + float64(ru.Utime.Usec+ru.Stime.Usec)/1e6
}
