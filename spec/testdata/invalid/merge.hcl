# merge() takes objects; what it returns is checked like any other value.
locals {
  schedule = { epochs = 3, lr = 1e-3 }
}

dataset "d" { kind = "synthetic" }

train "a" {
  dataset  = dataset.d
  schedule = merge(local.schedule, "fast") # ERROR: Invalid function argument
  loss "nir" {}
}

train "b" {
  dataset  = dataset.d
  schedule = merge(local.schedule, { lrr = 1 }) # ERROR: Unsupported field
  loss "nir" {}
}

train "c" {
  dataset  = dataset.d
  schedule = merge(local.schedule, { lr = -1 }) # ERROR: Value out of range
  loss "nir" {}
}

train "d" {
  dataset  = dataset.d
  schedule = merge(local.schedule, null) # ERROR: Invalid function argument
  loss "nir" {}
}
