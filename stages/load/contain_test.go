package load

import (
	"context"
	"errors"
	"image/color"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
)

// containFixture is a dataset root with a sibling folder "outside" holding an image the
// dataset must never read: parent/{ds, outside/secret_111_0.png}.
type containFixture struct {
	parent, root, outside string
}

func newContainFixture(t *testing.T) containFixture {
	t.Helper()
	parent := t.TempDir()
	f := containFixture{parent: parent, root: filepath.Join(parent, "ds"), outside: filepath.Join(parent, "outside")}
	if err := os.MkdirAll(f.root, 0o755); err != nil {
		t.Fatal(err)
	}
	writeImage(t, filepath.Join(f.outside, "secret_111_0.png"), 5, 5, color.RGBA{255, 0, 0, 255})
	writeImage(t, filepath.Join(f.outside, "cls", "1.png"), 5, 5, color.RGBA{255, 0, 0, 255})
	writeImage(t, filepath.Join(f.outside, "cls", "2.png"), 5, 5, color.RGBA{255, 0, 0, 255})
	return f
}

func symlink(t *testing.T, target, link string) {
	t.Helper()
	if err := os.MkdirAll(filepath.Dir(link), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.Symlink(target, link); err != nil {
		t.Fatal(err)
	}
}

// writeSOPSet writes an Online Products set with two training and two test products whose
// images exist; extra is appended to Ebay_train.txt as row 4.
func writeSOPSet(t *testing.T, root, extra string) {
	t.Helper()
	for _, p := range []string{"bike_final/111_0.png", "bike_final/222_0.png", "chair_final/333_0.png", "chair_final/444_0.png"} {
		writeImage(t, filepath.Join(root, "images", filepath.FromSlash(p)), 4, 4, color.RGBA{0, 0, 255, 255})
	}
	train := sopHeader + "1 1 1 bike_final/111_0.png\n2 2 1 bike_final/222_0.png\n"
	if extra != "" {
		train += extra + "\n"
	}
	writeText(t, filepath.Join(root, "Info_Files", "Ebay_train.txt"), train)
	writeText(t, filepath.Join(root, "Info_Files", "Ebay_test.txt"), sopHeader+"1 3 2 chair_final/333_0.png\n2 4 2 chair_final/444_0.png\n")
}

// TestSOPPathsStayInRoot: an info row whose path leaves the root ("..", absolute, or a
// symlink anywhere along it that points out) is refused with the info file and line, by
// Prepare and by Digest (the key), before anything outside is read; symlinks that stay
// inside are fine.
func TestSOPPathsStayInRoot(t *testing.T) {
	t.Setenv(StatCacheEnv, "off")
	for _, tc := range []struct {
		name  string
		setup func(t *testing.T, f containFixture)
		row   string
		want  string // "" = accepted
	}{
		{"dotdot", nil, "3 1 1 ../../../outside/secret_111_0.png", `Ebay_train.txt:4: path "../../../outside/secret_111_0.png" has a ".." component`},
		{"dotdot inside", nil, "3 1 1 bike_final/../bike_final/111_0.png", `Ebay_train.txt:4: path "bike_final/../bike_final/111_0.png" has a ".." component`},
		{"absolute", func(t *testing.T, f containFixture) {}, "3 1 1 /etc/passwd_111_0.png", `Ebay_train.txt:4: path "/etc/passwd_111_0.png" is absolute`},
		{"file symlink out", func(t *testing.T, f containFixture) {
			symlink(t, filepath.Join(f.outside, "secret_111_0.png"), filepath.Join(f.root, "images", "bike_final", "111_9.png"))
		}, "3 1 1 bike_final/111_9.png", "Ebay_train.txt:4: images/bike_final/111_9.png is a symlink to "},
		{"relative file symlink out", func(t *testing.T, f containFixture) {
			symlink(t, "../../../outside/secret_111_0.png", filepath.Join(f.root, "images", "bike_final", "111_9.png"))
		}, "3 1 1 bike_final/111_9.png", "Ebay_train.txt:4: images/bike_final/111_9.png is a symlink to "},
		{"dir symlink out", func(t *testing.T, f containFixture) {
			symlink(t, f.outside, filepath.Join(f.root, "images", "evil_final"))
		}, "3 1 1 evil_final/secret_111_0.png", "Ebay_train.txt:4: images/evil_final/secret_111_0.png is in images/evil_final, which resolves through a symlink to "},
		{"images symlink out", func(t *testing.T, f containFixture) {
			os.Rename(filepath.Join(f.root, "images"), filepath.Join(f.outside, "images"))
			symlink(t, filepath.Join(f.outside, "images"), filepath.Join(f.root, "images"))
		}, "", "resolves through a symlink to "},
		{"info files symlink out", func(t *testing.T, f containFixture) {
			os.Rename(filepath.Join(f.root, "Info_Files"), filepath.Join(f.outside, "Info_Files"))
			symlink(t, filepath.Join(f.outside, "Info_Files"), filepath.Join(f.root, "Info_Files"))
		}, "", "Info_Files/Ebay_train.txt is in Info_Files, which resolves through a symlink to "},
		{"symlink inside", func(t *testing.T, f containFixture) {
			symlink(t, "../chair_final/333_0.png", filepath.Join(f.root, "images", "bike_final", "111_9.png"))
			symlink(t, filepath.Join(f.root, "images", "chair_final"), filepath.Join(f.root, "images", "alias_final"))
		}, "3 1 1 bike_final/111_9.png\n4 1 1 alias_final/444_0.png", ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			f := newContainFixture(t)
			writeSOPSet(t, f.root, tc.row)
			if tc.setup != nil {
				tc.setup(t, f)
			}
			o := Options{Kind: KindSOP, Root: f.root, Base: 8, Crop: 8}
			_, derr := Digest(context.Background(), o)
			_, perr := Prepare(context.Background(), o, t.TempDir(), nil, nil)
			for what, err := range map[string]error{"Digest": derr, "Prepare": perr} {
				if tc.want == "" {
					if err != nil {
						t.Errorf("%s: %v", what, err)
					}
					continue
				}
				if err == nil || !strings.Contains(err.Error(), tc.want) {
					t.Errorf("%s: error = %v\nwant it to contain %q", what, err, tc.want)
				}
				var ee *EscapeError
				if err != nil && !errors.As(err, &ee) {
					t.Errorf("%s: %v is not an *EscapeError", what, err)
				}
			}
		})
	}
}

// TestWalkersStayInRoot: the folder-walking readers (folder, cub200, cars196, emoji, idx)
// refuse class folders, image files and fixed-name files that are symlinks out of the root;
// the root itself may be a symlink, and links within the root are followed.
func TestWalkersStayInRoot(t *testing.T) {
	t.Setenv(StatCacheEnv, "off")
	red := color.RGBA{200, 0, 0, 255}
	folder := func(t *testing.T, root string) {
		for _, c := range []string{"a", "b"} {
			writeImage(t, filepath.Join(root, c, "1.png"), 4, 4, red)
		}
	}
	cub := func(t *testing.T, root string) {
		for _, c := range []string{"1.A", "2.B"} {
			writeImage(t, filepath.Join(root, "images", c, "1.png"), 4, 4, red)
		}
	}
	for _, tc := range []struct {
		name  string
		kind  string
		setup func(t *testing.T, f containFixture)
		want  string // "" = accepted
	}{
		{"folder class symlink out", KindFolder, func(t *testing.T, f containFixture) {
			folder(t, f.root)
			symlink(t, filepath.Join(f.outside, "cls"), filepath.Join(f.root, "c"))
		}, "folder: class folder c is a symlink to "},
		{"folder file symlink out", KindFolder, func(t *testing.T, f containFixture) {
			folder(t, f.root)
			symlink(t, filepath.Join(f.outside, "secret_111_0.png"), filepath.Join(f.root, "a", "2.png"))
		}, "a/2.png is a symlink to "},
		{"folder symlinks inside", KindFolder, func(t *testing.T, f containFixture) {
			folder(t, f.root)
			symlink(t, "a", filepath.Join(f.root, "c"))
			symlink(t, filepath.Join(f.root, "b", "1.png"), filepath.Join(f.root, "a", "2.png"))
		}, ""},
		{"root is a symlink", KindFolder, func(t *testing.T, f containFixture) {
			real := filepath.Join(f.parent, "real")
			os.Rename(f.root, real)
			folder(t, real)
			symlink(t, "a", filepath.Join(real, "c")) // relative link inside the real root
			symlink(t, real, f.root)
		}, ""},
		{"cub class symlink out", KindCUB200, func(t *testing.T, f containFixture) {
			cub(t, f.root)
			symlink(t, filepath.Join(f.outside, "cls"), filepath.Join(f.root, "images", "3.C"))
		}, "cub200: class folder images/3.C is a symlink to "},
		{"cub images symlink out", KindCUB200, func(t *testing.T, f containFixture) {
			cub(t, filepath.Join(f.outside, "cub"))
			symlink(t, filepath.Join(f.outside, "cub", "images"), filepath.Join(f.root, "images"))
		}, "images resolves through a symlink to "},
		{"cars file symlink out", KindCars196, func(t *testing.T, f containFixture) {
			cub(t, f.root)
			symlink(t, filepath.Join(f.outside, "secret_111_0.png"), filepath.Join(f.root, "images", "1.A", "2.png"))
		}, "images/1.A/2.png is a symlink to "},
		{"idx file symlink out", KindIDX, func(t *testing.T, f containFixture) {
			writeIDXSet(t, f.root)
			os.Rename(filepath.Join(f.root, "t10k-images-idx3-ubyte"), filepath.Join(f.outside, "t10k-images-idx3-ubyte"))
			symlink(t, filepath.Join(f.outside, "t10k-images-idx3-ubyte"), filepath.Join(f.root, "t10k-images-idx3-ubyte"))
		}, "t10k-images-idx3-ubyte is a symlink to "},
	} {
		t.Run(tc.name, func(t *testing.T) {
			f := newContainFixture(t)
			tc.setup(t, f)
			o := Options{Kind: tc.kind, Root: f.root, Base: 8, Crop: 8}
			_, derr := Digest(context.Background(), o)
			_, perr := Prepare(context.Background(), o, t.TempDir(), nil, nil)
			for what, err := range map[string]error{"Digest": derr, "Prepare": perr} {
				if tc.want == "" {
					if err != nil {
						t.Errorf("%s: %v", what, err)
					}
					continue
				}
				var ee *EscapeError
				if err == nil || !strings.Contains(err.Error(), tc.want) || !errors.As(err, &ee) {
					t.Errorf("%s: error = %v\nwant an *EscapeError containing %q", what, err, tc.want)
				}
			}
		})
	}
}

// TestEmojiPathsStayInRoot: an emoji.json "image" that is not a plain file name is refused
// with emoji.json:line; a vendor folder linked out of the root is refused too.
func TestEmojiPathsStayInRoot(t *testing.T) {
	t.Setenv(StatCacheEnv, "off")
	entry := func(img string) string {
		return `{"unified":"A","short_name":"a","image":"a.png","sort_order":1,"has_img_g":true},` + "\n" +
			` {"unified":"B","short_name":"b","image":"` + img + `","sort_order":2,"has_img_g":true}`
	}
	for _, tc := range []struct {
		name  string
		img   string
		setup func(t *testing.T, f containFixture)
		want  string
	}{
		{"dotdot", "../../../../../outside/secret_111_0.png", nil, `emoji.json:3: image "../../../../../outside/secret_111_0.png" is not a file name`},
		{"absolute", "/etc/hosts", nil, `emoji.json:3: image "/etc/hosts" is not a file name`},
		{"subdir", "x/b.png", nil, `emoji.json:3: image "x/b.png" is not a file name`},
		{"vendor symlink out", "b.png", func(t *testing.T, f containFixture) {
			os.Rename(filepath.Join(f.root, "g"), filepath.Join(f.outside, "g"))
			symlink(t, filepath.Join(f.outside, "g"), filepath.Join(f.root, "g"))
		}, "g/package/emoji.json is in g/package, which resolves through a symlink to "},
		{"image symlink out", "b.png", func(t *testing.T, f containFixture) {
			p := filepath.Join(f.root, "g", "package", "img", "g", "64", "b.png")
			os.Remove(p)
			symlink(t, filepath.Join(f.outside, "secret_111_0.png"), p)
		}, "g/package/img/g/64/b.png is a symlink to "},
	} {
		t.Run(tc.name, func(t *testing.T) {
			f := newContainFixture(t)
			writeText(t, filepath.Join(f.root, "g", "package", "emoji.json"), "[\n "+entry(tc.img)+"\n]\n")
			for _, n := range []string{"a.png", "b.png"} {
				writeImage(t, filepath.Join(f.root, "g", "package", "img", "g", "64", n), 4, 4, color.RGBA{0, 0, 0, 255})
			}
			if tc.setup != nil {
				tc.setup(t, f)
			}
			o := Options{Kind: KindEmoji, Root: f.root, Base: 8, Crop: 8, Vendors: []string{"g"}}
			_, derr := Digest(context.Background(), o)
			_, perr := Prepare(context.Background(), o, t.TempDir(), nil, nil)
			for what, err := range map[string]error{"Digest": derr, "Prepare": perr} {
				var ee *EscapeError
				if err == nil || !strings.Contains(err.Error(), tc.want) || !errors.As(err, &ee) {
					t.Errorf("%s: error = %v\nwant an *EscapeError containing %q", what, err, tc.want)
				}
			}
		})
	}
}

// TestNonRegularFilesRefused: a FIFO in place of an info file or image is refused, not
// opened (opening a FIFO for reading blocks until a writer appears).
func TestNonRegularFilesRefused(t *testing.T) {
	t.Setenv(StatCacheEnv, "off")
	f := newContainFixture(t)
	writeSOPSet(t, f.root, "")
	p := filepath.Join(f.root, "images", "bike_final", "222_0.png")
	os.Remove(p)
	if err := mkfifo(p); err != nil {
		t.Skipf("mkfifo: %v", err)
	}
	o := Options{Kind: KindSOP, Root: f.root, Base: 8, Crop: 8}
	if _, err := Digest(context.Background(), o); err == nil || !strings.Contains(err.Error(), "images/bike_final/222_0.png is not a regular file") {
		t.Fatalf("FIFO image: %v", err)
	}
	q := filepath.Join(f.root, "Info_Files", "Ebay_test.txt")
	os.Remove(q)
	if err := mkfifo(q); err != nil {
		t.Fatal(err)
	}
	if _, err := Digest(context.Background(), o); err == nil || !strings.Contains(err.Error(), "Info_Files/Ebay_test.txt is not a regular file") {
		t.Fatalf("FIFO info file: %v", err)
	}
}

func mkfifo(path string) error { return syscall.Mkfifo(path, 0o644) }
