dataset "cub" { kind = "cub200" }

train "a" {
  dataset = dataset.cubb # ERROR: Reference to undeclared block
  loss "oproxy" {}
}

train "b" {
  dataset = datset.cub # ERROR: Reference to unknown block type
  loss "oproxy" {}
}

train "c" {
  dataset = "dataset.cub" # ERROR: Invalid reference
  loss "oproxy" {}
}

train "d" {
  dataset    = dataset.cub
  depends_on = [dataset.cub, dataset.cub] # ERROR: Duplicate reference
  loss "oproxy" {}
}

evaluate "test" {
  models = [train.d, dataset.cub] # ERROR: Wrong reference type
}

report "r" {
  from = evaluate.test.metrics # ERROR: Invalid reference
}
