# CI regression check: small, real subsets that train in a couple of minutes on 2 CPU cores.
# .ci/run (via `make e2e`) applies this file, checks the metrics against expected/ci.json with
# `dmlrun diff --expect`, applies again expecting no work, and kills and resumes a training
# run expecting the same metrics.
#
#   scripts/fetch-data.sh
#   dmlrun apply experiments/ci.hcl
#   dmlrun diff --expect experiments/expected/ci-fmnist-nir.json experiments/ci.hcl fmnist_nir

variable "data_root" {
  default = "data"
}

variable "epochs" {
  default = 3
}

# Fashion-MNIST: labels 0-4 train, 5-9 test (zero-shot retrieval of unseen clothing classes),
# 300 images per class.
dataset "fmnist" {
  kind   = "idx"
  root   = "${var.data_root}/fashion-mnist"
  base   = 32
  crop   = 28
  subset = { classes = 0, per_class = 300 }
}

# Emoji: the first 200 emoji train, the first 200 test emoji are retrieved across vendors.
dataset "emoji" {
  kind   = "emoji"
  root   = "${var.data_root}/emoji"
  base   = 36
  crop   = 32
  subset = { classes = 200, per_class = 0 }
}

locals {
  schedule = { epochs = var.epochs, batch_size = 60, lr = 1e-3, decay = 4e-4, tau = [1000], gamma = 0.3, samples_per_class = 2 }
}

train "fmnist_baseline" {
  dataset        = dataset.fmnist
  arch           = "smallcnn_normalize"
  not_pretrained = true
  embed_dim      = 32
  loss "oproxy" {
    lrmulti = 20
  }
  schedule = local.schedule
}

train "fmnist_nir" {
  dataset        = dataset.fmnist
  arch           = "smallcnn_normalize"
  not_pretrained = true
  embed_dim      = 32
  loss "nir" {
    w_align       = 0.01
    proxy_lrmulti = 20
    lrmulti       = 0.5
    nf_fc_depth   = 3
    nf_fc_width   = 64
    nf_cblocks    = 3
  }
  schedule = local.schedule
}

train "emoji_nir" {
  dataset        = dataset.emoji
  arch           = "smallcnn_normalize"
  not_pretrained = true
  embed_dim      = 32
  loss "nir" {
    w_align       = 0.01
    proxy_lrmulti = 20
    lrmulti       = 0.5
    nf_fc_depth   = 3
    nf_fc_width   = 64
    nf_cblocks    = 3
  }
  schedule = local.schedule
}

embed "fmnist" {
  models  = [train.fmnist_baseline, train.fmnist_nir]
  dataset = dataset.fmnist
}

embed "emoji" {
  models  = train.emoji_nir
  dataset = dataset.emoji
}

evaluate "fmnist" {
  from    = embed.fmnist
  dataset = dataset.fmnist
  metrics = ["e_recall@1", "e_recall@4", "nmi", "f1", "mAP_1000", "mAP@R"]
}

evaluate "emoji" {
  from    = embed.emoji
  dataset = dataset.emoji
  metrics = ["e_recall@1", "e_recall@4", "mAP@R"]
}

report "ci" {
  from = [evaluate.fmnist, evaluate.emoji]
}
