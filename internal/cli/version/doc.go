// Package version is `dmlrun version`: dmlrun's version (set at link time, see package
// root), the Go toolchain and platform, and the linked libtorch's version, the only
// command besides apply that asks libtorch anything.
package version
