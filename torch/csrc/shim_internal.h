// shim_internal.h: helpers shared by the shim's translation units (not part of the C API).
#pragma once

#include <ATen/ATen.h>
#include <c10/core/GradMode.h>

#include <cstdlib>
#include <cstring>
#include <string>
#include <vector>

#include "shim.h"

struct dml_tensor_s {
  at::Tensor t;
};

namespace dml {

// Message used when even allocating the error text fails; dml_status_free knows it.
extern char kOutOfMemory[];

inline dml_status make_status(const char* msg) {
  size_t n = std::strlen(msg);
  char* p = static_cast<char*>(std::malloc(n + 1));
  if (p == nullptr) return kOutOfMemory;
  std::memcpy(p, msg, n + 1);
  return p;
}

inline dml_tensor wrap(at::Tensor t) { return new dml_tensor_s{std::move(t)}; }

inline const at::Tensor& T(dml_tensor h) {
  if (h == nullptr) throw std::invalid_argument("null tensor handle");
  return h->t;
}

inline c10::optional<at::Tensor> opt(dml_tensor h) {
  if (h == nullptr) return c10::nullopt;
  return h->t;
}

inline at::ScalarType scalar_type(int code) {
  switch (code) {
    case DML_DTYPE_FLOAT32: return at::kFloat;
    case DML_DTYPE_FLOAT64: return at::kDouble;
    case DML_DTYPE_INT64: return at::kLong;
    case DML_DTYPE_INT32: return at::kInt;
    case DML_DTYPE_UINT8: return at::kByte;
    case DML_DTYPE_BOOL: return at::kBool;
    case DML_DTYPE_BFLOAT16: return at::kBFloat16;
    case DML_DTYPE_FLOAT16: return at::kHalf;
  }
  throw std::invalid_argument("unknown dtype code " + std::to_string(code));
}

inline int dtype_code(at::ScalarType s) {
  switch (s) {
    case at::kFloat: return DML_DTYPE_FLOAT32;
    case at::kDouble: return DML_DTYPE_FLOAT64;
    case at::kLong: return DML_DTYPE_INT64;
    case at::kInt: return DML_DTYPE_INT32;
    case at::kByte: return DML_DTYPE_UINT8;
    case at::kBool: return DML_DTYPE_BOOL;
    case at::kBFloat16: return DML_DTYPE_BFLOAT16;
    case at::kHalf: return DML_DTYPE_FLOAT16;
    default: break;
  }
  throw std::invalid_argument(std::string("dtype not supported by dmlrun: ") + c10::toString(s));
}

inline at::Device device(int type, int index) {
  if (type == DML_DEVICE_CPU) return at::Device(at::kCPU);
  if (type == DML_DEVICE_CUDA) return at::Device(at::kCUDA, static_cast<c10::DeviceIndex>(index));
  throw std::invalid_argument("unknown device type code " + std::to_string(type));
}

inline at::TensorOptions options(int dtype, int dev_type, int dev_index) {
  return at::TensorOptions().dtype(scalar_type(dtype)).device(device(dev_type, dev_index));
}

}  // namespace dml

// DML_TRY / DML_CATCH wrap every exported body: no exception crosses into Go.
#define DML_TRY try {
#define DML_CATCH                                                     \
  }                                                                   \
  catch (const c10::Error& e) {                                       \
    return dml::make_status(e.what_without_backtrace());              \
  }                                                                   \
  catch (const std::exception& e) {                                   \
    return dml::make_status(e.what());                                \
  }                                                                   \
  catch (...) {                                                       \
    return dml::make_status("unknown C++ exception");                 \
  }                                                                   \
  return nullptr;
