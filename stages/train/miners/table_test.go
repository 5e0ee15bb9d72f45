package miners

import (
	"reflect"
	"strings"
	"testing"

	"dmlrun/stage"
	"dmlrun/torch"
)

// TestBuiltinSchemas: the miners' parameters keep the names and the original's defaults of
// the hand-written schemas they replaced.
func TestBuiltinSchemas(t *testing.T) {
	want := map[string]map[string]any{
		"distance":     {"lower_cutoff": 0.5, "upper_cutoff": 1.4},
		"rho_distance": {"lower_cutoff": 0.5, "upper_cutoff": 1.4, "cp": 0.2},
		"semihard":     {"margin": 0.2},
		"softhard":     {},
		"random":       {},
		"npair":        {},
	}
	got := map[string]map[string]any{}
	for name, ps := range Variants() {
		got[name] = map[string]any{}
		for _, p := range ps {
			if p.Type != stage.Float || p.Doc == "" {
				t.Errorf("%s.%s: type %s, doc %q", name, p.Name, p.Type, p.Doc)
			}
			got[name][p.Name] = p.Default
		}
	}
	if !reflect.DeepEqual(got, want) {
		t.Fatalf("schemas %v, want %v", got, want)
	}
	for _, n := range Names() {
		if e, _ := Builtin().Lookup(n); e.Doc == "" {
			t.Errorf("miner %s has no Doc", n)
		}
	}
}

// TestCheckName: an unknown batch_mining value is a problem at its path that lists the
// miners and suggests the nearest name or the one an alias stands for.
func TestCheckName(t *testing.T) {
	cases := []struct{ value, want string }{
		{"distance", ""},
		{"semihrd", `Did you mean "semihard"?`},
		{"semi_hard", `Did you mean "semihard"?`},
		{"Soft-Hard", `Did you mean "softhard"?`},
		{"nonsense", `the batchminers are "distance", "npair", "random", "rho_distance", "semihard" and "softhard".`},
	}
	for _, c := range cases {
		var probs stage.Problems
		ok := Builtin().CheckName(&probs, "batch_mining", c.value)
		if c.want == "" {
			if !ok || len(probs) != 0 {
				t.Errorf("%q: %v", c.value, probs)
			}
			continue
		}
		if ok || len(probs) != 1 || probs[0].Path != "batch_mining" || probs[0].Summary != "Unknown batchminer" || !strings.Contains(probs[0].Detail, c.want) {
			t.Errorf("%q: %v, want one problem at batch_mining containing %q", c.value, probs, c.want)
		}
	}
}

// firstTwo is a miner declared in a test: a table built from it and the built-ins knows it.
var firstTwo = Define(Spec[countParams]{
	Name:     "first_two",
	Doc:      "Returns (0, 1, 2) count times.",
	Defaults: countParams{Count: 2},
	New:      func(c *countParams, _ Sources) (Miner, error) { return fixed(c.Count), nil },
})

type countParams struct {
	Count int `param:"count" min:"1" doc:"How many triplets."`
}

type fixed int

func (f fixed) Mine(*torch.Tensor, []int64) [][3]int {
	out := make([][3]int, f)
	for i := range out {
		out[i] = [3]int{0, 1, 2}
	}
	return out
}

func TestTableWithATestMiner(t *testing.T) {
	tab, err := NewTable(append(builtinMiners(), firstTwo)...)
	if err != nil {
		t.Fatal(err)
	}
	m, err := tab.New("first_two", stage.Params{"count": int64(3)}, Sources{})
	if err != nil {
		t.Fatal(err)
	}
	if got := m.Mine(nil, nil); len(got) != 3 {
		t.Fatalf("mined %v", got)
	}
	if _, err := tab.New("first_two", stage.Params{"count": int64(0)}, Sources{}); err == nil || !strings.Contains(err.Error(), `"count" must be at least 1`) {
		t.Fatalf("count 0: %v", err)
	}
	if _, ok := Builtin().Lookup("first_two"); ok {
		t.Fatal("a test table leaked into the built-in one")
	}
}

func TestNewTableErrors(t *testing.T) {
	cases := []struct {
		name    string
		entries []Entry
		want    string
	}{
		{"duplicate", []Entry{distanceMiner, distanceMiner}, "declared twice"},
		{"alias is a name", []Entry{distanceMiner, Define(Spec[struct{}]{Name: "x", Aliases: []string{"distance"}, New: func(*struct{}, Sources) (Miner, error) { return nil, nil }})}, "is a miner's name"},
		{"alias twice", []Entry{semihardMiner, Define(Spec[struct{}]{Name: "x", Aliases: []string{"semi_hard"}, New: func(*struct{}, Sources) (Miner, error) { return nil, nil }})}, "given to"},
		{"no New", []Entry{Define(Spec[struct{}]{Name: "x"})}, "New is nil"},
		{"bad tags", []Entry{Define(Spec[struct {
			X string `param:"x" min:"1"`
		}]{Name: "x", New: func(*struct {
			X string `param:"x" min:"1"`
		}, Sources) (Miner, error) {
			return nil, nil
		}})}, "bounds on a string"},
		{"not defined", []Entry{{Name: "x"}}, "not made by Define"},
	}
	for _, c := range cases {
		if _, err := NewTable(c.entries...); err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("%s: %v, want an error containing %q", c.name, err, c.want)
		}
	}
}
