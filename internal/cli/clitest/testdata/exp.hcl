variable "lr" { default = 1e-5 }

dataset "toy" {
  kind = "synthetic"
  n    = 4
}

train "a" {
  dataset  = dataset.toy
  seeds    = [0, 1]
  schedule = { epochs = 2, lr = var.lr }
}

evaluate "test" {
  models = [train.a]
}
