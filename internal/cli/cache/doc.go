// Package cache is `dmlrun cache`, the parent of the store's commands: ls (list
// artifacts), verify (re-hash them and re-derive their keys) and gc (remove what the given
// experiment files do not use), each in its own package below.
//
// What it is not: the store's layout, verification or removal rules (package store).
package cache
