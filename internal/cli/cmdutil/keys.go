package cmdutil

import (
	"errors"
	"fmt"
	"strings"

	"dmlrun/store"
)

// CheckKeyArg is the check a command runs on a KEY argument before any work: a full
// content key or a prefix of at least store.MinKeyPrefix hex digits (a FlagError when not).
func CheckKeyArg(arg string) error {
	if err := store.CheckKeyPrefix(arg); err != nil {
		return &FlagError{Err: err}
	}
	return nil
}

// ResolveKey turns a KEY argument into a full key: a full key is returned as it is (whether
// or not the store has it: the caller's lookup says), a shorter prefix must name exactly one
// artifact of st. An ambiguous prefix's error lists every candidate with the node address
// its manifest records; it unwraps to the *store.PrefixError.
func ResolveKey(st *store.Store, arg string) (string, error) {
	if store.ValidKey(arg) {
		return arg, nil
	}
	key, err := st.Resolve(arg)
	var pe *store.PrefixError
	if !errors.As(err, &pe) || len(pe.Candidates) == 0 {
		return key, err
	}
	names := pe.Shortest()
	for i, k := range pe.Candidates {
		if m, merr := st.Manifest(k); merr == nil {
			names[i] += " " + m.Addr
		}
	}
	return "", &ambiguousKeyError{pe: pe, msg: fmt.Sprintf("key prefix %s is ambiguous: %d artifacts match: %s; give more digits",
		pe.Prefix, len(pe.Candidates), strings.Join(names, ", "))}
}

type ambiguousKeyError struct {
	pe  *store.PrefixError
	msg string
}

func (e *ambiguousKeyError) Error() string { return e.msg }
func (e *ambiguousKeyError) Unwrap() error { return e.pe }
