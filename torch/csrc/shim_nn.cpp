// shim_nn.cpp: nn ops, autograd and in-place optimiser updates.
// Every exported function wraps its body in DML_TRY/DML_CATCH.
#include <ATen/autocast_mode.h>
#include <torch/version.h>

#include "shim_internal.h"

// libtorch 2.4 replaced the per-backend autocast setters by device-type ones.
#if TORCH_VERSION_MAJOR > 2 || (TORCH_VERSION_MAJOR == 2 && TORCH_VERSION_MINOR >= 4)
#define DML_AUTOCAST_BY_DEVICE 1
#endif

using dml::opt;
using dml::T;
using dml::wrap;

extern "C" {

dml_status dml_linear(dml_tensor x, dml_tensor w, dml_tensor b, dml_tensor* out) {
  DML_TRY
  *out = wrap(at::linear(T(x), T(w), opt(b)));
  DML_CATCH
}

dml_status dml_conv2d(dml_tensor x, dml_tensor w, dml_tensor b, const int64_t* p, int64_t groups, dml_tensor* out) {
  DML_TRY
  *out = wrap(at::conv2d(T(x), T(w), opt(b), at::IntArrayRef(p, 2), at::IntArrayRef(p + 2, 2),
                         at::IntArrayRef(p + 4, 2), groups));
  DML_CATCH
}

dml_status dml_batch_norm(dml_tensor x, dml_tensor w, dml_tensor b, dml_tensor rm, dml_tensor rv, int training,
                          double momentum, double eps, dml_tensor* out) {
  DML_TRY
  *out = wrap(at::batch_norm(T(x), opt(w), opt(b), opt(rm), opt(rv), training != 0, momentum, eps,
                             /*cudnn_enabled=*/true));
  DML_CATCH
}

dml_status dml_pool2d(int op, dml_tensor x, const int64_t* p, int ceil, dml_tensor* out) {
  DML_TRY
  at::IntArrayRef k(p, 2), s(p + 2, 2), pad(p + 4, 2);
  at::Tensor r;
  switch (op) {
    case DML_POOL_MAX: r = at::max_pool2d(T(x), k, s, pad, {1, 1}, ceil != 0); break;
    case DML_POOL_AVG: r = at::avg_pool2d(T(x), k, s, pad, ceil != 0, /*count_include_pad=*/true); break;
    default: throw std::invalid_argument("unknown pool op " + std::to_string(op));
  }
  *out = wrap(std::move(r));
  DML_CATCH
}

dml_status dml_adaptive_pool2d(int op, dml_tensor x, int64_t h, int64_t w, dml_tensor* out) {
  DML_TRY
  at::Tensor r;
  switch (op) {
    case DML_ADAPTIVE_POOL_AVG: r = at::adaptive_avg_pool2d(T(x), {h, w}); break;
    case DML_ADAPTIVE_POOL_MAX: r = std::get<0>(at::adaptive_max_pool2d(T(x), {h, w})); break;
    default: throw std::invalid_argument("unknown adaptive pool op " + std::to_string(op));
  }
  *out = wrap(std::move(r));
  DML_CATCH
}

dml_status dml_dropout(dml_tensor x, double p, int train, dml_tensor* out) {
  DML_TRY
  *out = wrap(at::dropout(T(x), p, train != 0));
  DML_CATCH
}

dml_status dml_cross_entropy(dml_tensor logits, dml_tensor target, dml_tensor* out) {
  DML_TRY
  *out = wrap(at::cross_entropy_loss(T(logits), T(target)));
  DML_CATCH
}

dml_status dml_interpolate_bilinear(dml_tensor x, int64_t h, int64_t w, int align_corners, int antialias,
                                    dml_tensor* out) {
  DML_TRY
  const at::Tensor& in = T(x);
  if (in.dim() != 4) throw std::invalid_argument("interpolate bilinear needs a 4-D (N,C,H,W) input");
  std::vector<int64_t> size{h, w};
  at::Tensor r;
  if (antialias != 0) {
    r = at::_upsample_bilinear2d_aa(in, at::IntArrayRef(size), align_corners != 0, c10::nullopt, c10::nullopt);
  } else {
    r = at::upsample_bilinear2d(in, at::IntArrayRef(size), align_corners != 0, c10::nullopt, c10::nullopt);
  }
  *out = wrap(std::move(r));
  DML_CATCH
}

// ---- autograd ----------------------------------------------------------------

dml_status dml_set_requires_grad(dml_tensor t, int b) {
  DML_TRY
  T(t).requires_grad_(b != 0);
  DML_CATCH
}

dml_status dml_backward(dml_tensor t, dml_tensor g) {
  DML_TRY
  if (g == nullptr) {
    T(t).backward();
  } else {
    T(t).backward(T(g));
  }
  DML_CATCH
}

dml_status dml_grad(dml_tensor t, dml_tensor* out) {
  DML_TRY
  const at::Tensor& g = T(t).grad();
  *out = g.defined() ? wrap(g) : nullptr;
  DML_CATCH
}

dml_status dml_zero_grad(dml_tensor t) {
  DML_TRY
  T(t).mutable_grad().reset();
  DML_CATCH
}

// ---- autocast ------------------------------------------------------------------

namespace {

void autocast_set(at::DeviceType dt, bool enabled, at::ScalarType st) {
#ifdef DML_AUTOCAST_BY_DEVICE
  at::autocast::set_autocast_dtype(dt, st);
  at::autocast::set_autocast_enabled(dt, enabled);
#else
  if (dt == at::kCUDA) {
    at::autocast::set_autocast_gpu_dtype(st);
    at::autocast::set_enabled(enabled);
  } else {
    at::autocast::set_autocast_cpu_dtype(st);
    at::autocast::set_cpu_enabled(enabled);
  }
#endif
}

}  // namespace

// Mirrors torch.autocast.__enter__ / __exit__.
dml_status dml_autocast_enter(int dev_type, int enabled, int dtype, int* prev_enabled, int* prev_dtype) {
  DML_TRY
  at::DeviceType dt = dev_type == 1 ? at::kCUDA : at::kCPU;
  at::ScalarType st = dml::scalar_type(dtype);
#ifdef DML_AUTOCAST_BY_DEVICE
  bool was = at::autocast::is_autocast_enabled(dt);
  at::ScalarType prev = at::autocast::get_autocast_dtype(dt);
#else
  bool was = dt == at::kCUDA ? at::autocast::is_enabled() : at::autocast::is_cpu_enabled();
  at::ScalarType prev =
      dt == at::kCUDA ? at::autocast::get_autocast_gpu_dtype() : at::autocast::get_autocast_cpu_dtype();
#endif
  int prev_code = dml::dtype_code(prev);
  autocast_set(dt, enabled != 0, st);
  at::autocast::increment_nesting();
  *prev_enabled = was ? 1 : 0;
  *prev_dtype = prev_code;
  DML_CATCH
}

dml_status dml_autocast_exit(int dev_type, int prev_enabled, int prev_dtype) {
  DML_TRY
  at::DeviceType dt = dev_type == 1 ? at::kCUDA : at::kCPU;
  if (at::autocast::decrement_nesting() == 0) at::autocast::clear_cache();
  autocast_set(dt, prev_enabled != 0, dml::scalar_type(prev_dtype));
  DML_CATCH
}

// ---- in-place without autograd ------------------------------------------------

dml_status dml_inplace(int op, dml_tensor t, dml_tensor src, double v) {
  DML_TRY
  at::NoGradGuard guard;
  const at::Tensor& x = T(t);
  switch (op) {
    case DML_INPLACE_COPY: x.copy_(T(src)); break;
    case DML_INPLACE_ADD: x.add_(T(src), v); break;
    case DML_INPLACE_SET_DATA: {
      at::Tensor target = x;  // set_data is non-const on older releases
      target.set_data(T(src));
      break;
    }
    case DML_INPLACE_MUL: x.mul_(T(src)); break;
    default: throw std::invalid_argument("unknown in-place op " + std::to_string(op));
  }
  DML_CATCH
}

dml_status dml_inplace_scalar(int op, dml_tensor t, double v) {
  DML_TRY
  at::NoGradGuard guard;
  const at::Tensor& x = T(t);
  switch (op) {
    case DML_INPLACE_SCALAR_MUL: x.mul_(v); break;
    case DML_INPLACE_SCALAR_ADD: x.add_(v); break;
    case DML_INPLACE_SCALAR_FILL: x.fill_(v); break;
    case DML_INPLACE_SCALAR_SQRT: x.sqrt_(); break;
    case DML_INPLACE_SCALAR_DIV: x.div_(v); break;
    case DML_INPLACE_SCALAR_ZERO: x.zero_(); break;
    default: throw std::invalid_argument("unknown in-place scalar op " + std::to_string(op));
  }
  DML_CATCH
}

dml_status dml_inplace3(int op, dml_tensor t, dml_tensor a, dml_tensor b, double v) {
  DML_TRY
  at::NoGradGuard guard;
  const at::Tensor& x = T(t);
  switch (op) {
    case DML_INPLACE3_ADDCMUL: x.addcmul_(T(a), T(b), v); break;
    case DML_INPLACE3_ADDCDIV: x.addcdiv_(T(a), T(b), v); break;
    default: throw std::invalid_argument("unknown in-place op3 " + std::to_string(op));
  }
  DML_CATCH
}

}  // extern "C"
