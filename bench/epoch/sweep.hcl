# bench/epoch: dmlrun's side of the sweep-level benchmark (bench/epoch/run.sh with SWEEP=1):
# 2 losses x 3 seeds = 6 trainings of ResNet18 with frozen BN from random init, each with
# test Recall@1 and NMI after every epoch, on the data of epoch.hcl. The reference runs
# bench/epoch/epoch.py six times, one after another, with the same settings:
#   pa:  --loss oproxy                       (ProxyAnchor, proxies at lr x 2000)
#   nir: --loss nir --w-align 0.0075 --warmup 1
#        (the original's CUB NIR runs, reference-method.md section 11: proxies at lr x 4000,
#        flow at lr x 50, the backbone frozen in the first epoch)
#
#   dmlrun apply -j 2 bench/epoch/sweep.hcl --store /tmp/sweep-store --threads 2 \
#       -var data_root=/tmp/epoch-data
#
# No embed/evaluate blocks: the per-epoch evaluation inside train (eval_every = 1) is what
# the original computes and what the reference times; a separate embedding of the test
# split would be work the reference does not do.

variable "data_root" {
  description = "folder that bench/epoch/gen_cub.py wrote (holds cub200/images/)"
}

variable "epochs" {
  default = 2 # at least 2: nir's first epoch is warmup
}

variable "autocast" {
  default     = "none"
  description = "none or bf16: autocast of the training forward and loss"
}

variable "lr" {
  default = 1e-5
}

variable "batch" {
  default = 90
}

variable "base" {
  default = 64
}

variable "crop" {
  default = 64
}

dataset "cub" {
  kind = "cub200"
  root = "${var.data_root}/cub200"
  base = var.base
  crop = var.crop
}

locals {
  seeds    = [0, 1, 2]
  schedule = { epochs = var.epochs, batch_size = var.batch, lr = var.lr, decay = 4e-4, tau = [10000], gamma = 0.3 }
  metrics  = ["e_recall@1", "nmi"]
}

train "pa" {
  dataset        = dataset.cub
  seeds          = local.seeds
  arch           = "resnet18_frozen_normalize"
  not_pretrained = true
  embed_dim      = 128
  autocast       = var.autocast
  loss "oproxy" {}
  schedule     = local.schedule
  eval_every   = 1
  eval_metrics = local.metrics
}

train "nir" {
  dataset        = dataset.cub
  seeds          = local.seeds
  arch           = "resnet18_frozen_normalize"
  not_pretrained = true
  embed_dim      = 128
  autocast       = var.autocast
  loss "nir" {
    w_align = 0.0075
  }
  schedule     = merge(local.schedule, { warmup = 1 })
  eval_every   = 1
  eval_metrics = local.metrics
}
