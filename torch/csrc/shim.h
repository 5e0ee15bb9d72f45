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
 * - dtype, dev_type and every op or kind argument take the values of the enums
 *   below (dml_dtype, dml_device_type, dml_*_code); Go uses the same names
 *   through cgo. dev_index -1 = default.
 */
#ifndef DMLRUN_SHIM_H
#define DMLRUN_SHIM_H

#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

typedef struct dml_tensor_s *dml_tensor; /* owned when returned, borrowed as argument */
typedef char *dml_status;                /* NULL = ok; else owned, free with dml_status_free */

/* ---- codes shared by the C++ and Go sides -------------------------------
 * Every int argument named dtype, dev_type, kind or op takes one of these values; the
 * Go package uses the same names through cgo, so the two sides cannot drift apart. */

/* dtype codes (torch.DType in Go) */
typedef enum {
  DML_DTYPE_FLOAT32 = 0,
  DML_DTYPE_FLOAT64 = 1,
  DML_DTYPE_INT64 = 2,
  DML_DTYPE_INT32 = 3,
  DML_DTYPE_UINT8 = 4,
  DML_DTYPE_BOOL = 5,
  DML_DTYPE_BFLOAT16 = 6,
  DML_DTYPE_FLOAT16 = 7,
} dml_dtype;

/* device type codes (torch.DeviceKind in Go) */
typedef enum {
  DML_DEVICE_CPU = 0,
  DML_DEVICE_CUDA = 1,
} dml_device_type;

/* op codes of dml_unary */
typedef enum {
  DML_UNARY_EXP = 0,
  DML_UNARY_LOG = 1,
  DML_UNARY_LOG1P = 2,
  DML_UNARY_SQRT = 3,
  DML_UNARY_ABS = 4,
  DML_UNARY_NEG = 5,
  DML_UNARY_ATAN = 6,
  DML_UNARY_TANH = 7,
  DML_UNARY_SIGMOID = 8,
  DML_UNARY_RELU = 9,
  DML_UNARY_SOFTPLUS = 10,
  DML_UNARY_ACOS = 11,
  DML_UNARY_COS = 12,
  DML_UNARY_SIN = 13,
  DML_UNARY_SQUARE = 14,
  DML_UNARY_CONTIGUOUS = 15,
  DML_UNARY_CLONE = 16,
  DML_UNARY_T = 17,
  DML_UNARY_DETACH = 18,
  DML_UNARY_LOGICAL_NOT = 19,
  DML_UNARY_IS_FINITE = 20,
  DML_UNARY_SUM = 21,
  DML_UNARY_MEAN = 22,
  DML_UNARY_MAX = 23,
  DML_UNARY_MIN = 24,
  DML_UNARY_ANY = 25,
  DML_UNARY_ALL = 26,
} dml_unary_code;

/* op codes of dml_binary */
typedef enum {
  DML_BINARY_ADD = 0,
  DML_BINARY_SUB = 1,
  DML_BINARY_MUL = 2,
  DML_BINARY_DIV = 3,
  DML_BINARY_POW = 4,
  DML_BINARY_EQ = 5,
  DML_BINARY_NE = 6,
  DML_BINARY_LT = 7,
  DML_BINARY_LE = 8,
  DML_BINARY_GT = 9,
  DML_BINARY_GE = 10,
  DML_BINARY_LOGICAL_AND = 11,
  DML_BINARY_LOGICAL_OR = 12,
  DML_BINARY_MATMUL = 13,
  DML_BINARY_MM = 14,
  DML_BINARY_BMM = 15,
  DML_BINARY_INDEX = 16,
} dml_binary_code;

/* op codes of dml_scalar_op */
typedef enum {
  DML_SCALAR_ADD = 0,
  DML_SCALAR_SUB = 1,
  DML_SCALAR_MUL = 2,
  DML_SCALAR_DIV = 3,
  DML_SCALAR_POW = 4,
  DML_SCALAR_RSUB = 5,
  DML_SCALAR_EQ = 6,
  DML_SCALAR_NE = 7,
  DML_SCALAR_LT = 8,
  DML_SCALAR_LE = 9,
  DML_SCALAR_GT = 10,
  DML_SCALAR_GE = 11,
  DML_SCALAR_CLAMP_MIN = 12,
  DML_SCALAR_CLAMP_MAX = 13,
} dml_scalar_code;

/* op codes of dml_dim_op */
typedef enum {
  DML_DIM_ARGMAX = 0,
  DML_DIM_LOG_SUM_EXP = 1,
  DML_DIM_SOFTMAX = 2,
  DML_DIM_LOG_SOFTMAX = 3,
  DML_DIM_UNSQUEEZE = 4,
  DML_DIM_SQUEEZE = 5,
} dml_dim_code;

/* op codes of dml_ints_op */
typedef enum {
  DML_INTS_RESHAPE = 0,
  DML_INTS_VIEW = 1,
  DML_INTS_PERMUTE = 2,
  DML_INTS_EXPAND = 3,
  DML_INTS_SUM_DIM = 4,
  DML_INTS_MEAN_DIM = 5,
} dml_ints_code;

/* op codes of dml_fill */
typedef enum {
  DML_FILL_ZEROS = 0,
  DML_FILL_ONES = 1,
  DML_FILL_FULL = 2,
  DML_FILL_RAND = 3,
  DML_FILL_RANDN = 4,
  DML_FILL_EMPTY = 5,
} dml_fill_code;

/* op codes of dml_pair_op */
typedef enum {
  DML_PAIR_MAX = 0,
  DML_PAIR_MIN = 1,
  DML_PAIR_TOPK = 2,
  DML_PAIR_SORT = 3,
} dml_pair_op_code;

/* op codes of dml_index_op */
typedef enum {
  DML_INDEX_SELECT = 0,
  DML_INDEX_GATHER = 1,
} dml_index_op_code;

/* op codes of dml_scatter */
typedef enum {
  DML_SCATTER_SET = 0,
  DML_SCATTER_ADD = 1,
} dml_scatter_code;

/* op codes of dml_cat */
typedef enum {
  DML_CAT_CAT = 0,
  DML_CAT_STACK = 1,
} dml_cat_code;

/* op codes of dml_pool2d */
typedef enum {
  DML_POOL_MAX = 0,
  DML_POOL_AVG = 1,
} dml_pool2d_code;

/* op codes of dml_adaptive_pool2d */
typedef enum {
  DML_ADAPTIVE_POOL_AVG = 0,
  DML_ADAPTIVE_POOL_MAX = 1,
} dml_adaptive_pool2d_code;

/* op codes of dml_inplace */
typedef enum {
  DML_INPLACE_COPY = 0,
  DML_INPLACE_ADD = 1,
  DML_INPLACE_SET_DATA = 2,
  DML_INPLACE_MUL = 3,
} dml_inplace_code;

/* op codes of dml_inplace_scalar */
typedef enum {
  DML_INPLACE_SCALAR_MUL = 0,
  DML_INPLACE_SCALAR_ADD = 1,
  DML_INPLACE_SCALAR_FILL = 2,
  DML_INPLACE_SCALAR_SQRT = 3,
  DML_INPLACE_SCALAR_DIV = 4,
  DML_INPLACE_SCALAR_ZERO = 5,
} dml_inplace_scalar_code;

/* op codes of dml_inplace3 */
typedef enum {
  DML_INPLACE3_ADDCMUL = 0,
  DML_INPLACE3_ADDCDIV = 1,
} dml_inplace3_code;

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
/* kind: a dml_fill_code (zeros, ones, full(v), rand, randn, empty) */
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

/* ---- op families: op is one of the codes above ---------------------------
 * In every function below, input handles are BORROWED and each handle written to an
 * out-parameter (*out, *values, *indices) is OWNED by the caller: dml_tensor_free. */

dml_status dml_unary(int op, dml_tensor a, dml_tensor *out);
dml_status dml_binary(int op, dml_tensor a, dml_tensor b, dml_tensor *out);
dml_status dml_scalar_op(int op, dml_tensor a, double v, dml_tensor *out);
/* ops on one dim index d (+ keepdim flag where it matters) */
dml_status dml_dim_op(int op, dml_tensor a, int64_t d, int keep, dml_tensor *out);
/* ops on a list of ints (shape or dims; borrowed) */
dml_status dml_ints_op(int op, dml_tensor a, const int64_t *v, int n, int keep, dml_tensor *out);
/* ops returning (values, indices): max(d), min(d), topk(k,d,largest,sorted), sort(d,desc) */
dml_status dml_pair_op(int op, dml_tensor a, int64_t k, int64_t d, int flag1, int flag2, dml_tensor *values, dml_tensor *indices);

dml_status dml_transpose(dml_tensor a, int64_t d0, int64_t d1, dml_tensor *out);
dml_status dml_narrow(dml_tensor a, int64_t dim, int64_t start, int64_t length, dml_tensor *out);
dml_status dml_select(dml_tensor a, int64_t dim, int64_t i, dml_tensor *out);
dml_status dml_flatten(dml_tensor a, int64_t start, int64_t end, dml_tensor *out);
/* index_select(dim, idx), gather(dim, idx) */
dml_status dml_index_op(int op, dml_tensor a, int64_t dim, dml_tensor idx, dml_tensor *out);
/* scatter, scatter_add */
dml_status dml_scatter(int op, dml_tensor a, int64_t dim, dml_tensor idx, dml_tensor src, dml_tensor *out);
dml_status dml_masked_fill(dml_tensor a, dml_tensor mask, double v, dml_tensor *out);
dml_status dml_where(dml_tensor cond, dml_tensor a, dml_tensor b, dml_tensor *out);
dml_status dml_clamp(dml_tensor a, double lo, double hi, dml_tensor *out);
dml_status dml_norm(dml_tensor a, double p, int64_t dim, int keep, dml_tensor *out);
dml_status dml_normalize(dml_tensor a, double p, int64_t dim, double eps, dml_tensor *out);
/* ts: borrowed array of n borrowed handles; op: cat or stack. */
dml_status dml_cat(int op, const dml_tensor *ts, int n, int64_t dim, dml_tensor *out);
dml_status dml_to(dml_tensor a, int dev_type, int dev_index, int dtype, dml_tensor *out);
dml_status dml_as_strided(dml_tensor a, const int64_t *size, const int64_t *stride, int ndim, int64_t offset, dml_tensor *out);

/* ---- nn ops: optional tensors may be NULL; inputs borrowed, *out owned --- */

dml_status dml_linear(dml_tensor x, dml_tensor w, dml_tensor b, dml_tensor *out);
/* p: 6 ints = stride[2], padding[2], dilation[2] */
dml_status dml_conv2d(dml_tensor x, dml_tensor w, dml_tensor b, const int64_t *p, int64_t groups, dml_tensor *out);
dml_status dml_batch_norm(dml_tensor x, dml_tensor w, dml_tensor b, dml_tensor rm, dml_tensor rv, int training,
                          double momentum, double eps, dml_tensor *out);
/* op: max or avg; p: 6 ints = kernel[2], stride[2], padding[2] */
dml_status dml_pool2d(int op, dml_tensor x, const int64_t *p, int ceil, dml_tensor *out);
/* op: adaptive avg or adaptive max (values only) */
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

/* copy_(src), add_(src, alpha=v), set_data(src), mul_(src) */
dml_status dml_inplace(int op, dml_tensor t, dml_tensor src, double v);
/* mul_(v), add_(v), fill_(v), sqrt_(), div_(v), zero_() */
dml_status dml_inplace_scalar(int op, dml_tensor t, double v);
/* addcmul_(a, b, value=v), addcdiv_(a, b, value=v) */
dml_status dml_inplace3(int op, dml_tensor t, dml_tensor a, dml_tensor b, double v);

#ifdef __cplusplus
}
#endif

#endif /* DMLRUN_SHIM_H */
