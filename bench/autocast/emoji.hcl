# bf16 autocast against float32 on the cross-vendor emoji set (bench/autocast/run.sh):
# experiments/emoji.hcl's ProxyAnchor baseline, three seeds, trained once in float32 and once
# with autocast = "bf16" (forward and loss in bfloat16 on a CPU with AVX512-BF16 or AMX-BF16;
# the train stage refuses it on other CPUs). Recall@1 of the two over the seeds is the check:
# bf16 must fall within float32's seed spread.
#
#   dmlrun apply bench/autocast/emoji.hcl -var data_root=data
#   dmlrun diff  bench/autocast/emoji.hcl fp32 bf16

variable "data_root" {
  default     = "data"
  description = "folder that scripts/fetch-data.sh filled"
}

variable "epochs" {
  default = 30
}

dataset "emoji" {
  kind    = "emoji"
  root    = "${var.data_root}/emoji"
  vendors = ["google", "twitter"]
  base    = 36
  crop    = 32
}

locals {
  schedule = {
    epochs     = var.epochs
    batch_size = 90
    lr         = 1e-3
    decay      = 4e-4
    tau        = [20]
    gamma      = 0.3
  }
}

train "fp32" {
  dataset        = dataset.emoji
  seeds          = [0, 1, 2]
  arch           = "smallcnn_normalize"
  not_pretrained = true
  embed_dim      = 64
  loss "oproxy" {
    lrmulti = 20
  }
  schedule = local.schedule
}

train "bf16" {
  dataset        = dataset.emoji
  seeds          = [0, 1, 2]
  arch           = "smallcnn_normalize"
  not_pretrained = true
  embed_dim      = 64
  autocast       = "bf16"
  loss "oproxy" {
    lrmulti = 20
  }
  schedule = local.schedule
}

embed "test" {
  models  = [train.fp32, train.bf16]
  dataset = dataset.emoji
  split   = "test"
}

evaluate "test" {
  from    = embed.test
  metrics = ["e_recall@1", "e_recall@4", "nmi"]
}

report "autocast" {
  from = evaluate.test
}
