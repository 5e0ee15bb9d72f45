package train

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"sync"
	"time"
)

// keyInputs is the train stage's stage.Def.KeyInputs: when the node starts from ImageNet
// weights (pretrained set, not_pretrained false) the SHA-256 of the weights file enters its
// key, so replacing the file under the same path makes a new key instead of a cache hit
// with the old weights. Other nodes read nothing outside their parameters and inputs and
// return "". A missing or unreadable file is an error naming the path: the node has no key,
// plan shows the error and apply refuses to run. A relative path is resolved against the
// working directory, as the stage itself resolves it.
func keyInputs(ctx context.Context, c *Config) (string, error) {
	path := c.Pretrained
	if c.NotPretrained || path == "" {
		return "", nil
	}
	sum, err := cachedSHA256(path)
	if err != nil {
		return "", fmt.Errorf("pretrained = %q: %w; point it at the ImageNet weights file (a .pth state dict) or set not_pretrained = true", path, err)
	}
	return sum, nil
}

// digestCache remembers file digests by absolute path, size and modification time, so a
// process that builds the graph several times (plan, then apply) hashes a weights file
// (100 MB for ResNet50) once. It does not outlive the process.
var digestCache = struct {
	sync.Mutex
	m map[string]cachedDigest
}{m: map[string]cachedDigest{}}

type cachedDigest struct {
	size  int64
	mtime time.Time
	sum   string
}

func cachedSHA256(path string) (string, error) {
	abs, err := filepath.Abs(path)
	if err != nil {
		return "", err
	}
	fi, err := os.Stat(abs)
	if err != nil {
		return "", err
	}
	if !fi.Mode().IsRegular() {
		return "", fmt.Errorf("%s is not a regular file", abs)
	}
	digestCache.Lock()
	c, ok := digestCache.m[abs]
	digestCache.Unlock()
	if ok && c.size == fi.Size() && c.mtime.Equal(fi.ModTime()) {
		return c.sum, nil
	}
	sum, err := fileSHA256(abs)
	if err != nil {
		return "", err
	}
	digestCache.Lock()
	digestCache.m[abs] = cachedDigest{size: fi.Size(), mtime: fi.ModTime(), sum: sum}
	digestCache.Unlock()
	return sum, nil
}
