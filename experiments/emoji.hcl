# The README's result: ProxyAnchor against NIR on the full cross-vendor emoji set (all 1,911
# emoji with a Google and a Twitter image), three seeds, 30 epochs with one learning-rate
# decay. Everything else as in quickstart.hcl.
#
# Each emoji is a class and each vendor (Google, Twitter) draws it once, so a class has two
# images that look alike but are not the same picture. The first half of the emoji (by the
# Unicode sort order) trains, the second half is only ever seen at test time: retrieval of
# the other vendor's drawing of an unseen emoji. A small CNN trains from scratch on CPU.
#
#   scripts/fetch-data.sh
#   dmlrun apply experiments/emoji.hcl        # about 4 minutes on 2 CPU cores (AMD EPYC)
#   dmlrun diff  experiments/emoji.hcl baseline nir

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
  base    = 36 # stored at 36x36 ...
  crop    = 32 # ... trained and evaluated at 32x32
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

# ProxyAnchor baseline.
train "baseline" {
  dataset        = dataset.emoji
  seeds          = [0, 1, 2]
  arch           = "smallcnn_normalize"
  not_pretrained = true
  embed_dim      = 64
  loss "oproxy" {
    lrmulti = 20
  }
  schedule   = local.schedule
  eval_every = 5 # test Recall@1 every 5 epochs, for the report's curves
}

# The same with NIR: a conditional normalising flow beside ProxyAnchor.
train "nir" {
  dataset        = dataset.emoji
  seeds          = [0, 1, 2]
  arch           = "smallcnn_normalize"
  not_pretrained = true
  embed_dim      = 64
  loss "nir" {
    w_align       = 0.01
    proxy_lrmulti = 20
    lrmulti       = 0.5
  }
  schedule   = local.schedule
  eval_every = 5
}

embed "test" {
  models  = [train.baseline, train.nir]
  dataset = dataset.emoji
  split   = "test"
}

evaluate "test" {
  from    = embed.test
  dataset = dataset.emoji # for retrieval.png: test queries and what they retrieve
  metrics = ["e_recall@1", "e_recall@2", "e_recall@4", "e_recall@10", "nmi", "f1", "mAP_1000", "mAP@R"]
}

report "emoji" {
  from = evaluate.test
}
