variable "epochs" { default = 1 }

dataset "toy" {
  kind = "synthetic"
  n    = 4
}

train "pa" {
  dataset = dataset.toy
  seeds   = [0, 1]
  matrix  = { schedule = [{ epochs = var.epochs, lr = 1e-5 }, { epochs = 2, lr = 1e-5 }] }
}

train "one" {
  dataset = dataset.toy
}

evaluate "test" {
  models = [train.pa, train.one]
}

evaluate "val" {
  models = [train.one]
}
