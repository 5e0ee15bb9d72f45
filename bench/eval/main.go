// Command evalbench times dmlrun's evaluation path (stages/evaluate/metrics with the
// libtorch backend) on a synthetic SOP-sized set: Recall@{1,2,4,10} from an exact kNN search
// and NMI from the faiss-replica k-means with one cluster per class. It writes the data it
// used (x.f32, labels.i64) so that faiss_bench.py can time faiss on the same vectors; run.sh
// runs both and prints the ratio.
//
// The data are N random unit vectors around `classes` random class centres (Gaussian
// centre + noise, L2-normalised), so that recall and NMI are non-trivial and the two
// implementations' metric values can be compared, not only their times.
package main

import (
	"bufio"
	"encoding/binary"
	"encoding/json"
	"flag"
	"fmt"
	"math"
	"math/rand/v2"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	"dmlrun/stages/evaluate"
	"dmlrun/stages/evaluate/metrics"
	"dmlrun/torch"
)

type result struct {
	Impl        string             `json:"impl"`
	N           int                `json:"n"`
	D           int                `json:"d"`
	Classes     int                `json:"classes"`
	Threads     int                `json:"threads"`
	SearchSec   float64            `json:"search_s"`
	KMeansSec   float64            `json:"kmeans_s"`
	TotalSec    float64            `json:"total_s"`
	PeakRSSMB   float64            `json:"peak_rss_mb"`
	RSSPhases   map[string]float64 `json:"peak_rss_phases_mb"`
	Metrics     map[string]float64 `json:"metrics"`
	TorchDevice string             `json:"device"`
}

func main() {
	n := flag.Int("n", 60000, "number of vectors")
	d := flag.Int("d", 128, "dimension")
	classes := flag.Int("classes", 11000, "number of classes (and k-means clusters)")
	out := flag.String("out", "", "directory for x.f32 / labels.i64 (required)")
	device := flag.String("device", "cpu", "torch device")
	threads := flag.Int("threads", 0, "torch threads (0: libtorch default)")
	chunkMB := flag.Int64("chunk-mb", 0, "TorchBackend.ChunkBytes in MiB (0: its default)")
	flag.Parse()
	if *out == "" {
		fmt.Fprintln(os.Stderr, "evalbench: -out DIR is required")
		os.Exit(2)
	}
	if err := run(*n, *d, *classes, *out, *device, *threads, *chunkMB<<20); err != nil {
		fmt.Fprintln(os.Stderr, "evalbench:", err)
		os.Exit(1)
	}
}

func run(n, d, classes int, out, device string, threads int, chunk int64) error {
	x, labels := synth(n, d, classes)
	if err := writeData(out, x, labels); err != nil {
		return err
	}
	dev, err := torch.ParseDevice(device)
	if err != nil {
		return err
	}
	// TorchBackend's methods run inside torch.Pinned, as in the evaluate stage: it sets the
	// thread count (threads < 1 leaves libtorch's default) on the OS thread they run on.
	var res result
	err = torch.Pinned(threads, func() error {
		b := evaluate.TorchBackend{Device: dev, ChunkBytes: chunk}
		m := metrics.Matrix{Data: x, Rows: n, Cols: d}

		// Warm-up outside the timings (libtorch thread pool, first allocation).
		small := metrics.Matrix{Data: x[:1000*d], Rows: 1000, Cols: d}
		if _, err := b.Search(small, 11, true); err != nil {
			return err
		}

		phases := map[string]float64{"start": peakRSSMB()}
		t0 := time.Now()
		rec, err := metrics.Compute(m, labels, []string{"e_recall@1", "e_recall@2", "e_recall@4", "e_recall@10"},
			metrics.Options{Backend: b})
		if err != nil {
			return err
		}
		t1 := time.Now()
		phases["search"] = peakRSSMB()
		nmi, err := metrics.Compute(m, labels, []string{"nmi"}, metrics.Options{Backend: b, KMeansK: classes})
		if err != nil {
			return err
		}
		t2 := time.Now()
		rec["nmi"] = nmi["nmi"]
		res = result{Impl: "dmlrun (Go + libtorch " + torch.Version() + ")", N: n, D: d, Classes: classes,
			Threads: torch.NumThreads(), SearchSec: t1.Sub(t0).Seconds(), KMeansSec: t2.Sub(t1).Seconds(),
			TotalSec: t2.Sub(t0).Seconds(), PeakRSSMB: peakRSSMB(), RSSPhases: phases, Metrics: rec, TorchDevice: dev.String()}
		return nil
	})
	if err != nil {
		return err
	}
	enc := json.NewEncoder(os.Stdout)
	return enc.Encode(res)
}

// synth draws labels uniformly (every class at least once while n >= classes), class
// centres and per-sample noise from one seeded PCG stream.
func synth(n, d, classes int) ([]float32, []int64) {
	rng := rand.New(rand.NewPCG(2024, 11))
	centres := make([]float64, classes*d)
	for i := range centres {
		centres[i] = rng.NormFloat64()
	}
	labels := make([]int64, n)
	for i := range labels {
		if i < classes {
			labels[i] = int64(i)
		} else {
			labels[i] = int64(rng.IntN(classes))
		}
	}
	rng.Shuffle(n, func(i, j int) { labels[i], labels[j] = labels[j], labels[i] })
	x := make([]float32, n*d)
	row := make([]float64, d)
	for i := 0; i < n; i++ {
		var ss float64
		c := centres[int(labels[i])*d:]
		for j := range row {
			row[j] = c[j] + 1.5*rng.NormFloat64()
			ss += row[j] * row[j]
		}
		inv := 1 / math.Sqrt(ss)
		for j := range row {
			x[i*d+j] = float32(row[j] * inv)
		}
	}
	return x, labels
}

func writeData(dir string, x []float32, labels []int64) error {
	write := func(name string, v any) error {
		f, err := os.Create(filepath.Join(dir, name))
		if err != nil {
			return err
		}
		w := bufio.NewWriter(f)
		if err := binary.Write(w, binary.LittleEndian, v); err != nil {
			f.Close()
			return err
		}
		if err := w.Flush(); err != nil {
			f.Close()
			return err
		}
		return f.Close()
	}
	if err := write("x.f32", x); err != nil {
		return err
	}
	return write("labels.i64", labels)
}

// peakRSSMB is VmHWM (peak resident set) of this process, native libtorch memory included.
func peakRSSMB() float64 {
	b, err := os.ReadFile("/proc/self/status")
	if err != nil {
		return math.NaN()
	}
	for _, l := range strings.Split(string(b), "\n") {
		if f, ok := strings.CutPrefix(l, "VmHWM:"); ok {
			kb, _ := strconv.ParseFloat(strings.TrimSpace(strings.TrimSuffix(strings.TrimSpace(f), "kB")), 64)
			return kb / 1024
		}
	}
	return math.NaN()
}
