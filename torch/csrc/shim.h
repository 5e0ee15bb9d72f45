/*
 * shim.h: the plain C surface of dmlrun's libtorch binding.
 *
 * Hand-written and small on purpose: only the operations dmlrun uses, so the
 * same shim builds against several libtorch releases (Debian 1.13 CPU,
 * official 2.x CUDA builds). See torch/API.md for the Go contract on top.
 *
 * Conventions
 * - Every function returns a dml_status BY VALUE. NULL means success.
 *   Non-NULL is an OWNED, NUL-terminated message (the libtorch error text,
 *   without backtrace); the caller frees it with dml_status_free. There is no
 *   thread-local "last error".
 * - Results come back through out-parameters, written only on success.
 * - dml_tensor is an opaque handle to one native tensor. A handle written to
 *   an out-parameter is OWNED by the caller and must be released exactly once
 *   with dml_tensor_free. Handles passed as inputs are BORROWED for the
 *   duration of the call; the shim never keeps them.
 * - Pointers to caller memory (const void *data, void *dst, int64_t arrays)
 *   are BORROWED for the duration of the call only; the shim copies what it
 *   needs and never keeps the pointer.
 * - No C++ exception ever crosses this boundary.
 *
 * Codes
 * - dtype: 0 float32, 1 float64, 2 int64, 3 int32, 4 uint8, 5 bool,
 *          6 bfloat16, 7 float16  (same order as Go's torch.DType).
 * - device: dev_type 0 = CPU, 1 = CUDA; dev_index -1 = default.
 */
#ifndef DMLRUN_SHIM_H
#define DMLRUN_SHIM_H

#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

typedef struct dml_tensor_s *dml_tensor; /* owned when returned, borrowed as argument */
typedef char *dml_status;                /* NULL = ok; else owned, free with dml_status_free */

/* Frees a status message; NULL is allowed. */
void dml_status_free(dml_status s);

/* ---- library ---------------------------------------------------------- */

/* Writes the libtorch version (TORCH_VERSION macro) into buf (borrowed, cap bytes, NUL-terminated, truncated). */
void dml_version(char *buf, int cap);
dml_status dml_set_num_threads(int n);
dml_status dml_get_num_threads(int *out);
dml_status dml_manual_seed(uint64_t seed); /* CPU and every CUDA generator */
dml_status dml_cuda_available(int *out);
dml_status dml_cuda_device_count(int *out);
/* Grad mode is THREAD-LOCAL in libtorch: callers pin their OS thread. */
dml_status dml_set_grad_enabled(int enabled, int *prev);

/* ---- handles ---------------------------------------------------------- */

/* Releases a handle (NULL allowed). Never fails. */
void dml_tensor_free(dml_tensor t);

/* ---- creation: *out is owned by the caller ----------------------------- */

/* Copies numel(shape) elements of dtype from data (borrowed) into a new CPU tensor. */
dml_status dml_from_data(const void *data, int dtype, const int64_t *shape, int ndim, dml_tensor *out);
dml_status dml_scalar(double v, int dtype, dml_tensor *out);
/* kind: 0 zeros, 1 ones, 2 full(v), 3 rand, 4 randn, 5 empty */
dml_status dml_fill(int kind, const int64_t *shape, int ndim, double v, int dtype, int dev_type, int dev_index, dml_tensor *out);
dml_status dml_eye(int64_t n, int dtype, int dev_type, int dev_index, dml_tensor *out);
dml_status dml_arange(double start, double end, double step, int dtype, int dev_type, int dev_index, dml_tensor *out);
dml_status dml_randint(int64_t low, int64_t high, const int64_t *shape, int ndim, int dev_type, int dev_index, dml_tensor *out);
dml_status dml_randperm(int64_t n, int dev_type, int dev_index, dml_tensor *out);

/* ---- metadata and read-back: t borrowed; out-values are plain copies --- */

/* Writes min(dim, cap) sizes into shape (borrowed) and the true dim into *ndim. */
dml_status dml_shape(dml_tensor t, int64_t *shape, int cap, int *ndim);
/* dtype code, device type and index, requires_grad flag. */
dml_status dml_info(dml_tensor t, int *dtype, int *dev_type, int *dev_index, int *requires_grad);
/* Converts t to dtype on CPU, contiguous, and copies exactly nbytes into dst (borrowed).
   Fails when nbytes != numel * element size. */
dml_status dml_copy_out(dml_tensor t, int dtype, void *dst, int64_t nbytes);
dml_status dml_item(dml_tensor t, double *out);

/* ---- op families: op codes are listed in shim.cpp and mirrored in Go ----
 * In every function below, input handles are BORROWED and each handle written to an
 * out-parameter (*out, *values, *indices) is OWNED by the caller: dml_tensor_free. */

dml_status dml_unary(int op, dml_tensor a, dml_tensor *out);
dml_status dml_binary(int op, dml_tensor a, dml_tensor b, dml_tensor *out);
dml_status dml_scalar_op(int op, dml_tensor a, double v, dml_tensor *out);
/* ops on one dim index d (+ keepdim flag where it matters) */
dml_status dml_dim_op(int op, dml_tensor a, int64_t d, int keep, dml_tensor *out);
/* ops on a list of ints (shape or dims; borrowed) */
dml_status dml_ints_op(int op, dml_tensor a, const int64_t *v, int n, int keep, dml_tensor *out);
/* ops returning (values, indices): 0 max(d), 1 min(d), 2 topk(k,d,largest,sorted), 3 sort(d,desc) */
dml_status dml_pair_op(int op, dml_tensor a, int64_t k, int64_t d, int flag1, int flag2, dml_tensor *values, dml_tensor *indices);

dml_status dml_transpose(dml_tensor a, int64_t d0, int64_t d1, dml_tensor *out);
dml_status dml_narrow(dml_tensor a, int64_t dim, int64_t start, int64_t length, dml_tensor *out);
dml_status dml_select(dml_tensor a, int64_t dim, int64_t i, dml_tensor *out);
dml_status dml_flatten(dml_tensor a, int64_t start, int64_t end, dml_tensor *out);
/* 0 index_select(dim, idx), 1 gather(dim, idx) */
dml_status dml_index_op(int op, dml_tensor a, int64_t dim, dml_tensor idx, dml_tensor *out);
/* 0 scatter, 1 scatter_add */
dml_status dml_scatter(int op, dml_tensor a, int64_t dim, dml_tensor idx, dml_tensor src, dml_tensor *out);
dml_status dml_masked_fill(dml_tensor a, dml_tensor mask, double v, dml_tensor *out);
dml_status dml_where(dml_tensor cond, dml_tensor a, dml_tensor b, dml_tensor *out);
dml_status dml_clamp(dml_tensor a, double lo, double hi, dml_tensor *out);
dml_status dml_norm(dml_tensor a, double p, int64_t dim, int keep, dml_tensor *out);
dml_status dml_normalize(dml_tensor a, double p, int64_t dim, double eps, dml_tensor *out);
/* ts: borrowed array of n borrowed handles. op 0 cat, 1 stack. */
dml_status dml_cat(int op, const dml_tensor *ts, int n, int64_t dim, dml_tensor *out);
dml_status dml_to(dml_tensor a, int dev_type, int dev_index, int dtype, dml_tensor *out);
dml_status dml_as_strided(dml_tensor a, const int64_t *size, const int64_t *stride, int ndim, int64_t offset, dml_tensor *out);

/* ---- nn ops: optional tensors may be NULL; inputs borrowed, *out owned --- */

dml_status dml_linear(dml_tensor x, dml_tensor w, dml_tensor b, dml_tensor *out);
/* p: 6 ints = stride[2], padding[2], dilation[2] */
dml_status dml_conv2d(dml_tensor x, dml_tensor w, dml_tensor b, const int64_t *p, int64_t groups, dml_tensor *out);
dml_status dml_batch_norm(dml_tensor x, dml_tensor w, dml_tensor b, dml_tensor rm, dml_tensor rv, int training,
                          double momentum, double eps, dml_tensor *out);
/* op 0 max, 1 avg; p: 6 ints = kernel[2], stride[2], padding[2] */
dml_status dml_pool2d(int op, dml_tensor x, const int64_t *p, int ceil, dml_tensor *out);
/* op 0 adaptive avg, 1 adaptive max (values only) */
dml_status dml_adaptive_pool2d(int op, dml_tensor x, int64_t h, int64_t w, dml_tensor *out);
dml_status dml_dropout(dml_tensor x, double p, int train, dml_tensor *out);
dml_status dml_cross_entropy(dml_tensor logits, dml_tensor target, dml_tensor *out);
dml_status dml_interpolate_bilinear(dml_tensor x, int64_t h, int64_t w, int align_corners, int antialias, dml_tensor *out);

/* ---- autograd: t borrowed; dml_grad's *out owned (or NULL) -------------- */

dml_status dml_set_requires_grad(dml_tensor t, int b);
/* g may be NULL (then t must be a scalar). */
dml_status dml_backward(dml_tensor t, dml_tensor g);
/* *out = owned handle to t.grad(), or NULL when the grad is undefined. */
dml_status dml_grad(dml_tensor t, dml_tensor *out);
/* Sets t.grad to undefined (set_to_none). */
dml_status dml_zero_grad(dml_tensor t);
/* torch.autograd.grad(outputs, inputs, create_graph=create_graph, allow_unused=True):
   outputs must be scalars. results (borrowed array of nin slots) receives OWNED handles,
   NULL for an input the outputs do not depend on. */
dml_status dml_autograd_grad(const dml_tensor *outputs, int nout, const dml_tensor *inputs, int nin,
                             int create_graph, dml_tensor *results);

/* ---- autocast (THREAD-LOCAL, like grad mode) ---------------------------- */

/* Like torch.autocast.__enter__: sets autocast for dev_type (0 CPU, 1 CUDA) to
   enabled/dtype, increments the nesting count and reports the previous flag and dtype. */
dml_status dml_autocast_enter(int dev_type, int enabled, int dtype, int *prev_enabled, int *prev_dtype);
/* Like __exit__: decrements nesting (clearing the cast cache at the outermost level) and
   restores the previous flag and dtype. */
dml_status dml_autocast_exit(int dev_type, int prev_enabled, int prev_dtype);

/* ---- in-place, always without autograd (for optimisers) -----------------
 * t is modified in place; all handles borrowed; nothing is returned. */

/* 0 copy_(src), 1 add_(src, alpha=v), 2 set_data(src), 3 mul_(src) */
dml_status dml_inplace(int op, dml_tensor t, dml_tensor src, double v);
/* 0 mul_(v), 1 add_(v), 2 fill_(v), 3 sqrt_(), 4 div_(v), 5 zero_() */
dml_status dml_inplace_scalar(int op, dml_tensor t, double v);
/* 0 addcmul_(a, b, value=v), 1 addcdiv_(a, b, value=v) */
dml_status dml_inplace3(int op, dml_tensor t, dml_tensor a, dml_tensor b, double v);

#ifdef __cplusplus
}
#endif

#endif /* DMLRUN_SHIM_H */
