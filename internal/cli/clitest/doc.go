// Package clitest is what the command packages' tests share: a stage registry of test
// stages with the shape of the real ones (dataset, train, evaluate, plus source, which
// reads a file outside the store), a working directory holding the test experiments, an
// in-process dmlrun (root.Run with a fixed clock, version and environment), and this test
// binary as a dmlrun child process for signal and crash tests.
//
// What it is not: imported by anything but _test files; it runs no real stage and links
// no libtorch work of its own.
package clitest
