# The device check's end-to-end run (scripts/device-check.sh): a folder dataset of random
# PNGs (bench/device/gen_folder.py), two short trainings of ResNet18 with frozen BN from
# random init, float32 and (on CUDA) bf16 autocast, embedding, evaluation and a report.
# `dmlrun apply bench/device/tiny.hcl --device cuda:0 -var data_root=DIR -var autocast=bf16`.
# On the CPU keep autocast = "none" unless the CPU has bfloat16 instructions (AVX512-BF16
# or AMX-BF16): the train stage refuses bf16 on other CPUs, and f16 on any CPU.

variable "data_root" {
  description = "folder that bench/device/gen_folder.py wrote"
}

variable "autocast" {
  default     = "none"
  description = "autocast of the second training: bf16 or f16 on CUDA, none on the CPU"
}

variable "epochs" {
  default = 2
}

dataset "tiny" {
  kind  = "folder"
  root  = var.data_root
  split = "half"
  base  = 40
  crop  = 32
}

locals {
  schedule = { epochs = var.epochs, batch_size = 16, lr = 1e-4, decay = 4e-4, tau = [1000], gamma = 0.3 }
}

train "fp32" {
  dataset        = dataset.tiny
  arch           = "resnet18_frozen_normalize"
  not_pretrained = true
  embed_dim      = 32
  loss "oproxy" {}
  schedule = local.schedule
}

train "amp" {
  dataset        = dataset.tiny
  arch           = "resnet18_frozen_normalize"
  not_pretrained = true
  embed_dim      = 32
  autocast       = var.autocast
  loss "oproxy" {}
  schedule = local.schedule
}

embed "test" {
  models  = [train.fp32, train.amp]
  dataset = dataset.tiny
  split   = "test"
}

evaluate "test" {
  from    = embed.test
  metrics = ["e_recall@1", "e_recall@2", "nmi", "f1"]
}

report "tiny" {
  from = evaluate.test
}
