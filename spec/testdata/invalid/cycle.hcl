dataset "cub" {
  kind       = "cub200"
  depends_on = [train.b] # ERROR: Reference cycle
}

train "a" {
  dataset = dataset.cub
  loss "oproxy" {}
}

train "b" {
  dataset    = dataset.cub
  depends_on = [train.a]
  loss "oproxy" {}
}

train "self" {
  dataset    = dataset.cub
  depends_on = [train.self] # ERROR: Reference cycle
  loss "oproxy" {}
}
