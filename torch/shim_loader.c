// shim_loader.c: dlopen, symbol resolution and the not-loaded status behind the generated
// stubs (shim_stubs.c). Where to look is decided in Go (load.go); this file only does what
// needs C: dlopen/dlsym/dlinfo and the state the stubs test.
#define _GNU_SOURCE
#include <dlfcn.h>
#include <link.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "_cgo_export.h"

#pragma GCC visibility push(hidden)
#include "shim_loader.h"

atomic_int dml_shim_state = DML_SHIM_UNTRIED;

// why is written once, before the release store of DML_SHIM_FAILED, and only read after
// an acquire load has seen that state.
static char *why;

// Returned when even the not-loaded message cannot be allocated; never freed.
static char out_of_memory[] = "libdmlshim not loaded (and out of memory for the reason)";

int dml_shim_ensure(void) {
  if (atomic_load_explicit(&dml_shim_state, memory_order_acquire) == DML_SHIM_UNTRIED) {
    dmlrunLoadShim();  // torch.Load: sync.Once, sets the state to loaded or failed
  }
  return atomic_load_explicit(&dml_shim_state, memory_order_acquire) == DML_SHIM_LOADED;
}

dml_status dml_shim_not_loaded(void) {
  static const char prefix[] = "libdmlshim not loaded: ";
  const char *w = why != NULL ? why : "the loader did not run";
  size_t n = sizeof prefix - 1 + strlen(w) + 1;
  char *s = malloc(n);
  if (s == NULL) return out_of_memory;
  snprintf(s, n, "%s%s", prefix, w);
  return s;
}

void dml_shim_free_status(dml_status s) {
  if (s != out_of_memory) free(s);
}

// dml_shim_open dlopens path now (every symbol bound at once, so a shim whose libtorch
// lacks something fails here and not in the middle of a run) and locally (the shim's and
// libtorch's symbols do not join the global scope). On failure it returns NULL and an
// owned copy of dlerror's message in *err.
void *dml_shim_open(const char *path, char **err) {
  dlerror();
  void *h = dlopen(path, RTLD_NOW | RTLD_LOCAL);
  if (h == NULL) {
    const char *e = dlerror();
    *err = strdup(e != NULL ? e : "dlopen failed without a message");
  }
  return h;
}

// dml_shim_install checks that the open shim h was built from the shim.h the stubs were
// generated from and resolves every function. On success it stores "loaded", writes an
// owned copy of the file the loader mapped into *path and returns NULL; otherwise it
// returns an owned message and changes nothing.
char *dml_shim_install(void *h, char **path) {
  char buf[256];
  const char *abi = dlsym(h, "dml_shim_abi");
  if (abi == NULL) {
    return strdup("it exports no dml_shim_abi, so it was built from an older shim.h");
  }
  if (strncmp(abi, dml_shim_abi_expected, 64) != 0) {
    snprintf(buf, sizeof buf, "it was built from another shim.h (ABI %.32s; this program's stubs want %s)", abi,
             dml_shim_abi_expected);
    return strdup(buf);
  }
  const char *missing = dml_shim_resolve(h);
  if (missing != NULL) {
    snprintf(buf, sizeof buf, "it lacks %s", missing);
    return strdup(buf);
  }
  if (atomic_load_explicit(&dml_shim_state, memory_order_acquire) == DML_SHIM_LOADED) {
    // Only a test gets here twice; the stubs' pointers must not change under them.
    return strdup("a shim is already loaded in this process");
  }
  dml_shim_commit();
  struct link_map *lm = NULL;
  *path = NULL;
  if (dlinfo(h, RTLD_DI_LINKMAP, &lm) == 0 && lm != NULL && lm->l_name != NULL) *path = strdup(lm->l_name);
  atomic_store_explicit(&dml_shim_state, DML_SHIM_LOADED, memory_order_release);
  return NULL;
}

// dml_shim_fail records why loading failed and stores "failed" for good.
void dml_shim_fail(const char *w) {
  why = strdup(w);
  atomic_store_explicit(&dml_shim_state, DML_SHIM_FAILED, memory_order_release);
}

#pragma GCC visibility pop
