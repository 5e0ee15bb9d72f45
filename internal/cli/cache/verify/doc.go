// Package verify is `dmlrun cache verify`: re-read every file of every artifact (or of the
// given keys, full or unique prefixes of at least 8 digits), compare sizes and digests with
// the manifest and recompute each key from it; any damage or any entry that could not be
// checked is an error (exit 1).
//
// What it is not: the checks (store.VerifyArtifact, with the Factory's key check).
package verify
