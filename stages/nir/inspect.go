package nir

import (
	"fmt"
	"io"
	"math"
	"strings"
	"text/tabwriter"

	"dmlrun/torch"
)

// ClassReport describes the learned density of one class: the covariance spectrum of n
// samples x = flow^{-1}(z | proxy), z ~ N(0, I). An isotropic class (what plain ProxyAnchor
// implicitly assumes around its proxy) has a flat spectrum; NIR's point is that the learned
// densities are not.
type ClassReport struct {
	Class int
	N     int       // samples drawn
	Eigen []float64 // eigenvalues of the sample covariance (D x D, unbiased), descending

	// Condition is Eigen[0] / Eigen[D-1] (+Inf when the smallest is <= 0, e.g. N <= D).
	Condition float64
	// EffectiveRank is exp(H(p)) with p = Eigen / sum(Eigen): D for a flat spectrum, 1 when
	// one direction holds all the variance.
	EffectiveRank float64
	// KLUniform is KL(p || uniform) = log D - H(p) in nats: 0 for isotropic samples.
	KLUniform float64
	// Trace is the total variance sum(Eigen).
	Trace float64
	// MeanNorm is the norm of the sample mean; ProxyCosine the cosine between the sample
	// mean and the class proxy (how well the density is centred on its proxy's direction).
	MeanNorm, ProxyCosine float64
}

// Report is the result of Inspect.
type Report struct {
	D       int
	Classes []ClassReport
}

// Inspect draws n samples for each class in classes from the criterion's flow (Sample) and
// reports how non-isotropic each class density is. Use n well above D (e.g. 20*D) for a
// meaningful spectrum: with n <= D the covariance is singular. Samples come from the
// parameters' device generator; seed it for reproducible reports.
func Inspect(c *Criterion, classes []int, n int) (Report, error) {
	d := c.cfg.D
	if n < 2 {
		return Report{}, fmt.Errorf("nir inspect: n = %d samples per class, need at least 2", n)
	}
	for _, k := range classes {
		if k < 0 || k >= c.cfg.C {
			return Report{}, fmt.Errorf("nir inspect: class %d out of range [0, %d)", k, c.cfg.C)
		}
	}
	rep := Report{D: d}
	var proxies []float64
	err := torch.WithScope(func() error {
		var err error
		proxies, err = c.proxies.t.Float64s()
		if err != nil {
			return fmt.Errorf("read proxies: %w", err)
		}
		for _, k := range classes {
			x, err := c.Sample(k, n).Float64s()
			if err != nil {
				return fmt.Errorf("read samples of class %d: %w", k, err)
			}
			rep.Classes = append(rep.Classes, spectrumReport(k, x, n, d, proxies[k*d:(k+1)*d]))
		}
		return nil
	})
	if err != nil {
		return Report{}, fmt.Errorf("nir inspect: %w", err)
	}
	return rep, nil
}

// spectrumReport computes a ClassReport from n x d row-major samples x.
func spectrumReport(class int, x []float64, n, d int, proxy []float64) ClassReport {
	mean := make([]float64, d)
	for i := 0; i < n; i++ {
		for j := 0; j < d; j++ {
			mean[j] += x[i*d+j]
		}
	}
	for j := range mean {
		mean[j] /= float64(n)
	}
	cov := make([]float64, d*d)
	row := make([]float64, d)
	for i := 0; i < n; i++ {
		for j := 0; j < d; j++ {
			row[j] = x[i*d+j] - mean[j]
		}
		for a := 0; a < d; a++ {
			ra := row[a]
			for b := a; b < d; b++ {
				cov[a*d+b] += ra * row[b]
			}
		}
	}
	for a := 0; a < d; a++ {
		for b := a; b < d; b++ {
			cov[a*d+b] /= float64(n - 1)
			cov[b*d+a] = cov[a*d+b]
		}
	}
	r := ClassReport{Class: class, N: n, Eigen: symEigenvalues(cov, d)}
	for _, e := range r.Eigen {
		r.Trace += e
	}
	if smallest := r.Eigen[d-1]; smallest > 0 {
		r.Condition = r.Eigen[0] / smallest
	} else {
		r.Condition = math.Inf(1)
	}
	var h float64
	for _, e := range r.Eigen {
		if p := e / r.Trace; p > 0 {
			h -= p * math.Log(p)
		}
	}
	r.EffectiveRank = math.Exp(h)
	r.KLUniform = math.Log(float64(d)) - h
	var mn, pn, dot float64
	for j := 0; j < d; j++ {
		mn += mean[j] * mean[j]
		pn += proxy[j] * proxy[j]
		dot += mean[j] * proxy[j]
	}
	r.MeanNorm = math.Sqrt(mn)
	if mn > 0 && pn > 0 {
		r.ProxyCosine = dot / math.Sqrt(mn*pn)
	}
	return r
}

// WriteTo prints the report as an aligned table, one row per class.
func (r Report) WriteTo(w io.Writer) (int64, error) {
	var sb strings.Builder
	fmt.Fprintf(&sb, "NIR flow density per class (D = %d): covariance spectrum of samples flow^-1(z | proxy), z ~ N(0, I)\n", r.D)
	tw := tabwriter.NewWriter(&sb, 0, 0, 2, ' ', tabwriter.AlignRight)
	fmt.Fprintln(tw, "class\tn\tlambda_max\tlambda_min\tmax/min\teff.rank\teff.rank/D\tKL(uniform)\ttrace\t|mean|\tcos(mean,proxy)\t")
	for _, c := range r.Classes {
		fmt.Fprintf(tw, "%d\t%d\t%.4g\t%.4g\t%.4g\t%.2f\t%.3f\t%.4f\t%.4g\t%.4f\t%.4f\t\n",
			c.Class, c.N, c.Eigen[0], c.Eigen[len(c.Eigen)-1], c.Condition, c.EffectiveRank,
			c.EffectiveRank/float64(r.D), c.KLUniform, c.Trace, c.MeanNorm, c.ProxyCosine)
	}
	tw.Flush()
	sb.WriteString("isotropic: max/min = 1, eff.rank/D = 1, KL(uniform) = 0; larger max/min and KL = more anisotropic.\n")
	n, err := io.WriteString(w, sb.String())
	return int64(n), err
}

// String is the printed table.
func (r Report) String() string {
	var sb strings.Builder
	r.WriteTo(&sb)
	return sb.String()
}
