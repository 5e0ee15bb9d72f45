variable "data_root" { default = "../Datasets" }

locals {
  epochs = 100
}

dataset "cub" {
  kind = "cub200"
  root = "${var.data_root}/cub200"
}

train "baseline" {
  dataset   = dataset.cub
  seeds     = [0, 1]
  embed_dim = 128
  loss "oproxy" {}
  schedule  = { epochs = local.epochs, batch_size = 90, lr = 1e-5, tau = [100], gamma = 0.1 }
}

train "nir" {
  dataset = dataset.cub
  seeds   = [0, 1]
  matrix  = { embed_dim = [128, 512] }
  loss "nir" { w_align = 0.0075 }
  schedule = { epochs = local.epochs, batch_size = 90, lr = 1e-5, tau = [100], gamma = 0.1, warmup = 1 }
}

evaluate "test" {
  models = [train.baseline, train.nir]
}

report "table" { from = evaluate.test }

check "nir_not_worse" {
  baseline   = train.baseline
  candidate  = train.nir
  tolerances = { "e_recall@1" = 0.02 }
}
