# Stanford Online Products: every run of the original's benchmark script (reference-method.md
# section 11) with the flags it meant: the script says `--loss normflow
# --loss_normflow_w_align 0.3 --loss_normflow_lrmulti 1`, which the original's argparse
# rejects (section 14, item 1); the intended run is loss nir with w_align 0.3 and flow lr
# multiplier 1. Common to all: batch 90, two samples per class, Adam at lr 1e-5, weight decay
# 4e-4, 300 epochs with the learning rate x0.2 at epochs 140 and 230, five warmup epochs.
#
# The original script has no SOP baseline; `baseline` below is an addition (ProxyAnchor with
# the same schedule, no warmup) so that `dmlrun diff` has something to compare against.
#
#   dmlrun apply experiments/sop.hcl -var data_root=/data
#   dmlrun diff  experiments/sop.hcl baseline nir_r128
#
# Layout expected under data_root: online_products/images/<super>_final/<id>_<k>.JPG and
# online_products/Info_Files/Ebay_train.txt, Ebay_test.txt (the official Stanford_Online_Products
# folder renamed), and the torchvision ImageNet weights under weights/.

variable "data_root" {
  default     = "../Datasets"
  description = "parent folder of online_products/ and weights/"
}

variable "resnet50_weights" {
  default     = ""
  description = "torchvision ImageNet ResNet50 state dict; empty: <data_root>/weights/resnet50-19c8e357.pth"
}

dataset "sop" {
  kind = "online_products"
  root = "${var.data_root}/online_products"
}

locals {
  weights      = var.resnet50_weights != "" ? var.resnet50_weights : "${var.data_root}/weights/resnet50-19c8e357.pth"
  seeds        = [0, 1, 2]
  schedule     = { epochs = 300, batch_size = 90, lr = 1e-5, decay = 4e-4, tau = [140, 230], gamma = 0.2, warmup = 0 }
  nir_schedule = { epochs = 300, batch_size = 90, lr = 1e-5, decay = 4e-4, tau = [140, 230], gamma = 0.2, warmup = 5 }
}

# Addition: ProxyAnchor baseline on the same schedule.
train "baseline" {
  dataset    = dataset.sop
  seeds      = local.seeds
  arch       = "resnet50_frozen_normalize"
  pretrained = local.weights
  embed_dim  = 128
  loss "oproxy" {}
  schedule = local.schedule
}

# online_products_proxyanchor-NIR_t140-230_g02
train "nir_r128" {
  dataset    = dataset.sop
  seeds      = local.seeds
  arch       = "resnet50_frozen_normalize"
  pretrained = local.weights
  embed_dim  = 128
  loss "nir" {
    w_align = 0.3
    lrmulti = 1
  }
  schedule = local.nir_schedule
}

# online_products_proxyanchor-NIR_full-double_t140-230_g02
train "nir_r128_double" {
  dataset    = dataset.sop
  seeds      = local.seeds
  arch       = "resnet50_frozen_normalize_double"
  pretrained = local.weights
  embed_dim  = 128
  loss "nir" {
    w_align = 0.3
    lrmulti = 1
  }
  schedule = local.nir_schedule
}

# online_products_proxyanchor-NIR-512_full_t140-230_g02
train "nir_r512" {
  dataset    = dataset.sop
  seeds      = local.seeds
  arch       = "resnet50_frozen_normalize"
  pretrained = local.weights
  embed_dim  = 512
  loss "nir" {
    w_align = 0.3
    lrmulti = 1
  }
  schedule = local.nir_schedule
}

# online_products_proxyanchor-NIR-512_full-double_t140-230_g02
train "nir_r512_double" {
  dataset    = dataset.sop
  seeds      = local.seeds
  arch       = "resnet50_frozen_normalize_double"
  pretrained = local.weights
  embed_dim  = 512
  loss "nir" {
    w_align = 0.3
    lrmulti = 1
  }
  schedule = local.nir_schedule
}

embed "test" {
  models  = [train.baseline, train.nir_r128, train.nir_r128_double, train.nir_r512, train.nir_r512_double]
  dataset = dataset.sop
  split   = "test"
}

# The original's defaults (the same k list for SOP). k-means uses the number of training
# classes (11,318) for the 11,316 test classes, as the original does.
evaluate "test" {
  from    = embed.test
  dataset = dataset.sop # for retrieval.png: test queries and what they retrieve
  metrics = ["e_recall@1", "e_recall@2", "e_recall@4", "e_recall@10", "nmi", "f1", "mAP_1000"]
}

report "sop" {
  from = evaluate.test
}
