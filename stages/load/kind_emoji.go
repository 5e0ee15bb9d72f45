package load

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"path/filepath"
	"sort"
	"strings"
)

// KindEmoji is the emoji images of the emoji-datasource npm packages, one vendor per image
// style (scripts/fetch-data.sh fetches them).
const KindEmoji = "emoji"

var kindEmoji = Kind{
	Name:    KindEmoji,
	Summary: "emoji-datasource npm packages",
	Layout:  "<root>/<vendor>/package/emoji.json and <root>/<vendor>/package/img/<vendor>/64/<image> (scripts/fetch-data.sh)",
	Order: "one class per top-level emoji (skin-tone variants excluded) that every vendor in `vendors` (default google, twitter) " +
		"has an image for (`has_img_<vendor>`); one image per vendor in `vendors` order; classes ordered by `sort_order` " +
		"(emoji-datasource's semantic order) and split first half / second half, so test emoji come from other categories " +
		"(objects, symbols, flags) than training emoji (smileys, people, animals, food...). Alpha is composited over white",
	Digest:  "each chosen vendor's `emoji.json` and that vendor's images",
	Uses:    []string{"vendors"},
	Aliases: []string{"emojis", "emoji-datasource", "emoji_datasource"},
	list:    listEmoji,
}

type emojiEntry struct {
	Unified   string `json:"unified"`
	ShortName string `json:"short_name"`
	Image     string `json:"image"`
	SortOrder int    `json:"sort_order"`

	where string // "emoji.json:line" of the first vendor's entry
}

// isFileName reports whether s names a file in a folder: not empty, ".", ".." or a path.
func isFileName(s string) bool {
	return s != "" && s != "." && s != ".." && !strings.ContainsAny(s, "/\\\x00")
}

// decodeEmojiJSON decodes emoji.json (an array of objects) and returns, with each entry,
// the line it starts on; path is for messages.
func decodeEmojiJSON(path string, b []byte) ([]map[string]json.RawMessage, []int, error) {
	dec := json.NewDecoder(bytes.NewReader(b))
	fail := func(err error) ([]map[string]json.RawMessage, []int, error) {
		off := int(dec.InputOffset())
		return nil, nil, fmt.Errorf("%s:%d: %w", path, 1+bytes.Count(b[:min(off, len(b))], []byte("\n")), err)
	}
	if t, err := dec.Token(); err != nil {
		return fail(err)
	} else if d, ok := t.(json.Delim); !ok || d != '[' {
		return fail(fmt.Errorf("want a JSON array of emoji entries, got %v", t))
	}
	var raws []map[string]json.RawMessage
	var lines []int
	line, at := 1, 0 // line number of byte offset at
	for dec.More() {
		start := int(dec.InputOffset())
		for start < len(b) && (b[start] == ' ' || b[start] == '\t' || b[start] == '\n' || b[start] == '\r' || b[start] == ',') {
			start++
		}
		line += bytes.Count(b[at:start], []byte("\n"))
		at = start
		var r map[string]json.RawMessage
		if err := dec.Decode(&r); err != nil {
			return fail(err)
		}
		raws = append(raws, r)
		lines = append(lines, line)
	}
	if _, err := dec.Token(); err != nil {
		return fail(err)
	}
	return raws, lines, nil
}

// listEmoji: one class per emoji of emoji-datasource (top-level entries, skin-tone
// variations excluded), one image per vendor (the 64 px PNG, alpha composited over
// white). An emoji is a class when every listed vendor's emoji.json marks it has_img_<v>.
// Classes are ordered by sort_order (emoji-datasource's semantic order: smileys, people,
// animals, food, travel, activities, objects, symbols, flags) and split first half / second
// half of that order, so train and test emoji come from different categories.
func listEmoji(o readOptions) (*listing, error) {
	if len(o.vendors) == 0 {
		return nil, errors.New("emoji: vendors is empty")
	}
	has := map[string]map[string]bool{} // vendor -> unified -> has image
	var entries []emojiEntry
	var extra []string
	for vi, v := range o.vendors {
		rel := filepath.ToSlash(filepath.Join(v, "package", "emoji.json"))
		b, err := o.readFile(rel)
		var ee *EscapeError
		if errors.As(err, &ee) {
			return nil, fmt.Errorf("emoji: vendor %s: %w", v, err)
		} else if err != nil {
			return nil, fmt.Errorf("emoji: vendor %s: %w (run scripts/fetch-data.sh)", v, err)
		}
		extra = append(extra, rel)
		path := filepath.Join(o.root, rel)
		raws, lines, err := decodeEmojiJSON(path, b)
		if err != nil {
			return nil, fmt.Errorf("emoji: %w", err)
		}
		has[v] = map[string]bool{}
		for i, r := range raws {
			e, err := decodeEmojiEntry(r)
			if err != nil || e.Unified == "" || e.Image == "" {
				return nil, fmt.Errorf("emoji: %s:%d: entry %d lacks unified/image/sort_order", path, lines[i], i)
			}
			if !isFileName(e.Image) {
				return nil, fmt.Errorf("emoji: %w", &EscapeError{Root: o.root, Where: fmt.Sprintf("%s:%d", path, lines[i]),
					Field: "image", Path: e.Image, Reason: "is not a file name"})
			}
			e.where = fmt.Sprintf("%s:%d", path, lines[i])
			var hv bool
			if m, ok := r["has_img_"+v]; ok {
				json.Unmarshal(m, &hv)
			}
			has[v][e.Unified] = hv
			if vi == 0 {
				entries = append(entries, e)
			}
		}
	}
	sort.SliceStable(entries, func(i, j int) bool { return entries[i].SortOrder < entries[j].SortOrder })
	var cs []class
	for _, e := range entries {
		ok := true
		for _, v := range o.vendors {
			ok = ok && has[v][e.Unified]
		}
		if !ok {
			continue
		}
		c := class{name: e.ShortName}
		if c.name == "" {
			c.name = e.Unified
		}
		for _, v := range o.vendors {
			r := filepath.ToSlash(filepath.Join(v, "package", "img", v, "64", e.Image))
			c.samples = append(c.samples, sample{rel: r, path: o.fs.named(r), where: e.where})
		}
		cs = append(cs, c)
	}
	if len(cs) < 2 {
		return nil, fmt.Errorf("emoji: only %d emoji have images for all of %v", len(cs), o.vendors)
	}
	train, test := halves(cs)
	train, val, err := cutVal(train, o.valSplit)
	if err != nil {
		return nil, fmt.Errorf("emoji: %w", err)
	}
	return &listing{splits: mkSplits(train, test, val), extra: extra, white: true}, nil
}

// decodeEmojiEntry takes the fields it needs from one decoded emoji.json entry (decoding
// only those four values: plan lists the folder on every run, and re-encoding each entry
// to decode it again took most of a second for two vendors).
func decodeEmojiEntry(r map[string]json.RawMessage) (emojiEntry, error) {
	var e emojiEntry
	for name, dst := range map[string]any{"unified": &e.Unified, "short_name": &e.ShortName, "image": &e.Image, "sort_order": &e.SortOrder} {
		if v, ok := r[name]; ok {
			if err := json.Unmarshal(v, dst); err != nil {
				return e, err
			}
		}
	}
	return e, nil
}
