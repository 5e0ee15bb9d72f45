// shim.cpp: library, creation, metadata, shape, elementwise and reduction ops.
// Every exported function wraps its body in DML_TRY/DML_CATCH.
#include <torch/cuda.h>
#include <torch/version.h>
#include <ATen/Parallel.h>

#include "shim_abi.h"
#include "shim_internal.h"

char dml::kOutOfMemory[] = "out of memory while reporting an error";

using dml::T;
using dml::wrap;

extern "C" {

// The digest of the shim.h this shim was built from (shim_abi.h, generated with the Go
// side's stubs): the torch package's loader refuses a shim whose digest is not its own.
extern const char dml_shim_abi[];
const char dml_shim_abi[] = DML_SHIM_ABI;

void dml_status_free(dml_status s) {
  if (s != nullptr && s != dml::kOutOfMemory) std::free(s);
}

void dml_tensor_free(dml_tensor t) {
  try {
    delete t;
  } catch (...) {
  }
}

void dml_version(char* buf, int cap) {
  if (cap <= 0) return;
  std::strncpy(buf, TORCH_VERSION, static_cast<size_t>(cap) - 1);
  buf[cap - 1] = 0;
}

dml_status dml_set_num_threads(int n) {
  DML_TRY
  at::set_num_threads(n);
  DML_CATCH
}

dml_status dml_get_num_threads(int* out) {
  DML_TRY
  *out = at::get_num_threads();
  DML_CATCH
}

dml_status dml_manual_seed(uint64_t seed) {
  DML_TRY
  at::manual_seed(seed);
  DML_CATCH
}

dml_status dml_cuda_available(int* out) {
  DML_TRY
  *out = torch::cuda::is_available() ? 1 : 0;
  DML_CATCH
}

dml_status dml_cuda_device_count(int* out) {
  DML_TRY
  *out = static_cast<int>(torch::cuda::device_count());
  DML_CATCH
}

dml_status dml_set_grad_enabled(int enabled, int* prev) {
  DML_TRY
  *prev = c10::GradMode::is_enabled() ? 1 : 0;
  c10::GradMode::set_enabled(enabled != 0);
  DML_CATCH
}

// ---- creation ------------------------------------------------------------

dml_status dml_from_data(const void* data, int dtype, const int64_t* shape, int ndim, dml_tensor* out) {
  DML_TRY
  at::IntArrayRef sz(shape, static_cast<size_t>(ndim));
  auto opts = at::TensorOptions().dtype(dml::scalar_type(dtype));
  at::Tensor t = at::empty(sz, opts);
  if (t.nbytes() > 0) std::memcpy(t.data_ptr(), data, t.nbytes());
  *out = wrap(std::move(t));
  DML_CATCH
}

dml_status dml_scalar(double v, int dtype, dml_tensor* out) {
  DML_TRY
  *out = wrap(at::scalar_tensor(v, at::TensorOptions().dtype(dml::scalar_type(dtype))));
  DML_CATCH
}

dml_status dml_fill(int kind, const int64_t* shape, int ndim, double v, int dtype, int dev_type, int dev_index,
                    dml_tensor* out) {
  DML_TRY
  at::IntArrayRef sz(shape, static_cast<size_t>(ndim));
  auto o = dml::options(dtype, dev_type, dev_index);
  at::Tensor t;
  switch (kind) {
    case DML_FILL_ZEROS: t = at::zeros(sz, o); break;
    case DML_FILL_ONES: t = at::ones(sz, o); break;
    case DML_FILL_FULL: t = at::full(sz, v, o); break;
    case DML_FILL_RAND: t = at::rand(sz, o); break;
    case DML_FILL_RANDN: t = at::randn(sz, o); break;
    case DML_FILL_EMPTY: t = at::empty(sz, o); break;
    default: throw std::invalid_argument("unknown fill kind");
  }
  *out = wrap(std::move(t));
  DML_CATCH
}

dml_status dml_eye(int64_t n, int dtype, int dev_type, int dev_index, dml_tensor* out) {
  DML_TRY
  *out = wrap(at::eye(n, dml::options(dtype, dev_type, dev_index)));
  DML_CATCH
}

dml_status dml_arange(double start, double end, double step, int dtype, int dev_type, int dev_index,
                      dml_tensor* out) {
  DML_TRY
  *out = wrap(at::arange(start, end, step, dml::options(dtype, dev_type, dev_index)));
  DML_CATCH
}

dml_status dml_randint(int64_t low, int64_t high, const int64_t* shape, int ndim, int dev_type, int dev_index,
                       dml_tensor* out) {
  DML_TRY
  at::IntArrayRef sz(shape, static_cast<size_t>(ndim));
  *out = wrap(at::randint(low, high, sz, dml::options(DML_DTYPE_INT64, dev_type, dev_index)));
  DML_CATCH
}

dml_status dml_randperm(int64_t n, int dev_type, int dev_index, dml_tensor* out) {
  DML_TRY
  *out = wrap(at::randperm(n, dml::options(DML_DTYPE_INT64, dev_type, dev_index)));
  DML_CATCH
}

// ---- metadata ----------------------------------------------------------------

dml_status dml_shape(dml_tensor t, int64_t* shape, int cap, int* ndim) {
  DML_TRY
  const at::Tensor& x = T(t);
  int d = static_cast<int>(x.dim());
  for (int i = 0; i < d && i < cap; i++) shape[i] = x.size(i);
  *ndim = d;
  DML_CATCH
}

dml_status dml_info(dml_tensor t, int* dtype, int* dev_type, int* dev_index, int* requires_grad) {
  DML_TRY
  const at::Tensor& x = T(t);
  *dtype = dml::dtype_code(x.scalar_type());
  *dev_type = x.device().is_cuda() ? 1 : 0;
  *dev_index = x.device().index();
  *requires_grad = x.requires_grad() ? 1 : 0;
  DML_CATCH
}

dml_status dml_copy_out(dml_tensor t, int dtype, void* dst, int64_t nbytes) {
  DML_TRY
  at::Tensor c = T(t).detach().to(at::kCPU, dml::scalar_type(dtype)).contiguous();
  if (static_cast<int64_t>(c.nbytes()) != nbytes)
    throw std::invalid_argument("copy_out: destination holds " + std::to_string(nbytes) + " bytes, tensor needs " +
                                std::to_string(c.nbytes()));
  if (nbytes > 0) std::memcpy(dst, c.data_ptr(), static_cast<size_t>(nbytes));
  DML_CATCH
}

dml_status dml_item(dml_tensor t, double* out) {
  DML_TRY
  *out = T(t).item().to<double>();
  DML_CATCH
}

// ---- op families -----------------------------------------------------------

dml_status dml_unary(int op, dml_tensor a, dml_tensor* out) {
  DML_TRY
  const at::Tensor& x = T(a);
  at::Tensor r;
  switch (op) {
    case DML_UNARY_EXP: r = x.exp(); break;
    case DML_UNARY_LOG: r = x.log(); break;
    case DML_UNARY_LOG1P: r = x.log1p(); break;
    case DML_UNARY_SQRT: r = x.sqrt(); break;
    case DML_UNARY_ABS: r = x.abs(); break;
    case DML_UNARY_NEG: r = x.neg(); break;
    case DML_UNARY_ATAN: r = x.atan(); break;
    case DML_UNARY_TANH: r = x.tanh(); break;
    case DML_UNARY_SIGMOID: r = x.sigmoid(); break;
    case DML_UNARY_RELU: r = x.relu(); break;
    case DML_UNARY_SOFTPLUS: r = at::softplus(x); break;
    case DML_UNARY_ACOS: r = x.acos(); break;
    case DML_UNARY_COS: r = x.cos(); break;
    case DML_UNARY_SIN: r = x.sin(); break;
    case DML_UNARY_SQUARE: r = x.square(); break;
    case DML_UNARY_CONTIGUOUS: r = x.contiguous(); break;
    case DML_UNARY_CLONE: r = x.clone(); break;
    case DML_UNARY_T: r = x.t(); break;
    case DML_UNARY_DETACH: r = x.detach(); break;
    case DML_UNARY_LOGICAL_NOT: r = x.logical_not(); break;
    case DML_UNARY_IS_FINITE: r = at::isfinite(x); break;
    case DML_UNARY_SUM: r = x.sum(); break;
    case DML_UNARY_MEAN: r = x.mean(); break;
    case DML_UNARY_MAX: r = x.max(); break;
    case DML_UNARY_MIN: r = x.min(); break;
    case DML_UNARY_ANY: r = x.any(); break;
    case DML_UNARY_ALL: r = x.all(); break;
    default: throw std::invalid_argument("unknown unary op " + std::to_string(op));
  }
  *out = wrap(std::move(r));
  DML_CATCH
}

dml_status dml_binary(int op, dml_tensor a, dml_tensor b, dml_tensor* out) {
  DML_TRY
  const at::Tensor& x = T(a);
  const at::Tensor& y = T(b);
  at::Tensor r;
  switch (op) {
    case DML_BINARY_ADD: r = x.add(y); break;
    case DML_BINARY_SUB: r = x.sub(y); break;
    case DML_BINARY_MUL: r = x.mul(y); break;
    case DML_BINARY_DIV: r = x.div(y); break;
    case DML_BINARY_POW: r = x.pow(y); break;
    case DML_BINARY_EQ: r = x.eq(y); break;
    case DML_BINARY_NE: r = x.ne(y); break;
    case DML_BINARY_LT: r = x.lt(y); break;
    case DML_BINARY_LE: r = x.le(y); break;
    case DML_BINARY_GT: r = x.gt(y); break;
    case DML_BINARY_GE: r = x.ge(y); break;
    case DML_BINARY_LOGICAL_AND: r = x.logical_and(y); break;
    case DML_BINARY_LOGICAL_OR: r = x.logical_or(y); break;
    case DML_BINARY_MATMUL: r = x.matmul(y); break;
    case DML_BINARY_MM: r = x.mm(y); break;
    case DML_BINARY_BMM: r = x.bmm(y); break;
    case DML_BINARY_INDEX: r = x.index({at::indexing::TensorIndex(y)}); break;
    default: throw std::invalid_argument("unknown binary op " + std::to_string(op));
  }
  *out = wrap(std::move(r));
  DML_CATCH
}

dml_status dml_scalar_op(int op, dml_tensor a, double v, dml_tensor* out) {
  DML_TRY
  const at::Tensor& x = T(a);
  at::Scalar s(v);
  at::Tensor r;
  switch (op) {
    case DML_SCALAR_ADD: r = x.add(s); break;
    case DML_SCALAR_SUB: r = x.sub(s); break;
    case DML_SCALAR_MUL: r = x.mul(s); break;
    case DML_SCALAR_DIV: r = x.div(s); break;
    case DML_SCALAR_POW: r = x.pow(s); break;
    case DML_SCALAR_RSUB: r = at::rsub(x, s); break;
    case DML_SCALAR_EQ: r = x.eq(s); break;
    case DML_SCALAR_NE: r = x.ne(s); break;
    case DML_SCALAR_LT: r = x.lt(s); break;
    case DML_SCALAR_LE: r = x.le(s); break;
    case DML_SCALAR_GT: r = x.gt(s); break;
    case DML_SCALAR_GE: r = x.ge(s); break;
    case DML_SCALAR_CLAMP_MIN: r = x.clamp_min(s); break;
    case DML_SCALAR_CLAMP_MAX: r = x.clamp_max(s); break;
    default: throw std::invalid_argument("unknown scalar op " + std::to_string(op));
  }
  *out = wrap(std::move(r));
  DML_CATCH
}

dml_status dml_dim_op(int op, dml_tensor a, int64_t d, int keep, dml_tensor* out) {
  DML_TRY
  const at::Tensor& x = T(a);
  at::Tensor r;
  switch (op) {
    case DML_DIM_ARGMAX: r = x.argmax(d, keep != 0); break;
    case DML_DIM_LOG_SUM_EXP: r = x.logsumexp({d}, keep != 0); break;
    case DML_DIM_SOFTMAX: r = x.softmax(d); break;
    case DML_DIM_LOG_SOFTMAX: r = x.log_softmax(d); break;
    case DML_DIM_UNSQUEEZE: r = x.unsqueeze(d); break;
    case DML_DIM_SQUEEZE: r = x.squeeze(d); break;
    default: throw std::invalid_argument("unknown dim op " + std::to_string(op));
  }
  *out = wrap(std::move(r));
  DML_CATCH
}

dml_status dml_ints_op(int op, dml_tensor a, const int64_t* v, int n, int keep, dml_tensor* out) {
  DML_TRY
  const at::Tensor& x = T(a);
  at::IntArrayRef ints(v, static_cast<size_t>(n));
  at::Tensor r;
  switch (op) {
    case DML_INTS_RESHAPE: r = x.reshape(ints); break;
    case DML_INTS_VIEW: r = x.view(ints); break;
    case DML_INTS_PERMUTE: r = x.permute(ints); break;
    case DML_INTS_EXPAND: r = x.expand(ints); break;
    case DML_INTS_SUM_DIM: r = x.sum(ints, keep != 0); break;
    case DML_INTS_MEAN_DIM: r = x.mean(ints, keep != 0); break;
    default: throw std::invalid_argument("unknown ints op " + std::to_string(op));
  }
  *out = wrap(std::move(r));
  DML_CATCH
}

dml_status dml_pair_op(int op, dml_tensor a, int64_t k, int64_t d, int flag1, int flag2, dml_tensor* values,
                       dml_tensor* indices) {
  DML_TRY
  const at::Tensor& x = T(a);
  std::tuple<at::Tensor, at::Tensor> r;
  switch (op) {
    case DML_PAIR_MAX: r = x.max(d, flag1 != 0); break;
    case DML_PAIR_MIN: r = x.min(d, flag1 != 0); break;
    case DML_PAIR_TOPK: r = x.topk(k, d, flag1 != 0, flag2 != 0); break;
    case DML_PAIR_SORT: r = x.sort(d, flag1 != 0); break;
    default: throw std::invalid_argument("unknown pair op " + std::to_string(op));
  }
  dml_tensor v = wrap(std::get<0>(r));
  try {
    *indices = wrap(std::get<1>(r));
  } catch (...) {
    delete v;
    throw;
  }
  *values = v;
  DML_CATCH
}

dml_status dml_transpose(dml_tensor a, int64_t d0, int64_t d1, dml_tensor* out) {
  DML_TRY
  *out = wrap(T(a).transpose(d0, d1));
  DML_CATCH
}

dml_status dml_narrow(dml_tensor a, int64_t dim, int64_t start, int64_t length, dml_tensor* out) {
  DML_TRY
  *out = wrap(T(a).narrow(dim, start, length));
  DML_CATCH
}

dml_status dml_select(dml_tensor a, int64_t dim, int64_t i, dml_tensor* out) {
  DML_TRY
  *out = wrap(T(a).select(dim, i));
  DML_CATCH
}

dml_status dml_flatten(dml_tensor a, int64_t start, int64_t end, dml_tensor* out) {
  DML_TRY
  *out = wrap(T(a).flatten(start, end));
  DML_CATCH
}

dml_status dml_index_op(int op, dml_tensor a, int64_t dim, dml_tensor idx, dml_tensor* out) {
  DML_TRY
  at::Tensor r;
  switch (op) {
    case DML_INDEX_SELECT: r = T(a).index_select(dim, T(idx)); break;
    case DML_INDEX_GATHER: r = T(a).gather(dim, T(idx)); break;
    default: throw std::invalid_argument("unknown index op " + std::to_string(op));
  }
  *out = wrap(std::move(r));
  DML_CATCH
}

dml_status dml_scatter(int op, dml_tensor a, int64_t dim, dml_tensor idx, dml_tensor src, dml_tensor* out) {
  DML_TRY
  at::Tensor r;
  switch (op) {
    case DML_SCATTER_SET: r = T(a).scatter(dim, T(idx), T(src)); break;
    case DML_SCATTER_ADD: r = T(a).scatter_add(dim, T(idx), T(src)); break;
    default: throw std::invalid_argument("unknown scatter op " + std::to_string(op));
  }
  *out = wrap(std::move(r));
  DML_CATCH
}

dml_status dml_masked_fill(dml_tensor a, dml_tensor mask, double v, dml_tensor* out) {
  DML_TRY
  *out = wrap(T(a).masked_fill(T(mask), v));
  DML_CATCH
}

dml_status dml_where(dml_tensor cond, dml_tensor a, dml_tensor b, dml_tensor* out) {
  DML_TRY
  *out = wrap(at::where(T(cond), T(a), T(b)));
  DML_CATCH
}

dml_status dml_clamp(dml_tensor a, double lo, double hi, dml_tensor* out) {
  DML_TRY
  *out = wrap(T(a).clamp(lo, hi));
  DML_CATCH
}

dml_status dml_norm(dml_tensor a, double p, int64_t dim, int keep, dml_tensor* out) {
  DML_TRY
  *out = wrap(T(a).norm(p, {dim}, keep != 0));
  DML_CATCH
}

dml_status dml_normalize(dml_tensor a, double p, int64_t dim, double eps, dml_tensor* out) {
  DML_TRY
  // torch.nn.functional.normalize: x / max(||x||_p, eps), norm expanded over dim.
  const at::Tensor& x = T(a);
  at::Tensor denom = x.norm(p, {dim}, true).clamp_min(eps).expand_as(x);
  *out = wrap(x / denom);
  DML_CATCH
}

dml_status dml_cat(int op, const dml_tensor* ts, int n, int64_t dim, dml_tensor* out) {
  DML_TRY
  std::vector<at::Tensor> v;
  v.reserve(static_cast<size_t>(n));
  for (int i = 0; i < n; i++) v.push_back(T(ts[i]));
  at::Tensor r;
  switch (op) {
    case DML_CAT_CAT: r = at::cat(v, dim); break;
    case DML_CAT_STACK: r = at::stack(v, dim); break;
    default: throw std::invalid_argument("unknown cat op " + std::to_string(op));
  }
  *out = wrap(std::move(r));
  DML_CATCH
}

dml_status dml_to(dml_tensor a, int dev_type, int dev_index, int dtype, dml_tensor* out) {
  DML_TRY
  *out = wrap(T(a).to(dml::device(dev_type, dev_index), dml::scalar_type(dtype)));
  DML_CATCH
}

dml_status dml_as_strided(dml_tensor a, const int64_t* size, const int64_t* stride, int ndim, int64_t offset,
                          dml_tensor* out) {
  DML_TRY
  at::IntArrayRef sz(size, static_cast<size_t>(ndim));
  at::IntArrayRef st(stride, static_cast<size_t>(ndim));
  const at::Tensor& x = T(a);
  int64_t need = offset;
  for (int i = 0; i < ndim; i++)
    if (size[i] > 0) need += (size[i] - 1) * stride[i];
  if (ndim > 0 && x.numel() > 0 && need >= x.numel())
    throw std::invalid_argument("as_strided: view reaches element " + std::to_string(need) + " of a storage of " +
                                std::to_string(x.numel()));
  *out = wrap(x.as_strided(sz, st, offset));
  DML_CATCH
}

}  // extern "C"
