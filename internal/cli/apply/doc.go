// Package apply is `dmlrun apply`: plan an experiment, then run the nodes that are not
// cached through pipeline's Executor, with progress bars on a terminal (progress.go) and
// plain lines otherwise, and stage logs echoed with -v. With --executor slurm (slurm.go)
// it builds the cluster settings from --executor-config and the slurm flags and hands the
// plan to pipeline/slurm's Executor (or Detach), asking on a terminal before Ctrl-C
// cancels the run's jobs.
//
// What it is not: the scheduler, the key re-check under a lock or the store's commit
// protocol (pipeline and store); it wires them to the command line and the streams.
package apply
