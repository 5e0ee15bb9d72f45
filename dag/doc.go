// Package dag is the one graph dmlrun's core builds on: a directed graph over nodes of any
// comparable type, kept in the order the nodes were added (their declaration order), with
// edges from a node to its inputs (the nodes it depends on).
//
// It answers the questions the pipeline asks of an experiment's nodes, each with an order
// that depends only on the order of Add and Connect calls, so that messages and golden
// files are stable:
//
//   - Sort: a topological order (inputs first); among nodes ready at the same time the one
//     added first wins.
//   - Cycles and the *CycleError of Sort: every group of nodes that depend on each other,
//     reported once, with its members in declaration order and the shortest path from the
//     earliest member back to itself.
//   - Ancestors: everything a set of nodes depends on (selecting --target nodes).
//   - Tracker: the executor's ready set; Done(n) says which nodes became ready.
//   - FirstAncestors: lineage walks (from an evaluate node along its inputs to the first
//     nodes of a kind, such as the train node a metric came from).
//
// What it is not: it knows nothing of stages, addresses, keys, source ranges or the store,
// and imports no other dmlrun package. It does not schedule: the executor decides what
// runs when (parallelism, exclusive stages) from the Tracker's ready nodes. It does not
// render diagnostics; callers turn a Cycle into their own message with their own names
// and source ranges. A Graph is not safe for concurrent mutation; concurrent reads are
// fine once it is built. A Tracker belongs to one goroutine.
package dag
