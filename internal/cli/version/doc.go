// Package version is `dmlrun version`: dmlrun's version (set at link time, see package
// root), the Go toolchain and platform, and libtorch's version with the shim file it came
// from. It is the only command besides apply that loads libtorch (torch.Version loads the
// shim on first use); when the shim cannot be loaded it prints why instead of failing.
// --json prints the same as an object (JSON).
package version
