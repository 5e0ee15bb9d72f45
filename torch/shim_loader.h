/*
 * shim_loader.h: the lazy loader behind the generated stubs (shim_stubs.c), for the C files
 * of the torch package only (the Go side declares what it calls in load.go).
 *
 * State: untried until the first stub (or torch.Load) runs the Go loader, then loaded or
 * failed for the rest of the process; it never goes back. The pointer table is written
 * before the release store of "loaded", so a stub that reads "loaded" (acquire) sees it.
 */
#ifndef DMLRUN_SHIM_LOADER_H
#define DMLRUN_SHIM_LOADER_H

#include <stdatomic.h>

#include "shim.h"

enum { DML_SHIM_UNTRIED = 0, DML_SHIM_LOADED = 1, DML_SHIM_FAILED = 2 };

extern atomic_int dml_shim_state;

/* Runs the Go loader once if nothing was tried yet; reports whether the shim is loaded. */
int dml_shim_ensure(void);
/* An owned status "libdmlshim not loaded: <why>", freed by dml_status_free. */
dml_status dml_shim_not_loaded(void);
/* Frees a status made by dml_shim_not_loaded. */
void dml_shim_free_status(dml_status s);
/* Generated (shim_stubs.c): reads every function of h into a pending table and returns
   the first missing name (NULL: all found); commit makes the stubs use that table. */
const char *dml_shim_resolve(void *h);
void dml_shim_commit(void);
/* Generated: the digest of shim.h the stubs were made from (csrc/shim_abi.h's value). */
extern const char dml_shim_abi_expected[];

/* The test at the top of every stub: one acquire load (a plain load on x86) once loaded. */
static inline int dml_shim_ready(void) {
  return __builtin_expect(atomic_load_explicit(&dml_shim_state, memory_order_acquire) == DML_SHIM_LOADED, 1) ||
         dml_shim_ensure();
}

#endif /* DMLRUN_SHIM_LOADER_H */
