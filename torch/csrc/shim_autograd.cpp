// shim_autograd.cpp: torch.autograd.grad. Kept apart because its header is heavier.
#include <torch/csrc/autograd/autograd.h>

#include "shim_internal.h"

extern "C" {

dml_status dml_autograd_grad(const dml_tensor* outputs, int nout, const dml_tensor* inputs, int nin,
                             int create_graph, dml_tensor* results) {
  DML_TRY
  std::vector<at::Tensor> outs, ins;
  for (int i = 0; i < nout; i++) outs.push_back(dml::T(outputs[i]));
  for (int i = 0; i < nin; i++) ins.push_back(dml::T(inputs[i]));
  std::vector<at::Tensor> r =
      torch::autograd::grad(outs, ins, {}, c10::nullopt, create_graph != 0, /*allow_unused=*/true);
  std::vector<dml_tensor> hs(static_cast<size_t>(nin), nullptr);
  try {
    for (int i = 0; i < nin; i++)
      if (r[static_cast<size_t>(i)].defined()) hs[static_cast<size_t>(i)] = dml::wrap(r[static_cast<size_t>(i)]);
  } catch (...) {
    for (dml_tensor h : hs) delete h;
    throw;
  }
  for (int i = 0; i < nin; i++) results[i] = hs[static_cast<size_t>(i)];
  DML_CATCH
}

}  // extern "C"
