# bench/epoch: dmlrun's side of the epoch-level benchmark (bench/epoch/run.sh), the same run
# as bench/epoch/epoch.py: ResNet18 with frozen BN from random init, 64 px, batch 90 (two
# images per class draw), ProxyAnchor, Adam at the original's lr 1e-5 / decay 4e-4, test
# Recall@1 and NMI after every epoch, on the emoji images in the CUB200 layout that
# bench/epoch/gen_cub.py writes.
#
#   /usr/bin/python3 bench/epoch/gen_cub.py /tmp/epoch-data
#   dmlrun apply bench/epoch/epoch.hcl --store /tmp/epoch-store --threads 2 \
#       -var data_root=/tmp/epoch-data
#
# autocast = "bf16" needs bf16 autocast on the CPU in the train stage; keep "none" where
# the train stage refuses it.

variable "data_root" {
  description = "folder that bench/epoch/gen_cub.py wrote (holds cub200/images/)"
}

variable "epochs" {
  default = 2
}

variable "seed" {
  default = 0
}

variable "autocast" {
  default     = "none"
  description = "none or bf16: autocast of the training forward and loss"
}

variable "lr" {
  default     = 1e-5
  description = "network learning rate (the original's default); proxies train at lr x 2000"
}

variable "batch" {
  default     = 90
  description = "batch size (the original's benchmark runs: --bs 90); smaller for smoke runs on few classes"
}

variable "base" {
  default     = 64
  description = "stored image side: gen_cub.py's --size, so that the stored square is the whole image"
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

train "pa" {
  dataset        = dataset.cub
  seed           = var.seed
  arch           = "resnet18_frozen_normalize"
  not_pretrained = true
  embed_dim      = 128
  autocast       = var.autocast
  loss "oproxy" {}
  # tau beyond the last epoch: a constant learning rate, as the original's CUB runs.
  schedule     = { epochs = var.epochs, batch_size = var.batch, lr = var.lr, decay = 4e-4, tau = [10000], gamma = 0.3 }
  eval_every   = 1
  eval_metrics = ["e_recall@1", "nmi"]
}
